// Drives one of the sample's upload pages in Debian's Chromium (through playwright-core):
// upload a file, stop it part-way, check the server kept a part of it, resume, wait for the end.
//
//   node e2e.mjs <base-url> <file> <scenario> [--screenshot <png>]
//
// scenario: "classic" – classic.html, the unchanged classic Uploader (Upload / Stop / Upload again)
//           "index"   – index.html, the sample's page (Pause / Resume buttons of the file's row)
//           "dropped" – index.html; part-way the connection drops and the server stays unreachable for
//                       a moment: the page must retry on its own with back-off and finish once it is back.
//                       The page is loaded through a small TCP proxy in this script that can cut its
//                       connections and refuse new ones. (DevTools' offline emulation leaves a request in
//                       flight alone, and Chromium silently re-sends a request whose reused connection
//                       was reset, so only a server that stays unreachable makes the page see an error.)
//           "tus"     – tus.html, tus-js-client against the sample's tus endpoint: first without the
//                       library's bundle (the page must say to run npm ci), then for real: Pause / Resume,
//                       a HEAD on the upload URL while paused, a reload part-way after which picking the
//                       same file again carries on with the same upload; reports the upload URL ("uploadUrl").
//
// The last line printed on stdout is one JSON object describing what happened ("ok": true or false).
// Progress notes go to stderr. Exit code 0 when ok, 1 when a check failed, 2 on bad arguments.
//
// Stopping "part-way" must not depend on luck: the page's uploads are throttled through the DevTools
// protocol (Network.emulateNetworkConditions, upload throughput only), so a 24 MiB file takes seconds
// on loopback and the script has ample time to press Stop once progress passes STOP_AT.

import { chromium } from 'playwright-core';
import net from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const UPLOAD_BYTES_PER_SECOND = Number(process.env.E2E_UPLOAD_BYTES_PER_SECOND || 8 * 1024 * 1024);
const STOP_AT = 0.3;                      // fraction of the file after which Stop / Pause is pressed
const STEP_TIMEOUT_MS = 60_000;           // any single wait
const OVERALL_TIMEOUT_MS = 150_000;

const log = (...parts) => console.error('[e2e]', ...parts);

function parseArgs(argv) {
  const positional = [];
  let screenshot = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--screenshot') screenshot = argv[++i];
    else positional.push(argv[i]);
  }
  const [baseUrl, file, scenario] = positional;
  if (!baseUrl || !file || !['classic', 'index', 'dropped', 'tus'].includes(scenario) || (screenshot === undefined)) {
    console.error('usage: node e2e.mjs <base-url> <file> <classic|index|dropped|tus> [--screenshot <png>]');
    process.exit(2);
  }
  return { baseUrl: baseUrl.endsWith('/') ? baseUrl : baseUrl + '/', file: path.resolve(file), scenario, screenshot };
}

const args = parseArgs(process.argv.slice(2));
const result = { ok: false, scenario: args.scenario, baseUrl: args.baseUrl, file: args.file };

function finish(code) {
  console.log(JSON.stringify(result));
  process.exit(code);
}

const watchdog = setTimeout(() => {
  result.error = `The scenario did not finish within ${OVERALL_TIMEOUT_MS / 1000} s.`;
  finish(1);
}, OVERALL_TIMEOUT_MS);

// Fails the scenario with a message when a condition does not hold.
function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Reads GET status from inside the page (same origin, relative URL, as the pages do).
async function storedBytes(page, fileId) {
  return page.evaluate(async (id) => {
    const response = await fetch('status', { headers: { 'X-File-Id': id }, cache: 'no-store' });
    if (response.status !== 200) throw new Error('status answered ' + response.status);
    return Number((await response.text()).trim());
  }, fileId);
}

// The same from Node, straight to the server (not through the page, nor through the proxy).
async function storedBytesFromNode(fileId) {
  const response = await fetch(new URL('status', args.baseUrl), { headers: { 'X-File-Id': fileId } });
  if (response.status !== 200) throw new Error('status answered ' + response.status);
  return Number((await response.text()).trim());
}

// An unfinished upload must not be downloadable (asked from Node, straight to the server).
async function checkNotDownloadableYet(fileId) {
  const response = await fetch(new URL('download?fileId=' + encodeURIComponent(fileId), args.baseUrl));
  await response.arrayBuffer();
  result.downloadStatusWhileIncomplete = response.status;
  check(response.status === 404, `Downloading the unfinished upload answered ${response.status}, not 404.`);
}

// After a stop the server may still be taking in what was on the wire: wait until its count settles.
async function settledStoredBytes(page, fileId, read = () => storedBytes(page, fileId)) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let previous = -1;
  for (;;) {
    const current = await read();
    if (current === previous) return current;
    check(Date.now() < deadline, `The stored byte count did not settle (last ${current}).`);
    previous = current;
    await page.waitForTimeout(300);
  }
}

// A loopback TCP proxy to the server that can be taken down (cutting every connection and refusing
// new ones) and brought back up.
async function startCuttableProxy(target) {
  const sockets = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', close);
      socket.on('close', close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    down: () => {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    up: () => { down = false; },
    close: () => new Promise((resolve) => { for (const socket of sockets) socket.destroy(); server.close(resolve); }),
  };
}

async function throttleUploads(cdp, uploadBytesPerSecond) {
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: uploadBytesPerSecond,
  });
}

// ---------------------------------------------------------------------------------------------

async function classicScenario(page, size) {
  await page.goto(new URL('classic.html', args.baseUrl).href);
  await page.setInputFiles('#file', args.file);
  const fileId = await page.$eval('#file', (input) => {
    const f = input.files[0];
    return f.name + '-' + f.size + '-' + f.lastModified;   // the classic page's fileId
  });
  result.fileId = fileId;
  check(await storedBytes(page, fileId) === 0, 'The server already holds bytes for a fresh file id.');

  const progressOf = () => page.$eval('#log', (el) => el.textContent.trim());

  log('upload');
  await page.click('#upload');
  await page.waitForFunction(({ size, stopAt }) => {
    const m = /progress (\d+) \/ (\d+)/.exec(document.getElementById('log').textContent);
    return (m && Number(m[1]) >= size * stopAt) || /success|error/.test(document.getElementById('log').textContent);
  }, { size, stopAt: STOP_AT }, { timeout: STEP_TIMEOUT_MS, polling: 20 });
  const before = await progressOf();
  check(!/success/.test(before), 'The upload finished before it could be stopped: the throttling did not work.');
  check(!/error/.test(before), 'The first upload request failed.');
  await page.click('#stop');
  await page.waitForFunction(() => /stopped|error|success/.test(document.getElementById('log').textContent),
    null, { timeout: STEP_TIMEOUT_MS });
  result.progressAtStop = before;
  result.logAfterStop = await progressOf();
  check(result.logAfterStop === 'stopped', `After Stop the page shows "${result.logAfterStop}", not "stopped".`);

  result.storedAfterStop = await settledStoredBytes(page, fileId);
  log('stored after stop', result.storedAfterStop, 'of', size);
  check(result.storedAfterStop > 0 && result.storedAfterStop < size,
    `After Stop the server holds ${result.storedAfterStop} bytes; expected more than 0 and less than ${size}.`);
  await checkNotDownloadableYet(fileId);

  await maybeScreenshotLater(page, () => progressOf());

  log('resume');
  await page.click('#upload');
  await page.waitForFunction(() => /success|error/.test(document.getElementById('log').textContent),
    null, { timeout: STEP_TIMEOUT_MS });
  result.logAtEnd = await progressOf();
  check(result.logAtEnd === 'success', `After resuming, the page shows "${result.logAtEnd}", not "success".`);
}

async function indexScenario(page, size) {
  const dropped = args.scenario === 'dropped';
  if (dropped) proxy = await startCuttableProxy(new URL(args.baseUrl));
  await page.goto(dropped ? proxy.url : args.baseUrl);
  await page.evaluate(() => localStorage.clear());
  await page.setInputFiles('#files', args.file);          // the page starts uploading on its own

  const row = page.locator('li.upload').first();
  await row.waitFor({ timeout: STEP_TIMEOUT_MS });
  const fileId = await row.getAttribute('data-file-id');
  result.fileId = fileId;
  check(fileId, 'The upload row carries no data-file-id.');

  const rowState = async () => ({
    state: await row.getAttribute('data-state'),
    uploaded: Number(await row.getAttribute('data-uploaded')),
    message: await row.locator('.message').textContent(),
  });

  await page.waitForFunction(({ size, stopAt }) => {
    const el = document.querySelector('li.upload');
    return Number(el.dataset.uploaded) >= size * stopAt || ['done', 'error'].includes(el.dataset.state);
  }, { size, stopAt: STOP_AT }, { timeout: STEP_TIMEOUT_MS, polling: 20 });
  const before = await rowState();
  check(!(result.uploadRequests[0]?.startByte > 0),
    'The server already held bytes for this file before the test began; the scenarios need a file it has never seen.');
  check(before.state === 'uploading', `Before Pause the row is "${before.state}" (${before.message}); the throttling may not work.`);
  result.progressAtStop = before.uploaded;

  if (dropped) {
    await connectionDroppedMidway(page, rowState, fileId, size);
  } else {
    await pauseAndResume(page, row, rowState, fileId, size);
  }

  await page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('li.upload').dataset.state),
    null, { timeout: STEP_TIMEOUT_MS });
  const after = await rowState();
  result.logAtEnd = `${after.state}: ${after.message}`;
  check(after.state === 'done', `After resuming the row ends "${after.state}": ${after.message}`);
  await checkFinishedList(page, fileId, size);
}

async function pauseAndResume(page, row, rowState, fileId, size) {
  log('pause');
  await row.locator('button.pause').click();
  await page.waitForFunction(() => document.querySelector('li.upload').dataset.state === 'paused', null,
    { timeout: STEP_TIMEOUT_MS });
  check(await row.locator('button.resume').isVisible(), 'The Resume button is not shown on a paused upload.');
  check(!(await row.locator('button.pause').isVisible()), 'The Pause button is still shown on a paused upload.');

  result.storedAfterStop = await settledStoredBytes(page, fileId);
  log('stored after pause', result.storedAfterStop, 'of', size);
  check(result.storedAfterStop > 0 && result.storedAfterStop < size,
    `After Pause the server holds ${result.storedAfterStop} bytes; expected more than 0 and less than ${size}.`);
  await checkNotDownloadableYet(fileId);
  await page.waitForTimeout(500);
  const stillPaused = await rowState();
  check(stillPaused.state === 'paused', `A paused upload went on by itself (state "${stillPaused.state}").`);
  check(await storedBytes(page, fileId) === result.storedAfterStop, 'The server count grew while the upload was paused.');

  log('resume');
  await row.locator('button.resume').click();
  await maybeScreenshotLater(page, async () => (await rowState()).uploaded);
}

// The connection drops part-way: the page must notice, show that it retries, and carry on by itself.
async function connectionDroppedMidway(page, rowState, fileId, size) {
  log('connection dropped');
  proxy.down();
  await page.waitForFunction(() => document.querySelector('li.upload').dataset.state === 'waiting', null,
    { timeout: STEP_TIMEOUT_MS });
  // Let it fail a retry or two while the server is unreachable (the back-off waits 0 s, then 1 s, then 3 s).
  await page.waitForTimeout(1500);
  const whileDown = await rowState();
  result.messageWhileDown = whileDown.message;
  check(['waiting', 'uploading'].includes(whileDown.state),
    `While the server is unreachable the row is "${whileDown.state}" (${whileDown.message}), not waiting to retry.`);
  check(/retry/i.test(whileDown.message), `While the server is unreachable the row does not say it retries: "${whileDown.message}".`);
  result.storedAfterStop = await settledStoredBytes(page, fileId, () => storedBytesFromNode(fileId));
  log('stored while unreachable', result.storedAfterStop, 'of', size);
  check(result.storedAfterStop > 0 && result.storedAfterStop < size,
    `While the server was unreachable it held ${result.storedAfterStop} bytes; expected more than 0 and less than ${size}.`);
  await checkNotDownloadableYet(fileId);
  log('reachable again');
  proxy.up();
  await maybeScreenshotLater(page, async () => (await rowState()).uploaded);
}

async function checkFinishedList(page, fileId, size) {
  // The finished list links to the download, and remembers it across a reload.
  const expectedHref = 'download?fileId=' + encodeURIComponent(fileId);
  const hrefs = await page.$$eval('#finished a', (links) => links.map((a) => a.getAttribute('href')));
  check(hrefs.includes(expectedHref), `The finished list has no link "${expectedHref}" (has ${JSON.stringify(hrefs)}).`);
  result.downloadedLength = await page.evaluate(async (href) => {
    const response = await fetch(href, { cache: 'no-store' });
    return response.status === 200 ? (await response.arrayBuffer()).byteLength : -response.status;
  }, expectedHref);
  check(result.downloadedLength === size,
    `The finished list's link downloads ${result.downloadedLength} bytes, not ${size}.`);
  await page.reload();
  const hrefsAfterReload = await page.$$eval('#finished a', (links) => links.map((a) => a.getAttribute('href')));
  check(hrefsAfterReload.includes(expectedHref), 'The finished list was not kept across a reload.');
  result.finishedListKeptAcrossReload = true;
}

// ---------------------------------------------------------------------------------------------
// tus.html: tus-js-client against the sample's tus 1.0 endpoint.

const TUS_VERSION = '1.0.0';
const RELOAD_AT = 0.7;                    // fraction after which the tus scenario reloads the page

// HEAD on a tus upload URL from Node, straight to the server: its Upload-Offset.
async function tusOffset(uploadUrl) {
  const response = await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': TUS_VERSION } });
  check(response.status === 200, `HEAD ${uploadUrl} answered ${response.status}, not 200.`);
  check(response.headers.get('tus-resumable') === TUS_VERSION,
    `HEAD ${uploadUrl} answered Tus-Resumable "${response.headers.get('tus-resumable')}", not ${TUS_VERSION}.`);
  const offset = response.headers.get('upload-offset');
  check(offset !== null && /^\d+$/.test(offset), `HEAD ${uploadUrl} answered no valid Upload-Offset ("${offset}").`);
  result.tusUploadLength = Number(response.headers.get('upload-length'));
  return Number(offset);
}

const tusPageState = (page) => page.evaluate(() => document.body.dataset.tus ?? null);

async function waitForTusPage(page) {
  await page.waitForFunction(() => ['ready', 'missing'].includes(document.body.dataset.tus), null,
    { timeout: STEP_TIMEOUT_MS });
  return tusPageState(page);
}

async function tusScenario(page, size) {
  const pageUrl = new URL('tus.html', args.baseUrl).href;

  // What the page sent to the tus endpoint: every request with Tus-Resumable, and how it ended.
  const tusRequests = [];
  result.tusRequests = tusRequests;
  page.on('request', (request) => {
    const h = request.headers();
    if (!h['tus-resumable']) return;
    const entry = {
      method: request.method(),
      url: request.url(),
      tusResumable: h['tus-resumable'],
      uploadOffset: h['upload-offset'] !== undefined ? Number(h['upload-offset']) : null,
      contentType: h['content-type'] ?? null,
      status: null,
    };
    tusRequests.push(entry);
    request.response().then(
      (response) => { entry.status = response ? response.status() : 'failed'; },
      () => { entry.status = 'failed'; });
  });

  // 1. Without tus-js-client's bundle (as when npm ci was not run before the build) the page says so.
  const bundle = '**/lib/tus.min.js';
  await page.route(bundle, (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }));
  await page.goto(pageUrl);
  check(await waitForTusPage(page) === 'missing', 'With lib/tus.min.js missing, tus.html did not notice.');
  const notice = page.locator('#tus-missing');
  check(await notice.isVisible(), 'With lib/tus.min.js missing, tus.html shows no notice.');
  result.missingBundleMessage = (await notice.innerText()).replace(/\s+/g, ' ').trim();
  check(result.missingBundleMessage.includes('run npm ci in samples/ResumableUpload.Sample to enable this page'),
    `With lib/tus.min.js missing, tus.html says "${result.missingBundleMessage}".`);
  check(await page.locator('#files').isDisabled(), 'With lib/tus.min.js missing, the file input is still enabled.');
  await page.unroute(bundle);

  // 2. With it.
  await page.goto(pageUrl);
  await page.evaluate(() => localStorage.clear());
  check(await waitForTusPage(page) === 'ready',
    'tus.html could not load lib/tus.min.js: run npm ci in samples/ResumableUpload.Sample, then build the sample again.');
  check(!(await notice.isVisible()), 'tus.html shows its "not installed" notice although tus-js-client loaded.');
  result.chunkSize = Math.round(Number(await page.inputValue('#chunk-size')) * 1024 * 1024);
  check(result.chunkSize > 0 && result.chunkSize < size * STOP_AT,
    `The page's chunk size (${result.chunkSize} bytes) would not leave a chunk stored before the pause.`);

  await page.setInputFiles('#files', args.file);           // the page starts uploading on its own
  const row = page.locator('li.upload').first();
  await row.waitFor({ timeout: STEP_TIMEOUT_MS });
  const rowState = async () => ({
    state: await row.getAttribute('data-state'),
    uploaded: Number(await row.getAttribute('data-uploaded')),
    url: await row.getAttribute('data-url'),
    message: await row.locator('.message').textContent(),
  });
  const waitUploaded = (fraction) => page.waitForFunction(({ size, fraction }) => {
    const el = document.querySelector('li.upload');
    return Number(el.dataset.uploaded) >= size * fraction || ['done', 'error'].includes(el.dataset.state);
  }, { size, fraction }, { timeout: STEP_TIMEOUT_MS, polling: 20 });
  const waitState = (states) => page.waitForFunction(
    (states) => states.includes(document.querySelector('li.upload')?.dataset.state), states,
    { timeout: STEP_TIMEOUT_MS });

  await waitUploaded(STOP_AT);
  const before = await rowState();
  check(before.state === 'uploading', `Before Pause the row is "${before.state}" (${before.message}); the throttling may not work.`);
  result.progressAtStop = before.uploaded;

  log('pause');
  await row.locator('button.pause').click();
  await waitState(['paused']);
  check(await row.locator('button.resume').isVisible(), 'The Resume button is not shown on a paused upload.');
  check(!(await row.locator('button.pause').isVisible()), 'The Pause button is still shown on a paused upload.');

  const uploadUrl = (await rowState()).url;
  result.uploadUrl = uploadUrl;
  check(uploadUrl, 'The paused row shows no upload URL (data-url).');
  const parsed = new URL(uploadUrl);
  check(parsed.origin === new URL(args.baseUrl).origin && /^\/[0-9a-f]{32}$/.test(parsed.pathname),
    `The upload URL ${uploadUrl} is not /<32 hex digits> on the sample's origin.`);
  check((await row.locator('.url-text').textContent()) === uploadUrl, 'The row does not show its upload URL.');

  result.storedAfterStop = await settledStoredBytes(page, null, () => tusOffset(uploadUrl));
  log('Upload-Offset after pause', result.storedAfterStop, 'of', size);
  check(result.storedAfterStop > 0 && result.storedAfterStop < size,
    `After Pause, HEAD answered Upload-Offset ${result.storedAfterStop}; expected more than 0 and less than ${size}.`);
  check(result.tusUploadLength === size, `HEAD answered Upload-Length ${result.tusUploadLength}, not ${size}.`);
  const early = await fetch(uploadUrl);
  await early.arrayBuffer();
  result.downloadStatusWhileIncomplete = early.status;
  check(early.status === 404, `GET on the unfinished upload answered ${early.status}, not 404.`);
  await page.waitForTimeout(500);
  check((await rowState()).state === 'paused', 'A paused upload went on by itself.');
  check(await tusOffset(uploadUrl) === result.storedAfterStop, 'The Upload-Offset grew while the upload was paused.');

  log('resume');
  const resumeIndex = tusRequests.length;
  await row.locator('button.resume').click();
  await maybeScreenshotLater(page, async () => (await rowState()).uploaded);
  await screenshotTask;
  await waitUploaded(RELOAD_AT);
  const beforeReload = await rowState();
  check(beforeReload.state === 'uploading',
    `Before the reload the row is "${beforeReload.state}" (${beforeReload.message}); the throttling may not work.`);

  // 3. Reload part-way: the page lists the unfinished upload, and picking the same file again carries on
  //    with the same tus upload (tus-js-client's findPreviousUploads + resumeFromPreviousUpload).
  log('reload');
  await page.reload();
  check(await waitForTusPage(page) === 'ready', 'After the reload tus.html could not load tus-js-client.');
  result.storedAtReload = await settledStoredBytes(page, null, () => tusOffset(uploadUrl));
  log('Upload-Offset after reload', result.storedAtReload, 'of', size);
  check(result.storedAtReload > result.storedAfterStop && result.storedAtReload < size,
    `At the reload, HEAD answered Upload-Offset ${result.storedAtReload}; expected between ${result.storedAfterStop} and ${size}.`);
  await page.locator('#previous li').first().waitFor({ timeout: STEP_TIMEOUT_MS });
  result.previousListedAfterReload = await page.locator('#previous li').count();
  const reloadIndex = tusRequests.length;
  await page.setInputFiles('#files', args.file);
  await row.waitFor({ timeout: STEP_TIMEOUT_MS });
  await waitState(['done', 'error']);
  const after = await rowState();
  result.logAtEnd = `${after.state}: ${after.message}`;
  check(after.state === 'done', `After the reload the row ends "${after.state}": ${after.message}`);
  check(after.url === uploadUrl, `After the reload the page uploaded to ${after.url}, not to the earlier ${uploadUrl}.`);
  check(await row.getAttribute('data-resumed-from') === uploadUrl, 'After the reload the row does not say it resumed the earlier upload.');
  const href = await row.locator('a.download').getAttribute('href');
  check(await row.locator('a.download').isVisible() && href === uploadUrl,
    `The finished row's download link is "${href}", not the upload URL ${uploadUrl}.`);
  await page.waitForFunction(() => document.getElementById('previous-section').hidden, null, { timeout: 5000 })
    .catch(() => check(false, 'The finished upload is still listed as unfinished.'));

  result.finalStored = await tusOffset(uploadUrl);
  check(result.finalStored === size, `At the end HEAD answered Upload-Offset ${result.finalStored}, not ${size}.`);
  result.downloadedLength = await page.evaluate(async (href) => {
    const response = await fetch(href, { cache: 'no-store' });
    return response.status === 200 ? (await response.arrayBuffer()).byteLength : -response.status;
  }, href);
  check(result.downloadedLength === size, `The download link gives ${result.downloadedLength} bytes, not ${size}.`);

  // What went over the wire: one POST created the upload; every PATCH went to its URL, from where the
  // server stood.
  await page.waitForTimeout(200);
  const creates = tusRequests.filter((r) => r.method === 'POST');
  check(creates.length === 1, `Expected one POST creating the upload, saw ${creates.length}.`);
  check(creates[0].status === 201, `The POST creating the upload answered ${creates[0].status}, not 201.`);
  check(tusRequests.every((r) => r.tusResumable === TUS_VERSION), 'A request went without Tus-Resumable: 1.0.0.');
  const patches = tusRequests.filter((r) => r.method === 'PATCH');
  check(patches.every((r) => r.url === uploadUrl && r.contentType === 'application/offset+octet-stream'),
    'A PATCH went elsewhere than the upload URL or without Content-Type application/offset+octet-stream: ' +
    JSON.stringify(patches));
  result.patchRequests = patches.length;
  // The page's chunk size holds: after each accepted PATCH the next one starts one chunk further on.
  patches.forEach((patch, i) => {
    const next = patches[i + 1];
    if (patch.status !== 204 || !next) return;
    check(next.uploadOffset === Math.min(patch.uploadOffset + result.chunkSize, size),
      `After a PATCH from ${patch.uploadOffset} the next one started at ${next.uploadOffset}, not one chunk ` +
      `(${result.chunkSize} bytes) further on.`);
  });
  const resumed = tusRequests.slice(resumeIndex, reloadIndex).find((r) => r.method === 'PATCH');
  check(resumed, 'No PATCH followed Resume.');
  result.resumedFrom = resumed.uploadOffset;
  check(resumed.uploadOffset === result.storedAfterStop,
    `The PATCH after Resume started at ${resumed.uploadOffset}, not at the ${result.storedAfterStop} the server held.`);
  const afterReload = tusRequests.slice(reloadIndex).find((r) => r.method === 'PATCH');
  check(afterReload, 'No PATCH followed picking the file again after the reload.');
  result.resumedAfterReloadFrom = afterReload.uploadOffset;
  check(afterReload.uploadOffset === result.storedAtReload,
    `The PATCH after the reload started at ${afterReload.uploadOffset}, not at the ${result.storedAtReload} the server held.`);
}

// With --screenshot, snaps the page once the resumed upload has moved on a little.
let screenshotTask = null;
async function maybeScreenshotLater(page, progress) {
  if (!args.screenshot) return;
  screenshotTask = (async () => {
    const start = await progress();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await progress()) === start) await page.waitForTimeout(50);
    await page.waitForTimeout(700);
    await page.screenshot({ path: args.screenshot, fullPage: true });
    result.screenshot = args.screenshot;
  })().catch((err) => log('screenshot failed:', err.message));
}

// ---------------------------------------------------------------------------------------------

let context;
let userDataDir;
let proxy = null;
try {
  const size = (await stat(args.file)).size;
  result.size = size;
  check(size > 0, 'The file to upload is empty.');

  userDataDir = await mkdtemp(path.join(tmpdir(), 'resumable-upload-e2e-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 720 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);

  // What the page sent: every POST upload with its protocol headers, and how it ended.
  result.uploadRequests = [];
  const responsesSeen = [];
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (request) => {
    if (request.method() !== 'POST' || new URL(request.url()).pathname !== new URL('upload', args.baseUrl).pathname) return;
    const h = request.headers();
    const entry = {
      fileId: h['x-file-id'] ?? null,
      startByte: h['x-start-byte'] !== undefined ? Number(h['x-start-byte']) : null,
      fileSize: h['x-file-size'] !== undefined ? Number(h['x-file-size']) : null,
      protocolHeaders: Object.keys(h).filter((name) => /^(x-|upload-)/i.test(name)).sort(),
      status: null,
    };
    result.uploadRequests.push(entry);
    responsesSeen.push(request.response().then(
      (response) => { entry.status = response ? response.status() : 'failed'; },
      () => { entry.status = 'failed'; }));
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await throttleUploads(cdp, UPLOAD_BYTES_PER_SECOND);

  if (args.scenario === 'classic') await classicScenario(page, size);
  else if (args.scenario === 'tus') await tusScenario(page, size);
  else await indexScenario(page, size);
  await screenshotTask;
  await Promise.all(responsesSeen);

  // The X-File-Id pages: what the server holds, and where the resumed request started (tus checks its own).
  if (args.scenario !== 'tus') {
    result.finalStored = await storedBytes(page, result.fileId);
    check(result.finalStored === size, `At the end the server holds ${result.finalStored} bytes, not ${size}.`);

    // The resumed request must have started where the server's count stood, not from the beginning.
    const posts = result.uploadRequests;
    check(posts.length >= 2, `Expected at least two upload requests (before and after the stop), saw ${posts.length}.`);
    check(posts[0].startByte === 0, `The first upload request started at ${posts[0].startByte}, not 0.`);
    const resumed = posts.find((p, i) => i > 0 && p.status === 200);
    check(resumed, 'No upload request after the stop succeeded.');
    result.resumedFrom = resumed.startByte;
    check(resumed.startByte === result.storedAfterStop,
      `The resumed request started at byte ${resumed.startByte}, not at the ${result.storedAfterStop} the server held.`);
    if (args.scenario === 'classic') {
      check(posts.every((p) => p.protocolHeaders.join() === 'x-file-id,x-start-byte'),
        'The classic page must send only X-File-Id and X-Start-Byte; it sent ' + JSON.stringify(posts.map((p) => p.protocolHeaders)));
    } else {
      check(posts.every((p) => p.fileSize === size), 'The sample page did not send X-File-Size with every upload request.');
    }
  }
  check(pageErrors.length === 0, 'The page threw: ' + pageErrors.join('; '));

  result.ok = true;
} catch (err) {
  result.error = err?.message ?? String(err);
} finally {
  clearTimeout(watchdog);
  await context?.close().catch(() => {});
  await proxy?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}
finish(result.ok ? 0 : 1);
