// charts.js — the uPlot charts of the dashboard (T/Td, wind speed + direction dots, pressure), their y-range rules,
// the time axis (UTC or local), values in the units chosen in units.js, gap-broken data, and the gestures: drag zoom,
// wheel pan, pinch zoom, touch pan, double-click or double-tap reset, all clamped to the ops day (live) or to the
// loaded day.

/* global uPlot */
import { COLORS, isNum, niceStep } from './common.js';
import { withGapSentinels } from './obs.js';

const Units = window.Meso360Units; // defined by units.js, which common.js imports first
const QUANTITY_OF = { t: 'temperature', td: 'temperature', wspd: 'wind', pressure: 'pressure' };

export const X_INCRS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
export const MIN_WINDOW_S = 5;
const FONT = '11px ui-monospace, "Cascadia Code", monospace';

/** Tick label in the chosen zone: "HH:MMZ" (UTC) or "HH:MM" (local) on whole minutes, else "SS\nHH:MM(Z)". */
export function xTickLabel(ts) {
  const hms = Units.formatTime(ts);
  const hm = `${hms.slice(0, 5)}${Units.get('time') === 'UTC' ? 'Z' : ''}`;
  return hms.endsWith(':00') ? hm : `${hms.slice(6)}\n${hm}`;
}

/** Time axis ticks every `incr` seconds on the chosen zone's round times (local hours need not be UTC hours). */
export function xSplits(min, max, incr) {
  const offset = Units.zoneOffset(min);
  const splits = [];
  for (let t = Math.ceil((min + offset) / incr) * incr - offset; t <= max + 1e-9; t += incr) splits.push(t);
  return splits;
}

/** T/Td y range: data extent padded by max(8 % of the span, 0.5). */
export function tempRange(min, max) {
  if (!isNum(min) || !isNum(max)) return [0, 1];
  const pad = Math.max((max - min) * 0.08, 0.5);
  return [min - pad, max + pad];
}

/** Wind speed y range: 0 to 4 nice steps (multiples of 0.25) above the padded maximum, so 5 ticks match 0–360°. */
export function windRange(max) {
  const top = isNum(max) && max > 0 ? max : 0;
  const padded = top + Math.max(top * 0.15, 0.8);
  return [0, 4 * niceStep(padded / 4, 0.25)];
}

/** Pressure y range: padded by max(4 %, 0.8 hPa), centred, at least 10 hPa tall. */
export function pressureRange(min, max) {
  if (!isNum(min) || !isNum(max)) return [1000, 1010];
  const pad = Math.max((max - min) * 0.04, 0.8);
  const centre = (min + max) / 2;
  const half = Math.max((max - min) / 2 + pad, 5);
  return [centre - half, centre + half];
}

/** Clamp a time window to [floor, ceil], keeping at least MIN_WINDOW_S and shifting rather than shrinking. */
export function clampWindow(min, max, floor, ceil) {
  let span = Math.max(MIN_WINDOW_S, max - min);
  if (!isNum(floor) || !isNum(ceil)) return [min, min + span];
  const room = Math.max(ceil - floor, MIN_WINDOW_S);
  if (span >= room) return [floor, floor + room];
  let lo = min;
  if (lo < floor) lo = floor;
  if (lo + span > ceil) lo = ceil - span;
  span = Math.max(span, MIN_WINDOW_S);
  return [lo, lo + span];
}

/** Hover value of a series already converted to the chosen unit of `quantity` (null: degrees, not converted). */
function fmtLegend(quantity) {
  if (quantity === null) return (u, v) => (isNum(v) ? `${v.toFixed(2)}°` : '');
  return (u, v) => (isNum(v) ? `${v.toFixed(Units.decimals(quantity))} ${Units.label(quantity)}` : '');
}

/** A y range rule written in base units, applied to values in the chosen unit of `quantity`. */
function inChosenUnit(quantity, rule) {
  return (u, min, max) => rule(Units.toBase(quantity, min), Units.toBase(quantity, max)).map((v) => Units.convert(quantity, v));
}

function xAxis() {
  return {
    stroke: COLORS.axis, font: FONT, space: 80, size: 44, gap: 6, incrs: X_INCRS,
    splits: (u, axisIdx, min, max, incr) => xSplits(min, max, incr),
    values: (u, splits) => splits.map((v) => (isNum(v) ? xTickLabel(v) : '')),
    grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 },
  };
}

function yAxis(scale, label, stroke, extra = {}) {
  return {
    scale, label, stroke, font: FONT, labelFont: FONT, labelGap: 6, gap: 4, size: 56,
    grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 }, ...extra,
  };
}

const WIND_SPLITS = (u, axisIdx, min, max) => [0, 1, 2, 3, 4].map((i) => min + (i * (max - min)) / 4);
const DIR_AXIS = { splits: () => [0, 90, 180, 270, 360], values: (u, splits) => splits.map((v) => `${v}°`) };
const DIR_SERIES = {
  label: 'Dir', scale: 'wdir', stroke: COLORS.wdir, width: 0, paths: () => null, value: fmtLegend(null),
  points: { show: true, size: 3, fill: COLORS.wdir, stroke: COLORS.wdir, width: 0 },
};

/** Chart definitions: title, columns taken from the data, and the uPlot series/axes/scales, in the chosen units.
 * compact (the one-column layout): wind speed and direction as two charts, each with one y axis. */
function chartDefs(compact) {
  const tUnit = Units.label('temperature');
  const temp = {
    key: 'temp', title: 'Temperature & Dewpoint', cols: ['t', 'td'],
    series: [
      { label: 'T', scale: 'y', stroke: COLORS.t, width: 2, value: fmtLegend('temperature') },
      { label: 'Td', scale: 'y', stroke: COLORS.td, width: 2, value: fmtLegend('temperature') },
    ],
    axes: [yAxis('y', tUnit, COLORS.axis)],
    scales: { y: { range: (u, min, max) => tempRange(min, max) } },
  };
  const speedSeries = { label: 'Speed', scale: 'wspd', stroke: COLORS.wspd, width: 2, value: fmtLegend('wind') };
  const speedAxis = yAxis('wspd', Units.label('wind'), COLORS.wspd, { splits: WIND_SPLITS, values: (u, s) => s.map((v) => +v.toFixed(2)) });
  const wspdScale = { range: (u, min, max) => windRange(max) };
  const wdirScale = { range: () => [0, 360] };
  const pressure = {
    key: 'pressure', title: 'Pressure', cols: ['pressure'],
    series: [{ label: 'Pressure', scale: 'y', stroke: COLORS.pressure, width: 2, value: fmtLegend('pressure') }],
    axes: [yAxis('y', Units.label('pressure'), COLORS.axis)],
    scales: { y: { range: inChosenUnit('pressure', pressureRange) } },
  };
  if (!compact) {
    return [
      temp,
      {
        key: 'wind', title: 'Wind Speed & Direction', cols: ['wspd', 'wdir'],
        series: [speedSeries, DIR_SERIES],
        axes: [speedAxis, yAxis('wdir', 'degrees (˚)', COLORS.wdir, { side: 1, grid: { show: false }, ...DIR_AXIS })],
        scales: { wspd: wspdScale, wdir: wdirScale },
      },
      pressure,
    ];
  }
  return [
    temp,
    { key: 'wspd', title: 'Wind Speed', cols: ['wspd'], series: [speedSeries], axes: [speedAxis], scales: { wspd: wspdScale } },
    {
      key: 'wdir', title: 'Wind Direction', cols: ['wdir'], series: [DIR_SERIES],
      axes: [yAxis('wdir', 'degrees (˚)', COLORS.wdir, DIR_AXIS)], scales: { wdir: wdirScale },
    },
    pressure,
  ];
}

/** Runs of points without GPS fix as [start, end] time ranges (shaded on every chart). */
export function noFixRanges(points) {
  const ranges = [];
  let start = null;
  let prev = null;
  for (const p of points) {
    if (p.fix === false) {
      if (start === null) start = p.ts;
      prev = p.ts;
    } else if (start !== null) {
      ranges.push([start, prev + 1]);
      start = null;
    }
  }
  if (start !== null) ranges.push([start, prev + 1]);
  return ranges;
}

export class ChartSet {
  /** options: compact (one-column layout: four charts), touch (gesture hints for fingers), viewSec (live window),
   * onZoom(zoomed: bool), marks (QcMarks of qcmarks.js: drawn on every chart). Values are drawn in the units chosen
   * in units.js; setUnits() redraws after a change. */
  constructor(container, { compact = false, touch = false, viewSec = 1800, onZoom = () => {}, marks = null } = {}) {
    this.container = container;
    this.compact = compact;
    this.touch = touch;
    this.viewSec = viewSec;
    this.onZoom = onZoom;
    this.marks = marks;
    this.dragOrigin = null; // the chart a mouse drag started on
    this.points = [];
    this.gapSec = 2;
    this.floor = null;
    this.ceil = null;
    this.zoomed = null;
    this.live = true; // false = paused: new data is kept but not drawn
    this.mode = 'live'; // 'live' or 'day'
    this.noFix = [];
    this.charts = [];
    this.build();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
  }

  build() {
    for (const c of this.charts) c.u.destroy();
    this.container.replaceChildren();
    this.charts = [];
    this.legendReserve = this.compact ? 42 : 28;
    const hint = this.touch ? 'swipe to pan · pinch to zoom · double-tap to reset' : 'drag to zoom · scroll to pan · double-click to reset';
    const timeLabel = Units.label('time');
    const utc = Units.get('time') === 'UTC';
    for (const def of chartDefs(this.compact)) {
      const wrap = document.createElement('div');
      wrap.className = 'chart-wrap';
      const cardNode = document.createElement('section');
      cardNode.className = `card chart-card chart-${def.key}`;
      const title = document.createElement('h2');
      title.className = 'card-title';
      title.textContent = def.title;
      const hintNode = document.createElement('div');
      hintNode.className = 'zoom-hint';
      hintNode.textContent = hint;
      const head = document.createElement('div'); // the title and, on its right, the hint: no line of its own
      head.className = 'chart-head';
      head.append(title, hintNode);
      cardNode.append(head, wrap);
      this.container.append(cardNode);
      const opts = {
        width: 400, height: 200,
        cursor: {
          drag: { x: true, y: false, setScale: false },
          sync: { key: 'meso360' },
          bind: { dblclick: () => () => null }, // our own double-click handler resets the zoom
        },
        select: { show: true },
        legend: { live: true },
        scales: { x: { time: false }, ...def.scales },
        series: [{ label: timeLabel, value: (u, v) => (isNum(v) ? `${Units.formatTime(v, { date: true })}${utc ? 'Z' : ''}` : '') }, ...def.series],
        axes: [xAxis(), ...def.axes],
        hooks: {
          setSelect: [(u) => this.onSelect(u)],
          drawAxes: [(u) => this.drawNoFix(u)],
        },
      };
      if (this.marks) this.marks.decorate(opts, def); // QC marks: a draw hook and the flag in the hover value
      const u = new uPlot(opts, this.dataFor(def), wrap);
      u.root.classList.add('chart-root');
      this.charts.push({ def, u, wrap });
      this.attachGestures(u);
    }
    this.resize();
  }

  /** Rebuild the charts in the units now chosen in units.js (axes, values, hover labels, time zone). */
  setUnits() {
    this.build();
  }

  /** Switch between the one-column (four charts) and the wide (three charts) layout. */
  setCompact(compact) {
    if (compact === this.compact) return;
    this.compact = compact;
    this.build();
  }

  dataFor(def) {
    const cols = this.cols || { ts: [] };
    const series = def.cols.map((key) => {
      const values = cols[key] || [];
      return QUANTITY_OF[key] ? values.map((v) => Units.convert(QUANTITY_OF[key], v)) : values;
    });
    return [cols.ts, ...series];
  }

  /** Give the charts new data. floor/ceil bound every pan and zoom. Drawn unless paused (force draws anyway). */
  setPoints(points, { gapSec = 2, floor = null, ceil = null, force = false } = {}) {
    this.points = points;
    this.gapSec = gapSec;
    this.floor = floor ?? (points.length ? points[0].ts : null);
    this.ceil = ceil ?? (points.length ? points[points.length - 1].ts : null);
    this.dirty = true;
    if (this.live || force) this.render();
  }

  window() {
    if (this.zoomed) return this.zoomed;
    if (!isNum(this.ceil)) {
      const now = Date.now() / 1000;
      return [now - 60, now];
    }
    if (this.mode === 'day') return this.ceil > this.floor ? [this.floor, this.ceil] : [this.floor, this.floor + 60];
    const lo = Math.max(this.floor ?? this.ceil, this.ceil - this.viewSec);
    return lo < this.ceil ? [lo, this.ceil] : [this.ceil - 60, this.ceil];
  }

  render() {
    if (this.dirty) {
      this.cols = withGapSentinels(this.points, this.gapSec, ['t', 'td', 'wspd', 'wdir', 'pressure']);
      this.noFix = noFixRanges(this.points);
      this.dirty = false;
    }
    const [min, max] = this.window();
    for (const { def, u } of this.charts) {
      u.batch(() => {
        u.setData(this.dataFor(def), false);
        u.setScale('x', { min, max });
      });
    }
  }

  /** Number of data points drawn in the first chart (for tests and the header). */
  pointCount() {
    return this.charts.length ? this.charts[0].u.data[0].length : 0;
  }

  resize() {
    for (const { u, wrap } of this.charts) {
      const width = Math.max(120, Math.floor(wrap.clientWidth));
      const height = Math.max(100, Math.floor(wrap.clientHeight) - this.legendReserve);
      if (u.width !== width || u.height !== height) u.setSize({ width, height });
    }
    if (this.charts.length) this.render();
  }

  setLive(live) {
    this.live = live;
    if (live) this.resetZoom();
  }

  zoomTo(min, max) {
    const [lo, hi] = clampWindow(min, max, this.floor, this.ceil);
    this.zoomed = [lo, hi];
    this.onZoom(true);
    this.render();
  }

  resetZoom() {
    const was = this.zoomed !== null;
    this.zoomed = null;
    this.onZoom(false);
    if (was || this.live) this.render();
    else this.render();
  }

  onSelect(u) {
    const { left, width } = u.select;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    // The cursor sync repeats a drag's selection on every chart, each firing this hook, some after the first has
    // zoomed: only the chart the drag started on zooms, so the window is the selected one, once.
    if (u !== this.dragOrigin) return;
    this.dragOrigin = null;
    if (width < 3) return;
    const min = u.posToVal(left, 'x');
    const max = u.posToVal(left + width, 'x');
    if (max - min >= 1) this.zoomTo(min, max);
  }

  drawNoFix(u) {
    if (!this.noFix.length) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.fillStyle = 'rgba(250, 179, 135, 0.10)';
    for (const [a, b] of this.noFix) {
      const x0 = Math.max(bbox.left, u.valToPos(a, 'x', true));
      const x1 = Math.min(bbox.left + bbox.width, u.valToPos(b, 'x', true));
      if (x1 > x0) ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
    }
    ctx.restore();
  }

  attachGestures(u) {
    const over = u.over;
    over.addEventListener('mousedown', () => {
      this.dragOrigin = u;
    });
    const span = () => {
      const [a, b] = this.window();
      return [a, b, b - a];
    };
    over.addEventListener('dblclick', (e) => {
      e.preventDefault();
      this.resetZoom();
    });
    over.addEventListener(
      'wheel',
      (e) => {
        const [a, b, w] = span();
        if (e.ctrlKey) {
          // trackpad pinch (and ctrl+wheel): zoom about the cursor
          e.preventDefault();
          const factor = Math.exp(e.deltaY * 0.008);
          const c = u.posToVal(e.offsetX, 'x');
          this.zoomTo(c - (c - a) * factor, c + (b - c) * factor);
        } else if (e.deltaX !== 0 && Math.abs(e.deltaX) >= Math.abs(e.deltaY)) {
          e.preventDefault();
          const shift = (e.deltaX / over.clientWidth) * w;
          this.zoomTo(a + shift, b + shift);
        } else if (e.shiftKey && e.deltaY !== 0) {
          e.preventDefault();
          const shift = (e.deltaY / over.clientWidth) * w;
          this.zoomTo(a + shift, b + shift);
        }
        // a plain vertical wheel scrolls the page
      },
      { passive: false },
    );
    let touch = null;
    let lastTapAt = 0;
    const localX = (t) => t.clientX - over.getBoundingClientRect().left;
    over.addEventListener(
      'touchstart',
      (e) => {
        const [a, b] = span();
        if (e.touches.length === 1) {
          const t = e.touches[0];
          const now = performance.now();
          if (now - lastTapAt < 300) {
            e.preventDefault();
            lastTapAt = 0;
            touch = null;
            this.resetZoom();
            return;
          }
          touch = { mode: null, x: t.clientX, y: t.clientY, a, b, moved: false };
        } else if (e.touches.length === 2) {
          e.preventDefault();
          const [t1, t2] = e.touches;
          touch = { mode: 'pinch', dist: Math.abs(t1.clientX - t2.clientX) || 1, moved: true };
        }
      },
      { passive: false },
    );
    over.addEventListener(
      'touchmove',
      (e) => {
        if (!touch) return;
        if (touch.mode === 'pinch' && e.touches.length === 2) {
          e.preventDefault();
          const [t1, t2] = e.touches;
          const dist = Math.abs(t1.clientX - t2.clientX) || 1;
          const factor = touch.dist / dist;
          touch.dist = dist;
          const [a, b] = span();
          const c = u.posToVal((localX(t1) + localX(t2)) / 2, 'x');
          this.zoomTo(c - (c - a) * factor, c + (b - c) * factor);
          return;
        }
        if (e.touches.length !== 1) return;
        const t = e.touches[0];
        const dx = t.clientX - touch.x;
        const dy = t.clientY - touch.y;
        if (Math.abs(dx) > 8 || Math.abs(dy) > 8) touch.moved = true;
        if (touch.mode === null && Math.abs(dx) > 8 && Math.abs(dx) > Math.abs(dy)) touch.mode = 'pan';
        if (touch.mode === 'pan') {
          e.preventDefault();
          const shift = (-dx / over.clientWidth) * (touch.b - touch.a); // swipe right = earlier
          this.zoomTo(touch.a + shift, touch.b + shift);
        }
      },
      { passive: false },
    );
    over.addEventListener('touchend', (e) => {
      if (touch && !touch.moved && e.touches.length === 0) lastTapAt = performance.now();
      if (e.touches.length === 0) touch = null;
    });
  }

  destroy() {
    this.resizeObserver.disconnect();
    for (const c of this.charts) c.u.destroy();
    this.charts = [];
  }
}
