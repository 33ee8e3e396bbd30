// NetWarden's helpers for page scripts. Everything shown from a log goes through textContent (el()),
// never innerHTML: log values are attacker-controlled.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

// JSON fetch against the API; throws an Error with the server's "detail" message on a 4xx/5xx.
export async function api(path, options = {}) {
  const opts = { credentials: 'same-origin', ...options };
  opts.headers = { Accept: 'application/json', ...(options.headers || {}) };
  if (opts.body !== undefined && typeof opts.body !== 'string') {
    opts.body = JSON.stringify(opts.body);
    opts.headers['Content-Type'] = 'application/json';
  }
  if (opts.method && opts.method !== 'GET') opts.headers['X-CSRF-Token'] = csrfToken();
  const response = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, opts);
  const data = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) throw new Error((data && data.detail) || `${response.status} ${response.statusText}`);
  return data;
}

// el('a', {href: '/events/1', class: 'x'}, 'text', otherNode): children strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) throw new Error('no event handler attributes; use addEventListener');
    if (name === 'href' && !/^(\/|#|\?)/.test(String(value))) continue; // only links within the site
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// An address as a link to its host page; anything else (a network, a name, nothing) as text.
const ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$/;
export function hostLink(address, text) {
  const shown = text === undefined ? address : text;
  if (!address || !ADDRESS.test(String(address))) return document.createTextNode(shown ? String(shown) : '');
  return el('a', { class: 'nw-host', href: `/hosts/${encodeURIComponent(String(address))}` }, String(shown));
}

export function severityClass(severity) {
  return { critical: 'text-bg-critical', high: 'text-bg-danger', medium: 'text-bg-warning', low: 'text-bg-info' }[
    severity] || 'text-bg-secondary';
}

// The one time format of every page: "2026-12-04 15:03:07 CET" in the zone the server chose for this
// browser (the site's, or UTC with the toggle), never the browser's own locale. short: "12-04 15:03".
export function siteZone() {
  return document.body.dataset.tz || 'UTC';
}

function parts(d, zone) {
  const options = { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' };
  let format;
  try { format = new Intl.DateTimeFormat('en-GB', options); } catch (e) {
    format = new Intl.DateTimeFormat('en-GB', { ...options, timeZone: 'UTC' });
  }
  return Object.fromEntries(format.formatToParts(d).map((p) => [p.type, p.value]));
}

export function when(iso, short = false) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(d, siteZone());
  if (short) return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

// Live messages {seq, topic, data} for the given topics: WebSocket first, long polling when the socket
// cannot be opened (proxies that block upgrades). Returns {stop(), mode()}.
export function live(topics, callback) {
  let last = 0;
  let stopped = false;
  let mode = 'connecting';
  let socket = null;
  let failures = 0;
  const wanted = new Set(topics);
  const deliver = (msg) => {
    if (msg.seq <= last) return;
    last = msg.seq;
    if (wanted.has(msg.topic)) callback(msg);
  };
  const poll = async () => {
    mode = 'polling';
    while (!stopped) {
      try {
        const batch = await api(`live/poll?after=${last}&timeout=20`);
        for (const msg of batch.messages) deliver(msg);
        if (batch.seq < last) last = batch.seq; // the server restarted
      } catch (e) {
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  };
  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/live?after=${last}`);
    socket.addEventListener('open', () => { mode = 'websocket'; failures = 0; });
    socket.addEventListener('message', (ev) => {
      try { deliver(JSON.parse(ev.data)); } catch (e) { /* not ours */ }
    });
    socket.addEventListener('close', () => {
      if (stopped) return;
      failures += 1;
      if (mode !== 'websocket' && failures >= 2) { poll(); return; }
      mode = 'reconnecting';
      setTimeout(connect, Math.min(10000, 500 * 2 ** failures));
    });
  };
  if ('WebSocket' in window && !document.body.dataset.livePolling) connect(); else poll();
  return { stop() { stopped = true; if (socket) socket.close(); }, mode() { return mode; } };
}
