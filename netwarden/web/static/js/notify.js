// Awareness on every page: new critical and high alerts and new blocks arrive over the live feed and
// show as a short toast, a count on the bell and an entry in the notification list. The list lives in
// sessionStorage, so it survives moving between pages of this tab. Log values are shown with el() only.
import { el, live, severityClass, when } from './nw.js';

const KEY = 'nw-notifications';
const MAX_ITEMS = 30;
const TOAST_MS = 8000;
const LOUD = new Set(['critical', 'high']);

function load() {
  try {
    const state = JSON.parse(sessionStorage.getItem(KEY));
    if (state && Array.isArray(state.items)) return state;
  } catch (e) { /* start over */ }
  return { items: [], unseen: 0 };
}

function save(state) {
  try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: memory only */ }
}

// A live message as a notification, or null when it is not one (updates, medium and low alerts, unblocks).
function describe(msg) {
  const d = msg.data || {};
  if (msg.topic === 'alert' && d.is_new && LOUD.has(d.severity) && !d.history) {
    return { key: `alert-${d.id}`, badge: d.severity, badgeClass: severityClass(d.severity),
      title: `${d.kind}${d.subkind ? ` / ${d.subkind}` : ''}`, detail: `from ${d.source || '?'}`,
      href: `/alerts/${Number(d.id)}`, time: d.last_seen };
  }
  if (msg.topic === 'block' && (d.what === 'blocked' || d.what === 'failed')) {
    return { key: `block-${d.id}-${d.what}`, badge: d.what === 'failed' ? 'block failed' : 'blocked',
      badgeClass: d.what === 'failed' ? 'text-bg-warning' : 'text-bg-dark',
      title: `${d.network}${d.mode === 'dry-run' ? ' (dry-run)' : ''}`, detail: d.reason || '',
      href: `/hosts/${encodeURIComponent(String(d.network).split('/')[0])}`, time: d.created };
  }
  return null;
}

function entry(n) {
  return el('li', { 'data-key': n.key },
    el('a', { class: 'dropdown-item text-wrap small', href: n.href },
      el('span', { class: `badge ${n.badgeClass} me-1` }, n.badge), el('strong', {}, n.title), ' ', n.detail,
      el('div', { class: 'text-body-secondary' }, when(n.time))));
}

function draw(state) {
  const count = document.getElementById('nw-notify-count');
  count.textContent = String(state.unseen);
  count.classList.toggle('d-none', state.unseen === 0);
  const list = document.getElementById('nw-notify-list');
  list.replaceChildren(...(state.items.length ? state.items.map(entry)
    : [el('li', { class: 'dropdown-item-text small text-body-secondary', id: 'nw-notify-empty' },
      'No new critical or high alerts or blocks in this session.')]));
}

function toast(n) {
  const box = document.getElementById('nw-toasts');
  const node = el('div', { class: 'toast show nw-toast', role: 'status', 'aria-live': 'polite', 'data-key': n.key },
    el('div', { class: 'toast-header' }, el('span', { class: `badge ${n.badgeClass} me-2` }, n.badge),
      el('strong', { class: 'me-auto' }, n.title),
      el('button', { type: 'button', class: 'btn-close', 'aria-label': 'Close' })),
    el('div', { class: 'toast-body' }, n.detail, ' ', el('a', { href: n.href }, 'open')));
  node.querySelector('.btn-close').addEventListener('click', () => node.remove());
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => node.remove(), TOAST_MS);
}

function start() {
  const button = document.getElementById('nw-notify-button');
  if (!button) return;
  let state = load();
  draw(state);
  button.addEventListener('click', () => {
    state = load();
    state.unseen = 0;
    save(state);
    draw(state);
  });
  live(['alert', 'block'], (msg) => {
    const n = describe(msg);
    if (!n) return;
    state = load();
    if (state.items.some((i) => i.key === n.key)) return;
    state.items = [n, ...state.items].slice(0, MAX_ITEMS);
    state.unseen += 1;
    save(state);
    draw(state);
    toast(n);
  });
  document.body.dataset.notifyReady = '1';
}

start();
