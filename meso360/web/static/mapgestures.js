// mapgestures.js — the track map's pointer gestures: mouse hover, drag to pan, wheel zoom about the cursor,
// two-finger pinch, a tap for the values of a point (touch), double-click to fit the view to the track.

/** Bind the gestures of `canvas` to `map` (a TrackMap: hover, ensureView, panBy, zoomBy, fitToTrack). */
export function bindGestures(canvas, map) {
  const pointers = new Map();
  let pinch = null;
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY, moved: 0 });
    pinch = null;
  });
  canvas.addEventListener('pointermove', (e) => {
    const last = pointers.get(e.pointerId);
    if (!last) {
      map.hover(e.offsetX, e.offsetY);
      return;
    }
    map.ensureView();
    if (pointers.size === 2 && pinch === null) {
      const [a, b] = [...pointers.values()];
      pinch = Math.hypot(a.x - b.x, a.y - b.y);
    }
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const other = a === last ? b : a;
      const dist = Math.hypot(e.offsetX - other.x, e.offsetY - other.y);
      if (pinch) map.zoomBy(dist / pinch, (e.offsetX + other.x) / 2, (e.offsetY + other.y) / 2);
      pinch = dist;
    } else {
      map.panBy(e.offsetX - last.x, e.offsetY - last.y);
    }
    const moved = last.moved + Math.hypot(e.offsetX - last.x, e.offsetY - last.y);
    pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY, moved });
  });
  const release = (e) => {
    pointers.delete(e.pointerId);
    pinch = null;
  };
  canvas.addEventListener('pointerup', (e) => {
    const last = pointers.get(e.pointerId);
    release(e);
    if (last && last.moved < 5 && e.pointerType !== 'mouse') map.hover(e.offsetX, e.offsetY); // a tap shows the values
  });
  canvas.addEventListener('pointercancel', release);
  canvas.addEventListener('pointerleave', (e) => {
    if (!pointers.size && e.pointerType === 'mouse') map.hover(null, null);
  });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault(); // the wheel zooms the map, not the page
    map.zoomBy(Math.exp(-e.deltaY * 0.002), e.offsetX, e.offsetY);
  }, { passive: false });
  canvas.addEventListener('dblclick', () => map.fitToTrack());
}
