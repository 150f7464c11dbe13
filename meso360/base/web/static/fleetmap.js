// fleetmap.js — every vehicle of the fleet on the dashboard's offline map (/static/map.js: its projection, the
// us-atlas boundaries, the graticule, pan, zoom, fit and tooltip), one marker per vehicle in its state's colour.

import { TrackMap } from '/static/map.js';
import { fmtAgo, isNum } from '/static/common.js';
import { unitLabel } from '/static/trackstyle.js';

export const STATE_COLORS = { ok: '#a6e3a1', stale: '#f9e2af', alarm: '#f38ba8', down: '#9399b2' };
const RADIUS_PX = 8;

/** The fleet map: setVehicles(vehicles of the snapshot) shows those with a position; the view fits them all. */
export class FleetMap extends TrackMap {
  constructor(container) {
    super(container, { compact: false, variable: 't' });
    this.canvas.setAttribute('aria-label', 'map of the fleet');
    this.fitButton.title = 'fit the view to the fleet';
  }

  setVehicles(vehicles) {
    const points = vehicles.filter((v) => v.position).map((v) => ({
      lat: v.position.lat, lon: v.position.lon, ts: v.position.ts, vehicle: v,
    }));
    this.setTrack(points, { label: 'fleet' });
  }

  /** Draw one marker and name per vehicle; return what debug() reports (track: the markers). */
  drawTrack(ctx) {
    const track = this.points.map((p, index) => {
      const [x, y] = this.project(p.lon, p.lat);
      return { index, x, y, color: STATE_COLORS[p.vehicle.state] || STATE_COLORS.down, inWindow: true, name: p.vehicle.name };
    });
    ctx.font = 'bold 12px sans-serif';
    for (const t of track) {
      ctx.beginPath();
      ctx.arc(t.x, t.y, RADIUS_PX, 0, 2 * Math.PI);
      ctx.fillStyle = t.color;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#11111b';
      ctx.stroke();
      ctx.fillStyle = '#cdd6f4';
      ctx.fillText(t.name, t.x + RADIUS_PX + 3, t.y + 4);
    }
    this.track = track;
    return { track, range: null, window: null };
  }

  drawCurrent() {
    return null;
  }

  describe(p) {
    const v = p.vehicle;
    const o = v.obs || {};
    const age = isNum(p.ts) ? fmtAgo(Date.now() / 1000 - p.ts) : '--';
    return [
      ['Vehicle', v.name],
      ['State', `${v.state}: ${v.reason}`],
      [v.position.current ? 'Newest' : 'Last seen', age],
      ['T', unitLabel('temperature', o.t)],
      ['Td', unitLabel('temperature', o.td)],
      ['p', unitLabel('pressure', o.pressure)],
      ['Wind', `${unitLabel('wind', o.wspd)} from ${unitLabel('direction', o.wdir)}`],
    ];
  }

  renderLegend() {
    const items = Object.entries(STATE_COLORS).map(([state, color]) => {
      const item = document.createElement('span');
      const dot = document.createElement('span');
      dot.className = 'fleet-legend-dot';
      dot.style.background = color;
      item.append(dot, ` ${state}`);
      return item;
    });
    this.legend.replaceChildren(...items);
  }
}
