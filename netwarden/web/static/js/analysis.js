// The analysis page: one request to /api/v1/analysis, drawn as a chart and tables. Every value from the
// logs (addresses, methods, kinds) is shown with textContent through el(); links go to the events page.
import { api, el, when } from './nw.js';

let chart = null;
const fmt = (n) => Number(n).toLocaleString();

function bytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = Number(n) || 0;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

function params() {
  const form = document.getElementById('analysis-form');
  const p = new URLSearchParams();
  const minutes = form.minutes.value;
  if (minutes === 'custom') {
    if (form.since.value) p.set('since', new Date(form.since.value).toISOString());
    if (form.until.value) p.set('until', new Date(form.until.value).toISOString());
  } else {
    p.set('minutes', minutes);
  }
  for (const name of ['address', 'port', 'kind']) if (form[name].value) p.set(name, form[name].value.trim());
  return p;
}

function bar(value, max) {
  const span = el('span', { class: 'nw-bar me-1' });
  span.style.width = `${Math.max(2, Math.round((60 * value) / Math.max(1, max)))}px`;
  return span;
}

function linked(text, url) {
  return url && url.startsWith('/events?') ? el('a', { href: url }, text) : el('span', {}, text);
}

// rows: [{label, events, bytes?, events_url}]
function table(id, head, rows) {
  const t = document.getElementById(id);
  t.replaceChildren();
  t.append(el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))));
  const body = el('tbody');
  const max = Math.max(1, ...rows.map((r) => r.events));
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: head.length, class: 'text-body-secondary' }, 'nothing in this range')));
  for (const r of rows) {
    const cells = [el('td', {}, linked(r.label, r.events_url)), el('td', {}, bar(r.events, max), fmt(r.events))];
    if (head.length > 2) cells.push(el('td', {}, r.bytes === undefined ? '' : bytes(r.bytes)));
    body.append(el('tr', {}, ...cells));
  }
  t.append(body);
}

function drawVolume(volume) {
  const labels = volume.points.map((p) => when(p.start, true));
  const minutes = volume.bucket_seconds / 60;
  document.getElementById('volume-note').textContent =
    `(per ${minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`}, from ${volume.source}; click a point for its events)`;
  if (!window.Chart) return;
  const data = {
    labels,
    datasets: [
      { label: 'events', data: volume.points.map((p) => p.events), yAxisID: 'y', tension: 0.2, pointRadius: 2, fill: true },
      { label: 'bytes', data: volume.points.map((p) => p.bytes), yAxisID: 'y1', tension: 0.2, pointRadius: 0 },
    ],
  };
  if (chart) chart.destroy();
  chart = new window.Chart(document.getElementById('volume-chart'), {
    type: 'line', data,
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } },
      onClick: (_event, elements) => {
        if (!elements.length) return;
        const url = volume.points[elements[0].index].events_url;
        if (url && url.startsWith('/events?')) window.location.assign(url);
      },
    },
  });
}

function drawMatrix(conv) {
  const t = document.getElementById('matrix');
  t.replaceChildren();
  if (!conv.nodes.length) {
    t.append(el('tbody', {}, el('tr', {}, el('td', { class: 'text-body-secondary' }, 'nothing in this range'))));
    return;
  }
  const sources = conv.nodes.filter((n, i) => conv.matrix[i].some((v) => v > 0));
  const targets = conv.nodes.filter((n, j) => conv.matrix.some((row) => row[j] > 0));
  const links = new Map(conv.links.map((l) => [`${l.source}\u0000${l.target}`, l]));
  const max = Math.max(1, ...conv.links.map((l) => l.events));
  t.append(el('thead', {}, el('tr', {}, el('th', {}, 'from \\ to'), ...targets.map((n) => el('th', { class: 'nw-col' }, n)))));
  const body = el('tbody');
  for (const s of sources) {
    const row = el('tr', {}, el('th', {}, s));
    for (const d of targets) {
      const link = links.get(`${s}\u0000${d}`);
      const heat = link ? Math.min(4, 1 + Math.floor((4 * link.events) / (max + 1))) : 0;
      row.append(el('td', { class: `nw-heat-${heat}`, title: link ? `${s} → ${d}: ${fmt(link.events)} events` : null },
        link ? linked(fmt(link.events), link.events_url) : '·'));
    }
    body.append(row);
  }
  t.append(body);
}

async function load() {
  const error = document.getElementById('analysis-error');
  error.classList.add('d-none');
  let data;
  try {
    data = await api(`analysis?${params().toString()}`);
  } catch (e) {
    error.textContent = e.message;
    error.classList.remove('d-none');
    return;
  }
  const sampled = [data.protocols, data.talkers, data.destinations, data.http].some((x) => x.sampled);
  document.getElementById('analysis-sampled').classList.toggle('d-none', !sampled);
  drawVolume(data.volume);
  table('transports', ['protocol', 'events', 'bytes'], data.protocols.transports.map((r) => ({ ...r, label: r.transport || '(none)' })));
  table('kinds', ['kind', 'events', 'bytes'], data.protocols.kinds.map((r) => ({ ...r, label: r.kind })));
  table('ports', ['port', 'events', 'bytes'], data.protocols.ports.map((r) => ({ ...r, label: String(r.port) })));
  table('http-statuses', ['status', 'requests'], data.http.statuses.map((r) => ({ ...r, label: r.status === null ? '(none)' : String(r.status) })));
  table('http-methods', ['method', 'requests'], data.http.methods.map((r) => ({ ...r, label: r.method || '(none)' })));
  table('talkers', ['source', 'events', 'bytes'], data.talkers.rows.map((r) => ({ ...r, label: r.address })));
  table('destinations', ['destination', 'events', 'bytes'], data.destinations.rows.map((r) => ({ ...r, label: r.address })));
  drawMatrix(data.conversations);
  for (const a of document.querySelectorAll('a.nw-csv')) {  // each table's download: the same range and filters
    const p = params();
    p.set('format', 'csv');
    p.set('table', a.dataset.table);
    a.href = `/api/v1/analysis?${p.toString()}`;
  }
  document.body.dataset.analysisLoaded = '1';
}

function start() {
  const form = document.getElementById('analysis-form');
  // the page's own URL may carry a range and filters (links from elsewhere)
  const here = new URLSearchParams(window.location.search);
  for (const name of ['address', 'port', 'kind']) if (here.get(name)) form[name].value = here.get(name);
  if (here.get('minutes')) form.minutes.value = here.get('minutes');
  form.minutes.addEventListener('change', () => {
    for (const n of document.querySelectorAll('.nw-custom')) n.classList.toggle('d-none', form.minutes.value !== 'custom');
  });
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  load();
}

start();
