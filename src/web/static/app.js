// rcpt's web page: upload a list, follow the job live, look at the verdicts, download the results.
// Plain browser JavaScript served as is (no framework, no bundler). It talks to the same JSON API any
// client uses (GET /docs); every value from the server is put in the page as text, never as HTML.

import { wireFileDrop } from './file-drop.js';

const VERDICTS = ['deliverable', 'risky', 'undeliverable', 'unknown'];
const LABELS = {
  deliverable: 'Deliverable',
  risky: 'Risky',
  undeliverable: 'Undeliverable',
  unknown: 'Unknown',
};
const KEY_STORAGE = 'rcpt.apiKey';
/** Rows drawn in the table at once; the CSV download always has them all. */
const TABLE_LIMIT = 2000;

const $ = (id) => document.getElementById(id);
const state = { jobId: null, job: null, rows: [], stream: null, keyRequired: false };

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.message === 'string' ? body.message : `The server answered ${status}`);
    this.status = status;
  }
}

/** A request to the API with the key, if any; a 401 brings the key form back. */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = apiKey();
  if (key) headers.set('Authorization', `Bearer ${key}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    if (response.status === 401) askForKey(body?.message ?? 'This server needs an API key.');
    throw new ApiError(response.status, body);
  }
  return response;
}

function askForKey(message) {
  $('key-panel').hidden = false;
  $('key-error').textContent = apiKey() ? message : '';
  $('key-input').focus();
}

function showError(id, error) {
  $(id).textContent = error instanceof Error ? error.message : String(error);
}

// --- The list: typed, pasted or dropped --------------------------------------------------------------

let chosenFile = null;

function chooseFile(file) {
  chosenFile = file;
  $('file-name').textContent = file ? `${file.name} (${formatBytes(file.size)})` : '';
  $('clear-file').hidden = !file;
  $('addresses').disabled = Boolean(file);
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function setUpDrop() {
  wireFileDrop({ drop: 'drop', input: 'file', clear: 'clear-file' }, chooseFile);
}

async function startJob(event) {
  event.preventDefault();
  $('form-error').textContent = '';
  let body;
  let type;
  if (chosenFile) {
    if (chosenFile.size === 0) {
      // The API would answer "The body is empty": the user chose a file, so name it.
      $('form-error').textContent =
        `${chosenFile.name} is empty: choose a CSV with a header and addresses, or a list with one address per line.`;
      return;
    }
    body = chosenFile;
    type = /\.txt$/i.test(chosenFile.name) ? 'text/plain' : 'text/csv';
  } else {
    const text = $('addresses').value.trim();
    if (text === '') {
      $('form-error').textContent = 'Type or paste at least one address, or choose a file.';
      $('addresses').focus();
      return;
    }
    body = `${text}\n`;
    type = 'text/plain';
  }
  $('start').disabled = true;
  try {
    const response = await api('/v1/jobs', { method: 'POST', headers: { 'Content-Type': type }, body });
    const created = await response.json();
    followJob(created.id);
  } catch (error) {
    showError('form-error', error);
  } finally {
    $('start').disabled = false;
  }
}

// --- Following a job ---------------------------------------------------------------------------------

function followJob(id) {
  state.stream?.abort();
  state.jobId = id;
  state.job = null;
  state.rows = [];
  $('job').hidden = false;
  $('summary').hidden = false;
  $('results').hidden = true;
  $('download').disabled = true;
  $('cancel').disabled = false;
  renderJob({ status: 'queued', total: 0, done: 0, progress: 0, counts: {}, reasons: {}, etaSeconds: null });
  $('job').scrollIntoView({ behavior: 'smooth', block: 'start' });
  const controller = new AbortController();
  state.stream = controller;
  readEvents(id, controller.signal).catch((error) => {
    if (!controller.signal.aborted) showError('progress-text', error);
  });
}

/**
 * Server-sent events read with fetch (EventSource cannot send an Authorization header): `progress`
 * while the job runs, `end` once it is over.
 */
async function readEvents(id, signal) {
  const response = await api(`/v1/jobs/${encodeURIComponent(id)}/events`, { signal });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary;
    while ((boundary = buffer.search(/\r?\n\r?\n/)) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, '');
      let name = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      const job = JSON.parse(data.join('\n'));
      if (job.id !== state.jobId) return;
      renderJob(job);
      if (name === 'end') {
        await finishJob(job);
        return;
      }
    }
  }
}

async function finishJob(job) {
  $('cancel').disabled = true;
  $('download').disabled = false;
  try {
    await loadResults(job.id);
  } catch (error) {
    showError('table-note', error);
  }
  $('results').hidden = false;
  $('download').focus();
}

function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}

const number = new Intl.NumberFormat();

function renderJob(job) {
  state.job = job;
  const status = $('job-status');
  status.textContent = job.status;
  status.className = `status ${job.status}`;
  $('bar').value = job.progress;
  const parts = [`${number.format(job.done)} of ${number.format(job.total)} addresses checked`];
  if (job.total > 0) parts.push(`${Math.floor(job.progress * 100)} %`);
  // Rows that could not be read are no addresses: counted apart, as the CLI's summary does.
  if (job.unreadable > 0) {
    parts.push(
      `${number.format(job.unreadable)} unreadable ${job.unreadable === 1 ? 'row' : 'rows'} kept as written (unknown, unreadable_row)`,
    );
  }
  if (job.status === 'running' && job.etaSeconds !== null) parts.push(formatEta(job.etaSeconds));
  if (job.status === 'cancelled') parts.push('cancelled: what was checked can still be downloaded');
  if (job.status === 'failed' && job.error) parts.push(`failed: ${job.error}`);
  $('progress-text').textContent = parts.join(' · ');
  // What the job says about the file itself (a CSV that is not UTF-8): verified all the same.
  const warnings = job.warnings ?? [];
  $('job-warnings').replaceChildren(
    ...warnings.map((text) => {
      const item = document.createElement('li');
      item.textContent = text;
      return item;
    }),
  );
  $('job-warnings').hidden = warnings.length === 0;
  renderChart(job.counts);
  renderReasons(job.reasons);
}

// --- The chart: one horizontal bar per verdict, drawn as SVG ---------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The width the chart was last drawn at, in CSS pixels. */
let chartWidth = 0;

function renderChart(counts) {
  const total = VERDICTS.reduce((sum, verdict) => sum + (counts[verdict] ?? 0), 0);
  // Drawn at the width it is shown at, so that its text is the page's size: a fixed drawing scaled to
  // a phone's width had 7-pixel labels.
  const width = Math.max(280, Math.round($('chart').clientWidth) || 640);
  chartWidth = width;
  const rowHeight = 38;
  const labelWidth = width < 480 ? 105 : 130;
  const countWidth = width < 480 ? 80 : 110;
  const barWidth = width - labelWidth - countWidth;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${rowHeight * VERDICTS.length}`,
    role: 'img',
    'aria-labelledby': 'chart-title',
  });
  const summary = VERDICTS.map((verdict) => `${LABELS[verdict]}: ${counts[verdict] ?? 0}`).join(', ');
  root.append(svg('title', { id: 'chart-title' }, `Verdicts so far. ${summary}`));
  VERDICTS.forEach((verdict, index) => {
    const count = counts[verdict] ?? 0;
    const share = total === 0 ? 0 : count / total;
    const y = index * rowHeight;
    const group = svg('g', { 'data-verdict': verdict });
    group.append(svg('text', { x: 0, y: y + 24 }, LABELS[verdict]));
    group.append(
      svg('rect', { class: 'track', x: labelWidth, y: y + 8, width: barWidth, height: 22, rx: 5 }),
    );
    group.append(
      svg('rect', {
        class: `bar ${verdict}`,
        x: labelWidth,
        y: y + 8,
        width: Math.max(count > 0 ? 3 : 0, share * barWidth).toFixed(1),
        height: 22,
        rx: 5,
      }),
    );
    group.append(
      svg(
        'text',
        { class: 'count', x: labelWidth + barWidth + 12, y: y + 24 },
        `${number.format(count)}${total > 0 ? ` (${Math.round(share * 100)} %)` : ''}`,
      ),
    );
    root.append(group);
  });
  $('chart').replaceChildren(root);
  $('chart-caption').textContent = summary;
}

function renderReasons(reasons) {
  const items = Object.entries(reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => {
      const item = document.createElement('li');
      item.textContent = `${reason.replace(/_/g, ' ')}: ${number.format(count)}`;
      return item;
    });
  $('reasons').replaceChildren(...items);
}

// --- The table ---------------------------------------------------------------------------------------

async function loadResults(id) {
  const response = await api(`/v1/jobs/${encodeURIComponent(id)}/results?format=ndjson`);
  const text = await response.text();
  state.rows = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
  renderTable();
}

function replyText(row) {
  const reply = row.smtp?.reply;
  if (reply)
    return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text.replace(/\s*\n\s*/g, ' ')}`;
  if (row.dns?.error) return `DNS: ${row.dns.error}`;
  if (row.dns?.nullMx) return 'DNS: null MX';
  if (row.syntax?.error) return row.syntax.error.message;
  return row.error ?? '';
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function renderTable() {
  const verdict = $('filter-verdict').value;
  const query = $('filter-text').value.trim().toLowerCase();
  const matching = state.rows.filter((row) => {
    if (verdict && row.verdict !== verdict) return false;
    if (!query) return true;
    return `${row.input} ${row.reason ?? ''} ${replyText(row)}`.toLowerCase().includes(query);
  });
  const rows = matching.slice(0, TABLE_LIMIT).map((row) => {
    const tr = document.createElement('tr');
    tr.dataset.verdict = row.verdict ?? '';
    tr.append(cell(String(row.row ?? ''), 'num'));
    const address = cell(row.input, 'address');
    if (row.suggestion) {
      const hint = document.createElement('span');
      hint.className = 'suggestion';
      hint.textContent = `did you mean ${row.suggestion}?`;
      address.append(hint);
    }
    tr.append(address);
    const verdictCell = document.createElement('td');
    const badge = document.createElement('span');
    badge.className = `badge ${row.verdict ?? 'unknown'}`;
    badge.textContent = row.verdict ? LABELS[row.verdict] : 'Not checked';
    verdictCell.append(badge);
    tr.append(verdictCell);
    tr.append(cell((row.reason ?? '').replace(/_/g, ' ')));
    tr.append(cell(replyText(row), 'reply'));
    return tr;
  });
  $('table').tBodies[0].replaceChildren(...rows);
  const shown = Math.min(matching.length, TABLE_LIMIT);
  $('table-note').textContent =
    matching.length > TABLE_LIMIT
      ? `Showing ${number.format(shown)} of ${number.format(matching.length)} matching rows; the CSV has them all.`
      : `${number.format(shown)} of ${number.format(state.rows.length)} rows`;
}

// --- Download and cancel -----------------------------------------------------------------------------

async function downloadCsv() {
  if (!state.jobId) return;
  const button = $('download');
  button.disabled = true;
  try {
    const response = await api(`/v1/jobs/${encodeURIComponent(state.jobId)}/results?format=csv`);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `rcpt-${state.jobId}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    showError('progress-text', error);
  } finally {
    button.disabled = false;
  }
}

async function cancelJob() {
  if (!state.jobId) return;
  $('cancel').disabled = true;
  try {
    const response = await api(`/v1/jobs/${encodeURIComponent(state.jobId)}`, { method: 'DELETE' });
    renderJob(await response.json());
  } catch (error) {
    $('cancel').disabled = false;
    showError('progress-text', error);
  }
}

// --- Start -------------------------------------------------------------------------------------------

async function start() {
  setUpDrop();
  $('job-form').addEventListener('submit', startJob);
  $('download').addEventListener('click', downloadCsv);
  $('cancel').addEventListener('click', cancelJob);
  $('filter-verdict').addEventListener('change', renderTable);
  $('filter-text').addEventListener('input', renderTable);
  new ResizeObserver(() => {
    if (state.job && Math.round($('chart').clientWidth) !== chartWidth) renderChart(state.job.counts);
  }).observe($('chart'));
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $('key-input').value = '';
    $('key-panel').hidden = true;
    $('forget-key').hidden = false;
    $('addresses').focus();
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    $('forget-key').hidden = true;
    if (state.keyRequired) askForKey('');
  });
  try {
    const health = await (await fetch('/healthz')).json();
    state.keyRequired = health.auth === 'api-key';
  } catch {
    // The page still works; a 401 later asks for the key.
  }
  $('forget-key').hidden = !apiKey();
  if (state.keyRequired && !apiKey()) askForKey('');
}

start();
