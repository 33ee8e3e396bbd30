// The map: world shapes (world-atlas TopoJSON, served locally) in an equirectangular projection, coloured
// by traffic per country, with a circle per country sized by its events. Zoom with the wheel or the
// buttons, drag to pan, click a country or circle for its addresses and alerts. Names and addresses are
// set with textContent (SVG <title> too): nothing from the data is ever parsed as markup.
import { api, el, hostLink, severityClass, when } from './nw.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 1000;
const H = 500;
const view = { x: 0, y: 0, w: W, h: H };
let byNumeric = new Map();
let byCode = new Map();

const project = ([lon, lat]) => [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];

function svg(tag, attrs = {}, title = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  if (title !== null) {
    const t = document.createElementNS(SVG, 'title');
    t.textContent = title;
    node.append(t);
  }
  return node;
}

// Rings that cross the antimeridian (Russia, Fiji, Antarctica) are unwrapped into one continuous ring
// past the map's edge, which the SVG clips, instead of a stroke across the whole world.
function ringPath(ring) {
  let shift = 0;
  let previous = null;
  return ring.map(([lon, lat], i) => {
    if (previous !== null && Math.abs(lon + shift - previous) > 180) shift += lon + shift > previous ? -360 : 360;
    previous = lon + shift;
    const [x, y] = project([lon + shift, lat]);
    return `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
  }).join('') + 'Z';
}

function geometryPath(g) {
  if (!g) return '';
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  return polygons.map((poly) => poly.map(ringPath).join('')).join('');
}

function setView() {
  document.getElementById('world').setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
}

function zoom(factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) {
  const w = Math.min(W, Math.max(W / 40, view.w / factor));
  const h = (w * H) / W;
  view.x = Math.min(W - w, Math.max(0, cx - ((cx - view.x) * w) / view.w));
  view.y = Math.min(H - h, Math.max(0, cy - ((cy - view.y) * h) / view.h));
  view.w = w;
  view.h = h;
  setView();
}

function enableZoom() {
  const world = document.getElementById('world');
  document.getElementById('zoom-in').addEventListener('click', () => zoom(1.6));
  document.getElementById('zoom-out').addEventListener('click', () => zoom(1 / 1.6));
  document.getElementById('zoom-reset').addEventListener('click', () => { Object.assign(view, { x: 0, y: 0, w: W, h: H }); setView(); });
  const toMap = (ev) => {
    const r = world.getBoundingClientRect();
    return [view.x + ((ev.clientX - r.left) / r.width) * view.w, view.y + ((ev.clientY - r.top) / r.height) * view.h];
  };
  world.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const [cx, cy] = toMap(ev);
    zoom(ev.deltaY < 0 ? 1.25 : 0.8, cx, cy);
  }, { passive: false });
  let drag = null;
  world.addEventListener('pointerdown', (ev) => { drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false }; });
  world.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const r = world.getBoundingClientRect();
    const dx = ((ev.clientX - drag.x) / r.width) * view.w;
    const dy = ((ev.clientY - drag.y) / r.height) * view.h;
    if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) {
      drag.moved = true;
      world.classList.add('nw-dragging');
    }
    view.x = Math.min(W - view.w, Math.max(0, drag.vx - dx));
    view.y = Math.min(H - view.h, Math.max(0, drag.vy - dy));
    setView();
  });
  const end = () => { world.classList.remove('nw-dragging'); setTimeout(() => { drag = null; }, 0); };
  world.addEventListener('pointerup', end);
  world.addEventListener('pointerleave', end);
  world.addEventListener('click', (ev) => { if (drag && drag.moved) ev.stopPropagation(); }, true);
}

async function drawWorld() {
  const topo = await fetch('/static/vendor/world-atlas/countries-110m.json', { credentials: 'same-origin' }).then((r) => r.json());
  const features = window.topojson.feature(topo, topo.objects.countries).features;
  const layer = document.getElementById('countries');
  for (const f of features) {
    const path = svg('path', { d: geometryPath(f.geometry), class: 'nw-country', 'data-numeric': f.id || '' },
      f.properties && f.properties.name ? f.properties.name : '');
    path.addEventListener('click', () => {
      const c = byNumeric.get(f.id);
      if (c) showCountry(c.country); else showEmpty(f.properties ? f.properties.name : '');
    });
    layer.append(path);
  }
}

function params() {
  const form = document.getElementById('map-form');
  const p = new URLSearchParams({ minutes: form.minutes.value, side: form.side.value });
  if (form.kind.value) p.set('kind', form.kind.value);
  return p;
}

function paint(countries) {
  byNumeric = new Map(countries.filter((c) => c.numeric).map((c) => [c.numeric, c]));
  byCode = new Map(countries.map((c) => [c.country, c]));
  const max = Math.max(1, ...countries.filter((c) => c.numeric).map((c) => c.sources + c.destinations));
  for (const path of document.querySelectorAll('#countries path')) {
    const c = byNumeric.get(path.dataset.numeric);
    for (let i = 1; i <= 4; i += 1) path.classList.remove(`nw-heat-${i}`);
    if (c) path.classList.add(`nw-heat-${Math.min(4, 1 + Math.floor((4 * Math.sqrt(c.sources + c.destinations)) / (Math.sqrt(max) + 1)))}`);
  }
  const layer = document.getElementById('points');
  layer.replaceChildren();
  for (const c of countries) {
    if (c.latitude === null || c.longitude === null) continue;
    const [x, y] = project([c.longitude, c.latitude]);
    const total = c.sources + c.destinations;
    const circle = svg('circle', {
      cx: x.toFixed(1), cy: y.toFixed(1), r: (2 + (14 * Math.sqrt(total)) / Math.sqrt(max)).toFixed(1),
      class: `nw-point ${c.sources >= c.destinations ? 'nw-src' : 'nw-dst'}`, 'data-country': c.country,
    }, `${c.name}: ${total.toLocaleString()} events (${c.sources.toLocaleString()} from, ${c.destinations.toLocaleString()} to)`);
    circle.addEventListener('click', () => showCountry(c.country));
    layer.append(circle);
  }
  const list = document.getElementById('country-list');
  list.replaceChildren(el('thead', {}, el('tr', {}, el('th', {}, 'country'), el('th', {}, 'from'), el('th', {}, 'to'))));
  const body = el('tbody');
  if (!countries.length) body.append(el('tr', {}, el('td', { colspan: 3, class: 'text-body-secondary' }, 'no traffic in this range')));
  for (const c of countries) {
    const link = el('a', { href: '#', 'data-country': c.country }, c.name);
    link.addEventListener('click', (ev) => { ev.preventDefault(); showCountry(c.country); });
    body.append(el('tr', {}, el('td', {}, link), el('td', {}, c.sources.toLocaleString()), el('td', {}, c.destinations.toLocaleString())));
  }
  list.append(body);
}

function showEmpty(name) {
  document.getElementById('detail-title').textContent = name || 'No traffic';
  document.getElementById('detail-body').replaceChildren(el('p', { class: 'text-body-secondary' }, 'No traffic from or to here in this range.'));
}

async function showCountry(code) {
  for (const p of document.querySelectorAll('#countries path.nw-selected')) p.classList.remove('nw-selected');
  const c = byCode.get(code);
  if (c && c.numeric) {
    const path = document.querySelector(`#countries path[data-numeric="${CSS.escape(c.numeric)}"]`);
    if (path) path.classList.add('nw-selected');
  }
  const title = document.getElementById('detail-title');
  const body = document.getElementById('detail-body');
  title.textContent = c ? c.name : code;
  body.replaceChildren(el('p', {}, 'loading…'));
  let d;
  try {
    d = await api(`geo/countries/${encodeURIComponent(code)}?${params().toString()}`);
  } catch (e) {
    body.replaceChildren(el('p', { class: 'text-danger' }, e.message));
    return;
  }
  const addresses = el('ul', { class: 'list-unstyled mb-2', id: 'detail-addresses' });
  for (const a of d.addresses) {
    addresses.append(el('li', {}, hostLink(a.address), ' ', el('a', { href: a.events_url }, 'events'),
      ` ${a.side}, ${a.events.toLocaleString()} events${a.city ? ` · ${a.city}` : ''}`));
  }
  const alerts = el('ul', { class: 'list-unstyled mb-0', id: 'detail-alerts' });
  for (const a of d.alerts) {
    alerts.append(el('li', { class: 'mb-1' }, el('span', { class: `badge ${severityClass(a.severity)} me-1` }, a.severity),
      el('a', { href: a.url }, `${a.kind}${a.subkind ? ` / ${a.subkind}` : ''}`), ` from ${a.source || '?'} · ${when(a.last_seen)}`));
  }
  if (!d.alerts.length) alerts.append(el('li', { class: 'text-body-secondary' }, 'no alerts'));
  body.replaceChildren(el('h3', { class: 'h6' }, `Addresses (${d.addresses.length})`), addresses,
    el('h3', { class: 'h6' }, `Alerts (${d.alerts.length})`), alerts);
}

async function load() {
  const error = document.getElementById('map-error');
  error.classList.add('d-none');
  try {
    const data = await api(`geo/countries?${params().toString()}`);
    document.getElementById('map-database').textContent = data.database;
    document.getElementById('map-note').textContent = data.sampled ? 'newest 500,000 events of the range' : '';
    paint(data.countries);
    document.body.dataset.mapLoaded = '1';
  } catch (e) {
    error.textContent = e.message;
    error.classList.remove('d-none');
  }
}

async function start() {
  enableZoom();
  document.getElementById('map-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  try { await drawWorld(); } catch (e) { /* shapes missing: the list still works */ }
  await load();
}

start();
