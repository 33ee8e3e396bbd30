// Settings → live forms (detectors, feeds, notifications, listeners): each sends only what changed to
// PUT /api/v1/settings/live, then reloads the page to show where each value now comes from. "Send test"
// and "Refresh now" show the server's answer as text (textContent: error messages may quote log text).
import { api } from './nw.js';

const errorBox = document.getElementById('live-error');

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.toggle('d-none', !message);
  if (message) errorBox.scrollIntoView({ block: 'center' });
}

function read(input) {
  const type = input.dataset.type || 'text';
  const text = input.value;
  if (type === 'lines') return text.split('\n').map((s) => s.trim()).filter(Boolean);
  if (type === 'int' || type === 'number') {
    const n = Number(text.trim());
    return text.trim() === '' || Number.isNaN(n) ? text : n; // the server says what is wrong with text
  }
  if (type === 'json') return JSON.parse(text);
  return text;
}

function changedInput(input) {
  if (input.tagName === 'SELECT') return [...input.options].some((o) => o.selected !== o.defaultSelected);
  if (input.type === 'checkbox') return input.checked !== input.defaultChecked;
  return input.value !== input.defaultValue;
}

async function put(changes) {
  if (!Object.keys(changes).length) { showError('Nothing changed.'); return; }
  await api('settings/live', { method: 'PUT', body: { changes } });
  const anchor = document.activeElement?.closest('section')?.id;
  window.location.assign(`/settings?applied=${Date.now()}${anchor ? `#${anchor}` : ''}`);
}

function collect(form) {
  const changes = {};
  if (form.dataset.key) { // one value: a JSON textarea
    const area = form.querySelector('textarea');
    changes[form.dataset.key] = read({ value: area.value, dataset: { type: form.dataset.type } });
  } else if (form.dataset.compose) { // one table from several fields, over the value in force
    const fields = [...form.querySelectorAll('[data-field]')];
    if (!fields.some(changedInput)) return changes;
    const value = JSON.parse(form.dataset.current || '{}');
    for (const input of fields) value[input.dataset.field] = read(input);
    changes[form.dataset.compose] = value;
  } else {
    for (const input of form.querySelectorAll('[data-key]')) {
      if (changedInput(input)) changes[input.dataset.key] = read(input);
    }
  }
  return changes;
}

for (const form of document.querySelectorAll('.nw-live-form')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError('');
    try {
      await put(collect(form));
    } catch (err) {
      showError(err instanceof SyntaxError ? `not valid JSON: ${err.message}` : err.message);
    }
  });
}

for (const toggle of document.querySelectorAll('.nw-detector-toggle')) {
  toggle.addEventListener('change', async () => {
    showError('');
    const area = toggle.closest('tr').querySelector('textarea');
    try {
      await put({ [toggle.dataset.key]: { ...JSON.parse(area.defaultValue), enabled: toggle.checked } });
    } catch (err) {
      toggle.checked = !toggle.checked;
      showError(err.message);
    }
  });
}

for (const button of document.querySelectorAll('.nw-live-reset')) {
  button.addEventListener('click', async () => {
    showError('');
    try { await put({ [button.dataset.key]: null }); } catch (err) { showError(err.message); }
  });
}

const testResult = document.getElementById('send-test-result');
for (const button of document.querySelectorAll('.nw-send-test')) {
  button.addEventListener('click', async () => {
    testResult.className = 'small mt-2';
    testResult.textContent = 'sending…';
    button.disabled = true;
    try {
      const answer = await api('settings/notify/test', { method: 'POST', body: { channel: button.dataset.channel } });
      testResult.classList.add(answer.ok ? 'text-success' : 'text-danger');
      testResult.textContent = answer.ok ? `Sent through ${answer.channel}.` : `Failed: ${answer.error}`;
    } catch (err) {
      testResult.classList.add('text-danger');
      testResult.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
}

const refresh = document.getElementById('feeds-refresh');
refresh?.addEventListener('click', async () => {
  const result = document.getElementById('feeds-refresh-result');
  result.textContent = 'downloading…';
  refresh.disabled = true;
  try {
    const answer = await api('settings/feeds/refresh', { method: 'POST' });
    const failed = answer.feeds.filter((f) => f.last_error);
    result.textContent = failed.length ? `${failed.length} of ${answer.feeds.length} failed: ${failed[0].last_error}`
      : `${answer.feeds.length} downloaded.`;
    window.setTimeout(() => window.location.assign(`/settings?t=${Date.now()}#live-feeds`), failed.length ? 1500 : 300);
  } catch (err) {
    result.textContent = err.message;
  } finally {
    refresh.disabled = false;
  }
});
