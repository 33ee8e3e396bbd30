// Check an event: posts the connection or the line to /api/v1/check and shows the verdict. The parsed
// event and the reasons quote log text: all of it goes through textContent (el()).
import { api, el, severityClass, when } from './nw.js';

const VERDICT_CLASS = { malicious: 'text-bg-danger', suspicious: 'text-bg-warning', 'no known threat': 'text-bg-success' };

function show(v) {
  const body = document.getElementById('verdict-body');
  const reasons = el('ul', { class: 'list-unstyled', id: 'verdict-reasons' });
  for (const r of v.reasons) {
    reasons.append(el('li', { class: 'mb-2' }, el('span', { class: `badge ${severityClass(r.severity)} me-1` }, r.severity),
      el('strong', {}, r.source), ' ', el('span', { class: 'nw-reason' }, r.detail),
      r.data && r.data.recommendation ? el('div', { class: 'small text-body-secondary' }, r.data.recommendation) : null));
  }
  if (!v.reasons.length) reasons.append(el('li', { class: 'text-body-secondary' }, 'No detector, feed or model objects to this event.'));
  const fields = el('table', { class: 'table table-sm nw-table small', id: 'verdict-event' });
  const tbody = el('tbody');
  for (const [k, value] of Object.entries(v.event)) {
    tbody.append(el('tr', {}, el('th', {}, k), el('td', {}, typeof value === 'object' ? JSON.stringify(value) : String(value))));
  }
  fields.append(tbody);
  const notes = el('ul', { class: 'small text-body-secondary' }, ...v.notes.map((n) => el('li', {}, n)));
  for (const [address, place] of Object.entries(v.places || {})) {
    notes.append(el('li', { class: 'nw-place' }, `${address}: ${place.name}${place.city ? `, ${place.city}` : ''}`));
  }
  body.classList.remove('text-body-secondary', 'small');
  body.replaceChildren(
    el('p', {}, el('span', { class: `badge fs-6 ${VERDICT_CLASS[v.verdict] || 'text-bg-secondary'}`, id: 'verdict-label' }, v.verdict),
      v.format ? el('span', { class: 'ms-2 small' }, `read as ${v.format}`) : null,
      el('span', { class: 'ms-2 small', id: 'verdict-score',
        title: 'How strongly the strongest witness (detector, feed or model) says "attack", from 0 to 1; the same scale for every verdict' },
      `score ${v.score} of 1`)),
    el('h3', { class: 'h6' }, 'Reasons'), reasons, notes, el('h3', { class: 'h6' }, 'The event'), fields);
  document.body.dataset.checked = '1';
}

// the new check on top of "Your recent checks" (the server keeps it; a reload shows the same list)
function remember(payload, v) {
  const list = document.getElementById('check-history');
  document.getElementById('check-history-empty')?.remove();
  const c = payload.connection;
  const asked = c ? `${c.protocol || 'tcp'} ${c.src_ip} → ${c.dst_ip}${c.dst_port !== undefined ? `:${c.dst_port}` : ''}${c.tcp_flags ? ` ${c.tcp_flags}` : ''}`
    : String(payload.line).slice(0, 160);
  list.prepend(el('li', { class: 'border-bottom py-1', 'data-id': v.history_id },
    el('span', { class: `badge ${VERDICT_CLASS[v.verdict] || 'text-bg-secondary'}` }, v.verdict),
    ` score ${v.score} · ${when(new Date().toISOString())} · `, el('span', { class: 'font-monospace text-break' }, asked)));
}

async function submit(payload) {
  const error = document.getElementById('check-error');
  error.classList.add('d-none');
  try {
    const verdict = await api('check', { method: 'POST', body: payload });
    show(verdict);
    remember(payload, verdict);
  } catch (e) {
    error.textContent = e.message;
    error.classList.remove('d-none');
    // the verdict shown belonged to the previous input: it must not stand next to this error
    const body = document.getElementById('verdict-body');
    body.replaceChildren('No verdict: the input above has an error.');
    body.classList.add('text-body-secondary', 'small');
    delete document.body.dataset.checked;
  }
}

document.getElementById('pane-connection').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const connection = { src_ip: f.src_ip.value.trim(), dst_ip: f.dst_ip.value.trim(), protocol: f.protocol.value };
  for (const name of ['src_port', 'dst_port', 'packet_size', 'bytes_out', 'bytes_in']) {
    if (f[name].value !== '') connection[name] = Number(f[name].value);
  }
  if (f.tcp_flags.value.trim()) connection.tcp_flags = f.tcp_flags.value.trim();
  submit({ connection });
});

document.getElementById('pane-line').addEventListener('submit', (ev) => {
  ev.preventDefault();
  submit({ line: ev.target.line.value, format: ev.target.format.value });
});
