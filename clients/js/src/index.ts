/**
 * resumable-upload-client: one Upload API over the X-File-Id protocol, tus 1.0 and the IETF "Resumable Uploads for
 * HTTP" draft. No runtime dependencies. Works in browsers (XMLHttpRequest, for upload progress) and in Node.js 20+
 * (fetch with a streamed body).
 */

/** The wire protocol. */
export type Protocol = 'xfileid' | 'tus' | 'ietf';

/** What can be uploaded: a File, a Blob with a name, or anything with `size` and `slice`. */
export interface FileLike {
  readonly size: number;
  readonly name?: string;
  readonly type?: string;
  readonly lastModified?: number;
  slice(start: number, end: number): Blob;
}

/** A progress report. */
export interface Progress {
  /** Bytes the server holds or is receiving now. */
  bytesUploaded: number;
  /** The file's size. */
  bytesTotal: number;
  /** A smoothed sending speed; 0 until measured. */
  bytesPerSecond: number;
  /** Seconds left at that speed, or null while unknown. */
  etaSeconds: number | null;
}

/** What the server said when the upload completed: its processing result, if it sends one. */
export interface UploadResult {
  /** Status of the completing response; null when the upload was found complete on resumption. */
  status: number | null;
  /** Its body as text (empty when none). */
  body: string;
  /** Its body parsed, when it is JSON. */
  json: unknown;
  /** The upload resource (tus, IETF). */
  location: string | null;
  /** The X-File-Id upload id. */
  fileId: string | null;
}

/** What is kept between page loads to resume an upload. */
export interface StoredUpload {
  key: string;
  protocol: Protocol;
  endpoint: string;
  name: string;
  size: number;
  location: string | null;
  fileId: string | null;
  createdAt: string;
}

/** Where resume state lives. The default is localStorage when there is one, else memory. */
export interface UploadStorage {
  get(key: string): Promise<StoredUpload | null>;
  set(value: StoredUpload): Promise<void>;
  remove(key: string): Promise<void>;
  list(): Promise<StoredUpload[]>;
}

export interface UploadOptions {
  /** tus / IETF creation URL, or the X-File-Id prefix under which `status` and `upload` live. Relative URLs resolve against the page. */
  endpoint: string;
  /** Default 'tus'. */
  protocol?: Protocol;
  /** IETF `Upload-Draft-Interop-Version`, 5 to 9. Default 6. */
  ietfInteropVersion?: number;
  /** Largest request body. Shrinks by itself after a 413 and to `Upload-Limit: max-append-size`. Default 8 MiB. */
  chunkSize?: number;
  /** A 413 with a chunk this small fails the upload. Default 64 KiB. */
  minChunkSize?: number;
  /** Retries of one step before failing; a step that moved the offset starts a fresh count. Default 10. */
  maxRetries?: number;
  /** First back-off delay in ms (exponential, with full jitter). Default 500. */
  retryDelay?: number;
  /** Largest delay in ms, also the cap on Retry-After. Default 30000. */
  maxRetryDelay?: number;
  /** No byte sent for this many ms aborts the request and resumes. Default 30000. */
  stallTimeout?: number;
  /** Wait for the completing response (server processing) in ms. Default 120000. */
  responseTimeout?: number;
  /** SHA-256 of each chunk where the protocol has a place for it (tus Upload-Checksum when the server lists sha256, IETF Content-Digest). Default true. */
  checksums?: boolean;
  /** Extra tus Upload-Metadata (filename and filetype are sent by default). */
  metadata?: Record<string, string>;
  /** Extra request headers (for example Authorization). */
  headers?: Record<string, string>;
  /** Resume state; null turns resumption across reloads off. */
  storage?: UploadStorage | null;
  /** The X-File-Id upload id; default `name-size-lastModified`, the classic client's id. */
  fileId?: string;
  /** Override the resume key. */
  fingerprint?: string;
  onProgress?: (progress: Progress) => void;
}

/** An upload failed. `retryable` false means the server refused it for good and it was not retried. */
export class UploadError extends Error {
  constructor(message: string, readonly status: number | null = null, readonly body: string | null = null,
              readonly retryable = false, readonly retryAfterMs: number | null = null) {
    super(message);
    this.name = 'UploadError';
  }
}

/** A request was cut off by pause(). */
export class PausedError extends Error {
  constructor() {
    super('The upload was paused.');
    this.name = 'PausedError';
  }
}

interface Response1 {
  status: number;
  header(name: string): string | null;
  body: string;
}

interface Request1 {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Blob | null;
  bodyLast?: boolean;
  onSent?: (bytes: number) => void;
}

const TUS = '1.0.0';

export class Upload {
  readonly file: FileLike;
  private readonly o: Required<Omit<UploadOptions, 'storage' | 'fileId' | 'fingerprint' | 'onProgress' | 'metadata' | 'headers'>> & UploadOptions;
  private readonly storage: UploadStorage | null;
  private readonly key: string;
  private readonly endpoint: string;
  private location: string | null = null;
  private fileId: string | null = null;
  private offset = 0;
  private offsetKnown = false;
  private chunkSize: number;
  private tusChecksum: boolean | null = null;
  private conflicts = 0;
  private controller: AbortController | null = null;
  private paused = false;
  private speed = 0;
  private lastSample: { t: number; bytes: number } | null = null;
  private lastReport = 0;

  constructor(file: FileLike, options: UploadOptions) {
    if (!file || typeof file.size !== 'number' || typeof file.slice !== 'function') {
      throw new TypeError('file must be a File or Blob (something with size and slice).');
    }
    if (!options || !options.endpoint) {
      throw new TypeError('options.endpoint is required.');
    }
    this.file = file;
    this.o = {
      protocol: 'tus', ietfInteropVersion: 6, chunkSize: 8 << 20, minChunkSize: 64 << 10, maxRetries: 10,
      retryDelay: 500, maxRetryDelay: 30_000, stallTimeout: 30_000, responseTimeout: 120_000, checksums: true, ...options,
    };
    if (this.o.ietfInteropVersion < 5 || this.o.ietfInteropVersion > 9) {
      throw new RangeError('ietfInteropVersion must be 5 to 9.');
    }
    this.chunkSize = this.o.chunkSize;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.endpoint = absolute(this.o.endpoint, this.o.protocol === 'xfileid');
    const name = file.name ?? 'blob';
    this.key = options.fingerprint ?? ['ru', this.o.protocol, this.endpoint, name, file.size, file.lastModified ?? 0].join('|');
    if (this.o.protocol === 'xfileid') {
      this.fileId = options.fileId ?? `${name}-${file.size}-${file.lastModified ?? 0}`;
    }
  }

  /** The resume state of every unfinished upload in `storage` (default: localStorage). */
  static listUnfinished(storage: UploadStorage | null = defaultStorage()): Promise<StoredUpload[]> {
    return storage ? storage.list() : Promise.resolve([]);
  }

  /** Forgets an unfinished upload; for tus and IETF also asks the server to delete it (best effort). */
  static async forget(stored: StoredUpload, storage: UploadStorage | null = defaultStorage(), ietfInteropVersion = 6): Promise<void> {
    if (stored.location && stored.protocol !== 'xfileid') {
      const headers: Record<string, string> = stored.protocol === 'tus'
        ? { 'Tus-Resumable': TUS }
        : { 'Upload-Draft-Interop-Version': String(ietfInteropVersion) };
      try {
        await send({ method: 'DELETE', url: stored.location, headers, body: null }, new AbortController().signal, 30_000, 30_000);
      } catch {
        // best effort: the server expires it
      }
    }
    await storage?.remove(stored.key);
  }

  /** How many bytes the server holds for this file (0 when it knows none). */
  async getUploadedBytes(): Promise<number> {
    await this.restore();
    if (this.o.protocol !== 'xfileid' && !this.location) return 0;
    this.controller = new AbortController();
    await this.queryOffset();
    return this.offset;
  }

  /** Uploads or resumes. Resolves with the completing response; rejects with UploadError or PausedError. */
  async start(): Promise<UploadResult> {
    this.paused = false;
    await this.restore();
    this.offsetKnown = this.o.protocol !== 'xfileid' && !this.location;
    let attempt = 0;
    for (;;) {
      if (this.paused) throw new PausedError();
      this.controller = new AbortController();
      const before = this.offset;
      try {
        const result = await this.step();
        if (result) {
          this.report(this.file.size, true);
          await this.storage?.remove(this.key);
          return result;
        }
        attempt = this.offset > before ? 0 : attempt;
      } catch (e) {
        if (this.paused) throw new PausedError();
        const error = e instanceof UploadError ? e : new UploadError(String((e as Error)?.message ?? e), null, null, true);
        if (!error.retryable) {
          await this.storage?.remove(this.key);
          throw error;
        }
        this.offsetKnown = false;
        if (this.offset > before) attempt = 0;
        if (attempt >= this.o.maxRetries) throw error;
        const backoff = Math.random() * Math.min(this.o.maxRetryDelay, this.o.retryDelay * 2 ** attempt);
        const wait = error.retryAfterMs != null
          ? Math.min(error.retryAfterMs, this.o.maxRetryDelay) * (1 + Math.random() * 0.1)
          : backoff;
        attempt++;
        await this.sleep(wait);
      }
    }
  }

  /** Stops sending; the state is kept, and start() (now or after a reload) resumes. */
  pause(): void {
    this.paused = true;
    this.controller?.abort();
  }

  /** Stops and forgets the upload, deleting it on the server for tus and IETF. */
  async abort(): Promise<void> {
    this.pause();
    await this.restore();
    await Upload.forget(this.record(), this.storage, this.o.ietfInteropVersion);
  }

  private async restore(): Promise<void> {
    const stored = this.storage ? await this.storage.get(this.key) : null;
    if (stored && stored.size === this.file.size) {
      this.location = stored.location;
      this.fileId = stored.fileId ?? this.fileId;
    }
  }

  private record(): StoredUpload {
    return {
      key: this.key, protocol: this.o.protocol, endpoint: this.endpoint, name: this.file.name ?? 'blob', size: this.file.size,
      location: this.location, fileId: this.fileId, createdAt: new Date().toISOString(),
    };
  }

  private async save(): Promise<void> {
    if (!this.storage) return;
    if (this.o.protocol !== 'xfileid' && !this.location) {
      await this.storage.remove(this.key);
    } else {
      await this.storage.set(this.record());
    }
  }

  /** One step: create if needed, learn the offset if unknown, send one chunk. Returns a result when done. */
  private async step(): Promise<UploadResult | null> {
    if (this.o.protocol === 'xfileid' && this.storage) await this.save();
    if (this.o.protocol !== 'xfileid' && !this.location) {
      const done = await this.create();
      if (done) return done;
    }
    if (!this.offsetKnown) {
      if (await this.queryOffset()) return this.result(null, '', '');
      if (!this.offsetKnown) return null;
    }
    const before = this.offset;
    try {
      return await this.sendChunk();
    } catch (e) {
      if (this.paused || (e instanceof UploadError && !e.retryable)) throw e;
      // The request died: ask where the server got to, so partial progress resets the retry count.
      this.offsetKnown = false;
      try {
        this.controller = new AbortController();
        if (await this.queryOffset()) return this.result(null, '', '');
        if (this.offsetKnown && this.offset > before) return null;
      } catch {
        // still unknown; the retry asks again
      }
      throw e instanceof UploadError ? e : new UploadError(`The request failed at byte ${before}: ${(e as Error)?.message ?? e}`, null, null, true);
    }
  }

  private async sendChunk(): Promise<UploadResult | null> {
    const size = this.file.size;
    const start = this.offset;
    const end = Math.min(size, start + this.chunkSize);
    const last = end === size;
    const body = this.file.slice(start, end);
    const headers: Record<string, string> = { ...this.o.headers };
    let url: string;
    let method = 'PATCH';
    if (this.o.protocol === 'xfileid') {
      method = 'POST';
      url = this.endpoint + 'upload';
      headers['X-File-Id'] = this.fileId!;
      headers['X-Start-Byte'] = String(start);
      headers['X-File-Size'] = String(size);
      headers['Content-Type'] = 'application/octet-stream';
    } else if (this.o.protocol === 'tus') {
      url = this.location!;
      headers['Tus-Resumable'] = TUS;
      headers['Upload-Offset'] = String(start);
      headers['Content-Type'] = 'application/offset+octet-stream';
      if (this.tusChecksum && this.o.checksums && end > start) headers['Upload-Checksum'] = 'sha256 ' + await sha256Base64(body);
    } else {
      url = this.location!;
      headers['Upload-Draft-Interop-Version'] = String(this.o.ietfInteropVersion);
      headers['Upload-Offset'] = String(start);
      headers['Upload-Complete'] = last ? '?1' : '?0';
      if (this.o.ietfInteropVersion >= 6) headers['Content-Type'] = 'application/partial-upload';
      if (this.o.checksums && end > start && hasSubtle()) headers['Content-Digest'] = 'sha-256=:' + await sha256Base64(body) + ':';
    }
    const response = await send({ method, url, headers, body, bodyLast: last, onSent: n => this.report(start + n) },
      this.controller!.signal, this.o.stallTimeout, last ? this.o.responseTimeout : this.o.stallTimeout);
    this.readLimit(response);
    const status = response.status;
    if (status >= 200 && status < 300) {
      this.conflicts = 0;
      const offset = num(response.header('Upload-Offset')) ?? (this.o.protocol === 'xfileid' ? num(response.body) : null) ?? end;
      this.offset = offset;
      this.report(offset, true);
      const done = this.o.protocol === 'xfileid'
        ? response.header('Upload-Complete') === '?1' || (offset === size && response.header('Upload-Complete') == null)
        : this.o.protocol === 'tus' ? offset === size : last && offset === size;
      return done ? this.result(status, response.body, response.header('Content-Type')) : null;
    }
    const completed = /completed-upload/.test(response.body);
    if (status === 409 || (this.o.protocol === 'ietf' && (status === 400 || status === 410) && completed)) {
      if (++this.conflicts > 3) throw final(response, `The server kept refusing the offset ${start} (${status}).`);
      const known = num(response.header('Upload-Offset')) ?? (this.o.protocol === 'xfileid' ? num(response.body) : null);
      if (known != null) this.offset = known; else this.offsetKnown = false;
      return null;
    }
    if (status === 413) {
      if (end - start <= this.o.minChunkSize || this.chunkSize <= this.o.minChunkSize) {
        throw final(response, `The server refused ${end - start} bytes as too large, and the chunk cannot shrink below ${this.o.minChunkSize}.`);
      }
      this.chunkSize = Math.max(this.o.minChunkSize, Math.floor(Math.min(this.chunkSize, end - start) / 2));
      this.offsetKnown = false;
      return null;
    }
    if ((status === 404 || status === 410) && this.o.protocol !== 'xfileid') {
      this.location = null;
      this.offset = 0;
      this.offsetKnown = true;
      await this.save();
      return null;
    }
    if (status === 460 && this.o.protocol === 'tus') {
      this.offsetKnown = false;
      throw transient(response, 'The server found the checksum wrong (460).');
    }
    if (retryableStatus(status)) {
      this.offsetKnown = false;
      throw transient(response, `The server answered ${status}.`);
    }
    throw final(response, `The server refused the upload (${status}).`);
  }

  private async create(): Promise<UploadResult | null> {
    const headers: Record<string, string> = { ...this.o.headers };
    const empty = this.file.size === 0;
    if (this.o.protocol === 'tus') {
      if (this.tusChecksum === null) {
        const discovery = await send({ method: 'OPTIONS', url: this.endpoint, headers: { ...this.o.headers }, body: null },
          this.controller!.signal, this.o.responseTimeout, this.o.responseTimeout);
        if (retryableStatus(discovery.status)) throw transient(discovery, `Discovery failed (${discovery.status}).`);
        this.tusChecksum = hasSubtle()
          && (discovery.header('Tus-Checksum-Algorithm') ?? '').split(',').some(a => a.trim().toLowerCase() === 'sha256');
      }
      headers['Tus-Resumable'] = TUS;
      headers['Upload-Length'] = String(this.file.size);
      const meta: Record<string, string> = { filename: this.file.name ?? 'blob', ...(this.file.type ? { filetype: this.file.type } : {}), ...this.o.metadata };
      headers['Upload-Metadata'] = Object.entries(meta).map(([k, v]) => `${k} ${base64Utf8(v)}`).join(',');
    } else {
      headers['Upload-Draft-Interop-Version'] = String(this.o.ietfInteropVersion);
      headers['Upload-Complete'] = empty ? '?1' : '?0';
      if (this.o.ietfInteropVersion >= 6) headers['Upload-Length'] = String(this.file.size);
    }
    const response = await send({ method: 'POST', url: this.endpoint, headers, body: null }, this.controller!.signal,
      this.o.responseTimeout, this.o.responseTimeout);
    this.readLimit(response);
    if (response.status < 200 || response.status >= 300) {
      throw retryableStatus(response.status)
        ? transient(response, `Creating the upload failed (${response.status}).`)
        : final(response, `The server refused to create the upload (${response.status}).`);
    }
    const location = response.header('Location');
    if (this.o.protocol === 'ietf' && empty) {
      this.location = location ? new URL(location, this.endpoint).href : null;
      return this.result(response.status, response.body, response.header('Content-Type'));
    }
    if (!location) throw final(response, 'The server created the upload but sent no Location.');
    this.location = new URL(location, this.endpoint).href;
    this.offset = num(response.header('Upload-Offset')) ?? 0;
    this.offsetKnown = true;
    await this.save();
    return this.o.protocol === 'tus' && empty ? this.result(response.status, response.body, response.header('Content-Type')) : null;
  }

  /** Learns the server's offset; true when the upload is already complete. */
  private async queryOffset(): Promise<boolean> {
    const headers: Record<string, string> = { ...this.o.headers };
    let request: Request1;
    if (this.o.protocol === 'xfileid') {
      headers['X-File-Id'] = this.fileId!;
      request = { method: 'GET', url: this.endpoint + 'status', headers, body: null };
    } else {
      if (this.o.protocol === 'tus') headers['Tus-Resumable'] = TUS;
      else headers['Upload-Draft-Interop-Version'] = String(this.o.ietfInteropVersion);
      request = { method: 'HEAD', url: this.location!, headers, body: null };
    }
    const response = await send(request, this.controller!.signal, this.o.responseTimeout, this.o.responseTimeout);
    const status = response.status;
    if (this.o.protocol !== 'xfileid' && (status === 404 || status === 410 || status === 403)) {
      this.location = null;
      this.offset = 0;
      this.offsetKnown = true;
      await this.save();
      return false;
    }
    if (status < 200 || status >= 300) {
      throw retryableStatus(status) ? transient(response, `Asking for the offset failed (${status}).`) : final(response, `The offset query was refused (${status}).`);
    }
    this.readLimit(response);
    const offset = num(response.header('Upload-Offset')) ?? (this.o.protocol === 'xfileid' ? num(response.body) : null);
    if (offset == null) throw transient(response, 'The offset response carried no offset.');
    this.offset = offset;
    this.offsetKnown = true;
    this.report(offset, true);
    if (this.o.protocol === 'tus') return offset === this.file.size && num(response.header('Upload-Length')) === this.file.size;
    return response.header('Upload-Complete') === '?1';
  }

  private readLimit(response: Response1): void {
    const limit = response.header('Upload-Limit');
    const match = limit && /(?:^|,)\s*max-append-size=(\d+)/.exec(limit);
    if (match) this.chunkSize = Math.min(this.chunkSize, Number(match[1]));
  }

  private result(status: number | null, body: string, contentType: string | null): UploadResult {
    let json: unknown = undefined;
    if (contentType && /json/.test(contentType) && body) {
      try { json = JSON.parse(body); } catch { json = undefined; }
    }
    return { status, body, json, location: this.location, fileId: this.fileId };
  }

  private report(bytes: number, force = false): void {
    const onProgress = this.o.onProgress;
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastReport < 100) return;
    if (this.lastSample && now > this.lastSample.t && bytes >= this.lastSample.bytes) {
      const instant = (bytes - this.lastSample.bytes) * 1000 / (now - this.lastSample.t);
      this.speed = this.speed === 0 ? instant : 0.3 * instant + 0.7 * this.speed;
    }
    this.lastSample = { t: now, bytes };
    this.lastReport = now;
    const total = this.file.size;
    onProgress({ bytesUploaded: bytes, bytesTotal: total, bytesPerSecond: this.speed, etaSeconds: this.speed > 0 ? (total - bytes) / this.speed : null });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.controller!.signal;
      const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
      const onAbort = () => { clearTimeout(timer); reject(new PausedError()); };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Uploads several files, at most `concurrency` at a time. Each result is the upload's result or its error. */
export async function uploadAll(files: FileLike[], options: UploadOptions | ((file: FileLike) => UploadOptions),
                                concurrency = 3): Promise<Array<UploadResult | Error>> {
  const results: Array<UploadResult | Error> = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const index = next++;
      const file = files[index];
      try {
        results[index] = await new Upload(file, typeof options === 'function' ? options(file) : options).start();
      } catch (e) {
        results[index] = e as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
  return results;
}

/** Resume state in localStorage, under keys starting with `resumable-upload:`. */
export class LocalStorageUploadStorage implements UploadStorage {
  constructor(private readonly storage: Storage = localStorage, private readonly prefix = 'resumable-upload:') {}
  async get(key: string) { const v = this.storage.getItem(this.prefix + key); return v ? JSON.parse(v) as StoredUpload : null; }
  async set(value: StoredUpload) { this.storage.setItem(this.prefix + value.key, JSON.stringify(value)); }
  async remove(key: string) { this.storage.removeItem(this.prefix + key); }
  async list() {
    const out: StoredUpload[] = [];
    for (let i = 0; i < this.storage.length; i++) {
      const k = this.storage.key(i);
      if (k && k.startsWith(this.prefix)) {
        try { out.push(JSON.parse(this.storage.getItem(k)!)); } catch { /* not ours */ }
      }
    }
    return out;
  }
}

/** Resume state in memory (Node.js, tests): lost with the process. */
export class MemoryUploadStorage implements UploadStorage {
  private readonly map = new Map<string, StoredUpload>();
  async get(key: string) { return this.map.get(key) ?? null; }
  async set(value: StoredUpload) { this.map.set(value.key, { ...value }); }
  async remove(key: string) { this.map.delete(key); }
  async list() { return [...this.map.values()]; }
}

let fallback: MemoryUploadStorage | null = null;
function defaultStorage(): UploadStorage {
  try {
    if (typeof localStorage !== 'undefined' && localStorage) return new LocalStorageUploadStorage(localStorage);
  } catch {
    // storage denied (private mode, sandboxed frame)
  }
  return fallback ??= new MemoryUploadStorage();
}

function absolute(url: string, directory: boolean): string {
  const base = typeof location !== 'undefined' && location?.href ? location.href : undefined;
  const href = new URL(url, base).href;
  return directory && !href.endsWith('/') ? href + '/' : href;
}

function num(text: string | null | undefined): number | null {
  return text != null && /^\s*\d+\s*$/.test(text) ? Number(text) : null;
}

function retryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 423 || status === 425 || status === 429 || status >= 500;
}

function retryAfterMs(response: Response1): number | null {
  const value = response.header('Retry-After');
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

function transient(response: Response1, message: string): UploadError {
  return new UploadError(message, response.status, response.body, true, retryAfterMs(response));
}

function final(response: Response1, message: string): UploadError {
  return new UploadError(message, response.status, response.body, false);
}

function hasSubtle(): boolean {
  return typeof crypto !== 'undefined' && !!crypto.subtle;
}

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function sha256Base64(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  let binary = '';
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Sends one request. A watchdog aborts it when no body byte moves for `stallMs`, or when the response has not come
 * `afterBodyMs` after the body was sent; either becomes a retryable UploadError. An abort of `signal` is a pause.
 */
function send(request: Request1, signal: AbortSignal, stallMs: number, afterBodyMs: number): Promise<Response1> {
  return typeof XMLHttpRequest !== 'undefined'
    ? sendXhr(request, signal, stallMs, afterBodyMs)
    : sendFetch(request, signal, stallMs, afterBodyMs);
}

function sendXhr(request: Request1, signal: AbortSignal, stallMs: number, afterBodyMs: number): Promise<Response1> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(new PausedError()); return; }
    const xhr = new XMLHttpRequest();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    const arm = (ms: number) => { clearTimeout(timer); timer = setTimeout(() => { stalled = true; xhr.abort(); }, ms); };
    const onAbort = () => xhr.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); };
    xhr.open(request.method, request.url);
    for (const [k, v] of Object.entries(request.headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = e => { arm(stallMs); request.onSent?.(e.loaded); };
    xhr.upload.onload = () => arm(afterBodyMs);
    xhr.onload = () => {
      done();
      resolve({ status: xhr.status, header: n => xhr.getResponseHeader(n), body: xhr.responseText ?? '' });
    };
    xhr.onerror = () => { done(); reject(new UploadError('The connection failed.', null, null, true)); };
    xhr.onabort = () => {
      done();
      reject(stalled ? new UploadError('No progress within the stall timeout.', null, null, true) : new PausedError());
    };
    arm(request.body ? stallMs : afterBodyMs);
    xhr.send(request.body);
  });
}

async function sendFetch(request: Request1, signal: AbortSignal, stallMs: number, afterBodyMs: number): Promise<Response1> {
  const local = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number) => { clearTimeout(timer); timer = setTimeout(() => { stalled = true; local.abort(); }, ms); };
  const onAbort = () => local.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const init: RequestInit & { duplex?: string } = { method: request.method, headers: { ...request.headers }, signal: local.signal };
  if (request.body) {
    const blob = request.body;
    (init.headers as Record<string, string>)['Content-Length'] = String(blob.size);
    // Pieces of 1 MiB, read from the Blob as they are needed: few enough to keep the stream cheap, small enough for
    // progress and the stall watchdog.
    const piece = 1 << 20;
    let sent = 0;
    init.body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= blob.size) {
          arm(afterBodyMs);
          controller.close();
          return;
        }
        const next = new Uint8Array(await blob.slice(sent, Math.min(blob.size, sent + piece)).arrayBuffer());
        arm(stallMs);
        controller.enqueue(next);
        sent += next.byteLength;
        request.onSent?.(sent);
      },
    });
    init.duplex = 'half';
  }
  arm(request.body ? stallMs : afterBodyMs);
  try {
    const response = await fetch(request.url, init);
    const body = await response.text();
    return { status: response.status, header: n => response.headers.get(n), body };
  } catch (e) {
    if (signal.aborted) throw new PausedError();
    throw new UploadError(stalled ? 'No progress within the stall timeout.' : `The connection failed: ${(e as Error)?.message ?? e}`, null, null, true);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
