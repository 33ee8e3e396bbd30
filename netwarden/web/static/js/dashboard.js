// The dashboard: cards refreshed every few seconds, live alert feed and event stream, traffic chart.
import { api, el, hostLink, live, severityClass, when } from './nw.js';

const MAX_FEED = 100;

function setText(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = value;
}

async function refreshCards() {
  try {
    const c = await api('dashboard');
    setText('card-events-today', c.events_today.toLocaleString());
    setText('card-critical', c.alerts_open.critical);
    setText('card-high', c.alerts_open.high);
    setText('card-medium', c.alerts_open.medium);
    setText('card-blocked', c.blocked);
    setText('card-eps', c.events_per_second.toLocaleString(undefined, { maximumFractionDigits: 1 }));
  } catch (e) { /* next round */ }
}

function alertItem(a) {
  return el('li', { class: 'border-bottom py-1', 'data-alert-id': a.id },
    el('span', { class: `badge ${severityClass(a.severity)} me-1` }, a.severity),
    el('a', { href: `/alerts/${Number(a.id)}` }, `${a.kind}${a.subkind ? ' / ' + a.subkind : ''}`),
    ' from ', el('span', { class: 'nw-alert-source' }, a.source ? hostLink(a.source) : '?'),
    a.target ? ` → ${a.target}` : '',
    el('small', { class: 'text-body-secondary ms-1' }, `×${a.count} · ${when(a.last_seen)}`));
}

function addAlert(a) {
  const feed = document.getElementById('alert-feed');
  const existing = feed.querySelector(`[data-alert-id="${Number(a.id)}"]`);
  if (existing) existing.remove();
  feed.prepend(alertItem(a));
  while (feed.children.length > MAX_FEED) feed.lastElementChild.remove();
}

function eventLine(e) {
  const port = (p) => (p !== null && p !== undefined ? `:${p}` : '');
  const head = [`${when(e.timestamp)} ${e.source_kind} `, hostLink(e.src_ip), `${port(e.src_port)} → `,
    hostLink(e.dst_ip), `${port(e.dst_port)} `];
  const parts = [];
  if (e.http_method || e.url) parts.push(`${e.http_method || ''} ${e.url || ''}`);
  if (e.http_status) parts.push(String(e.http_status));
  if (e.user) parts.push(`user=${e.user}`);
  if (e.user_agent) parts.push(e.user_agent);
  if (e.message && !e.url) parts.push(e.message);
  return el('li', { class: 'border-bottom py-1 nw-live-event' }, ...head, parts.filter(Boolean).join(' '));
}

function addEvents(data) {
  const feed = document.getElementById('event-feed');
  for (const e of data.sample) feed.prepend(eventLine(e));
  while (feed.children.length > MAX_FEED) feed.lastElementChild.remove();
}

let chart = null;
async function refreshTraffic() {
  const minutes = Number(document.getElementById('traffic-range').value);
  let data;
  try { data = await api(`traffic?minutes=${minutes}`); } catch (e) { return; }
  const labels = data.points.map((p) => when(p.time, true));
  const values = data.points.map((p) => p.events);
  const partial = data.points.map((p) => Boolean(p.partial));
  const step = data.step_minutes;
  // the legend names the bucket the points really have (it changes with the range)
  const label = `events per ${step >= 60 && step % 60 === 0 ? `${step / 60} h` : `${step} min`}`
    + (partial.some(Boolean) ? ' (dashed: still filling)' : '');
  const canvas = document.getElementById('traffic-chart');
  canvas.dataset.legend = label;
  canvas.dataset.partial = String(partial.filter(Boolean).length);
  if (!window.Chart) return;
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets[0].data = values;
    chart.data.datasets[0].label = label;
    chart.$partial = partial;
    chart.update('none');
    return;
  }
  chart = new window.Chart(canvas, {
    type: 'line',
    data: { labels, datasets: [{ label, data: values, fill: true, tension: 0.2, pointRadius: 0,
      segment: { borderDash: (ctx) => (chart && chart.$partial[ctx.p1DataIndex] ? [6, 4] : undefined) } }] },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
  chart.$partial = partial;
  chart.update('none');
}

async function start() {
  refreshCards();
  refreshTraffic();
  try {
    const recent = await api('alerts?limit=30');
    for (const a of recent.alerts.reverse()) addAlert(a);
  } catch (e) { /* shown empty */ }
  const feed = live(['alert', 'events'], (msg) => {
    if (msg.topic === 'alert') { addAlert(msg.data); refreshCards(); }
    if (msg.topic === 'events') addEvents(msg.data);
  });
  setInterval(() => setText('live-mode', feed.mode()), 1000);
  setInterval(refreshCards, 5000);
  setInterval(refreshTraffic, 30000);
  document.getElementById('traffic-range').addEventListener('change', refreshTraffic);
}

start();
