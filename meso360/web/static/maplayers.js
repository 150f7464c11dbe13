// maplayers.js — the track map's background layers on a canvas: boundary lines (or filled land) from atlas.js,
// culled to the view, and the graticule (the only reference outside the US).

/**
 * Stroke (or fill) the lines ({coords: [lon, lat, ...], bbox}) crossing the view box [west, south, east, north],
 * projected by project(lon, lat) -> [x, y]; return how many were drawn and their pixel bounds.
 */
export function drawLines(ctx, lines, box, project, { stroke, fill, lineWidth = 1 }) {
  const [w, s, e, n] = box;
  let count = 0;
  let bounds = null;
  ctx.beginPath();
  for (const { coords, bbox } of lines) {
    if (bbox[2] < w || bbox[0] > e || bbox[3] < s || bbox[1] > n) continue;
    count += 1;
    for (let i = 0; i < coords.length; i += 2) {
      const [x, y] = project(coords[i], coords[i + 1]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    const [x0, y0] = project(bbox[0], bbox[3]);
    const [x1, y1] = project(bbox[2], bbox[1]);
    bounds = bounds ? [Math.min(bounds[0], x0), Math.min(bounds[1], y0), Math.max(bounds[2], x1), Math.max(bounds[3], y1)] : [x0, y0, x1, y1];
  }
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill('evenodd');
  } else {
    ctx.strokeStyle = stroke;
    ctx.lineWidth = lineWidth;
    ctx.stroke();
  }
  return { lines: count, bounds };
}

/**
 * Draw meridians and parallels every "nice" step at least minSpacingPx apart, labelled at the edges; return
 * {lines, step}. pxPerDeg: pixels per degree of latitude.
 */
export function drawGraticule(ctx, box, width, height, project, pxPerDeg, minSpacingPx, { line, label }) {
  const [w, s, e, n] = box;
  const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30];
  const step = steps.find((candidate) => candidate * pxPerDeg >= minSpacingPx) || 30;
  const decimals = step < 0.1 ? 2 : step < 1 ? 1 : 0;
  ctx.strokeStyle = line;
  ctx.lineWidth = 1;
  ctx.fillStyle = label;
  ctx.font = '10px sans-serif';
  let lines = 0;
  ctx.beginPath();
  for (let lon = Math.ceil(w / step) * step; lon <= e; lon += step) {
    const [x] = project(lon, 0);
    ctx.moveTo(x, 0);
    ctx.lineTo(x, height);
    ctx.fillText(`${Math.abs(lon).toFixed(decimals)}°${lon < 0 ? 'W' : 'E'}`, x + 2, height - 3);
    lines += 1;
  }
  for (let lat = Math.ceil(s / step) * step; lat <= n; lat += step) {
    const [, y] = project(0, lat);
    ctx.moveTo(0, y);
    ctx.lineTo(width, y);
    ctx.fillText(`${Math.abs(lat).toFixed(decimals)}°${lat < 0 ? 'S' : 'N'}`, 2, y - 2);
    lines += 1;
  }
  ctx.stroke();
  return { lines, step };
}
