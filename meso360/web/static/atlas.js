// atlas.js — the track map's offline boundaries: us-atlas counties-10m (Census Bureau TopoJSON: nation, states,
// counties, unprojected) read with topojson-client, both installed in static/vendor by scripts/fetch_assets.sh;
// loaded once per page into lines with bounding boxes, and the county (and state) at a point.

const TOPOJSON_URL = '/static/vendor/topojson-client.min.js';
const ATLAS_URL = '/static/vendor/us-atlas-counties-10m.json';

let atlasPromise = null;

/** Given GeoJSON geometry, return its lines (or polygon rings) as {coords: Float64Array [lon, lat, ...], bbox}. */
function linesOf(geometry) {
  const rings = [];
  const add = (line) => {
    const coords = new Float64Array(line.length * 2);
    const bbox = [Infinity, Infinity, -Infinity, -Infinity];
    line.forEach(([lon, lat], i) => {
      coords[2 * i] = lon;
      coords[2 * i + 1] = lat;
      bbox[0] = Math.min(bbox[0], lon); bbox[1] = Math.min(bbox[1], lat);
      bbox[2] = Math.max(bbox[2], lon); bbox[3] = Math.max(bbox[3], lat);
    });
    rings.push({ coords, bbox });
  };
  const walk = (g) => {
    if (!g) return;
    if (g.type === 'LineString') add(g.coordinates);
    else if (g.type === 'MultiLineString' || g.type === 'Polygon') g.coordinates.forEach(add);
    else if (g.type === 'MultiPolygon') g.coordinates.forEach((polygon) => polygon.forEach(add));
    else if (g.type === 'GeometryCollection') g.geometries.forEach(walk);
  };
  walk(geometry);
  return rings;
}

function ringContains(coords, lon, lat) {
  let inside = false;
  for (let i = 0, j = coords.length - 2; i < coords.length; j = i, i += 2) {
    const xi = coords[i]; const yi = coords[i + 1]; const xj = coords[j]; const yj = coords[j + 1];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(script);
  });
}

/** Load topojson-client and the us-atlas counties once per page; resolve to the map layers in lon/lat. */
export function loadAtlas() {
  if (!atlasPromise) {
    atlasPromise = (async () => {
      if (!window.topojson) await loadScript(TOPOJSON_URL);
      const response = await fetch(ATLAS_URL);
      if (!response.ok) throw new Error(`${ATLAS_URL}: HTTP ${response.status}`);
      const us = await response.json();
      const topo = window.topojson;
      const stateNames = new Map(topo.feature(us, us.objects.states).features.map((f) => [f.id, f.properties.name]));
      const counties = topo.feature(us, us.objects.counties).features.map((f) => {
        const rings = linesOf(f.geometry);
        const bbox = rings.reduce((b, r) => [Math.min(b[0], r.bbox[0]), Math.min(b[1], r.bbox[1]), Math.max(b[2], r.bbox[2]), Math.max(b[3], r.bbox[3])],
          [Infinity, Infinity, -Infinity, -Infinity]);
        return { id: f.id, name: f.properties.name, state: stateNames.get(String(f.id).slice(0, 2)) || '', rings, bbox };
      });
      const countyLines = linesOf(topo.mesh(us, us.objects.counties, (a, b) => a !== b && String(a.id).slice(0, 2) === String(b.id).slice(0, 2)));
      const bounds = countyLines.reduce((b, r) => [Math.min(b[0], r.bbox[0]), Math.min(b[1], r.bbox[1]), Math.max(b[2], r.bbox[2]), Math.max(b[3], r.bbox[3])],
        [Infinity, Infinity, -Infinity, -Infinity]);
      return {
        land: linesOf(topo.feature(us, us.objects.nation).features[0].geometry),
        county: countyLines,
        state: linesOf(topo.mesh(us, us.objects.states, (a, b) => a !== b)),
        nation: linesOf(topo.mesh(us, us.objects.nation)),
        counties,
        countyBounds: bounds,
      };
    })();
  }
  return atlasPromise;
}

/** Given the loaded atlas, return the county (id, name, state name) holding lon/lat, or null (outside the US, no atlas). */
export function countyAt(atlas, lon, lat) {
  if (!atlas || !Number.isFinite(lon) || !Number.isFinite(lat)) return null;
  for (const c of atlas.counties) {
    const b = c.bbox;
    if (lon < b[0] || lon > b[2] || lat < b[1] || lat > b[3]) continue;
    let inside = false;
    for (const ring of c.rings) if (ringContains(ring.coords, lon, lat)) inside = !inside;
    if (inside) return { id: c.id, name: c.name, state: c.state };
  }
  return null;
}
