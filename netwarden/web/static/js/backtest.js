// Settings → Try on history: start a backtest (POST /api/v1/backtest), poll its progress, show what would
// change. Alert sources, kinds and reasons come from logs: shown with textContent only (el()).
import { api, el } from './nw.js';

const POLL_MS = 500;
const form = document.getElementById('backtest-form');

function showError(message) {
  const box = document.getElementById('bt-error');
  box.textContent = message;
  box.classList.toggle('d-none', !message);
}

function setProgress(job) {
  const pct = Math.round((job.fraction || 0) * 100);
  const bar = document.getElementById('bt-bar');
  bar.style.width = `${pct}%`;
  bar.textContent = `${pct}%`;
  bar.parentElement.setAttribute('aria-valuenow', String(pct));
  document.getElementById('bt-status').textContent = job.state === 'running'
    ? `replaying: ${job.done.toLocaleString()} of ${job.total.toLocaleString()} events`
    : job.state;
}

function counts(map) {
  return Object.entries(map).map(([name, c]) => `${name} +${c.gained} −${c.lost}`).join(', ') || '—';
}

function example(name, sign, ex) {
  if (name === 'blocks') return el('li', { class: `bt-${sign === '+' ? 'gained' : 'lost'}` }, `${sign} ${ex.network}: ${ex.reason}`);
  const kind = ex.subkind ? `${ex.kind}/${ex.subkind}` : ex.kind;
  const ref = ex.id ? el('a', { href: `/alerts/${ex.id}` }, `#${ex.id}`) : '';
  return el('li', { class: `bt-${sign === '+' ? 'gained' : 'lost'}`, 'data-kind': kind },
    `${sign} ${kind} `, ref, ` from ${ex.source || '-'}: ${ex.severity}, confidence ${Number(ex.confidence).toFixed(2)}, `
    + `${Number(ex.count).toLocaleString()} events; ${ex.why}`);
}

function section(name, change) {
  return el('div', { class: 'mb-3', id: `bt-${name}` },
    el('h3', { class: 'h6' }, `${name}: ${change.stored.toLocaleString()} now, ${change.candidate.toLocaleString()} with the change — `,
      el('span', { class: 'text-success bt-gained-count' }, `+${change.gained_count.toLocaleString()} gained`), ', ',
      el('span', { class: 'text-danger bt-lost-count' }, `−${change.lost_count.toLocaleString()} lost`)),
    el('div', { class: 'small' }, 'by kind: ', counts(change.by_kind)),
    el('div', { class: 'small' }, 'by source: ', counts(change.by_source)),
    el('ul', { class: 'small mb-0' }, ...change.gained.map((ex) => example(name, '+', ex)),
      ...change.lost.map((ex) => example(name, '−', ex))));
}

function showResult(result) {
  const box = document.getElementById('bt-result');
  box.replaceChildren(
    el('p', { class: 'small text-body-secondary' }, `${result.events.toLocaleString()} events replayed in `
      + `${result.seconds.toFixed(1)} s (${result.events_per_second.toLocaleString()} events/s); nothing was stored.`),
    section('alerts', result.alerts), section('blocks', result.blocks));
  box.classList.remove('d-none');
}

async function poll(id) {
  for (;;) {
    const job = await api(`backtest/${id}`);
    setProgress(job);
    if (job.state === 'done') return job.result;
    if (job.state === 'failed') throw new Error(job.error);
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}

async function start(event) {
  event.preventDefault();
  showError('');
  document.getElementById('bt-result').classList.add('d-none');
  const data = new FormData(form);
  const threshold = String(data.get('threshold') || '').trim();
  const body = {
    since: String(data.get('since') || '30d'),
    until: String(data.get('until') || '').trim() || null,
    set: String(data.get('set') || '').split('\n').map((s) => s.trim()).filter(Boolean),
    model: String(data.get('model') || '').trim() || null,
    threshold: threshold ? Number(threshold) : null,
  };
  const button = document.getElementById('bt-run');
  button.disabled = true;
  document.getElementById('bt-progress').classList.remove('d-none');
  try {
    const job = await api('backtest', { method: 'POST', body });
    setProgress(job);
    showResult(await poll(job.id));
    document.body.dataset.backtestDone = '1';
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

if (form) form.addEventListener('submit', start);
