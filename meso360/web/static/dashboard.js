// dashboard.js — the /view page: live charts and sidebar from the history preload + SSE stream, pause/live,
// zoom reset, a day picker for any stored day, the units menu (and its °C/°F shortcut), the layout chosen by the
// window's width, and the connection state in the header.

import { $, NARROW_QUERY, fetchJSON, getTempUnit, isNum, isTouch, queryNumber, setTempUnit, setText } from './common.js';
import { ChartSet } from './charts.js';
import { LiveFeed } from './livefeed.js';
import { TrackMap } from './map.js';
import { ObsBuffer, gapThresholdFor, pointsFromColumns } from './obs.js';
import { QcMarks } from './qcmarks.js';
import { RangePicker, isoUtc, rangeLabel } from './rangepicker.js';
import { Sidebar } from './sidebar.js';
import { UnitsMenu } from './unitsmenu.js';

const STATUS_POLL_MS = 10000;
const MAX_POINTS = 7200; // 2 h at 1 Hz
const Units = window.Meso360Units; // defined by units.js, which common.js imports first

function dayLabel(day) {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
}

class Dashboard {
  constructor() {
    // The layout follows the window's width (a phone, a tablet in split view, a narrow desktop window alike);
    // touch only changes the gesture hints.
    this.narrow = window.matchMedia(NARROW_QUERY);
    this.compact = this.narrow.matches;
    document.documentElement.classList.toggle('layout-narrow', this.compact);
    this.staleSeconds = queryNumber('stale_s', 30);
    this.buffer = new ObsBuffer(MAX_POINTS);
    this.dayView = null;
    this.drawPending = false;
    this.connState = 'connecting';

    this.sidebar = new Sidebar($('sidebar'), { idPrefix: 'obs' });
    this.qcMarks = new QcMarks($('qc-marks-toggle'), () => this.redrawMarks());
    this.charts = new ChartSet($('charts'), {
      compact: this.compact, touch: isTouch(), viewSec: this.viewSecFor(this.compact),
      onZoom: (zoomed) => $('reset-zoom').classList.toggle('hidden', !zoomed),
      marks: this.qcMarks,
    });
    this.unitsMenu = new UnitsMenu($('units-btn'), $('units-menu'));
    this.map = new TrackMap($('track-map'), { timeWindow: () => this.charts.window() });
    this.rangePicker = new RangePicker($('range-form'), {
      onRange: (from, to) => this.showRange(from, to),
      newestTs: () => (this.buffer.latest() ? this.buffer.latest().ts : null),
    });
    this.bindControls();
    this.showUnit();
    Units.onChange(() => this.onUnits());
    this.narrow.addEventListener('change', () => this.onLayout());

    this.feed = new LiveFeed({
      staleSeconds: this.staleSeconds,
      onHistory: (points, body) => this.onHistory(points, body),
      onPoint: (p) => this.onPoint(p),
      onState: (s) => this.onState(s),
    });
  }

  start() {
    this.feed.start();
    this.pollStatus();
    this.loadDays();
    setInterval(() => {
      this.sidebar.renderStatus();
      this.paintLastUpdate();
    }, 1000);
  }

  bindControls() {
    $('pause-btn').addEventListener('click', () => {
      const live = !this.charts.live;
      this.charts.setLive(live);
      setText($('pause-btn'), live ? 'Pause' : 'Live');
      $('pause-btn').classList.toggle('paused', !live);
      if (live) this.scheduleDraw();
    });
    $('reset-zoom').addEventListener('click', () => this.charts.resetZoom());
    $('unit-c').addEventListener('click', () => this.setUnit('C'));
    $('unit-f').addEventListener('click', () => this.setUnit('F'));
    $('day-select').addEventListener('change', (e) => {
      if (e.target.value === 'range') return this.rangePicker.open();
      this.rangePicker.close();
      if (e.target.value) this.showDay(e.target.value);
      else this.backToLive();
    });
    $('day-select').addEventListener('focus', () => this.loadDays());
    $('live-btn').addEventListener('click', () => this.backToLive());
  }

  /** The live window: 5 min on a one-column (narrow) chart, 30 min on a wide one. */
  viewSecFor(compact) {
    return compact ? 300 : 1800;
  }

  onLayout() {
    this.compact = this.narrow.matches;
    document.documentElement.classList.toggle('layout-narrow', this.compact);
    this.charts.viewSec = this.viewSecFor(this.compact);
    this.charts.setCompact(this.compact);
  }

  /** The °C/°F shortcut of the header; the units menu holds every choice. */
  setUnit(unit) {
    setTempUnit(unit);
  }

  onUnits() {
    this.charts.setUnits();
    this.showUnit();
    this.paintLastUpdate();
  }

  showUnit() {
    const unit = getTempUnit();
    for (const [id, u] of [['unit-c', 'C'], ['unit-f', 'F']]) {
      $(id).classList.toggle('active', unit === u);
      $(id).setAttribute('aria-pressed', String(unit === u));
    }
  }

  setVehicle(name) {
    if (!name || name === this.vehicle) return;
    this.vehicle = name;
    setText($('vehicle'), name);
    document.title = `${name} · NSSL Mobile Mesonet`;
  }

  /** Draw the charts again with the QC marks as they are now (new marks, the toggle), once per frame. */
  redrawMarks() {
    if (this.marksPending) return;
    this.marksPending = true;
    requestAnimationFrame(() => {
      this.marksPending = false;
      for (const { u } of this.charts.charts) u.redraw(false);
    });
  }

  onHistory(points, body) {
    this.qcMarks.addLive(body.qc);
    this.setVehicle(body.vehicle);
    this.buffer.reset(points, body.last_id);
    this.sidebar.history(this.buffer.points);
    this.paintLastUpdate();
    this.scheduleDraw();
  }

  onPoint(p) {
    if (!this.buffer.add(p)) return;
    this.sidebar.point(p, this.buffer.points);
    this.paintLastUpdate();
    this.scheduleDraw();
  }

  onState({ state, message }) {
    this.connState = state;
    const dot = $('conn-dot');
    dot.className = `dot dot-${state}`;
    dot.title = state;
    setText($('status-msg'), message);
    $('status-msg').classList.toggle('hidden', !message || state === 'live');
    $('status-msg').classList.toggle('c-bad', state === 'off');
    $('status-msg').classList.toggle('c-warn', state === 'stale');
    this.paintLastUpdate();
  }

  paintLastUpdate() {
    const last = this.buffer.latest();
    setText($('last-update'), `${Units.formatTime(last ? last.ts : null)} ${Units.label('time')}`);
    $('last-update').classList.toggle('c-warn', this.connState === 'stale');
  }

  liveFloor() {
    const first = this.buffer.points.length ? this.buffer.points[0].ts : null;
    const ops = this.sidebar.opsDay ? this.sidebar.opsDay.start : null;
    return isNum(ops) && isNum(first) ? Math.max(ops, first) : first;
  }

  scheduleDraw() {
    if (this.drawPending || this.dayView) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      if (this.dayView) return;
      const last = this.buffer.latest();
      this.charts.setPoints(this.buffer.points, { gapSec: 2, floor: this.liveFloor(), ceil: last ? last.ts : null });
      this.map.setTrack(this.buffer.points, { gapSec: 2, label: 'live' });
    });
  }

  async pollStatus() {
    try {
      const status = await fetchJSON('/api/status', { timeoutMs: 8000 });
      this.setVehicle(status.vehicle);
      this.sidebar.setServerStatus(status);
    } catch {
      // the stream state already tells the operator; the status is an extra
    }
    setTimeout(() => this.pollStatus(), STATUS_POLL_MS);
  }

  async loadDays() {
    try {
      const { days } = await fetchJSON('/api/days');
      const select = $('day-select');
      const current = select.value;
      const options = [new Option('Live', ''), new Option('Range…', 'range')];
      for (const day of days || []) options.push(new Option(dayLabel(day), day));
      select.replaceChildren(...options);
      select.value = current;
    } catch {
      // keep the list we have
    }
  }

  async showDay(day) {
    const banner = $('day-banner');
    setText(banner, `Loading ${dayLabel(day)}…`);
    banner.classList.remove('hidden');
    try {
      const body = await fetchJSON(`/api/history/${encodeURIComponent(day)}?points=${this.compact ? 1000 : 2000}`, { timeoutMs: 30000 });
      if ($('day-select').value !== day) return; // the operator moved on meanwhile
      const points = pointsFromColumns(body.points).sort((a, b) => a.ts - b.ts);
      this.dayView = { day, points };
      this.qcMarks.setDay(body.qc || []);
      this.charts.mode = 'day';
      this.charts.zoomed = null;
      this.charts.setPoints(points, { gapSec: gapThresholdFor(points), force: true });
      this.map.setTrack(points, { gapSec: gapThresholdFor(points), label: dayLabel(day) });
      const total = isNum(body.total_rows) ? body.total_rows : points.length;
      setText(banner, `Viewing ${dayLabel(day)} (UTC) · ${points.length} of ${total} rows drawn · the sidebar stays live`);
      $('live-btn').classList.remove('hidden');
      $('pause-btn').classList.add('hidden');
      $('reset-zoom').classList.add('hidden');
    } catch (error) {
      setText(banner, `Could not load ${dayLabel(day)}: ${error.message}`);
      if (!this.dayView) $('day-select').value = '';
    }
  }

  /** A time range across days (epoch seconds, `to` excluded), reduced on the server as a day is. */
  async showRange(from, to) {
    const banner = $('day-banner');
    const label = rangeLabel(from, to);
    setText(banner, `Loading ${label}…`);
    banner.classList.remove('hidden');
    const points = this.compact ? 1000 : 2000;
    try {
      const body = await fetchJSON(`/api/range?from=${isoUtc(from)}&to=${isoUtc(to)}&points=${points}`, { timeoutMs: 30000 });
      if ($('day-select').value !== 'range') return; // the operator moved on meanwhile
      const shown = pointsFromColumns(body.points).sort((a, b) => a.ts - b.ts);
      this.dayView = { day: 'range', from, to, points: shown };
      this.qcMarks.setDay(body.qc || []);
      this.charts.mode = 'day';
      this.charts.zoomed = null;
      this.charts.setPoints(shown, { gapSec: gapThresholdFor(shown), floor: from, ceil: to, force: true });
      this.map.setTrack(shown, { gapSec: gapThresholdFor(shown), label });
      setText(banner, `Viewing ${label} (UTC) · ${shown.length} of ${body.total_rows} rows drawn · the sidebar stays live`);
      $('live-btn').classList.remove('hidden');
      $('pause-btn').classList.add('hidden');
      $('reset-zoom').classList.add('hidden');
    } catch (error) {
      setText(banner, `Could not load ${label}: ${error.message}`);
    }
  }

  backToLive() {
    this.dayView = null;
    this.qcMarks.setDay(null);
    this.rangePicker.close();
    $('day-select').value = '';
    $('day-banner').classList.add('hidden');
    $('live-btn').classList.add('hidden');
    $('pause-btn').classList.remove('hidden');
    setText($('pause-btn'), 'Pause');
    $('pause-btn').classList.remove('paused');
    this.charts.mode = 'live';
    this.charts.live = true;
    this.charts.zoomed = null;
    this.charts.onZoom(false);
    this.scheduleDraw();
  }
}

const dashboard = new Dashboard();
window.meso360 = dashboard; // for the browser tests and for curious operators in the console
dashboard.start();
