// common.js — formatting, meteorological formulas, units preference, DOM and fetch helpers shared by both pages.

import './units.js'; // defines window.Meso360Units before any module of the page uses it

export const COLORS = {
  bg: '#1e1e2e', surface: '#181825', border: '#313244', muted: '#45475a', text: '#cdd6f4', subtext: '#c5cbe5',
  t: '#f38ba8', td: '#89b4fa', wspd: '#a6e3a1', wdir: '#fab387', pressure: '#cba6f7', thetae: '#f9e2af',
  grid: '#313244', axis: '#a6adc8',
};

export function isNum(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Given a number or null, return it with `dp` decimals and an optional unit, or "--" when missing. */
export function fmt(value, dp, unit = '') {
  if (!isNum(value)) return '--';
  return unit ? `${value.toFixed(dp)} ${unit}` : value.toFixed(dp);
}

export function cToF(celsius) {
  return isNum(celsius) ? (celsius * 9) / 5 + 32 : null;
}

/** Given temperature and dewpoint (°C) and pressure (hPa), return equivalent potential temperature (K), Bolton 1980. */
export function thetaE(tC, tdC, pHpa) {
  if (!isNum(tC) || !isNum(tdC) || !isNum(pHpa)) return null;
  const tK = tC + 273.15;
  const tdK = tdC + 273.15;
  const e = 6.112 * Math.exp((17.67 * tdC) / (tdC + 243.5)); // hPa, eq. 10
  if (pHpa <= e) return null; // physically impossible input (bad pressure): no value rather than NaN
  const r = (0.622 * e) / (pHpa - e); // kg/kg
  const tL = 56 + 1 / (1 / (tdK - 56) - Math.log(tK / tdK) / 800); // eq. 15
  const value = tK * (1000 / pHpa) ** (0.2854 * (1 - 0.28 * r)) * Math.exp(r * (1 + 0.81 * r) * (3376 / tL - 2.54)); // eq. 38
  return isNum(value) ? value : null;
}

/** Given directions in degrees (nulls ignored), return their circular mean in [0, 360), or null if none. */
export function circularMean(degrees) {
  let sin = 0;
  let cos = 0;
  let n = 0;
  for (const d of degrees) {
    if (!isNum(d)) continue;
    sin += Math.sin((d * Math.PI) / 180);
    cos += Math.cos((d * Math.PI) / 180);
    n += 1;
  }
  if (n === 0 || (Math.abs(sin) < 1e-9 && Math.abs(cos) < 1e-9)) return null;
  return (((Math.atan2(sin, cos) * 180) / Math.PI) + 360) % 360;
}

export function mean(values) {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (isNum(v)) {
      sum += v;
      n += 1;
    }
  }
  return n ? sum / n : null;
}

/** Return the smallest "nice" step (1, 2, 2.5, 5 × 10^k) ≥ raw, at least `minimum` and a multiple of it. */
export function niceStep(raw, minimum) {
  if (!isNum(raw) || raw <= minimum) return minimum;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = 10 * magnitude;
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * magnitude >= raw - 1e-12) {
      step = m * magnitude;
      break;
    }
  }
  return Math.max(minimum, Math.ceil(step / minimum - 1e-9) * minimum);
}

/** Given a whole number, return it with at least two digits ("07"). */
export const pad2 = (n) => String(n).padStart(2, '0');

/** Given epoch seconds, return "HH:MM:SS" in UTC (utc) or in the browser's local time zone. */
function hms(ts, utc) {
  if (!isNum(ts)) return '--:--:--';
  const d = new Date(ts * 1000);
  const parts = utc ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] : [d.getHours(), d.getMinutes(), d.getSeconds()];
  return parts.map(pad2).join(':');
}

/** Given epoch seconds, return "HH:MM:SS" in UTC. */
export function utcHMS(ts) {
  return hms(ts, true);
}

/** Given epoch seconds, return "YYYY-MM-DD HH:MM:SS" in UTC. */
export function utcDateTime(ts) {
  if (!isNum(ts)) return '--';
  const d = new Date(ts * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${utcHMS(ts)}`;
}

/** Given epoch seconds, return "HH:MM:SS" in the browser's local time zone. */
export function localHMS(ts) {
  return hms(ts, false);
}

/** Given an age in seconds, return "12s ago" or "3m 05s ago". */
export function fmtAgo(seconds) {
  if (!isNum(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m ago`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ago`;
}

/** Given a duration in seconds, return "45s", "3m 05s", "2h 10m" or "3d 4h 10m". */
export function fmtDuration(seconds) {
  if (!isNum(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Given a latitude or longitude, return "dd.ddddd° N" style text (absolute value + hemisphere). */
export function fmtCoord(value, dp, isLat) {
  if (!isNum(value)) return '—';
  const hemi = isLat ? (value >= 0 ? 'N' : 'S') : value >= 0 ? 'E' : 'W';
  return `${Math.abs(value).toFixed(dp)}° ${hemi}`;
}

/** Given a time the API sent (epoch seconds, epoch ms or an ISO string), return epoch seconds or null. */
export function toEpochSeconds(value) {
  if (isNum(value)) return value > 1e11 ? value / 1000 : value;
  if (typeof value === 'string' && value) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  return null;
}

// ---- preferences -------------------------------------------------------------------------------------------
/** The chosen temperature unit, 'C' or 'F' (units.js keeps every unit choice). */
export function getTempUnit() {
  return window.Meso360Units.get('temperature');
}

export function setTempUnit(unit) {
  window.Meso360Units.set('temperature', unit === 'F' ? 'F' : 'C');
}

/** Given °C and the unit ("C" or "F"), return the value in that unit. */
export function tempIn(celsius, unit) {
  return unit === 'F' ? cToF(celsius) : isNum(celsius) ? celsius : null;
}

// ---- layout and input ----------------------------------------------------------------------------------------
/** The one-column layout, chosen by the window's width alone (the same breakpoint as meso360.css). */
export const NARROW_QUERY = '(max-width: 759.98px)';

/** True when the primary pointer is a finger: the gesture hints say swipe/pinch instead of drag/scroll. */
export function isTouch() {
  return window.matchMedia('(pointer: coarse)').matches;
}

/** A number from the page's query string (e.g. ?stale_s=5), or the fallback. */
export function queryNumber(name, fallback) {
  const raw = new URLSearchParams(location.search).get(name);
  const value = raw === null ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

// ---- DOM ---------------------------------------------------------------------------------------------------
/** Build an element: el('div', {class: 'row', title: 'x'}, 'text', child). Text is always set as text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

// ---- network -----------------------------------------------------------------------------------------------
export class HttpError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Fetch JSON with a timeout; raise HttpError (with the server's "error" text when it sent one) on non-2xx. */
export async function fetchJSON(url, { method = 'GET', body, headers = {}, timeoutMs = 10000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const init = { method, headers: { Accept: 'application/json', ...headers }, signal: controller.signal, credentials: 'same-origin' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const answer = await fetch(url, init);
    let data = null;
    try {
      data = await answer.json();
    } catch {
      data = null;
    }
    if (!answer.ok) {
      const text = data && data.error ? data.error : `HTTP ${answer.status}`;
      throw new HttpError(answer.status, text, data);
    }
    return data;
  } catch (error) {
    if (error.name === 'AbortError') throw new HttpError(0, `timed out after ${timeoutMs / 1000} s`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Retry delay for attempt n (0-based): 1 s, 2 s, 4 s … capped at 30 s, with ±20 % jitter. */
export function backoffMs(attempt) {
  const base = Math.min(30000, 1000 * 2 ** Math.min(attempt, 15));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
