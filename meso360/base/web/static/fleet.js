// fleet.js — the base's fleet page: one snapshot of every vehicle at a time, from GET /api/fleet/stream (SSE:
// the current snapshot first, then each new one); the map, the table, the alarms; ages tick in the browser.

import { $, el, fmtAgo, isNum, setText } from '/static/common.js';
import { unitLabel } from '/static/trackstyle.js';
import { FleetMap } from './fleetmap.js';

const map = new FleetMap($('fleet-map'));
let snapshot = null;

function age(ts) {
  return isNum(ts) ? fmtAgo(Date.now() / 1000 - ts) : '--';
}

/** The vehicle's own dashboard through its tunnel's web port, on the host this page was opened with. */
function dashboardUrl(vehicle) {
  return `${window.location.protocol}//${window.location.hostname}:${vehicle.web_port}/view`;
}

function syncText(sync) {
  if (!isNum(sync.last_success)) return sync.ok === false ? 'never (failing)' : 'never';
  return `${age(sync.last_success)}${sync.ok === false ? ' (failing)' : ''}`;
}

function dayCell(vehicle) {
  if (!vehicle.days.length) return el('span', { class: 'c-muted', text: 'none synced' });
  const select = el('select', { 'aria-label': `day file of ${vehicle.name}` });
  for (const day of vehicle.days) select.append(new Option(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`, day));
  const link = el('a', { class: 'btn small', href: `/data/${vehicle.name}/${vehicle.days[0]}.txt`, text: 'Download' });
  select.addEventListener('change', () => { link.href = `/data/${vehicle.name}/${select.value}.txt`; });
  return el('span', { class: 'day-picker' }, select, link);
}

function row(vehicle) {
  const o = vehicle.obs;
  const num = (text) => el('td', { class: 'num' }, text);
  return el('tr', { 'data-vehicle': vehicle.name, 'data-state': vehicle.state },
    el('td', {}, el('a', { href: dashboardUrl(vehicle), title: 'its own dashboard (forwarded web port)', text: vehicle.name })),
    el('td', { title: vehicle.reason }, el('span', { class: `state state-${vehicle.state}` },
      el('span', { class: 'fleet-legend-dot' }), vehicle.state)),
    el('td', { class: 'num age', 'data-ts': isNum(o.ts) ? o.ts : '' }, age(o.ts)),
    num(unitLabel('temperature', o.t)),
    num(unitLabel('temperature', o.td)),
    num(unitLabel('pressure', o.pressure)),
    num(`${unitLabel('wind', o.wspd)} ${unitLabel('direction', o.wdir)}`),
    el('td', { class: 'sync-age', 'data-ts': isNum(vehicle.sync.last_success) ? vehicle.sync.last_success : '' }, syncText(vehicle.sync)),
    num(vehicle.sync.files_behind === null ? (vehicle.sync.ok === false ? 'unknown' : '-') : String(vehicle.sync.files_behind)),
    el('td', { class: vehicle.alarms.length ? 'c-bad' : 'c-muted' }, vehicle.alarms.join(', ') || 'none'),
    el('td', {}, dayCell(vehicle)));
}

function render(document_) {
  snapshot = document_;
  const vehicles = document_.vehicles;
  $('fleet-table').tBodies[0].replaceChildren(...vehicles.map(row));
  $('fleet-alarms').replaceChildren(...vehicles.filter((v) => v.alarms.length || v.state === 'down').map((v) => el('div',
    { class: v.alarms.length ? 'fleet-alarm' : 'c-muted', 'data-vehicle': v.name },
    `${v.name}: ${v.alarms.length ? `alarms ${v.alarms.join(', ')}` : v.reason}`)));
  const prometheus = document_.prometheus;
  setText($('prometheus-msg'), prometheus.reachable ? '' : `base Prometheus not answering (${prometheus.error})`);
  $('prometheus-msg').classList.toggle('hidden', prometheus.reachable);
  const forwards = [document_.page_port, ...vehicles.map((v) => v.web_port)].map((port) => `-L ${port}:localhost:${port}`);
  setText($('ssh-command'), `ssh ${forwards.join(' ')} YOU@BASTION  →  http://localhost:${document_.page_port}/`);
  map.setVehicles(vehicles);
}

function tick() {
  for (const cell of document.querySelectorAll('#fleet-table td.age')) setText(cell, cell.dataset.ts ? age(Number(cell.dataset.ts)) : '--');
  if (snapshot) {
    for (const [index, cell] of document.querySelectorAll('#fleet-table td.sync-age').entries()) {
      setText(cell, syncText(snapshot.vehicles[index].sync));
    }
  }
}

function connect() {
  const source = new EventSource('/api/fleet/stream');
  source.onopen = () => {
    $('conn-dot').className = 'dot dot-live';
    $('conn-dot').title = 'live';
  };
  source.onmessage = (event) => {
    render(JSON.parse(event.data));
    document.body.dataset.snapshot = event.lastEventId;
    setText($('last-update'), `updated ${new Date().toISOString().slice(11, 19)} UTC`);
  };
  source.onerror = () => {
    $('conn-dot').className = 'dot dot-off';
    $('conn-dot').title = 'reconnecting';
  };
}

connect();
setInterval(tick, 1000);
