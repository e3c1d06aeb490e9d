// The sample's page: several files at once, one row per file with progress, speed, Pause / Resume,
// automatic resume with back-off after network errors, and a list of finished uploads kept in
// localStorage. Plain ES modules, no build step.

import { ResumableUpload, fileIdFor } from './resumable-upload.js';

// Waits before each automatic retry after a failure; past the last one the upload gives up.
// The count starts over once an attempt has moved the upload forward.
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000];
const MAX_PARALLEL_UPLOADS = 3;
const FINISHED_KEY = 'resumable-upload-sample.finished';
const MAX_FINISHED_KEPT = 50;

const fileInput = document.getElementById('files');
const dropZone = document.getElementById('drop-zone');
const uploadList = document.getElementById('uploads');
const rowTemplate = document.getElementById('upload-row');
const finishedList = document.getElementById('finished');
const clearFinishedButton = document.getElementById('clear-finished');

/** @type {UploadRow[]} */
const rows = [];

// ---------------------------------------------------------------------------------------------
// One row: a ResumableUpload plus the retry policy and what the person sees.

class UploadRow {

  constructor(file) {
    this.file = file;
    this.upload = new ResumableUpload({ file, onProgress: (loaded) => this.progress(loaded) });
    this.state = 'queued';
    this.uploaded = 0;
    this.failures = 0;              // failures in a row without progress in between
    this.uploadedAtLastFailure = -1;
    this.samples = [];              // [time, bytes] for the speed shown
    this.wakeUp = null;             // cuts a back-off wait short (Pause / Resume)
    this.generation = 0;            // bumped by Pause, so a superseded run() ends quietly

    this.element = rowTemplate.content.firstElementChild.cloneNode(true);
    this.element.dataset.fileId = this.upload.fileId;
    this.element.dataset.size = String(file.size);
    this.element.querySelector('.name').textContent = file.name;
    this.element.querySelector('.name').title = file.name;
    this.bar = this.element.querySelector('progress');
    this.bytesText = this.element.querySelector('.bytes');
    this.speedText = this.element.querySelector('.speed');
    this.messageText = this.element.querySelector('.message');
    this.pauseButton = this.element.querySelector('.pause');
    this.resumeButton = this.element.querySelector('.resume');
    this.removeButton = this.element.querySelector('.remove');
    this.pauseButton.addEventListener('click', () => this.pause());
    this.resumeButton.addEventListener('click', () => this.resume());
    this.removeButton.addEventListener('click', () => this.remove());
    this.render();
  }

  get active() { return this.state === 'uploading' || this.state === 'waiting'; }

  async run() {
    const generation = ++this.generation;
    const current = () => this.generation === generation && this.state === 'uploading';
    this.setState('uploading');
    while (current()) {
      try {
        const finished = await this.upload.upload();
        if (!current()) return;                           // paused or removed meanwhile
        if (finished) {
          this.setState('done', 'Uploaded.');
          rememberFinished(this.upload.fileId, this.file);
          return;
        }
        // Aborted without a pause asked for: treat it like a dropped connection.
        await this.retryLater('The upload was interrupted.');
      } catch (err) {
        if (!current()) return;
        if (!err.retryable) {
          this.setState('error', err.message);
          return;
        }
        await this.retryLater(err.message);
      }
    }
  }

  async retryLater(reason) {
    if (this.uploaded > this.uploadedAtLastFailure) this.failures = 0;   // progress since the last failure
    this.uploadedAtLastFailure = this.uploaded;
    if (this.failures >= RETRY_DELAYS_MS.length) {
      this.setState('error', `${reason} Gave up after ${this.failures} retries; press Resume to try again.`);
      return;
    }
    const delay = RETRY_DELAYS_MS[this.failures++];
    this.setState('waiting', delay > 0
      ? `${reason} Retrying in ${delay / 1000} s (attempt ${this.failures} of ${RETRY_DELAYS_MS.length})…`
      : `${reason} Retrying (attempt ${this.failures} of ${RETRY_DELAYS_MS.length})…`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wakeUp = () => { clearTimeout(timer); resolve(); };
    });
    this.wakeUp = null;
    if (this.state === 'waiting') this.setState('uploading');
  }

  pause() {
    if (!this.active && this.state !== 'queued') return;
    this.generation++;
    this.setState('paused', 'Paused.');
    this.upload.stop();
    this.wakeUp?.();
    schedule();
  }

  resume() {
    if (this.state !== 'paused' && this.state !== 'error') return;
    this.failures = 0;
    this.uploadedAtLastFailure = -1;
    this.setState('queued', 'Waiting for a free slot…');
    schedule();
  }

  remove() {
    this.generation++;
    this.setState('removed');
    this.upload.stop();
    this.wakeUp?.();
    this.element.remove();
    rows.splice(rows.indexOf(this), 1);
    schedule();
  }

  progress(uploaded) {
    this.uploaded = uploaded;
    const now = performance.now();
    this.samples.push([now, uploaded]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    this.render();
  }

  setState(state, message = '') {
    this.state = state;
    this.message = message;
    if (state !== 'uploading') this.samples = [];
    this.render();
  }

  render() {
    const size = this.file.size;
    const percent = size > 0 ? Math.floor((this.uploaded / size) * 1000) / 10 : (this.state === 'done' ? 100 : 0);
    this.element.dataset.state = this.state;
    this.element.dataset.uploaded = String(this.uploaded);
    this.bar.max = 100;
    this.bar.value = this.state === 'done' ? 100 : percent;
    this.bytesText.textContent =
      `${formatBytes(this.uploaded)} of ${formatBytes(size)} (${this.state === 'done' ? 100 : percent.toFixed(1)} %)`;
    this.speedText.textContent = this.state === 'uploading' ? formatSpeed(this.samples) : '';
    this.messageText.textContent = this.message || labelFor(this.state);
    this.pauseButton.hidden = !(this.active || this.state === 'queued');
    this.resumeButton.hidden = !(this.state === 'paused' || this.state === 'error');
    this.removeButton.hidden = this.active;
  }
}

function labelFor(state) {
  return { queued: 'Queued.', uploading: 'Uploading…', done: 'Uploaded.', paused: 'Paused.' }[state] ?? '';
}

// Starts queued uploads while fewer than MAX_PARALLEL_UPLOADS are running.
function schedule() {
  let running = rows.filter((row) => row.active).length;
  for (const row of rows) {
    if (running >= MAX_PARALLEL_UPLOADS) break;
    if (row.state === 'queued') {
      running++;
      row.run().finally(schedule);
    }
  }
}

function addFiles(files) {
  for (const file of files) {
    const id = fileIdFor(file);
    const existing = rows.find((row) => row.upload.fileId === id);
    if (existing) {
      existing.resume();   // the same file again: carry on with the row we have
      continue;
    }
    const row = new UploadRow(file);
    rows.push(row);
    uploadList.append(row.element);
  }
  document.body.classList.toggle('has-uploads', rows.length > 0);
  schedule();
}

// ---------------------------------------------------------------------------------------------
// Finished uploads, kept across reloads.

function loadFinished() {
  try {
    const list = JSON.parse(localStorage.getItem(FINISHED_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((item) => item && typeof item.fileId === 'string') : [];
  } catch {
    return [];
  }
}

function saveFinished(list) {
  try {
    localStorage.setItem(FINISHED_KEY, JSON.stringify(list.slice(0, MAX_FINISHED_KEPT)));
  } catch { /* storage full or disabled: the list just is not kept */ }
}

function rememberFinished(fileId, file) {
  const list = loadFinished().filter((item) => item.fileId !== fileId);
  list.unshift({ fileId, name: file.name, size: file.size, finishedAt: new Date().toISOString() });
  saveFinished(list);
  renderFinished();
}

function renderFinished() {
  const list = loadFinished();
  finishedList.replaceChildren(...list.map((item) => {
    const li = document.createElement('li');
    const link = document.createElement('a');
    link.href = 'download?fileId=' + encodeURIComponent(item.fileId);
    link.download = item.name;
    link.textContent = item.name;
    const details = document.createElement('span');
    details.className = 'details';
    details.textContent = `${formatBytes(item.size)} · ${new Date(item.finishedAt).toLocaleString()}`;
    li.append(link, details);
    return li;
  }));
  finishedList.dataset.count = String(list.length);
  document.getElementById('finished-empty').hidden = list.length > 0;
  clearFinishedButton.hidden = list.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Formatting.

function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function formatSpeed(samples) {
  if (samples.length < 2) return '';
  const [t0, b0] = samples[0];
  const [t1, b1] = samples[samples.length - 1];
  if (t1 - t0 < 250) return '';
  return `${formatBytes(Math.max(0, (b1 - b0) / ((t1 - t0) / 1000)))}/s`;
}

// ---------------------------------------------------------------------------------------------
// Wiring.

fileInput.addEventListener('change', () => {
  addFiles(Array.from(fileInput.files));
  fileInput.value = '';   // picking the same file again fires change again
});

dropZone.addEventListener('dragover', (e) => {
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
  dropZone.classList.add('dragging');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('dragging');
  addFiles(Array.from(e.dataTransfer.files));
});
// A file dropped beside the zone should not replace the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

clearFinishedButton.addEventListener('click', () => {
  saveFinished([]);
  renderFinished();
});

window.addEventListener('beforeunload', (e) => {
  if (rows.some((row) => row.active)) e.preventDefault();   // uploads resume later, but ask first
});

renderFinished();
