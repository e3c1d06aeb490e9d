// The browser package's tests in Node.js (fetch transport) against the real sample server. Run by
// ResumableUpload.Client.Tests (JsClientTests), which builds the package and passes SAMPLE_DLL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Upload, UploadError, PausedError, MemoryUploadStorage, uploadAll } from '../dist/index.js';
import { SampleServer, Proxy, patternFile, patternSha256 } from './harness.mjs';

let server;
before(async () => { server = await SampleServer.start(); });
after(async () => { await server?.stop(); });

const CASES = [
  { label: 'xfileid', protocol: 'xfileid' },
  { label: 'tus', protocol: 'tus' },
  { label: 'ietf 6', protocol: 'ietf', ietfInteropVersion: 6 },
  { label: 'ietf 8', protocol: 'ietf', ietfInteropVersion: 8 },
];

function options(c, base, extra = {}) {
  return { endpoint: base, protocol: c.protocol, ietfInteropVersion: c.ietfInteropVersion ?? 6, chunkSize: 1 << 20,
           minChunkSize: 16 << 10, retryDelay: 50, maxRetryDelay: 2000, stallTimeout: 5000, storage: new MemoryUploadStorage(), ...extra };
}

for (const c of CASES) {
  test(`${c.label}: uploads intact, reports progress and the completing response`, async () => {
    const file = patternFile(`plain-${c.label}.bin`, (3 << 20) + 777, 11);
    const reports = [];
    const result = await new Upload(file, options(c, server.base, { onProgress: p => reports.push(p) })).start();
    assert.ok(result.status >= 200 && result.status < 300, `status ${result.status}`);
    assert.equal(await server.sha256(result), patternSha256(file.size, 11));
    assert.equal(reports.at(-1).bytesUploaded, file.size);
    assert.ok(reports.some(p => p.bytesPerSecond > 0), 'a speed is measured');
  });

  test(`${c.label}: pause, then a new Upload with the same storage resumes where the server stopped`, async () => {
    const file = patternFile(`pause-${c.label}.bin`, 4 << 20, 12);
    const storage = new MemoryUploadStorage();
    const first = new Upload(file, options(c, server.base, { storage, onProgress: p => { if (p.bytesUploaded >= 2 << 20) first.pause(); } }));
    await assert.rejects(first.start(), PausedError);
    assert.equal((await storage.list()).length, 1, 'a paused upload is listed as unfinished');
    const reports = [];
    const result = await new Upload(file, options(c, server.base, { storage, onProgress: p => reports.push(p) })).start();
    assert.ok(reports[0].bytesUploaded >= 1 << 20, `resumed from ${reports[0].bytesUploaded}`);
    assert.equal(await server.sha256(result), patternSha256(file.size, 12));
    assert.equal((await storage.list()).length, 0, 'a finished upload is forgotten');
  });

  test(`${c.label}: a proxy's 413 cap shrinks the chunks and the upload completes`, async () => {
    const proxy = await new Proxy(() => server.port, { capBytes: 200 << 10 }).start();
    try {
      const file = patternFile(`cap-${c.label}.bin`, 2 << 20, 13);
      const result = await new Upload(file, options(c, proxy.base)).start();
      assert.ok(proxy.capped > 0);
      assert.equal(await server.sha256(result), patternSha256(file.size, 13));
    } finally { await proxy.stop(); }
  });
}

test('a final refusal (403) fails at once, is not retried, and carries the response', async () => {
  const proxy = await new Proxy(() => server.port, { refuseBodies: true }).start();
  try {
    const file = patternFile('refused.bin', 100_000, 14);
    const error = await new Upload(file, options(CASES[1], proxy.base)).start().then(() => null, e => e);
    assert.ok(error instanceof UploadError, String(error));
    assert.equal(error.status, 403);
    assert.equal(error.retryable, false);
    assert.match(error.body, /processing refused/);
    assert.equal(proxy.refused, 1);
  } finally { await proxy.stop(); }
});

test('uploadAll uploads several files with at most the given number at once', async () => {
  const proxy = await new Proxy(() => server.port).start();
  try {
    const files = [1, 2, 3, 4, 5].map(i => patternFile(`many-${i}.bin`, (1 << 20) + i, 20 + i));
    const results = await uploadAll(files, options(CASES[1], proxy.base, { chunkSize: 256 << 10 }), 2);
    for (const [i, result] of results.entries()) {
      assert.ok(!(result instanceof Error), String(result));
      assert.equal(await server.sha256(result), patternSha256(files[i].size, 21 + i));
    }
    assert.ok(proxy.maxActive <= 2 && proxy.maxActive >= 1, `at most 2 bodies in flight, saw ${proxy.maxActive}`);
  } finally { await proxy.stop(); }
});
