// trackstyle.js — what the track map shows of a point: the colour variables (T, Td, θe, wind speed) and their
// colour ramp, labels in the crew's units (window.Meso360Units when loaded, SI otherwise), and the wind barb.

import { isNum, thetaE } from './common.js';

export const MS_TO_KT = 1.943844;
const DEG = Math.PI / 180;
export const RAMP = ['#30123b', '#4662d7', '#36aaf9', '#1ae4b6', '#72fe5e', '#c8ef34', '#faba39', '#f66b19', '#ca2a04', '#7a0403'];
export const NO_VALUE_COLOR = '#6c7086';

/** The variables the track can be coloured by: label, unit kind, and the value of a point (SI) or null. */
export const VARIABLES = {
  t: { label: 'T', kind: 'temperature', value: (p) => p.t },
  td: { label: 'Td', kind: 'temperature', value: (p) => p.td },
  thetae: { label: 'θe', kind: 'thetae', value: (p) => thetaE(p.t, p.td, p.pressure) },
  wspd: { label: 'Wind', kind: 'wind', value: (p) => p.wspd },
};

/**
 * Given a unit kind and an SI value (°C, m/s, hPa, m, K), return its label: through window.Meso360Units when that
 * page-wide units module is loaded (the crew's chosen units), in SI otherwise.
 */
export function unitLabel(kind, value) {
  if (!isNum(value)) return '--';
  const units = window.Meso360Units;
  if (units && units.QUANTITIES && Object.prototype.hasOwnProperty.call(units.QUANTITIES, kind)) {
    try {
      const text = units.format(kind, value);
      if (typeof text === 'string' && text) return text;
    } catch {
      // their formatter does not know this kind: SI below
    }
  }
  switch (kind) {
    case 'temperature': return `${value.toFixed(1)} °C`;
    case 'wind': return `${value.toFixed(1)} m/s`;
    case 'pressure': return `${value.toFixed(1)} hPa`;
    case 'altitude': return `${value.toFixed(0)} m`;
    case 'thetae': return `${value.toFixed(1)} K`;
    case 'direction': return `${value.toFixed(0)}°`;
    default: return value.toFixed(1);
  }
}

/** Given a fraction of the colour range (0..1), return its colour of the ramp. */
export function rampColor(fraction) {
  const f = Math.min(1, Math.max(0, fraction)) * (RAMP.length - 1);
  return RAMP[Math.round(f)];
}

/** Given epoch seconds, return "YYYY-MM-DD HH:MM:SS ZONE" in the zone chosen in the units menu (UTC by default). */
export function utcStamp(ts) {
  const units = window.Meso360Units;
  if (units && typeof units.formatTime === 'function') {
    return `${units.formatTime(ts, { date: true })} ${units.label('time')}`; // the zone chosen in the units menu
  }
  const d = new Date(ts * 1000);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Given a latitude or longitude, return it with 5 decimals and its hemisphere letter. */
export function hemisphere(value, isLat) {
  if (!isNum(value)) return '--';
  return `${Math.abs(value).toFixed(5)}° ${isLat ? (value >= 0 ? 'N' : 'S') : value >= 0 ? 'E' : 'W'}`;
}

/** Bearing in degrees from point a to point b (both {lat, lon}). */
export function bearing(a, b) {
  const y = Math.sin((b.lon - a.lon) * DEG) * Math.cos(b.lat * DEG);
  const x = Math.cos(a.lat * DEG) * Math.sin(b.lat * DEG) - Math.sin(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.cos((b.lon - a.lon) * DEG);
  return ((Math.atan2(y, x) / DEG) + 360) % 360;
}

/** True when the point has a usable GPS position (0, 0 is the logger's no-fix value). */
export function hasPosition(p) {
  return isNum(p.lat) && isNum(p.lon) && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180 && !(p.lat === 0 && p.lon === 0);
}

/**
 * Draw a wind barb at x, y: staff toward the direction the wind comes from, feathers for knots (5 half, 10 full,
 * 50 flag); return what was drawn: {knots (rounded to 5), flags, barbs, halfBarbs, tip: [x, y]}.
 */
export function drawBarb(ctx, x, y, fromDeg, knots, length, color) {
  const ux = Math.sin(fromDeg * DEG);
  const uy = -Math.cos(fromDeg * DEG);
  const fx = -uy; // feathers on the clockwise side of the staff (northern hemisphere convention)
  const fy = ux;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.6;
  let rest = Math.round(knots / 5) * 5;
  const drawn = { knots: rest, flags: 0, barbs: 0, halfBarbs: 0, tip: [x, y] };
  if (rest < 5) {
    ctx.beginPath();
    ctx.arc(x, y, 9, 0, 2 * Math.PI); // calm
    ctx.stroke();
    ctx.restore();
    return drawn;
  }
  const tipX = x + ux * length;
  const tipY = y + uy * length;
  drawn.tip = [tipX, tipY];
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(tipX, tipY);
  ctx.stroke();
  const feather = length * 0.4;
  let along = length;
  const spacing = length * 0.16;
  const at = (d) => [x + ux * d, y + uy * d];
  while (rest >= 50) {
    const [ax, ay] = at(along);
    const [bx, by] = at(along - spacing * 1.2);
    ctx.beginPath();
    ctx.moveTo(ax, ay);
    ctx.lineTo(ax + fx * feather, ay + fy * feather);
    ctx.lineTo(bx, by);
    ctx.closePath();
    ctx.fill();
    along -= spacing * 1.6;
    rest -= 50;
    drawn.flags += 1;
  }
  ctx.beginPath();
  let first = true;
  while (rest >= 5) {
    const full = rest >= 10;
    if (!full && first) along -= spacing; // a lone half barb sits off the tip, as on a station plot
    const [ax, ay] = at(along);
    const len = full ? feather : feather / 2;
    ctx.moveTo(ax, ay);
    ctx.lineTo(ax + (fx * len) + (ux * len * 0.35), ay + (fy * len) + (uy * len * 0.35));
    rest -= full ? 10 : 5;
    if (full) drawn.barbs += 1;
    else drawn.halfBarbs += 1;
    along -= spacing;
    first = false;
  }
  ctx.stroke();
  ctx.restore();
  return drawn;
}
