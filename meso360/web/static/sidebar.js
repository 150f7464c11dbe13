// sidebar.js — the observation cards shared by the dashboard and the control panel: Heading & Wind compass,
// Current, 30-second averages, Max Wind Speed and Status, in the units chosen in units.js (redrawn when the choice
// changes, on this page or in another tab). Built with DOM calls only (no HTML strings).

import { el, fmt, fmtAgo, fmtCoord, isNum, setText, thetaE } from './common.js';
import { COMPACT, LARGE, drawCompass } from './compass.js';
import { AVG_WIN_S, advanceOpsDay, averages, completeness, gapsInUtcDay, pressureTendency, recordAge, updateMaxWind } from './obs.js';

const AGE_WARN_S = 30;
const Units = window.Meso360Units; // defined by units.js, which common.js imports first

/** A time in the chosen zone with the zone's name ("14:05:09 UTC"); the other zone in `node`'s tooltip. */
function showTime(node, ts) {
  if (!isNum(ts)) {
    setText(node, '--');
    node.title = '';
    return;
  }
  const zone = Units.get('time');
  const other = zone === 'UTC' ? 'local' : 'UTC';
  setText(node, `${Units.formatTime(ts)} ${Units.label('time')}`);
  node.title = `${Units.formatTime(ts, { zone: other })} ${Units.label('time', other)}`;
}

/** A temperature in the chosen unit, the other one in the tooltip (legacy showed both). */
function showTemperature(node, celsius) {
  setText(node, Units.format('temperature', celsius));
  node.title = isNum(celsius) ? Units.format('temperature', celsius, { unit: Units.get('temperature') === 'C' ? 'F' : 'C' }) : '';
}

function card(title, ...children) {
  return el('section', { class: 'card' }, el('h2', { class: 'card-title', text: title }), ...children);
}

/** A label/value row; returns [row, valueNode]. */
function row(label, cls = '') {
  const value = el('span', { class: `value ${cls}`.trim(), text: '--' });
  return [el('div', { class: 'kv' }, el('span', { class: 'label', text: label }), value), value];
}

/** Rows from defs [key, label, colour class (optional)]; returns [list, {key: valueNode}]. */
function rows(defs) {
  const nodes = {};
  const list = el('div', { class: 'kv-list' });
  for (const [key, label, cls] of defs) {
    const [r, v] = row(label, cls);
    nodes[key] = v;
    list.append(r);
  }
  return [list, nodes];
}

const VALUE_ROWS = [
  ['t', 'T', 'c-t'],
  ['td', 'Td', 'c-td'],
  ['pressure', 'Pressure', 'c-pressure'],
  ['alt', 'Alt'],
  ['wspd', 'Speed', 'c-wspd'],
  ['wdir', 'Wind Dir', 'c-wdir'],
  ['thetae', 'θe', 'c-thetae'],
  ['rh', 'RH', 'c-td'],
];

export class Sidebar {
  /** Build the cards into `container`. options: compact (control panel geometry), idPrefix for element ids. */
  constructor(container, { compact = false, idPrefix = 'obs' } = {}) {
    this.geometry = compact ? COMPACT : LARGE;
    this.opsDay = null;
    this.maxWind = { max: null, resetTs: null };
    this.avgStep = { baseTs: null, bin: null }; // the averages step once per AVG_WIN_S of data time from baseTs
    this.ageRef = null;
    this.today = null;
    this.qc = null;
    this.latestArrivalMs = null;
    this.current = null;
    this.points = [];

    this.canvas = el('canvas', { class: 'compass', id: `${idPrefix}-compass`, width: 200, height: 200 });
    this.hdg = el('span', { class: 'c-wdir', text: 'HDG ---°' });
    this.wnd = el('span', { class: 'c-td', text: 'WND ---°' });
    const compassCard = card('Heading & Wind', this.canvas, el('div', { class: 'compass-labels' }, this.hdg, this.wnd));
    compassCard.classList.add('compass-card');

    const [currentList, currentNodes] = rows(VALUE_ROWS);
    this.currentNodes = currentNodes;
    this.fixNote = el('div', { class: 'note c-warn hidden', text: 'no GPS fix: times are arrival times' });
    const [avgList, avgNodes] = rows(VALUE_ROWS);
    this.avgNodes = avgNodes;
    const [maxList, maxNodes] = rows([
      ['wspd', 'Speed', 'c-wspd'],
      ['time', 'Time'],
      ['lat', 'Lat'],
      ['lon', 'Lon'],
    ]);
    this.maxNodes = maxNodes;
    this.resetButton = el('button', { type: 'button', class: 'btn small', id: `${idPrefix}-reset-max`, text: 'Reset Max' });
    this.resetButton.addEventListener('click', () => this.resetMax());
    const [statusList, statusNodes] = rows([
      ['last', 'Last update'],
      ['age', 'Record age'],
      ['fix', 'GPS fix'],
      ['completeness', 'Complete (10 min)'],
      ['today', 'Complete (today)'],
      ['gaps', 'Gaps (UTC day)'],
      ['qc', 'QC flags (today)'],
      ['dp', '3-min ΔP', 'c-pressure'],
    ]);
    this.statusNodes = statusNodes;
    for (const [key, node] of Object.entries(statusNodes)) node.id = `${idPrefix}-${key}`;
    for (const [key, node] of Object.entries(currentNodes)) node.id = `${idPrefix}-cur-${key}`;
    for (const [key, node] of Object.entries(avgNodes)) node.id = `${idPrefix}-avg-${key}`;
    for (const [key, node] of Object.entries(maxNodes)) node.id = `${idPrefix}-max-${key}`;

    const statusCard = card('Status', statusList);
    statusCard.classList.add('status-card');
    container.append(
      compassCard,
      card('Current', currentList, this.fixNote),
      card(`${AVG_WIN_S}-second averages`, avgList),
      card('Max Wind Speed', maxList, this.resetButton),
      statusCard,
    );
    this.drawCompass();
    Units.onChange(() => this.setUnit());
  }

  drawCompass() {
    const p = this.current;
    drawCompass(this.canvas, p ? p.compass_dir : null, p ? p.wdir : null, this.geometry);
    setText(this.hdg, `HDG ${fmt(p && p.compass_dir, 2)}°`.replace('--°', '---°'));
    setText(this.wnd, `WND ${fmt(p && p.wdir, 2)}°`.replace('--°', '---°'));
  }

  /** Redraw every value in the units now chosen (units.js); the argument of older callers is ignored. */
  setUnit() {
    this.renderValues(this.currentNodes, this.current ? { ...this.current, thetae: thetaE(this.current.t, this.current.td, this.current.pressure) } : null);
    this.renderValues(this.avgNodes, this.avg);
    this.renderMax();
    this.renderStatus();
  }

  renderValues(nodes, v) {
    showTemperature(nodes.t, v && v.t);
    showTemperature(nodes.td, v && v.td);
    setText(nodes.pressure, Units.format('pressure', v && v.pressure));
    setText(nodes.alt, Units.format('altitude', v && v.alt));
    setText(nodes.wspd, Units.format('wind', v && v.wspd));
    setText(nodes.wdir, v && isNum(v.wdir) ? `${v.wdir.toFixed(2)}°` : '--');
    setText(nodes.thetae, fmt(v && v.thetae, 1, 'K'));
    setText(nodes.rh, fmt(v && v.rh, 1, '%'));
  }

  /** Replace everything with a freshly loaded history (time-sorted points). */
  history(points) {
    this.points = points;
    this.opsDay = null;
    for (const p of points) this.opsDay = advanceOpsDay(this.opsDay, p.ts);
    this.maxWind = { max: null, resetTs: this.maxWind.resetTs };
    for (const p of points) this.maxWind = updateMaxWind(this.maxWind, p, this.opsDay.start);
    const last = points.length ? points[points.length - 1] : null;
    this.avgStep = { baseTs: last ? last.ts : null, bin: 0 };
    this.avg = averages(points);
    if (last) this.showCurrent(last);
    this.renderValues(this.avgNodes, this.avg);
    this.renderMax();
    this.renderStatus();
  }

  /** A new row arrived (points = the buffer, already containing it). */
  point(p, points) {
    this.points = points;
    this.latestArrivalMs = performance.now();
    this.opsDay = advanceOpsDay(this.opsDay, p.ts);
    this.maxWind = updateMaxWind(this.maxWind, p, this.opsDay.start);
    if (this.avgStep.baseTs === null) this.avgStep.baseTs = p.ts;
    const bin = Math.floor((p.ts - this.avgStep.baseTs) / AVG_WIN_S);
    if (bin !== this.avgStep.bin) {
      // averages step once per 30 s of data time, so they can be read
      this.avgStep.bin = bin;
      this.avg = averages(points);
      this.renderValues(this.avgNodes, this.avg);
    }
    this.showCurrent(p);
    this.renderMax();
    this.renderStatus();
  }

  showCurrent(p) {
    this.current = p;
    this.renderValues(this.currentNodes, { ...p, thetae: thetaE(p.t, p.td, p.pressure) });
    this.fixNote.classList.toggle('hidden', p.fix !== false);
    this.drawCompass();
  }

  resetMax() {
    const last = this.points.length ? this.points[this.points.length - 1] : null;
    this.maxWind = { max: null, resetTs: last ? last.ts + 0.001 : null };
    this.renderMax();
  }

  renderMax() {
    const m = this.maxWind.max;
    setText(this.maxNodes.wspd, Units.format('wind', m && m.wspd));
    showTime(this.maxNodes.time, m && m.ts);
    setText(this.maxNodes.lat, fmtCoord(m && m.lat, 4, true).replace('—', '--'));
    setText(this.maxNodes.lon, fmtCoord(m && m.lon, 4, false).replace('—', '--'));
  }

  /** Server status: the newest record's age as the server saw it, and today's tally. */
  setServerStatus(status) {
    const newest = status && status.newest;
    if (newest && isNum(newest.ts) && isNum(newest.age_s)) this.ageRef = { ts: newest.ts, ageS: newest.age_s, atMs: performance.now() };
    this.today = status && status.today ? status.today : null;
    this.qc = status && status.qc ? status.qc : null; // the newest day's QC sidecar (README "Quality control")
    this.renderStatus();
  }

  renderStatus() {
    const n = this.statusNodes;
    const points = this.points;
    const last = points.length ? points[points.length - 1] : null;
    showTime(n.last, last && last.ts);
    const age = last ? recordAge(last.ts, this.ageRef, performance.now(), this.latestArrivalMs) : null;
    setText(n.age, fmtAgo(age));
    n.age.classList.toggle('c-warn', isNum(age) && age > AGE_WARN_S);
    const p = this.current;
    setText(n.fix, p ? (p.fix ? 'Fix' : 'No Fix') : '--');
    n.fix.classList.toggle('c-ok', !!p && p.fix);
    n.fix.classList.toggle('c-warn', !!p && !p.fix);
    const c = completeness(points);
    setText(n.completeness, fmt(c, 1, '%'));
    const today = this.today;
    setText(n.today, today && isNum(today.completeness_pct) ? `${today.completeness_pct.toFixed(1)} %` : '--');
    n.today.title = today ? `${today.rows ?? '--'} rows, ${today.missing_s ?? '--'} s missing` : '';
    setText(n.gaps, today && isNum(today.gaps) ? String(today.gaps) : last ? String(gapsInUtcDay(points)) : '--');
    const qc = this.qc;
    setText(n.qc, qc ? `${qc.suspect} suspect, ${qc.bad} bad` : '--');
    n.qc.title = qc ? `rows whose worst flag is suspect or bad, of ${qc.rows} checked (meso360ctl qc report)` : '';
    n.qc.classList.toggle('c-warn', !!qc && qc.bad > 0);
    const dp = pressureTendency(points);
    setText(n.dp, isNum(dp) ? `${dp >= 0 ? '+' : ''}${Units.format('pressure', dp)}` : '--');
  }

  /** Age of the newest record in seconds (null without data), for header colouring. */
  age() {
    const last = this.points.length ? this.points[this.points.length - 1] : null;
    return last ? recordAge(last.ts, this.ageRef, performance.now(), this.latestArrivalMs) : null;
  }
}
