// Rules page: apply threshold rules (PUT /api/v1/rules/threshold), import a Sigma file (POST /rules/sigma),
// and try either on history (POST /backtest with threshold_rules or sigma, then poll). Rule titles, sources
// and reasons may come from logs or uploads: text only (el()).
import { api, el, hostLink } from './nw.js';

const POLL_MS = 500;
const errorBox = document.getElementById('rules-error');
const messageBox = document.getElementById('rules-message');

function say(box, text) {
  box.textContent = text;
  box.classList.toggle('d-none', !text);
}

async function sigmaText() {
  const input = document.getElementById('sigma-file');
  const file = input.files && input.files[0];
  if (!file) throw new Error('choose a Sigma rule file (.yml) first');
  return { name: file.name, text: await file.text() };
}

function alertItem(sign, ex) {
  const kind = ex.subkind ? `${ex.kind}/${ex.subkind}` : ex.kind;
  return el('li', { class: sign === '+' ? 'bt-gained' : 'bt-lost' }, `${sign} ${kind} from `,
    hostLink(ex.source || '-'), `: ${ex.severity}, ${Number(ex.count).toLocaleString()} events; ${ex.why || ''}`);
}

function showTry(box, result) {
  const a = result.alerts;
  box.replaceChildren(
    el('p', { class: 'small mb-1' }, `${result.events.toLocaleString()} stored events replayed: `,
      el('strong', { class: 'text-success try-gained' }, `+${a.gained_count.toLocaleString()} alerts`), ', ',
      el('strong', { class: 'text-danger try-lost' }, `−${a.lost_count.toLocaleString()} alerts`),
      ` (blocks +${result.blocks.gained_count} −${result.blocks.lost_count}); nothing was stored.`),
    el('ul', { class: 'small mb-0' }, ...a.gained.map((ex) => alertItem('+', ex)), ...a.lost.map((ex) => alertItem('−', ex))));
  box.classList.remove('d-none');
}

async function tryOnHistory(box, extra) {
  say(errorBox, '');
  box.classList.remove('d-none');
  box.textContent = 'replaying the stored events…';
  const since = document.getElementById('try-since')?.value || '30d';
  let job = await api('backtest', { method: 'POST', body: { since, ...extra } });
  for (let i = 0; job.state === 'running' && i < 7200; i += 1) {
    box.textContent = `replaying: ${job.done.toLocaleString()} of ${job.total.toLocaleString()} events`;
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
    job = await api(`backtest/${job.id}`);
  }
  if (job.state !== 'done') throw new Error(job.error || 'the replay did not finish');
  showTry(box, job.result);
}

function guard(fn) {
  return async () => {
    say(errorBox, '');
    say(messageBox, '');
    try { await fn(); } catch (err) { say(errorBox, err.message); }
  };
}

const toml = () => document.getElementById('threshold-toml').value;
document.getElementById('threshold-apply')?.addEventListener('click', guard(async () => {
  await api('rules/threshold', { method: 'PUT', body: { toml: toml() } });
  say(messageBox, 'Threshold rules applied (no restart needed); the change is in the Settings page\'s trail.');
}));
document.getElementById('threshold-try')?.addEventListener('click', guard(async () => {
  await tryOnHistory(document.getElementById('threshold-result'), { threshold_rules: toml() });
}));
document.getElementById('sigma-try')?.addEventListener('click', guard(async () => {
  await tryOnHistory(document.getElementById('sigma-result'), { sigma: (await sigmaText()).text });
}));
document.getElementById('sigma-import')?.addEventListener('click', guard(async () => {
  const answer = await api('rules/sigma', { method: 'POST', body: await sigmaText() });
  window.location.assign(`/rules?imported=${answer.imported.length}`);
}));
