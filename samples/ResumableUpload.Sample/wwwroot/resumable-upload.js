// One resumable upload of one file, in the shape of the classic browser pattern:
// ask the server how many bytes it holds (GET status), then send the rest (POST upload).
// Compared with the classic Uploader it also sends X-File-Size, reports why a request failed
// (so the caller can decide whether to retry) and understands the server's 409 / 423 answers.
//
// All URLs are relative, so the page works wherever the application is mounted.

/** An upload request that did not succeed. `retryable` says whether trying again later may help. */
export class UploadError extends Error {
  constructor(message, { status = 0, retryable = false, offset = null } = {}) {
    super(message);
    this.name = 'UploadError';
    this.status = status;       // HTTP status, 0 for a network error
    this.retryable = retryable; // a dropped connection, a busy upload, a server hiccup
    this.offset = offset;       // the server's byte count, when it told us (409)
  }
}

// Statuses worth another try: timeout, conflict (we were out of date), busy, rate limited, server errors.
const RETRYABLE_STATUSES = new Set([408, 409, 423, 425, 429, 500, 502, 503, 504]);

/** The id the server knows the file by: name, size and last-modified date, like the classic page. */
export function fileIdFor(file) {
  const id = file.name + '-' + file.size + '-' + file.lastModified;
  // Header values must be plain ASCII; other names are sent percent-encoded.
  return /^[\x20-\x7e]*$/.test(id) ? id : encodeURIComponent(id);
}

export class ResumableUpload {

  constructor({ file, onProgress = () => {}, fileId = fileIdFor(file) }) {
    this.file = file;
    this.onProgress = onProgress;
    this.fileId = fileId;
    this.xhr = null;
  }

  /** The number of bytes the server holds for this file (0 if it has never seen it). */
  async getUploadedBytes() {
    let response;
    try {
      response = await fetch('status', { headers: { 'X-File-Id': this.fileId }, cache: 'no-store' });
    } catch (err) {
      throw new UploadError(`The server could not be reached (${err.message}).`, { retryable: true });
    }
    if (response.status !== 200) {
      throw new UploadError(`Asking for the upload status failed (${response.status} ${response.statusText})`,
        { status: response.status, retryable: RETRYABLE_STATUSES.has(response.status) });
    }
    const count = Number((await response.text()).trim());
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new UploadError('The server answered an unreadable byte count.');
    }
    return count;
  }

  /** Sends what the server is missing. Resolves true when the whole file is stored, false when stopped. */
  async upload() {
    const attempt = this.attempt = {};   // stop() forgets it; a stale call then ends quietly
    const startByte = await this.getUploadedBytes();
    if (this.attempt !== attempt) return false;

    const size = this.file.size;
    if (startByte > size) {
      throw new UploadError(`The server holds ${startByte} bytes, more than the file's ${size}.`);
    }
    this.onProgress(startByte, size);

    const xhr = this.xhr = new XMLHttpRequest();
    xhr.open('POST', 'upload', true);
    xhr.setRequestHeader('X-File-Id', this.fileId);
    xhr.setRequestHeader('X-Start-Byte', String(startByte));
    xhr.setRequestHeader('X-File-Size', String(size));

    xhr.upload.onprogress = (e) => this.onProgress(startByte + e.loaded, startByte + e.total);

    const done = new Promise((resolve, reject) => {
      xhr.onload = () => {
        if (xhr.status === 200) {
          this.onProgress(size, size);
          resolve(true);
          return;
        }
        const body = (xhr.responseText || '').trim();
        const offsetHeader = xhr.getResponseHeader('Upload-Offset');
        const offset = offsetHeader !== null ? Number(offsetHeader) : (/^\d+$/.test(body) ? Number(body) : null);
        reject(new UploadError(describeFailure(xhr.status, xhr.statusText, body),
          { status: xhr.status, retryable: RETRYABLE_STATUSES.has(xhr.status), offset }));
      };
      xhr.onerror = () => reject(new UploadError('The connection was lost.', { retryable: true }));
      xhr.ontimeout = () => reject(new UploadError('The request timed out.', { retryable: true }));
      xhr.onabort = () => resolve(false);
    });

    xhr.send(this.file.slice(startByte));
    try {
      return await done;
    } finally {
      if (this.xhr === xhr) this.xhr = null;
    }
  }

  /** Aborts the request in flight; upload() then resolves false. */
  stop() {
    this.attempt = null;
    this.xhr?.abort();
    this.xhr = null;
  }
}

function describeFailure(status, statusText, body) {
  switch (status) {
    case 409: return 'The server holds a different number of bytes than expected.';
    case 413: return 'The file is larger than the server accepts.';
    case 423: return 'Another request is writing this upload right now.';
    default: {
      // A problem+json body carries a readable title/detail.
      try {
        const problem = JSON.parse(body);
        if (problem && (problem.detail || problem.title)) return `${status}: ${problem.detail || problem.title}`;
      } catch { /* not JSON */ }
      return `The upload failed (${status} ${statusText}).`;
    }
  }
}
