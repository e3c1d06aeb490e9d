// Drives the real tus-js-client (its Node.js build) against a tus 1.0 server for the interop tests.
//
//   node scenario.mjs <endpoint> <scenario> <file> [key=value ...]
//
// protocol=ietf-draft-03|ietf-draft-05 runs a scenario with tus-js-client's `protocol` option: the IETF "Resumable
// Uploads for HTTP" draft (Upload-Draft-Interop-Version 5 or 6) instead of tus 1.0; the script's own requests
// (tusFetch) then carry that interop version instead of Tus-Resumable.
//
// Prints exactly one JSON line on stdout (diagnostics go to stderr):
//   { "scenario", "ok", "url", "size", "error": { message, status, body, method, url } | null,
//     "requests": [ { method, url, request headers, status, response headers, error } ], ...scenario fields }
// The exit code is 0 when the scenario ran to its end (ok may still be false), 1 on an unexpected failure.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import { DefaultHttpStack, DetailedError, Upload } from 'tus-js-client';

const MiB = 1024 * 1024;
const SCRIPT_TIMEOUT_MS = 90_000;

const REQUEST_HEADERS = [
  'Tus-Resumable', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Concat',
  'Upload-Checksum', 'Content-Type', 'Content-Length', 'X-HTTP-Method-Override',
  'Upload-Draft-Interop-Version', 'Upload-Complete',
];
const RESPONSE_HEADERS = [
  'location', 'upload-offset', 'upload-length', 'upload-defer-length', 'upload-metadata', 'upload-concat',
  'upload-expires', 'tus-resumable', 'tus-version', 'tus-extension', 'tus-max-size', 'tus-checksum-algorithm',
  'content-type', 'content-length', 'cache-control',
  'upload-draft-interop-version', 'upload-complete', 'upload-limit',
];

// --- arguments -------------------------------------------------------------------------------------
const [endpoint, scenario, file, ...rest] = process.argv.slice(2);
if (!endpoint || !scenario || !file) {
  process.stderr.write('usage: node scenario.mjs <endpoint> <scenario> <file> [key=value ...]\n');
  process.exit(2);
}
const args = Object.fromEntries(rest.map((a) => {
  const i = a.indexOf('=');
  return i < 0 ? [a, 'true'] : [a.slice(0, i), a.slice(i + 1)];
}));
const num = (name, fallback) => (args[name] === undefined ? fallback : Number(args[name]));
/**
 * source=buffer: the file's bytes as a Buffer instead of an fs.ReadStream (plain, resume, creation-with-upload).
 * tus-js-client only knows a stream source has ended after the read past its last byte, so with a file stream its
 * last PATCH in IETF mode says Upload-Complete: ?0; with a Buffer it says ?1.
 */
const source = () => (args.source === 'buffer' ? fs.readFileSync(file) : fs.createReadStream(file));

// protocol=<tus-js-client protocol>: passed to every tus.Upload (and Upload.terminate) of the run.
const INTEROP_VERSIONS = { 'ietf-draft-03': '5', 'ietf-draft-05': '6' };
if (args.protocol !== undefined && args.protocol !== 'tus-v1' && !INTEROP_VERSIONS[args.protocol]) {
  process.stderr.write(`unknown protocol '${args.protocol}'; known: tus-v1, ${Object.keys(INTEROP_VERSIONS).join(', ')}\n`);
  process.exit(2);
}
const protocolOptions = args.protocol === undefined ? {} : { protocol: args.protocol };
/** The header that marks the script's own requests: Tus-Resumable, or the IETF draft's interop version. */
const protocolHeaders = INTEROP_VERSIONS[args.protocol]
  ? { 'Upload-Draft-Interop-Version': INTEROP_VERSIONS[args.protocol] }
  : { 'Tus-Resumable': '1.0.0' };

// --- recording ---------------------------------------------------------------------------------------
const requests = [];

function pathOf(url) {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return String(url);
  }
}

function bodySize(body) {
  if (body == null) return 0;
  if (typeof body.size === 'number') return body.size;
  if (body instanceof Uint8Array) return body.length;
  return null; // a stream: unknown here
}

/**
 * Wraps tus-js-client's own Node HTTP stack: records every request and response (for the report), and lets a
 * scenario change a request before it is sent (beforeSend) or break it while its body is on the wire (onProgress).
 */
class RecordingHttpStack {
  constructor(hooks = {}) {
    this._inner = new DefaultHttpStack();
    this._hooks = hooks;
    this._count = 0;
  }

  getName() {
    return `Recording(${this._inner.getName()})`;
  }

  createRequest(method, url) {
    const req = this._inner.createRequest(method, url);
    const entry = { n: ++this._count, method, url: pathOf(url) };
    const hooks = this._hooks;
    const originalSetProgressHandler = req.setProgressHandler.bind(req);
    req.setProgressHandler = (handler) => {
      originalSetProgressHandler((sent) => {
        if (hooks.onProgress) hooks.onProgress(req, entry, sent);
        handler(sent);
      });
    };
    const originalSend = req.send.bind(req);
    req.send = async (body = null) => {
      if (hooks.beforeSend) {
        const replacement = await hooks.beforeSend(req, body, entry);
        if (replacement !== undefined) body = replacement;
      }
      entry.request = {};
      for (const h of REQUEST_HEADERS) {
        const v = req.getHeader(h);
        if (v !== undefined) entry.request[h] = String(v);
      }
      entry.bodyBytes = bodySize(body);
      requests.push(entry);
      try {
        const res = await originalSend(body);
        entry.status = res.getStatus();
        entry.response = {};
        for (const h of RESPONSE_HEADERS) {
          const v = res.getHeader(h);
          if (v !== undefined) entry.response[h] = String(v);
        }
        const text = res.getBody();
        if (text) entry.responseBody = text.slice(0, 400);
        return res;
      } catch (err) {
        entry.error = String(err?.message ?? err);
        throw err;
      }
    };
    return req;
  }
}

function describeError(err) {
  if (err == null) return null;
  const out = { message: String(err.message ?? err) };
  if (err instanceof DetailedError || err.originalRequest) {
    const req = err.originalRequest;
    const res = err.originalResponse;
    if (req) {
      out.method = req.getMethod();
      out.url = pathOf(req.getURL());
    }
    if (res) {
      out.status = res.getStatus();
      out.body = (res.getBody() ?? '').slice(0, 400);
    }
    if (err.causingError) out.cause = String(err.causingError.message ?? err.causingError);
  }
  return out;
}

/** A urlStorage kept in memory, shared by several Upload instances of one run (tus-js-client's UrlStorage interface). */
class MemoryUrlStorage {
  constructor() {
    this.items = new Map();
    this._next = 0;
  }

  async findAllUploads() {
    return [...this.items.entries()].map(([key, u]) => ({ ...u, urlStorageKey: key }));
  }

  async findUploadsByFingerprint(fingerprint) {
    return (await this.findAllUploads()).filter((u) => u.urlStorageKey.startsWith(`tus::${fingerprint}::`));
  }

  async removeUpload(key) {
    this.items.delete(key);
  }

  async addUpload(fingerprint, upload) {
    const key = `tus::${fingerprint}::${++this._next}`;
    this.items.set(key, { ...upload });
    return key;
  }
}

/** Runs one tus.Upload to its end: resolves with the upload on onSuccess, rejects with the error on onError. */
function runUpload(source, options) {
  return new Promise((resolve, reject) => {
    const upload = new Upload(source, {
      endpoint,
      retryDelays: null,
      httpStack: new RecordingHttpStack(),
      ...protocolOptions,
      ...options,
      onSuccess: () => resolve(upload),
      onError: (err) => reject(err),
    });
    upload.start();
  });
}

function sha256(buffer) {
  return createHash('sha256').update(buffer).digest('hex');
}

function fileInfo() {
  const bytes = fs.readFileSync(file);
  return { bytes, size: bytes.length, sha256: sha256(bytes) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function tusFetch(method, url, { headers = {}, body } = {}) {
  const res = await fetch(new URL(url, endpoint), {
    method,
    headers: { ...protocolHeaders, ...headers },
    body,
  });
  const text = await res.text();
  const picked = {};
  for (const h of RESPONSE_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) picked[h] = v;
  }
  const entry = { method, url: pathOf(new URL(url, endpoint).toString()), request: { ...protocolHeaders, ...headers }, status: res.status, response: picked };
  if (text) entry.responseBody = text.slice(0, 400);
  requests.push(entry);
  return entry;
}

// --- scenarios ----------------------------------------------------------------------------------------
const scenarios = {
  /** A file source (fs.ReadStream) sent in several PATCHes of chunkSize bytes. */
  async plain() {
    const info = fileInfo();
    const upload = await runUpload(source(), {
      chunkSize: num('chunkSize', MiB),
      // overridePatchMethod=true: every PATCH goes as POST with X-HTTP-Method-Override: PATCH (core protocol header).
      overridePatchMethod: args.overridePatchMethod === 'true',
    });
    return { url: upload.url, size: info.size, sha256: info.sha256 };
  },

  /**
   * Starts an upload, aborts it part-way (in onProgress, while a PATCH body is on the wire), then a NEW tus.Upload
   * instance with the same fingerprint and urlStorage finds the previous upload and finishes it.
   */
  async resume() {
    const info = fileInfo();
    const urlStorage = new MemoryUrlStorage();
    const chunkSize = num('chunkSize', MiB);
    const abortAt = num('abortAt', 0.45);
    const firstUrl = await new Promise((resolve, reject) => {
      const upload = new Upload(source(), {
        endpoint,
        chunkSize,
        urlStorage,
        retryDelays: null,
        httpStack: new RecordingHttpStack(),
        ...protocolOptions,
        onProgress: (sent, total) => {
          if (sent >= total * abortAt && !upload._aborted) {
            upload.abort().then(() => resolve(upload.url), reject);
          }
        },
        onSuccess: () => reject(new Error('the first upload finished before it could be aborted')),
        onError: reject,
      });
      upload.start();
    });
    const firstRequests = requests.length;
    await sleep(num('pauseMs', 300));
    const head = await tusFetch('HEAD', firstUrl);

    let settle;
    const done = new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
    const second = new Upload(source(), {
      endpoint,
      chunkSize,
      urlStorage,
      retryDelays: null,
      httpStack: new RecordingHttpStack(),
      ...protocolOptions,
      onSuccess: () => settle.resolve(),
      onError: (err) => settle.reject(err),
    });
    const previous = await second.findPreviousUploads();
    if (previous.length === 0) throw new Error('findPreviousUploads found nothing after the abort');
    second.resumeFromPreviousUpload(previous[0]);
    second.start();
    await done;
    const resumedRequests = requests.slice(firstRequests + 1);
    return {
      url: second.url,
      firstUrl,
      previousUploads: previous.length,
      headStatusBeforeResume: head.status,
      headOffsetBeforeResume: head.response['upload-offset'] === undefined ? null : Number(head.response['upload-offset']),
      resumedWithPost: resumedRequests.some((r) => r.method === 'POST'),
      firstResumedPatchOffset: Number(resumedRequests.find((r) => r.method === 'PATCH')?.request['Upload-Offset'] ?? -1),
      size: info.size,
      sha256: info.sha256,
    };
  },

  /** A plain Readable (not a file, so no known size) with uploadLengthDeferred: the length is declared at the end. */
  async deferred() {
    const info = fileInfo();
    const stream = new PassThrough();
    fs.createReadStream(file).pipe(stream);
    const upload = await runUpload(stream, { chunkSize: num('chunkSize', MiB), uploadLengthDeferred: true });
    return { url: upload.url, size: info.size, sha256: info.sha256 };
  },

  /** parallelUploads: partial uploads (Upload-Concat: partial) then one final upload (Upload-Concat: final;...). */
  async parallel() {
    const info = fileInfo();
    const source = args.source === 'buffer' ? info.bytes : fs.createReadStream(file);
    const upload = await runUpload(source, {
      parallelUploads: num('parallel', 3),
      chunkSize: num('chunkSize', MiB),
      metadata: { filename: 'parallel.bin' },
    });
    const finalPost = requests.filter((r) => r.method === 'POST' && r.request['Upload-Concat']?.startsWith('final'));
    return {
      url: upload.url,
      partialUrls: requests.filter((r) => r.method === 'POST' && r.request['Upload-Concat'] === 'partial' && r.response?.location)
        .map((r) => pathOf(new URL(r.response.location, endpoint).toString())),
      finalConcatHeader: finalPost[0]?.request['Upload-Concat'] ?? null,
      size: info.size,
      sha256: info.sha256,
    };
  },

  /** Upload-Metadata sent by tus-js-client (metadata=<json>). */
  async metadata() {
    const info = fileInfo();
    const metadata = args.metadata ? JSON.parse(args.metadata) : { filename: 'ünïcode name.bin', filetype: 'application/octet-stream' };
    const upload = await runUpload(info.bytes, { chunkSize: num('chunkSize', MiB), metadata });
    const post = requests.find((r) => r.method === 'POST');
    return { url: upload.url, size: info.size, sha256: info.sha256, sentMetadata: post?.request['Upload-Metadata'] ?? null };
  },

  /** mode=after-success: Upload.terminate(url) on a finished upload; mode=abort: upload.abort(true) part-way. */
  async terminate() {
    const info = fileInfo();
    if ((args.mode ?? 'after-success') === 'after-success') {
      const upload = await runUpload(info.bytes, { chunkSize: num('chunkSize', MiB) });
      await Upload.terminate(upload.url, { httpStack: new RecordingHttpStack(), ...protocolOptions });
      return { url: upload.url, terminated: true, size: info.size };
    }
    const url = await new Promise((resolve, reject) => {
      const upload = new Upload(info.bytes, {
        endpoint,
        chunkSize: num('chunkSize', 512 * 1024),
        retryDelays: null,
        httpStack: new RecordingHttpStack(),
        ...protocolOptions,
        onChunkComplete: () => {
          if (!upload._aborted) upload.abort(true).then(() => resolve(upload.url), reject);
        },
        onSuccess: () => reject(new Error('the upload finished before it could be terminated')),
        onError: reject,
      });
      upload.start();
    });
    return { url, terminated: true, size: info.size };
  },

  /**
   * tus-js-client has no checksum option, so its HTTP stack is wrapped to add "Upload-Checksum: <alg> <base64>" to
   * each request carrying data (the PATCHes, computed from the exact bytes tus-js-client sends).
   */
  async checksum() {
    const info = fileInfo();
    const alg = args.alg ?? 'sha1';
    const nodeAlg = { sha1: 'sha1', md5: 'md5', sha256: 'sha256', sha512: 'sha512' }[alg];
    const httpStack = new RecordingHttpStack({
      beforeSend: (req, body) => {
        if (body instanceof Uint8Array && body.length > 0) {
          req.setHeader('Upload-Checksum', `${alg} ${createHash(nodeAlg).update(body).digest('base64')}`);
        }
      },
    });
    const upload = await runUpload(info.bytes, { chunkSize: num('chunkSize', MiB), httpStack });
    return {
      url: upload.url,
      size: info.size,
      sha256: info.sha256,
      patchesWithChecksum: requests.filter((r) => r.method === 'PATCH' && r.request['Upload-Checksum']).length,
    };
  },

  /**
   * Raw checksum steps with fetch / node:http (tus-js-client cannot send a wrong checksum or a trailer):
   * create, PATCH chunk 1 with the right sha1 (expect 204), PATCH chunk 2 with a wrong sha1 (expect 460, offset
   * unchanged), PATCH chunk 2 with the right sha256, PATCH the rest with a right md5 in a trailer (checksum-trailer),
   * and one more wrong trailer on a second upload.
   */
  async 'checksum-raw'() {
    const info = fileInfo();
    const third = Math.floor(info.size / 3);
    const parts = [info.bytes.subarray(0, third), info.bytes.subarray(third, 2 * third), info.bytes.subarray(2 * third)];
    const digest = (alg, buf) => createHash(alg).update(buf).digest('base64');
    const steps = {};
    const options = await tusFetch('OPTIONS', endpoint);
    steps.options = { status: options.status, extensions: options.response['tus-extension'] ?? null, algorithms: options.response['tus-checksum-algorithm'] ?? null };
    const created = await tusFetch('POST', endpoint, { headers: { 'Upload-Length': String(info.size) } });
    const url = new URL(created.response.location, endpoint).toString();
    const patch = (offset, body, checksum) => tusFetch('PATCH', url, {
      headers: { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', ...(checksum ? { 'Upload-Checksum': checksum } : {}) },
      body,
    });
    const head = async () => Number((await tusFetch('HEAD', url)).response['upload-offset']);
    const view = (e) => ({ status: e.status, offset: e.response['upload-offset'] ?? null });

    steps.rightSha1 = view(await patch(0, parts[0], `sha1 ${digest('sha1', parts[0])}`));
    steps.wrongSha1 = view(await patch(parts[0].length, parts[1], `sha1 ${digest('sha1', Buffer.from('not the chunk'))}`));
    steps.offsetAfterWrong = await head();
    steps.unknownAlgorithm = view(await patch(parts[0].length, parts[1], `crc32 ${digest('sha1', parts[1])}`));
    steps.offsetAfterUnknown = await head();
    steps.rightSha256 = view(await patch(parts[0].length, parts[1], `sha256 ${digest('sha256', parts[1])}`));
    steps.rightMd5Trailer = await chunkedPatchWithTrailer(url, parts[0].length + parts[1].length, parts[2], `md5 ${digest('md5', parts[2])}`);
    steps.finalOffset = await head();

    const created2 = await tusFetch('POST', endpoint, { headers: { 'Upload-Length': String(parts[0].length) } });
    const url2 = new URL(created2.response.location, endpoint).toString();
    steps.wrongSha512Trailer = await chunkedPatchWithTrailer(url2, 0, parts[0], `sha512 ${digest('sha512', Buffer.from('nope'))}`);
    steps.offsetAfterWrongTrailer = Number((await tusFetch('HEAD', url2)).response['upload-offset']);
    return { url: pathOf(url), size: info.size, sha256: info.sha256, steps };
  },

  /** uploadDataDuringCreation (creation-with-upload): the POST carries the first chunk (chunkSize=Infinity: all). */
  async 'creation-with-upload'() {
    const info = fileInfo();
    const upload = await runUpload(source(), {
      chunkSize: num('chunkSize', Number.POSITIVE_INFINITY),
      uploadDataDuringCreation: true,
    });
    const post = requests.find((r) => r.method === 'POST');
    return {
      url: upload.url,
      size: info.size,
      sha256: info.sha256,
      postOffset: post?.response?.['upload-offset'] === undefined ? null : Number(post.response['upload-offset']),
      patchCount: requests.filter((r) => r.method === 'PATCH').length,
    };
  },

  /**
   * retryDelays (default [0, 100, 300]; retryDelays=<json array>): the second PATCH sends only half of its body (with the full Content-Length), then its
   * connection is destroyed, so tus-js-client must HEAD for the server's offset (which may include the half that
   * arrived) and go on from there.
   */
  async retry() {
    const info = fileInfo();
    let patches = 0;
    let broken = 0;
    const httpStack = new RecordingHttpStack({
      beforeSend: (req, body, entry) => {
        if (req.getMethod() !== 'PATCH' || ++patches !== 2 || !(body instanceof Uint8Array)) return undefined;
        entry.broken = true;
        broken += 1;
        const half = body.subarray(0, Math.floor(body.length / 2));
        entry.bytesSentBeforeBreak = half.length;
        const partial = new PassThrough();
        partial.size = body.length; // tus-js-client's stack sends Content-Length from .size: the full chunk
        partial.write(half);
        setTimeout(() => req.getUnderlyingObject()?.destroy(new Error('injected network failure')), num('breakAfterMs', 300));
        return partial;
      },
    });
    const retryDelays = args.retryDelays ? JSON.parse(args.retryDelays) : [0, 100, 300];
    const upload = await runUpload(info.bytes, { chunkSize: num('chunkSize', MiB), retryDelays, httpStack });
    const brokenIndex = requests.findIndex((r) => r.broken);
    const headAfter = requests.slice(brokenIndex + 1).find((r) => r.method === 'HEAD');
    return {
      url: upload.url,
      size: info.size,
      sha256: info.sha256,
      brokenRequests: broken,
      brokenAtOffset: Number(requests[brokenIndex]?.request['Upload-Offset'] ?? -1),
      bytesSentBeforeBreak: requests[brokenIndex]?.bytesSentBeforeBreak ?? null,
      headOffsetAfterBreak: headAfter?.response?.['upload-offset'] === undefined ? null : Number(headAfter.response['upload-offset']),
    };
  },

  /**
   * The second PATCH is sent with a wrong Upload-Offset (one past the real one, body unchanged): the server answers
   * 409 with its offset, and tus-js-client (retryDelays, default [0, 100, 300]) retries with HEAD and goes on.
   */
  async conflict() {
    const info = fileInfo();
    let patches = 0;
    const httpStack = new RecordingHttpStack({
      beforeSend: (req, body, entry) => {
        if (req.getMethod() !== 'PATCH' || ++patches !== 2) return undefined;
        entry.wrongOffset = true;
        req.setHeader('Upload-Offset', String(Number(req.getHeader('Upload-Offset')) + 1));
        return undefined;
      },
    });
    const retryDelays = args.retryDelays ? JSON.parse(args.retryDelays) : [0, 100, 300];
    const upload = await runUpload(info.bytes, { chunkSize: num('chunkSize', MiB), retryDelays, httpStack });
    return { url: upload.url, size: info.size, sha256: info.sha256 };
  },
};

async function chunkedPatchWithTrailer(url, offset, body, checksum) {
  const u = new URL(url);
  const result = await new Promise((resolve, reject) => {
    const req = http.request({
      hostname: u.hostname,
      port: u.port,
      path: u.pathname,
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
        'Transfer-Encoding': 'chunked',
        Trailer: 'Upload-Checksum',
      },
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, offset: res.headers['upload-offset'] ?? null, body: Buffer.concat(chunks).toString('utf8').slice(0, 400) }));
    });
    req.on('error', reject);
    req.write(body);
    req.addTrailers({ 'Upload-Checksum': checksum });
    req.end();
  });
  requests.push({ method: 'PATCH', url: u.pathname, request: { 'Upload-Offset': String(offset), Trailer: `Upload-Checksum: ${checksum}` }, status: result.status, response: { 'upload-offset': result.offset }, responseBody: result.body });
  return { status: result.status, offset: result.offset };
}

// --- main --------------------------------------------------------------------------------------------------
function finish(result, code) {
  process.stdout.write(`${JSON.stringify({ scenario, ...result, requests })}\n`, () => process.exit(code));
}

const timer = setTimeout(() => finish({ ok: false, error: { message: `scenario timed out after ${SCRIPT_TIMEOUT_MS} ms` } }, 1), SCRIPT_TIMEOUT_MS);
const run = scenarios[scenario];
if (!run) {
  finish({ ok: false, error: { message: `unknown scenario '${scenario}'; known: ${Object.keys(scenarios).join(', ')}` } }, 2);
} else {
  try {
    const result = await run();
    clearTimeout(timer);
    if (result.url && /^https?:/.test(result.url)) result.url = pathOf(result.url);
    if (result.firstUrl && /^https?:/.test(result.firstUrl)) result.firstUrl = pathOf(result.firstUrl);
    finish({ ok: true, error: null, ...result }, 0);
  } catch (err) {
    clearTimeout(timer);
    process.stderr.write(`${err?.stack ?? err}\n`);
    finish({ ok: false, error: describeError(err) }, 0);
  }
}
