// obs.js — the observation model in the browser: points, the de-duplicating buffer, gap sentinels, the ops day,
// and the derived values of the sidebar (30-s averages, max wind, completeness, ΔP, record age).

import { circularMean, isNum, mean, thetaE } from './common.js';

export const GAP_SEC = 2; // a step of ≥ 2 s between rows breaks the chart line
export const OPS_GAP_SEC = 4 * 3600; // a silence of ≥ 4 h starts a new operations day
export const AVG_WIN_S = 30;
export const COMPLETENESS_WIN_S = 600;
export const DP_WIN_S = 180;
export const SERIES = ['t', 'td', 'wspd', 'wdir', 'pressure', 'compass_dir', 'lat', 'lon', 'alt', 'rh'];
const MEASURED = ['t', 'td', 'wspd', 'wdir', 'pressure', 'compass_dir'];

function num(value) {
  return isNum(value) ? value : null;
}

/** Given a Point as the API sends it, return a clean point (finite numbers or null, ts in epoch seconds). */
export function normalizePoint(raw) {
  let ts = num(raw.ts);
  if (ts !== null && ts > 1e11) ts /= 1000; // milliseconds
  const point = { id: num(raw.id), ts, fix: raw.fix !== false };
  for (const key of SERIES) point[key] = num(raw[key]);
  if (point.alt === null && isNum(raw.gps_alt)) point.alt = raw.gps_alt;
  return point;
}

/** Given the columnar "points" object of /api/history, return an array of clean points (rows without ts dropped). */
export function pointsFromColumns(columns) {
  const ts = (columns && columns.ts) || [];
  const out = [];
  for (let i = 0; i < ts.length; i++) {
    const raw = {};
    for (const key of ['id', 'ts', 'fix', ...SERIES]) raw[key] = columns[key] ? columns[key][i] : null;
    const p = normalizePoint(raw);
    if (p.ts !== null) out.push(p);
  }
  return out;
}

export function isReal(p) {
  return MEASURED.some((key) => p[key] !== null);
}

/** Index at which a point with time ts goes to keep `points` sorted (after equal times). */
function insertIndex(points, ts) {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].ts <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Given time-sorted points, return uPlot columns {ts, <series>...} where a null row is inserted at
 * last_ts + 1 wherever the next point is ≥ gapSec later, so lines break at gaps instead of bridging them.
 */
export function withGapSentinels(points, gapSec = GAP_SEC, keys = SERIES) {
  const cols = { ts: [] };
  for (const key of keys) cols[key] = [];
  let last = null;
  for (const p of points) {
    if (last !== null && p.ts - last >= gapSec) {
      cols.ts.push(last + 1);
      for (const key of keys) cols[key].push(null);
    }
    cols.ts.push(p.ts);
    for (const key of keys) cols[key].push(p[key]);
    last = p.ts;
  }
  return cols;
}

/** Gap threshold for a (possibly server-downsampled) day: 2 s, or 3 × the median step when points are sparser. */
export function gapThresholdFor(points) {
  const steps = [];
  for (let i = 1; i < points.length; i++) {
    const dt = points[i].ts - points[i - 1].ts;
    if (dt > 0) steps.push(dt);
  }
  if (!steps.length) return GAP_SEC;
  steps.sort((a, b) => a - b);
  return Math.max(GAP_SEC, 3 * steps[steps.length >> 1]);
}

/** Advance the ops-day state {start, lastTs} with a point at ts: a silence ≥ 4 h starts a new day. */
export function advanceOpsDay(state, ts) {
  if (!isNum(ts)) return state;
  if (!state || state.lastTs === null || ts - state.lastTs >= OPS_GAP_SEC) return { start: ts, lastTs: ts };
  return { start: state.start, lastTs: Math.max(state.lastTs, ts) };
}

/** Given time-sorted points, return the time of the first point after the last silence ≥ 4 h (or the first point). */
export function opsStart(points) {
  for (let i = points.length - 1; i > 0; i--) {
    if (points[i].ts - points[i - 1].ts >= OPS_GAP_SEC) return points[i].ts;
  }
  return points.length ? points[0].ts : null;
}

/**
 * Max wind: given the state {max: {wspd, ts, lat, lon} | null, resetTs}, a point and the current ops-day start,
 * return the new state. A max from before the floor (a new ops day, or before Reset) is dropped; ties keep the first.
 */
export function updateMaxWind(state, p, opsDayStart) {
  const floor = Math.max(isNum(state.resetTs) ? state.resetTs : -Infinity, isNum(opsDayStart) ? opsDayStart : -Infinity);
  let max = state.max && state.max.ts >= floor ? state.max : null;
  if (p && isNum(p.wspd) && p.ts >= floor && (!max || p.wspd > max.wspd)) {
    max = { wspd: p.wspd, ts: p.ts, lat: p.lat, lon: p.lon };
  }
  return max === state.max ? state : { ...state, max };
}

/** 30-s averages over points with ts > latest − 30 s: means, circular-mean direction, θe of the mean T/Td/P. */
export function averages(points, windowS = AVG_WIN_S) {
  if (!points.length) return null;
  const latest = points[points.length - 1].ts;
  const recent = [];
  for (let i = points.length - 1; i >= 0 && points[i].ts > latest - windowS; i--) recent.push(points[i]);
  const avg = { n: recent.length };
  for (const key of ['t', 'td', 'pressure', 'wspd', 'rh', 'alt']) avg[key] = mean(recent.map((p) => p[key]));
  avg.wdir = circularMean(recent.map((p) => p.wdir));
  avg.thetae = thetaE(avg.t, avg.td, avg.pressure);
  return avg;
}

/** Percent of seconds with a real observation in the last 10 min of data time (from its first row). */
export function completeness(points, windowS = COMPLETENESS_WIN_S) {
  if (!points.length) return null;
  const latest = points[points.length - 1].ts;
  const cutoff = latest - windowS + 1;
  const seconds = new Set();
  let first = latest;
  for (let i = points.length - 1; i >= 0 && points[i].ts >= cutoff; i--) {
    if (isReal(points[i])) seconds.add(Math.floor(points[i].ts));
    first = points[i].ts;
  }
  // counted from the first row in the window, so a page opened 2 min after start-up is not "20 % complete"
  const expected = Math.max(1, Math.round(latest - first + 1));
  return Math.min(100, (100 * seconds.size) / expected);
}

/** Number of gaps (steps ≥ 2 s) between points of the latest point's UTC day. */
export function gapsInUtcDay(points) {
  if (!points.length) return 0;
  const day = Math.floor(points[points.length - 1].ts / 86400);
  let gaps = 0;
  for (let i = points.length - 1; i > 0 && Math.floor(points[i - 1].ts / 86400) === day; i--) {
    if (points[i].ts - points[i - 1].ts >= GAP_SEC) gaps += 1;
  }
  return gaps;
}

/** Latest pressure minus the pressure of the point nearest to latest − 3 min (within 60 s of it), or null. */
export function pressureTendency(points, windowS = DP_WIN_S) {
  let latestIdx = points.length - 1;
  while (latestIdx >= 0 && points[latestIdx].pressure === null) latestIdx--;
  if (latestIdx < 0) return null;
  const target = points[points.length - 1].ts - windowS;
  let best = null;
  for (let i = latestIdx - 1; i >= 0 && points[i].ts >= target - 60; i--) {
    if (points[i].pressure === null || points[i].ts > target + 60) continue;
    if (!best || Math.abs(points[i].ts - target) < Math.abs(best.ts - target)) best = points[i];
  }
  return best ? points[latestIdx].pressure - best.pressure : null;
}

/**
 * Age of the newest record in data time. ref = {ts, ageS, atMs}: the newest record time and its age as the server
 * reported them at monotonic time atMs. Without a ref, the time since the latest point arrived is used.
 */
export function recordAge(latestTs, ref, nowMs, latestArrivalMs) {
  if (!isNum(latestTs)) return null;
  if (ref && isNum(ref.ts) && isNum(ref.ageS)) {
    const dataNow = ref.ts + ref.ageS + (nowMs - ref.atMs) / 1000;
    return Math.max(0, dataNow - latestTs);
  }
  return isNum(latestArrivalMs) ? Math.max(0, (nowMs - latestArrivalMs) / 1000) : null;
}

/** Time-sorted points with unique ids, trimmed to maxPoints; remembers the last id it accepted. */
export class ObsBuffer {
  constructor(maxPoints) {
    this.maxPoints = maxPoints;
    this.points = [];
    this.lastId = null;
  }

  reset(points, lastId) {
    const sorted = points.slice().sort((a, b) => a.ts - b.ts);
    this.points = sorted.slice(Math.max(0, sorted.length - this.maxPoints));
    const ids = points.map((p) => p.id).filter(isNum);
    this.lastId = isNum(lastId) ? lastId : ids.length ? Math.max(...ids) : null;
  }

  /** Add a point; return false for a duplicate (id already seen). Out-of-order times are inserted in place. */
  add(p) {
    if (isNum(p.id) && isNum(this.lastId) && p.id <= this.lastId) return false;
    if (isNum(p.id)) this.lastId = p.id;
    const n = this.points.length;
    if (!n || p.ts >= this.points[n - 1].ts) this.points.push(p);
    else this.points.splice(insertIndex(this.points, p.ts), 0, p);
    if (this.points.length > this.maxPoints) this.points.splice(0, this.points.length - this.maxPoints);
    return true;
  }

  latest() {
    return this.points.length ? this.points[this.points.length - 1] : null;
  }
}
