// compass.js — the heading & wind compass: a canvas rose with the wind-direction arrow (blue) and the vehicle
// heading arrow (orange) on top.

import { COLORS, isNum } from './common.js';

/** Geometry presets: the dashboard's large rose and the control panel's compact one. */
export const LARGE = { inset: 22, numberFont: '9px', numberAt: 11, letterFont: 'bold 11px', letterAt: 18, arrow: 0.65, width: 2.5, head: 9, dot: 3.5 };
export const COMPACT = { inset: 16, numberFont: '8px', numberAt: 9, letterFont: 'bold 10px', letterAt: 14, arrow: 0.6, width: 2, head: 8, dot: 3 };

const FONT = 'ui-monospace, "Cascadia Code", monospace';

function arrow(ctx, cx, cy, length, bearingDeg, color, g) {
  const a = ((bearingDeg - 90) * Math.PI) / 180; // bearing 0 = up (north), clockwise
  const x = cx + length * Math.cos(a);
  const y = cy + length * Math.sin(a);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = g.width;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(cx, cy);
  ctx.lineTo(x, y);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x - g.head * Math.cos(a - 2.6 + Math.PI), y - g.head * Math.sin(a - 2.6 + Math.PI));
  ctx.lineTo(x - g.head * Math.cos(a + 2.6 + Math.PI), y - g.head * Math.sin(a + 2.6 + Math.PI));
  ctx.closePath();
  ctx.fill();
}

/** Draw the rose and the arrows on `canvas` (any CSS size; drawn sharp for the device pixel ratio). */
export function drawCompass(canvas, heading, wind, g = LARGE) {
  const cssSize = Math.max(60, Math.round(canvas.clientWidth || 200));
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssSize * ratio)) {
    canvas.width = Math.round(cssSize * ratio);
    canvas.height = Math.round(cssSize * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssSize, cssSize);
  const scale = cssSize / 200; // geometry is specified for a 200-px rose
  const cx = cssSize / 2;
  const cy = cssSize / 2;
  const r = Math.min(cx, cy) - g.inset * scale;

  ctx.fillStyle = COLORS.surface;
  ctx.strokeStyle = COLORS.border;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(cx, cy, r, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();

  for (let deg = 0; deg < 360; deg += 10) {
    const cardinal = deg % 90 === 0;
    const len = (cardinal ? 9 : 4) * scale;
    const a = ((deg - 90) * Math.PI) / 180;
    ctx.strokeStyle = cardinal ? COLORS.muted : COLORS.border;
    ctx.lineWidth = cardinal ? 1.5 : 0.75;
    ctx.beginPath();
    ctx.moveTo(cx + (r - len) * Math.cos(a), cy + (r - len) * Math.sin(a));
    ctx.lineTo(cx + r * Math.cos(a), cy + r * Math.sin(a));
    ctx.stroke();
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.font = `${g.numberFont} ${FONT}`;
  ctx.fillStyle = COLORS.subtext;
  for (let deg = 0; deg < 360; deg += 30) {
    const a = ((deg - 90) * Math.PI) / 180;
    const at = r + g.numberAt * scale;
    ctx.fillText(String(deg), cx + at * Math.cos(a), cy + at * Math.sin(a));
  }
  ctx.font = `${g.letterFont} ${FONT}`;
  [['N', 0], ['E', 90], ['S', 180], ['W', 270]].forEach(([letter, deg]) => {
    const a = ((deg - 90) * Math.PI) / 180;
    const at = r - g.letterAt * scale;
    ctx.fillStyle = letter === 'N' ? COLORS.t : COLORS.axis;
    ctx.fillText(letter, cx + at * Math.cos(a), cy + at * Math.sin(a));
  });

  if (isNum(wind)) arrow(ctx, cx, cy, r * g.arrow, wind, COLORS.td, g);
  if (isNum(heading)) {
    arrow(ctx, cx, cy, r * g.arrow, heading, COLORS.wdir, g);
    ctx.fillStyle = COLORS.text;
    ctx.beginPath();
    ctx.arc(cx, cy, g.dot, 0, 2 * Math.PI);
    ctx.fill();
  }
}
