// Test harness: the real sample server (started from its built DLL, restartable on the same port and storage), an
// HTTP proxy in front of it that can cut request bodies, refuse large bodies with 413 like nginx's
// client_max_body_size, or refuse bodies for good, and deterministic file content of any size generated on demand.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

/** The sample app (samples/ResumableUpload.Sample), from the DLL named by SAMPLE_DLL. */
export class SampleServer {
  static async start() {
    const dll = process.env.SAMPLE_DLL;
    if (!dll) throw new Error('SAMPLE_DLL is not set: run these tests through ResumableUpload.Client.Tests (dotnet test), or set it to the built ResumableUpload.Sample.dll.');
    const server = new SampleServer(dll, await freePort(), mkdtempSync(join(tmpdir(), 'ru-js-client-')));
    await server.launch();
    return server;
  }

  constructor(dll, port, root) {
    this.dll = dll;
    this.port = port;
    this.root = root;
    this.base = `http://127.0.0.1:${port}/`;
  }

  async launch() {
    this.process = spawn('dotnet', [this.dll, '--urls', `http://127.0.0.1:${this.port}`,
      `--ResumableUploads:FileSystem:RootPath=${join(this.root, 'storage')}`, '--ResumableUploads:MaxUploadSize=2147483648',
      '--Logging:LogLevel:Default=Warning'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const response = await fetch(this.base + 'status', { headers: { 'X-File-Id': 'ready' } });
        if (response.ok) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error('The sample server did not start within 30 s.');
      await new Promise(r => setTimeout(r, 100));
    }
  }

  /** Kills the server (SIGKILL: in-flight requests die) and starts it again on the same port and storage. */
  async restart(downtimeMs = 500) {
    await this.kill();
    await new Promise(r => setTimeout(r, downtimeMs));
    await this.launch();
  }

  async kill() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise(r => this.process.once('exit', r));
    this.process.kill('SIGKILL');
    await exited;
  }

  async stop() {
    await this.kill();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** SHA-256 (hex) of a finished upload, read back through the sample's download endpoint. */
  async sha256(result) {
    const response = result.location
      ? await fetch(new URL(new URL(result.location).pathname, this.base))
      : await fetch(this.base + 'download', { headers: { 'X-File-Id': result.fileId } });
    if (response.status !== 200) throw new Error(`download answered ${response.status}`);
    const hash = createHash('sha256');
    for await (const part of response.body) hash.update(part);
    return hash.digest('hex');
  }
}

/**
 * An HTTP proxy in front of `targetPort()`. Options: dropEveryBytes (reset the connection carrying a request body when
 * the total body bytes pass each multiple), capBytes (413 for a Content-Length above it), refuseBodies (403 for every
 * request with a body). Counts drops, 413s, refusals and the most requests with bodies in flight at once.
 */
export class Proxy {
  constructor(targetPort, { dropEveryBytes = 0, capBytes = 0, refuseBodies = false } = {}) {
    Object.assign(this, { targetPort, dropEveryBytes, capBytes, refuseBodies });
    this.forwarded = 0;
    this.nextDrop = dropEveryBytes;
    this.drops = 0;
    this.capped = 0;
    this.refused = 0;
    this.active = 0;
    this.maxActive = 0;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise(r => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${this.server.address().port}/`;
    return this;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise(r => this.server.close(r));
  }

  handle(req, res) {
    const length = Number(req.headers['content-length'] ?? 0);
    const hasBody = length > 0 || req.headers['transfer-encoding'] === 'chunked';
    if (this.capBytes && length > this.capBytes) {
      this.capped++;
      res.writeHead(413, { 'Content-Type': 'text/html', Connection: 'close' });
      res.end('<html><body>413 Request Entity Too Large</body></html>');
      req.resume();
      return;
    }
    if (this.refuseBodies && hasBody) {
      this.refused++;
      res.writeHead(403, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify({ title: 'processing refused' }));
      req.resume();
      return;
    }
    if (hasBody) { this.active++; this.maxActive = Math.max(this.maxActive, this.active); }
    let finished = false;
    const finish = () => { if (!finished && hasBody) { finished = true; this.active--; } };
    const upstream = http.request({ host: '127.0.0.1', port: this.targetPort(), method: req.method, path: req.url, headers: req.headers }, up => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
      up.on('end', finish);
    });
    upstream.on('error', () => { finish(); res.socket?.destroy(); });
    req.on('data', chunk => {
      this.forwarded += chunk.length;
      if (this.dropEveryBytes && this.forwarded >= this.nextDrop) {
        this.nextDrop += this.dropEveryBytes;
        this.drops++;
        finish();
        req.socket.destroy();
        upstream.destroy();
        return;
      }
      if (!upstream.write(chunk)) { req.pause(); upstream.once('drain', () => req.resume()); }
    });
    req.on('end', () => upstream.end());
    req.on('aborted', () => { finish(); upstream.destroy(); });
    res.on('close', finish);
  }
}

const TABLE = 1 << 20;
function table(seed) {
  const t = new Uint8Array(TABLE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < TABLE; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; t[i] = x & 0xff; }
  return t;
}

function fill(t, start, end) {
  const out = new Uint8Array(end - start);
  for (let p = start, o = 0; p < end;) {
    const inMiB = p % TABLE;
    const index = (inMiB + Math.floor(p / TABLE) * 7919) % TABLE;
    const run = Math.min(end - p, TABLE - inMiB, TABLE - index);
    out.set(t.subarray(index, index + run), o);
    p += run; o += run;
  }
  return out;
}

/** A File-like object of `size` deterministic bytes, generated per slice: a 1 GiB file costs no memory up front. */
export function patternFile(name, size, seed = 7) {
  const t = table(seed);
  return {
    name, size, type: 'application/octet-stream', lastModified: 1767225600000 + seed,
    slice(start, end) { return new Blob([fill(t, start, Math.min(end, size))]); },
    // (Blob copies its parts once; fill() makes the bytes with a few large copies.)
  };
}

const hashes = new Map();
export function patternSha256(size, seed = 7) {
  const key = `${size}:${seed}`;
  if (!hashes.has(key)) {
    const t = table(seed);
    const hash = createHash('sha256');
    for (let p = 0; p < size; p += 16 << 20) hash.update(fill(t, p, Math.min(size, p + (16 << 20))));
    hashes.set(key, hash.digest('hex'));
  }
  return hashes.get(key);
}
