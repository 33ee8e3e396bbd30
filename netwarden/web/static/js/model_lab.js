// The model lab on the Models page: a Data view (the preprocessed features of recent events as the chosen model
// sees them, a sequence model's windows, and a warning when recent traffic is flagged more than twice as often
// as calibrated) and a Test tab (score the model on an uploaded labelled file; confusion matrix, metrics,
// testing time, every row as CSV). Values from data are shown with textContent through el().
import { api, csrfToken, el } from './nw.js';

const $ = (id) => document.getElementById(id);
const errorBox = $('models-error');
const num = (v, digits = 4) => (v === null || v === undefined ? '—' : Number(v).toFixed(digits));

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.toggle('d-none', !message);
}

function table(target, columns, rows) {
  target.replaceChildren(
    el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, c)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((v) => el('td', {}, v === null ? '—' : String(v)))))),
  );
}

function tab(which) {
  for (const name of ['data', 'test']) {
    const active = name === which;
    $(`lab-tab-${name}`).classList.toggle('active', active);
    $(`lab-tab-${name}`).setAttribute('aria-selected', String(active));
    $(`lab-${name}`).classList.toggle('d-none', !active);
  }
}

async function loadData() {
  showError('');
  const ref = $('lab-model').value;
  try {
    const data = await api(`models/${encodeURIComponent(ref)}/data?rows=10`);
    const p = data.preview;
    $('lab-note').textContent = p.note;
    table($('lab-rows'), ['#', ...p.columns], p.rows.map((r, i) => [i + 1, ...r]));
    if (p.windows.length) {
      table($('lab-windows'), ['row', 'source', 'window (rows, oldest first; — padding)'],
        p.windows.map((w) => [w.row, w.source || '—', w.steps.map((s) => (s === null ? '—' : s)).join(' → ')]));
    } else {
      $('lab-windows').replaceChildren();
    }
    const d = data.drift;
    $('lab-drift').textContent = d && d.rate !== null
      ? `recent traffic: ${d.flagged} of ${d.rows} events flagged (${num(d.rate * 100, 2)} %), calibrated `
        + `${d.calibrated === null ? '—' : `${num(d.calibrated * 100, 2)} %`}`
        + (d.fpr_upper ? `; false positives on new normal traffic at most ${num(d.fpr_upper.rate * 100, 2)} %`
          + (d.fpr_upper.confidence ? ` with ${num(d.fpr_upper.confidence * 100, 0)} % confidence` : ' (point estimate)')
          + (d.fpr_upper.rows ? ` on ${d.fpr_upper.rows.toLocaleString()} normal rows` : '')
          + (d.fpr_upper.target !== null && d.fpr_upper.target !== undefined
            ? ` (target ${num(d.fpr_upper.target * 100, 2)} %)` : '') : '')
      : 'no recent events this model can judge';
    const l = data.live;
    $('lab-live').textContent = l.scored
      ? `live, last 24 h: ${l.flagged} of ${l.scored} events flagged while active (${num(l.rate * 100, 2)} %); `
        + `${l.hours_over} of ${l.hours.length} hours over 2× the calibrated rate`
      : 'live, last 24 h: nothing judged while active';
    const warnings = [d && d.warning, l.warning].filter(Boolean).map((w) => `Warning: ${w}`);
    $('lab-drift-warning').textContent = warnings.join(' ');
    $('lab-drift-warning').classList.toggle('d-none', !warnings.length);
  } catch (err) {
    showError(err.message);
  }
}

async function runTest(event) {
  event.preventDefault();
  showError('');
  const ref = $('lab-model').value;
  $('lab-test-run').disabled = true;
  try {
    const response = await fetch(`/api/v1/models/${encodeURIComponent(ref)}/test`, {
      method: 'POST', body: new FormData(event.target), credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' },
    });
    const data = await response.json();
    if (!response.ok) throw new Error(typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail));
    const m = data.metrics;
    $('lab-test-metrics').textContent = `${m.rows} rows: accuracy ${num(m.accuracy)}, precision ${num(m.precision)}, `
      + `recall ${num(m.recall)}, F1 ${num(m.f1)}, FPR ${num(m.fpr)}; testing time ${num(m.predict_seconds, 3)} s `
      + `(${m.predictions_per_second ?? '—'} rows/s)`;
    const [labels, matrix] = [m.confusion.labels, m.confusion.matrix];
    table($('lab-test-matrix'), ['true \\ predicted', ...labels], matrix.map((row, i) => [labels[i], ...row]));
    table($('lab-test-labels'), ['label', 'rows', 'flagged'],
      Object.entries(m.by_label || {}).map(([label, v]) => [label, v.rows, `${num(v.flagged * 100, 2)} %`]));
    $('lab-test-rows').setAttribute('href', data.rows_url);
    $('lab-test-result').classList.remove('d-none');
  } catch (err) {
    showError(err.message);
  } finally {
    $('lab-test-run').disabled = false;
  }
}

if ($('lab-card')) {
  $('lab-tab-data').addEventListener('click', () => tab('data'));
  $('lab-tab-test').addEventListener('click', () => tab('test'));
  $('lab-data-load').addEventListener('click', loadData);
  $('lab-test-form').addEventListener('submit', runTest);
}
