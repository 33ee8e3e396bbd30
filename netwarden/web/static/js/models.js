// The Models page: train from an upload (progress polled from /api/v1/models/jobs/<id>), activate,
// deactivate, delete, and compare models: metrics, confusion matrices and ROC curves. Every value that came
// from data (model names, labels) is shown with textContent through el().
import { api, csrfToken, el } from './nw.js';

const errorBox = document.getElementById('models-error');
let rocChart = null;

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.toggle('d-none', !message);
}

const pct = (v) => (v === null || v === undefined ? '—' : Number(v).toFixed(4));

function defaults() {
  const select = document.getElementById('t-algorithm');
  const target = document.getElementById('t-defaults');
  if (select && target) target.textContent = select.selectedOptions[0]?.dataset.params || '';
}

async function poll(jobId) {
  const stage = document.getElementById('train-stage');
  const bar = document.getElementById('train-bar');
  for (let i = 0; i < 7200; i += 1) { // at most 2 hours of polling, once a second
    const job = await api(`models/jobs/${jobId}`);
    stage.textContent = job.state === 'failed' ? `failed: ${job.error}` : `${job.stage} (${Math.round(job.fraction * 100)}%)`;
    bar.style.width = `${Math.round(job.fraction * 100)}%`;
    if (job.state === 'done') {
      stage.textContent = `trained ${job.model}`;
      window.location.reload();
      return;
    }
    if (job.state === 'failed') {
      showError(`training failed: ${job.error}`);
      document.getElementById('train-submit').disabled = false;
      return;
    }
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
  }
}

async function train(event) {
  event.preventDefault();
  showError('');
  const form = event.target;
  const body = new FormData(form);
  document.getElementById('train-submit').disabled = true;
  document.getElementById('train-progress').classList.remove('d-none');
  document.getElementById('train-stage').textContent = 'uploading';
  try {
    const response = await fetch('/api/v1/models/train', {
      method: 'POST', body, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' },
    });
    const data = await response.json();
    if (!response.ok) throw new Error(typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail));
    await poll(data.id);
  } catch (err) {
    showError(err.message);
    document.getElementById('train-submit').disabled = false;
  }
}

async function action(button) {
  const { ref } = button.dataset;
  const verb = button.dataset.action;
  if (verb === 'delete' && !window.confirm(`Delete model ${ref} and its files?`)) return;
  try {
    await api(`models/${encodeURIComponent(ref)}${verb === 'delete' ? '' : `/${verb}`}`,
      { method: verb === 'delete' ? 'DELETE' : 'POST' });
    window.location.reload();
  } catch (err) {
    showError(err.message);
  }
}

function matrixTable(labels, matrix) {
  const head = el('tr', {}, el('th', {}, 'true \\ predicted'), ...labels.map((l) => el('th', {}, l)));
  const rows = matrix.map((row, i) => el('tr', {}, el('th', {}, labels[i]),
    ...row.map((v, j) => el('td', { class: i === j ? 'nw-hit' : null }, Number(v).toLocaleString()))));
  return el('table', { class: 'table table-sm nw-matrix' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

function card(model) {
  const m = model.metrics || {};
  const facts = el('table', { class: 'table table-sm' }, el('tbody', {},
    ...['accuracy', 'precision', 'recall', 'f1', 'fpr', 'roc_auc'].map((k) => el('tr', {}, el('th', {}, k), el('td', {}, pct(m[k])))),
    el('tr', {}, el('th', {}, 'threshold'), el('td', {}, Number(model.threshold).toFixed(4))),
    el('tr', {}, el('th', {}, 'training'), el('td', {}, `${m.train_seconds ?? '—'} s on ${(m.train_rows ?? 0).toLocaleString()} rows`)),
    el('tr', {}, el('th', {}, 'predictions/s'), el('td', {}, (m.predictions_per_second ?? 0).toLocaleString()))));
  const parts = [el('h2', { class: 'h6' }, `${model.ref} · ${model.algorithm} (${model.task})`), facts];
  if (m.confusion) parts.push(el('div', { class: 'small text-body-secondary' }, 'confusion matrix'), matrixTable(m.confusion.labels, m.confusion.matrix));
  if (m.category) parts.push(el('div', { class: 'small text-body-secondary' }, 'per category'), matrixTable(m.category.labels, m.category.matrix));
  return el('div', { class: 'col-md-6 col-xl-4 nw-compared', 'data-ref': model.ref }, el('div', { class: 'card h-100' }, el('div', { class: 'card-body' }, ...parts)));
}

function drawRoc(models) {
  const withRoc = models.filter((m) => m.metrics && m.metrics.roc);
  document.getElementById('roc-card').classList.toggle('d-none', !withRoc.length);
  if (!withRoc.length || typeof Chart === 'undefined') return;
  const datasets = withRoc.map((m) => ({
    label: `${m.ref} (AUC ${pct(m.metrics.roc_auc)})`,
    data: m.metrics.roc.fpr.map((x, i) => ({ x, y: m.metrics.roc.tpr[i] })),
    showLine: true, pointRadius: 0, borderWidth: 2,
  }));
  datasets.push({ label: 'chance', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderDash: [4, 4], borderWidth: 1 });
  if (rocChart) rocChart.destroy();
  rocChart = new Chart(document.getElementById('roc-chart'), {
    type: 'scatter',
    data: { datasets },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { min: 0, max: 1, title: { display: true, text: 'false-positive rate' } },
        y: { min: 0, max: 1, title: { display: true, text: 'true-positive rate (recall)' } } },
    },
  });
}

async function compare() {
  showError('');
  const refs = [...document.querySelectorAll('.nw-compare:checked')].map((c) => c.value);
  if (!refs.length) { showError('select one or more models to compare'); return; }
  try {
    const data = await api(`models/compare?refs=${encodeURIComponent(refs.join(','))}`);
    document.getElementById('compare').replaceChildren(...data.models.map(card));
    drawRoc(data.models);
  } catch (err) {
    showError(err.message);
  }
}

document.getElementById('train-form')?.addEventListener('submit', train);
document.getElementById('t-algorithm')?.addEventListener('change', defaults);
document.getElementById('compare-button').addEventListener('click', compare);
for (const button of document.querySelectorAll('.nw-action')) button.addEventListener('click', () => action(button));
defaults();
