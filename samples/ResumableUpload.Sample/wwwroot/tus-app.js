// tus.html: uploads through the sample's tus 1.0 endpoint with tus-js-client (npm package, browser bundle
// loaded by tus.html as the global `tus`). One row per file with a progress bar, Pause / Resume, automatic
// retries with back-off, resume after a reload (tus-js-client keeps each upload's URL in localStorage under
// the file's fingerprint), and the upload URL plus a download link once it is done.
//
// Each row mirrors its state in data attributes (data-state, data-uploaded, data-size, data-url) for tests.

const tus = window.tus;
const MiB = 1024 * 1024;

// Waits before each automatic retry after a failure; past the last one the upload gives up.
// tus-js-client starts the count over once a retry has moved the upload forward.
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000];

// The tus endpoint is where the middleware is mounted: the sample mounts it at the app's root, which is
// the folder of this page. Resolved from the page's address, so the page works under any path base.
const ENDPOINT = new URL('./', document.baseURI).href;

const fileInput = document.getElementById('files');
const dropZone = document.getElementById('drop-zone');
const chunkSizeInput = document.getElementById('chunk-size');
const uploadList = document.getElementById('uploads');
const rowTemplate = document.getElementById('upload-row');
const previousSection = document.getElementById('previous-section');
const previousList = document.getElementById('previous');

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function chunkSizeBytes() {
  const mib = Number(chunkSizeInput.value);
  return Number.isFinite(mib) && mib >= 1 ? Math.round(mib * MiB) : 5 * MiB;
}

// tus-js-client's own rule (a network error, a 5xx, 409 or 423, and the browser is online), kept here so
// the row can say that it waits to retry.
function isRetryable(err) {
  const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
  return (status < 400 || status >= 500 || status === 409 || status === 423) && navigator.onLine !== false;
}

function describeError(err) {
  const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
  if (status) {
    const body = (err.originalResponse.getBody() || '').trim();
    let detail = '';
    try {
      detail = JSON.parse(body).detail || '';
    } catch {
      detail = body.length <= 200 ? body : '';
    }
    return `The server answered ${status}${detail ? `: ${detail}` : '.'}`;
  }
  return 'The server could not be reached.';
}

// ---------------------------------------------------------------------------------------------

class UploadRow {

  constructor(file) {
    this.file = file;
    this.upload = null;
    this.state = 'queued';
    this.uploaded = 0;
    this.resumedFromEarlier = false;

    this.element = rowTemplate.content.firstElementChild.cloneNode(true);
    this.element.dataset.size = String(file.size);
    this.element.querySelector('.name').textContent = file.name;
    this.element.querySelector('.name').title = file.name;
    this.bar = this.element.querySelector('progress');
    this.bytesText = this.element.querySelector('.bytes');
    this.percentText = this.element.querySelector('.percent');
    this.messageText = this.element.querySelector('.message');
    this.urlLine = this.element.querySelector('.url');
    this.urlText = this.element.querySelector('.url-text');
    this.downloadLink = this.element.querySelector('a.download');
    this.pauseButton = this.element.querySelector('.pause');
    this.resumeButton = this.element.querySelector('.resume');
    this.pauseButton.addEventListener('click', () => this.pause());
    this.resumeButton.addEventListener('click', () => this.resume());
    this.render();
  }

  async start() {
    const chunkSize = chunkSizeBytes();
    this.upload = new tus.Upload(this.file, {
      endpoint: ENDPOINT,
      chunkSize,
      retryDelays: RETRY_DELAYS_MS,
      metadata: { filename: this.file.name, filetype: this.file.type || 'application/octet-stream' },
      removeFingerprintOnSuccess: true,        // a finished upload is not offered for resuming any more
      onUploadUrlAvailable: () => this.showUrl(),
      onProgress: (sent, total) => this.progress(sent, total),
      onShouldRetry: (err, attempt) => this.shouldRetry(err, attempt),
      onSuccess: () => this.succeeded(),
      onError: (err) => this.failed(err),
    });

    this.setState('uploading', `Starting (chunks of ${formatBytes(chunkSize)})…`);
    let previous = [];
    try {
      previous = await this.upload.findPreviousUploads();
    } catch (err) {
      console.warn('Could not read the stored uploads', err);
    }
    if (this.state !== 'uploading') return;        // paused meanwhile
    if (previous.length > 0) {
      // The most recent earlier attempt of this very file (same name, type, size, modification time).
      previous.sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
      this.upload.resumeFromPreviousUpload(previous[0]);
      this.resumedFromEarlier = true;
      this.element.dataset.resumedFrom = previous[0].uploadUrl;
      this.setState('uploading', 'Resuming the upload started earlier…');
      this.showUrl();
    }
    this.upload.start();
    refreshPreviousUploads();
  }

  pause() {
    if (!this.upload || !['uploading', 'waiting'].includes(this.state)) return;
    this.setState('paused', 'Paused.');
    // abort() without terminating: the server keeps what it has, so start() carries on from there.
    this.upload.abort().catch((err) => console.warn('abort failed', err));
  }

  resume() {
    if (!this.upload || !['paused', 'error'].includes(this.state)) return;
    this.setState('uploading', 'Resuming…');
    this.upload.start();
  }

  progress(sent, total) {
    if (this.state === 'paused') return;           // a late event of the request just aborted
    this.uploaded = sent;
    const message = this.resumedFromEarlier ? 'Uploading (carrying on with the upload started earlier)…' : 'Uploading…';
    if (this.state !== 'uploading' || this.messageText.textContent !== message) {
      this.setState('uploading', message);
    } else {
      this.render();
    }
    if (total && total !== this.file.size) this.element.dataset.size = String(total);
  }

  shouldRetry(err, attempt) {
    const retry = isRetryable(err);
    if (retry && this.state !== 'paused') {
      const delay = RETRY_DELAYS_MS[attempt] ?? 0;
      this.setState('waiting',
        `${describeError(err)} Retrying ${delay ? `in ${delay / 1000} s` : 'now'} ` +
        `(attempt ${attempt + 1} of ${RETRY_DELAYS_MS.length}).`);
    }
    return retry;
  }

  succeeded() {
    this.uploaded = this.file.size;
    this.setState('done', 'Uploaded.');
    this.showUrl();
    this.downloadLink.href = this.upload.url;
    this.downloadLink.download = this.file.name;
    this.downloadLink.hidden = false;
    refreshPreviousUploads();
  }

  failed(err) {
    if (this.state === 'paused') return;
    this.setState('error', `${describeError(err)} Press Resume to try again.`);
    console.error(err);
  }

  showUrl() {
    if (!this.upload?.url) return;
    this.element.dataset.url = this.upload.url;
    this.urlText.textContent = this.upload.url;
    this.urlLine.hidden = false;
  }

  setState(state, message) {
    this.state = state;
    if (message !== undefined) this.messageText.textContent = message;
    this.render();
  }

  render() {
    const size = this.file.size;
    const fraction = size > 0 ? this.uploaded / size : (this.state === 'done' ? 1 : 0);
    this.element.dataset.state = this.state;
    this.element.dataset.uploaded = String(this.uploaded);
    this.bar.value = Math.round(fraction * 1000) / 10;
    this.bytesText.textContent = `${formatBytes(this.uploaded)} of ${formatBytes(size)}`;
    this.percentText.textContent = `${(fraction * 100).toFixed(0)} %`;
    this.pauseButton.hidden = !['uploading', 'waiting', 'queued'].includes(this.state);
    this.resumeButton.hidden = !['paused', 'error'].includes(this.state);
  }
}

// ---------------------------------------------------------------------------------------------
// Earlier unfinished uploads (from tus-js-client's URL storage), so a person knows which file to pick again.

async function refreshPreviousUploads() {
  let uploads = [];
  try {
    uploads = await tus.defaultOptions.urlStorage.findAllUploads();
  } catch {
    uploads = [];
  }
  const inProgress = new Set(rows.filter((row) => row.upload?.url).map((row) => row.upload.url));
  uploads = uploads.filter((upload) => !inProgress.has(upload.uploadUrl));
  previousList.replaceChildren(...uploads.map((upload) => {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = upload.metadata?.filename ?? upload.uploadUrl;
    const details = document.createElement('span');
    details.className = 'details';
    const started = upload.creationTime ? new Date(upload.creationTime).toLocaleString() : 'earlier';
    details.textContent = `${upload.size != null ? formatBytes(upload.size) : 'unknown size'}, started ${started} `;
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.className = 'link-button';
    forget.textContent = 'Forget';
    forget.addEventListener('click', async () => {
      await tus.defaultOptions.urlStorage.removeUpload(upload.urlStorageKey);
      refreshPreviousUploads();
    });
    details.append(forget);
    item.append(name, details);
    return item;
  }));
  previousSection.hidden = uploads.length === 0;
}

// ---------------------------------------------------------------------------------------------

/** @type {UploadRow[]} */
const rows = [];

const sameFile = (a, b) => a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;

function addFiles(files) {
  for (const file of files) {
    // Two uploads of one file at once would fight over the same tus upload.
    const existing = rows.find((row) => sameFile(row.file, file) && row.state !== 'done');
    if (existing) {
      existing.messageText.textContent = 'This file is already in the list: use its Pause / Resume buttons.';
      continue;
    }
    const row = new UploadRow(file);
    rows.push(row);
    uploadList.append(row.element);
    document.body.classList.add('has-uploads');
    row.start();
  }
}

function disablePage() {
  document.getElementById('tus-missing').hidden = false;
  fileInput.disabled = true;
  chunkSizeInput.disabled = true;
  dropZone.classList.add('disabled');
  document.body.dataset.tus = 'missing';
}

// A file dropped beside the zone (or on the page while it is disabled) should not replace the page.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());

if (!tus || typeof tus.Upload !== 'function') {
  // lib/tus.min.js was not served: node_modules was not installed when the sample was built.
  disablePage();
} else if (!tus.isSupported) {
  disablePage();
  document.getElementById('tus-missing').textContent = 'This browser cannot run tus-js-client.';
} else {
  fileInput.addEventListener('change', () => {
    addFiles([...fileInput.files]);
    fileInput.value = '';
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    dropZone.classList.add('dragging');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    addFiles([...event.dataTransfer.files]);
  });
  refreshPreviousUploads();
  document.body.dataset.tus = 'ready';
}
