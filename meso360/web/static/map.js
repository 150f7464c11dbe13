// map.js — the track map of the dashboard and of the panel's Position card: the vehicle track (live window or a
// stored day) coloured by T, Td, θe or wind speed, on offline US state and county boundaries (atlas.js), with a
// graticule everywhere (the only reference outside the US), the current position with heading and wind barb
// (trackstyle.js), hover values, pan, zoom and fit. Drawn on a canvas in a cos(latitude)-scaled equirectangular
// projection: true shapes at county scale.

import { isNum } from './common.js';
import { countyAt, loadAtlas } from './atlas.js';
import { bindGestures } from './mapgestures.js';
import { drawGraticule, drawLines } from './maplayers.js';
import {
  MS_TO_KT, NO_VALUE_COLOR, RAMP, VARIABLES, bearing, drawBarb, hasPosition, hemisphere, rampColor, unitLabel, utcStamp,
} from './trackstyle.js';

const US_VIEW = { lon: -98.5, lat: 38.5, spanLon: 62, spanLat: 28 };
const MIN_SPAN_DEG = 0.2; // fit never zooms closer than about 20 km: a parked vehicle or a short track keeps some context
const MIN_SCALE = 2; // px per degree of latitude
const MAX_SCALE = 2e6;
const COUNTY_MIN_SCALE = 18; // below this (a view wider than ~40° of latitude) county lines are clutter
const HOVER_RADIUS_PX = 24;
const DEG = Math.PI / 180;
const CASING = '#11111b';
const LINE_STYLE = {
  land: '#232334', county: '#4c4f69', state: '#9399b2', nation: '#9399b2', graticule: '#313244',
  heading: '#fab387', wind: '#89b4fa', label: '#a6adc8',
};

/** Read (or, with a value, write) a remembered choice of this browser; null when storage is not allowed. */
function stored(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch {
    // private mode or storage disabled: the choice lasts for this page only
  }
  return null;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A track map in `container`: setTrack(points, {gapSec, label}) draws them; the view follows the track until panned.
 * timeWindow() (optional) returns the [start, end] epoch seconds the charts show: the track outside it is dimmed,
 * so the map and the charts show the same time range.
 */
export class TrackMap {
  constructor(container, { compact = false, variable = 'thetae', timeWindow = null } = {}) {
    this.container = container;
    this.compact = compact;
    this.timeWindow = timeWindow;
    this.drawnWindow = null;
    this.variable = stored('meso360.mapVariable') || variable;
    if (!VARIABLES[this.variable]) this.variable = 'thetae';
    this.points = [];
    this.gapSec = 2;
    this.label = 'live';
    this.follow = true; // refit on new data until the operator pans or zooms
    this.view = null;
    this.atlas = null;
    this.atlasError = null;
    this.hoverIndex = null;
    this.hoverPoint = null;
    this.drawPending = false;
    this.stats = {};
    this.build();
    loadAtlas().then((atlas) => {
      this.atlas = atlas;
      this.scheduleDraw();
    }, (error) => {
      this.atlasError = error.message;
      this.setNote(`boundaries unavailable (${error.message}): graticule only`);
      this.scheduleDraw();
    });
    container.trackMap = this; // for the browser tests
  }

  build() {
    const c = this.container;
    c.classList.add('track-map');
    c.classList.toggle('track-map-compact', this.compact);
    this.canvas = el('canvas', 'track-map-canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'vehicle track map');
    const bar = el('div', 'track-map-bar');
    this.select = el('select', 'track-map-var');
    this.select.setAttribute('aria-label', 'colour the track by');
    for (const [key, v] of Object.entries(VARIABLES)) this.select.append(new Option(v.label, key));
    this.select.value = this.variable;
    this.select.addEventListener('change', () => this.setVariable(this.select.value));
    const button = (text, title, onClick) => {
      const b = el('button', 'btn track-map-btn', text);
      b.type = 'button';
      b.title = title;
      b.addEventListener('click', onClick);
      return b;
    };
    this.fitButton = button('Fit', 'fit the view to the track', () => this.fitToTrack());
    bar.append(this.select, button('+', 'zoom in', () => this.zoomBy(2)), button('−', 'zoom out', () => this.zoomBy(0.5)), this.fitButton);
    this.legend = el('div', 'track-map-legend');
    this.note = el('div', 'track-map-note hidden');
    this.tooltip = el('div', 'track-map-tip hidden');
    c.replaceChildren(this.canvas, bar, this.legend, this.note, this.tooltip);
    bindGestures(this.canvas, this);
    new ResizeObserver(() => {
      this.sizeCache = null;
      this.scheduleDraw();
    }).observe(c);
    if (this.timeWindow) {
      // the charts zoom and pan on their own: follow their time range without a hook in them
      setInterval(() => {
        const w = this.timeWindow();
        const d = this.drawnWindow;
        if (!d !== !w || (w && (w[0] !== d[0] || w[1] !== d[1]))) this.scheduleDraw();
      }, 250);
    }
  }

  setNote(text) {
    this.note.textContent = text || '';
    this.note.classList.toggle('hidden', !text);
  }

  /** Show these time-sorted points (the live window or a day); a new label (another day) refits the view. */
  setTrack(points, { gapSec = 2, label = 'live' } = {}) {
    if (label !== this.label) this.follow = true;
    this.points = points;
    this.gapSec = gapSec;
    this.label = label;
    // a live update keeps the point under the cursor (the buffer's point objects stay; their indexes shift)
    const hovered = this.hoverPoint ? points.indexOf(this.hoverPoint) : -1;
    this.hoverIndex = hovered >= 0 ? hovered : null;
    if (hovered < 0) this.hoverPoint = null;
    this.tooltip.classList.toggle('hidden', hovered < 0);
    this.scheduleDraw();
  }

  setVariable(key) {
    if (!VARIABLES[key]) return;
    this.variable = key;
    this.select.value = key;
    stored('meso360.mapVariable', key);
    this.scheduleDraw();
  }

  fitToTrack() {
    this.follow = true;
    this.view = null;
    this.scheduleDraw();
  }

  zoomBy(factor, atX, atY) {
    const { width, height } = this.size();
    this.ensureView();
    const x = isNum(atX) ? atX : width / 2;
    const y = isNum(atY) ? atY : height / 2;
    const [lon, lat] = this.unproject(x, y);
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.view.scale * factor));
    this.view = { lon: this.view.lon, lat: this.view.lat, scale };
    // keep the point under the cursor where it was
    const [nx, ny] = this.project(lon, lat);
    this.panBy(x - nx, y - ny);
  }

  panBy(dx, dy) {
    this.follow = false;
    const v = this.view;
    const kx = v.scale * Math.cos(v.lat * DEG);
    this.view = { lon: v.lon - dx / kx, lat: Math.max(-85, Math.min(85, v.lat + dy / v.scale)), scale: v.scale };
    this.scheduleDraw();
  }

  /** The canvas size in CSS pixels, measured once per resize (a layout query per projected point was slow). */
  size() {
    if (!this.sizeCache) {
      const rect = this.canvas.getBoundingClientRect();
      this.sizeCache = { width: Math.max(1, rect.width), height: Math.max(1, rect.height) };
    }
    return this.sizeCache;
  }

  trackBounds() {
    let b = null;
    for (const p of this.points) {
      if (!hasPosition(p)) continue;
      if (!b) b = [p.lon, p.lat, p.lon, p.lat];
      else b = [Math.min(b[0], p.lon), Math.min(b[1], p.lat), Math.max(b[2], p.lon), Math.max(b[3], p.lat)];
    }
    return b;
  }

  /** The view that fits the track (the contiguous US without one). */
  fittedView() {
    const { width, height } = this.size();
    const b = this.trackBounds();
    let lon; let lat; let spanLon; let spanLat;
    if (b) {
      lon = (b[0] + b[2]) / 2;
      lat = (b[1] + b[3]) / 2;
      spanLon = Math.max(MIN_SPAN_DEG, (b[2] - b[0]) * 1.15);
      spanLat = Math.max(MIN_SPAN_DEG, (b[3] - b[1]) * 1.15);
    } else {
      ({ lon, lat, spanLon, spanLat } = US_VIEW);
    }
    const cos = Math.max(0.05, Math.cos(lat * DEG));
    const scale = Math.min(height / spanLat, width / (spanLon * cos));
    return { lon, lat, scale: Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale)) };
  }

  ensureView() {
    if (!this.view || this.follow) this.view = this.fittedView();
  }

  project(lon, lat) {
    const { width, height } = this.size();
    const v = this.view;
    if (v.kx === undefined) v.kx = v.scale * Math.cos(v.lat * DEG); // views are replaced, never changed in place
    return [width / 2 + (lon - v.lon) * v.kx, height / 2 - (lat - v.lat) * v.scale];
  }

  unproject(x, y) {
    const { width, height } = this.size();
    const v = this.view;
    return [v.lon + (x - width / 2) / (v.scale * Math.cos(v.lat * DEG)), v.lat - (y - height / 2) / v.scale];
  }

  /** The view's lon/lat box [west, south, east, north]. */
  viewBox() {
    const { width, height } = this.size();
    const [w, n] = this.unproject(0, 0);
    const [e, s] = this.unproject(width, height);
    return [w, s, e, n];
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.draw();
    });
  }

  draw() {
    const { width, height } = this.size();
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
    }
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    this.ensureView();
    const box = this.viewBox();
    const project = (lon, lat) => this.project(lon, lat);
    // what this draw shows, for debug(): a setTrack() or setVariable() is drawn at the next frame
    const stats = {
      layers: {}, width, height, label: this.label, variable: this.variable, view: this.view, follow: this.follow,
      atlasLoaded: Boolean(this.atlas),
    };
    if (this.atlas) {
      stats.layers.land = drawLines(ctx, this.atlas.land, box, project, { fill: LINE_STYLE.land });
      stats.layers.county = this.view.scale >= COUNTY_MIN_SCALE
        ? drawLines(ctx, this.atlas.county, box, project, { stroke: LINE_STYLE.county, lineWidth: 0.6 })
        : { lines: 0, bounds: null };
      stats.layers.state = drawLines(ctx, this.atlas.state, box, project, { stroke: LINE_STYLE.state, lineWidth: 1.1 });
      stats.layers.nation = drawLines(ctx, this.atlas.nation, box, project, { stroke: LINE_STYLE.nation, lineWidth: 1.3 });
    }
    stats.layers.graticule = drawGraticule(ctx, box, width, height, project, this.view.scale, this.compact ? 60 : 90, {
      line: LINE_STYLE.graticule, label: LINE_STYLE.label,
    });
    Object.assign(stats, this.drawTrack(ctx));
    stats.current = this.drawCurrent(ctx);
    this.drawHover(ctx);
    this.renderLegend(stats.range);
    this.fitButton.classList.toggle('active', this.follow);
    this.stats = stats;
    this.container.dataset.trackPoints = String(stats.track.length);
  }

  /** Draw the track segments, coloured by the chosen variable; return the projected points and the colour range. */
  drawTrack(ctx) {
    const variable = VARIABLES[this.variable];
    const values = this.points.map((p) => {
      const v = variable.value(p);
      return isNum(v) ? v : null;
    });
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (v === null) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const range = lo <= hi ? { lo, hi: hi > lo ? hi : lo + 1 } : null;
    const win = this.timeWindow ? this.timeWindow() : null;
    this.drawnWindow = win ? [win[0], win[1]] : null;
    const track = [];
    const groups = new Map(); // "in|colour" or "out|colour" -> segments
    let previous = null;
    this.points.forEach((p, index) => {
      if (!hasPosition(p)) {
        previous = null;
        return;
      }
      const [x, y] = this.project(p.lon, p.lat);
      const color = values[index] === null || !range ? NO_VALUE_COLOR : rampColor((values[index] - range.lo) / (range.hi - range.lo));
      const inWindow = !win || (p.ts >= win[0] && p.ts <= win[1]);
      const item = { index, x, y, color, inWindow, joined: false };
      track.push(item);
      if (previous && p.ts - previous.ts < this.gapSec) {
        const key = `${inWindow ? 'in' : 'out'}|${color}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(previous.x, previous.y, x, y);
        item.joined = true;
        previous.item.joined = true;
      }
      previous = { ts: p.ts, x, y, item };
    });
    ctx.lineCap = 'round';
    const width = this.compact ? 2.5 : 3.5;
    const stroke = (pass, color) => {
      ctx.strokeStyle = color;
      ctx.beginPath();
      for (const [key, segments] of groups) {
        if (!key.startsWith(`${pass}|`) || (color !== CASING && key.slice(pass.length + 1) !== color)) continue;
        for (let i = 0; i < segments.length; i += 4) {
          ctx.moveTo(segments[i], segments[i + 1]);
          ctx.lineTo(segments[i + 2], segments[i + 3]);
        }
      }
      ctx.stroke();
    };
    const colors = (pass) => new Set([...groups.keys()].filter((k) => k.startsWith(`${pass}|`)).map((k) => k.slice(pass.length + 1)));
    // outside the charts' time range: thin and faint
    ctx.globalAlpha = 0.25;
    ctx.lineWidth = width * 0.5;
    for (const color of colors('out')) stroke('out', color);
    ctx.globalAlpha = 1;
    // the range the charts show: on a dark casing, on top; isolated points (a gappy track) as dots
    ctx.lineWidth = width + 2;
    stroke('in', CASING);
    ctx.lineWidth = width;
    for (const color of colors('in')) stroke('in', color);
    for (const t of track) {
      if (!t.inWindow || t.joined) continue;
      ctx.fillStyle = t.color;
      ctx.fillRect(t.x - 1.5, t.y - 1.5, 3, 3);
    }
    this.track = track;
    return { track, range, window: this.drawnWindow };
  }

  /** The newest point with a position, its heading (compass, else the direction of travel). */
  current() {
    for (let i = this.points.length - 1; i >= 0; i--) {
      const p = this.points[i];
      if (!hasPosition(p)) continue;
      let heading = isNum(p.compass_dir) ? p.compass_dir : null;
      for (let j = i - 1; heading === null && j >= 0 && j > i - 120; j--) {
        const q = this.points[j];
        if (hasPosition(q) && Math.hypot(q.lat - p.lat, (q.lon - p.lon) * Math.cos(p.lat * DEG)) > 1e-4) heading = bearing(q, p);
      }
      return { point: p, heading };
    }
    return null;
  }

  /** Draw the newest position (heading arrow, wind barb); return it. */
  drawCurrent(ctx) {
    const now = this.current();
    if (!now) return null;
    const [x, y] = this.project(now.point.lon, now.point.lat);
    const p = now.point;
    const barb = isNum(p.wdir) && isNum(p.wspd) ? drawBarb(ctx, x, y, p.wdir, p.wspd * MS_TO_KT, this.compact ? 26 : 34, LINE_STYLE.wind) : null;
    ctx.save();
    ctx.translate(x, y);
    ctx.fillStyle = LINE_STYLE.heading;
    ctx.strokeStyle = '#11111b';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    if (now.heading === null) {
      ctx.arc(0, 0, 6, 0, 2 * Math.PI);
    } else {
      ctx.rotate(now.heading * DEG);
      ctx.moveTo(0, -11);
      ctx.lineTo(7, 8);
      ctx.lineTo(0, 4);
      ctx.lineTo(-7, 8);
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
    ctx.restore();
    return { ...now, x, y, barb };
  }

  hover(x, y) {
    let best = null;
    if (x !== null && this.track) {
      let bestDist = HOVER_RADIUS_PX;
      for (const t of this.track) {
        const d = Math.hypot(t.x - x, t.y - y);
        if (d < bestDist) {
          bestDist = d;
          best = t;
        }
      }
    }
    const index = best ? best.index : null;
    if (index === this.hoverIndex) return;
    this.hoverIndex = index;
    this.hoverPoint = index === null ? null : this.points[index];
    if (index === null) {
      this.tooltip.classList.add('hidden');
    } else {
      this.showTooltip(this.points[index], best);
    }
    this.scheduleDraw();
  }

  /** Values of one point for the tooltip (and the tests), labelled in the chosen units. */
  describe(p) {
    const county = this.countyAt(p.lon, p.lat);
    return [
      ['Time', utcStamp(p.ts)],
      ['T', unitLabel('temperature', p.t)],
      ['Td', unitLabel('temperature', p.td)],
      ['θe', unitLabel('thetae', VARIABLES.thetae.value(p))],
      ['Wind', `${unitLabel('wind', p.wspd)} from ${unitLabel('direction', p.wdir)}`],
      ['Heading', unitLabel('direction', p.compass_dir)],
      ['Position', `${hemisphere(p.lat, true)} ${hemisphere(p.lon, false)}`],
      ...(county ? [['County', `${county.name}, ${county.state}`]] : []),
    ];
  }

  showTooltip(p, at) {
    const rows = this.describe(p).map(([k, v]) => {
      const row = el('div', 'kv');
      row.append(el('span', 'label', k), el('span', 'value', v));
      return row;
    });
    this.tooltip.replaceChildren(...rows);
    this.tooltip.dataset.index = String(at.index);
    this.tooltip.classList.remove('hidden');
    const { width, height } = this.size();
    const tipWidth = this.tooltip.offsetWidth;
    const tipHeight = this.tooltip.offsetHeight;
    this.tooltip.style.left = `${Math.max(0, Math.min(width - tipWidth, at.x + 12))}px`;
    this.tooltip.style.top = `${Math.max(0, at.y + 12 + tipHeight > height ? at.y - tipHeight - 12 : at.y + 12)}px`;
  }

  /** Ring the hovered point and keep its tooltip beside it (the view may have moved). */
  drawHover(ctx) {
    if (this.hoverIndex === null || !this.track) return;
    const t = this.track.find((item) => item.index === this.hoverIndex);
    if (!t) return;
    this.showTooltip(this.points[t.index], t);
    ctx.strokeStyle = '#cdd6f4';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(t.x, t.y, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }

  renderLegend(range) {
    const variable = VARIABLES[this.variable];
    const bar = el('span', 'track-map-ramp');
    bar.style.background = `linear-gradient(to right, ${RAMP.join(', ')})`;
    const lo = range ? unitLabel(variable.kind, range.lo) : '--';
    const hi = range ? unitLabel(variable.kind, range.hi) : '--';
    const where = this.label === 'live' ? 'live window' : this.label;
    this.legend.replaceChildren(el('span', 'c-muted', `${variable.label}:`), el('span', '', lo), bar, el('span', '', hi), el('span', 'c-muted', `· ${where}`));
  }

  /** The us-atlas county (with its state's name) holding lon/lat, or null (outside the US, or atlas not loaded). */
  countyAt(lon, lat) {
    return countyAt(this.atlas, lon, lat);
  }

  /** What the last draw showed, for the browser tests: projected track, layer pixel bounds, colour range, view. */
  debug() {
    return {
      atlasLoaded: Boolean(this.stats.atlasLoaded),
      atlasError: this.atlasError,
      countyLayerLonLat: this.atlas ? this.atlas.countyBounds : null,
      layers: this.stats.layers,
      width: this.stats.width,
      height: this.stats.height,
      track: (this.stats.track || []).map((t) => ({ index: t.index, x: t.x, y: t.y, color: t.color, inWindow: t.inWindow })),
      range: this.stats.range,
      window: this.stats.window,
      variable: this.stats.variable,
      follow: this.stats.follow,
      view: this.stats.view,
      label: this.stats.label,
      current: this.stats.current,
    };
  }
}

