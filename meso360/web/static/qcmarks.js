// qcmarks.js — QC marks on the dashboard's charts: the flagged points of each chart's variables (from /api/history's
// "qc", the stream's `qc` events, a stored day's "qc"), drawn by a uPlot draw hook as a ring (suspect, the warning
// colour) or a ring and a triangle (bad, the alarm colour), named in the hover label ("T 31.20 °C · step, suspect"),
// shown or hidden by the "QC marks" toggle, remembered per browser.
//
// A mark from the server is [ts, key, flag, checks]: the point's time (epoch s), its series ("t"), 1 suspect or 2
// bad, and the checks that gave it ("step", "range+step"). A downsampled day's bucket carries the worst flag of its
// rows on the point of the bucket that stands out (meso360/web/qcmarks.py).

import { isNum } from './common.js';

const STORAGE_KEY = 'meso360.qcMarks';
const MAX_LIVE_MARKS = 20000; // a sensor flagged at every row for hours: the oldest marks go first
const LEVELS = { 1: 'suspect', 2: 'bad' };

/** Given a CSS variable of the page (the dashboard's palette), return its value. */
function cssColor(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/** Index of `ts` in the sorted time column `xs`, or -1. */
function indexOf(xs, ts) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo < xs.length && xs[lo] === ts ? lo : -1;
}

/** Given marks [[ts, key, flag, checks], …], add them to a Map ts → {key: {flag, checks}}; a later mark replaces. */
function mergeInto(map, marks) {
  for (const mark of marks || []) {
    if (!Array.isArray(mark) || mark.length < 4 || !isNum(mark[0]) || !LEVELS[mark[2]]) continue;
    const [ts, key, flag, checks] = mark;
    const entry = map.get(ts) || {};
    entry[key] = { flag, checks: String(checks) };
    map.set(ts, entry);
  }
  return map;
}

export class QcMarks {
  /** toggle: the "QC marks" checkbox; onChange(): redraw the charts. */
  constructor(toggle, onChange = () => {}) {
    this.toggle = toggle;
    this.onChange = onChange;
    this.live = new Map();
    this.day = null; // the marks of a stored day being viewed
    this.drawn = {}; // chart key -> [{ts, key, flag, checks, x, y}] as last drawn (CSS px in the plot area)
    let stored = null;
    try {
      stored = localStorage.getItem(STORAGE_KEY);
    } catch {
      // no storage (private mode): shown, not remembered
    }
    this.shown = stored !== 'off';
    if (toggle) {
      toggle.checked = this.shown;
      toggle.addEventListener('change', () => this.setShown(toggle.checked));
    }
    window.addEventListener('meso360:qc', (event) => {
      try {
        this.addLive(JSON.parse(event.detail));
      } catch {
        // a malformed event is skipped, never fatal
      }
    });
  }

  setShown(shown) {
    this.shown = shown;
    if (this.toggle) this.toggle.checked = shown;
    try {
      localStorage.setItem(STORAGE_KEY, shown ? 'on' : 'off');
    } catch {
      // remembered for this page only
    }
    this.onChange();
  }

  /** Marks of the live window (the history's, and each `qc` event's): merged, never replaced, since an event can
   * arrive before the history that does not hold it yet. */
  addLive(marks) {
    mergeInto(this.live, marks);
    for (const ts of this.live.keys()) {
      if (this.live.size <= MAX_LIVE_MARKS) break;
      this.live.delete(ts);
    }
    if (!this.day) this.onChange();
  }

  /** The marks of a stored day (its answer's "qc"), or null back to the live ones. */
  setDay(marks) {
    this.day = marks ? mergeInto(new Map(), marks) : null;
  }

  current() {
    return this.day || this.live;
  }

  /** The mark of series `key` at time `ts`: {flag, checks} or null. */
  markAt(key, ts) {
    const entry = isNum(ts) ? this.current().get(ts) : null;
    return (entry && entry[key]) || null;
  }

  /** "step, suspect" for the hover label, or null. */
  label(key, ts) {
    const mark = this.markAt(key, ts);
    return mark ? `${mark.checks}, ${LEVELS[mark.flag]}` : null;
  }

  /** Given the uPlot options of one chart and its definition (cols: the series keys), add the marks' draw hook and
   * their names to the hover values (copies of the series: their definitions are shared between builds). */
  decorate(opts, def) {
    opts.series = opts.series.map((series, index) => {
      if (index === 0 || !def.cols[index - 1]) return series;
      const key = def.cols[index - 1];
      const value = series.value;
      return {
        ...series,
        value: (u, v, seriesIdx, idx) => {
          const text = typeof value === 'function' ? value(u, v, seriesIdx, idx) : String(v ?? '');
          const label = this.shown && idx !== null && idx !== undefined ? this.label(key, u.data[0][idx]) : null;
          return label && text ? `${text} · ${label}` : text;
        },
      };
    });
    opts.hooks = { ...opts.hooks, draw: [...((opts.hooks && opts.hooks.draw) || []), (u) => this.draw(u, def)] };
  }

  draw(u, def) {
    const drawn = [];
    this.drawn[def.key] = drawn;
    const marks = this.current();
    if (!this.shown || !marks.size) return;
    const xs = u.data[0];
    const { min, max } = u.scales.x;
    const ratio = window.devicePixelRatio || 1;
    const colors = { 1: cssColor('--wdir', '#fab387'), 2: cssColor('--t', '#f38ba8') };
    const halo = cssColor('--bg', '#1e1e2e');
    const { ctx } = u;
    // Clipped to the plot and the ring's reach around it: a point on an edge (a spike is the chart's highest, the
    // newest row is on the right) keeps its whole ring.
    const reach = 8 * ratio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left - reach, u.bbox.top - reach, u.bbox.width + 2 * reach, u.bbox.height + 2 * reach);
    ctx.clip();
    for (const [ts, entry] of marks) {
      if (ts < min || ts > max) continue;
      const index = indexOf(xs, ts);
      if (index < 0) continue;
      def.cols.forEach((key, i) => {
        const mark = entry[key];
        const value = u.data[i + 1][index];
        if (!mark || !isNum(value) || u.series[i + 1].show === false) return;
        const x = u.valToPos(ts, 'x', true);
        const y = u.valToPos(value, u.series[i + 1].scale, true);
        this.drawMark(ctx, x, y, ratio, colors[mark.flag], halo, mark.flag, u.bbox.top);
        drawn.push({ ts, key, flag: mark.flag, checks: mark.checks, x: x / ratio - u.bbox.left / ratio, y: y / ratio - u.bbox.top / ratio });
      });
    }
    ctx.restore();
  }

  /** A ring at (x, y) in canvas pixels; a bad point also gets a triangle pointing at it, above it (below it when
   * the point is at the top of the plot, where one above would be cut off). */
  drawMark(ctx, x, y, ratio, color, halo, flag, plotTop) {
    const radius = 6 * ratio;
    ctx.lineWidth = 4 * ratio;
    ctx.strokeStyle = halo; // a dark halo keeps the ring visible on a line of the same colour
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 2 * ratio;
    ctx.strokeStyle = color;
    ctx.stroke();
    if (flag !== 2) return;
    const side = y - radius - 11 * ratio < plotTop ? 1 : -1; // -1: above the ring
    const tip = y + side * (radius + 3 * ratio);
    const base = tip + side * 8 * ratio;
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.moveTo(x - 5 * ratio, base);
    ctx.lineTo(x + 5 * ratio, base);
    ctx.lineTo(x, tip);
    ctx.closePath();
    ctx.fill();
  }
}
