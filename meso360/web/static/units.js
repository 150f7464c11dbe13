// units.js — the units and the time zone the crew reads values in, chosen once per browser (localStorage) and
// shared by every page and module: the dashboard's charts, cards and hover labels, the panel, the track map.
//
// A plain script that defines one global, window.Meso360Units. Load it with <script src="/static/units.js"> or
// `import './units.js'` from an ES module (common.js does); loaded twice, the second copy keeps the first.
// Values are always handed over in the base units of the data files: m/s, °C, hPa, m, epoch seconds (UTC).
//
//   Meso360Units.QUANTITIES            {wind: ['m/s', 'kt', 'mph'], temperature: ['C', 'F'], pressure: ['hPa', 'inHg'],
//                                       altitude: ['m', 'ft'], time: ['UTC', 'local']}; the first is the default
//   Meso360Units.get()                 the choice, e.g. {wind: 'kt', temperature: 'F', pressure: 'hPa', altitude: 'm',
//                                       time: 'UTC'} (a copy)
//   Meso360Units.get(quantity)         the chosen unit of one quantity, e.g. get('wind') → 'kt'
//   Meso360Units.set(quantity, unit)   choose one (an unknown quantity or unit is ignored), remember it, tell the
//   Meso360Units.set({wind: 'kt', …})  listeners; returns the choice
//   Meso360Units.convert(q, value[, unit])  a base-unit value in the chosen unit (or `unit`); null if not a number.
//                                       convert('wind', 10) → 19.438… with kt chosen
//   Meso360Units.toBase(q, value[, unit])   the inverse: a value in the chosen unit (or `unit`) back in base units
//   Meso360Units.decimals(q[, unit])   decimals shown for that unit (wind m/s 2, kt 1, mph 1; °C/°F 2; hPa 2,
//                                       inHg 3; m 2, ft 1)
//   Meso360Units.label(q[, unit])      'm/s', 'kt', 'mph', '°C', '°F', 'hPa', 'inHg', 'm', 'ft'; for time 'UTC' or
//                                       the browser zone's short name ('CST', 'GMT+2')
//   Meso360Units.format(q, value[, {dp, unit, withUnit}])  '19.4 kt'; '--' for a missing value
//   Meso360Units.formatTime(ts[, {seconds, date, zone}])   'HH:MM:SS' ('HH:MM' with seconds: false; 'YYYY-MM-DD '
//                                       before it with date: true) in the chosen zone (or zone 'UTC'/'local')
//   Meso360Units.zoneOffset(ts[, zone]) seconds east of UTC of the chosen zone at ts (0 for UTC)
//   Meso360Units.onChange(callback)    callback(choice) after every change, also one made in another tab;
//                                       returns a function that removes the callback

(function defineMeso360Units() {
  if (window.Meso360Units) return;

  const STORAGE_KEY = 'meso360.units';
  const OLD_TEMPERATURE_KEY = 'meso360.temperatureUnit'; // the °C/°F choice before every unit could be chosen
  const QUANTITIES = Object.freeze({
    wind: Object.freeze(['m/s', 'kt', 'mph']),
    temperature: Object.freeze(['C', 'F']),
    pressure: Object.freeze(['hPa', 'inHg']),
    altitude: Object.freeze(['m', 'ft']),
    time: Object.freeze(['UTC', 'local']),
  });
  const HPA_PER_INHG = 33.8638866667; // 1 inHg = 3386.38866667 Pa
  // [to the unit from the base unit, back to the base unit]
  const CONVERSIONS = {
    wind: { 'm/s': [(v) => v, (v) => v], kt: [(v) => (v * 3600) / 1852, (v) => (v * 1852) / 3600], mph: [(v) => (v * 3600) / 1609.344, (v) => (v * 1609.344) / 3600] },
    temperature: { C: [(v) => v, (v) => v], F: [(v) => (v * 9) / 5 + 32, (v) => ((v - 32) * 5) / 9] },
    pressure: { hPa: [(v) => v, (v) => v], inHg: [(v) => v / HPA_PER_INHG, (v) => v * HPA_PER_INHG] },
    altitude: { m: [(v) => v, (v) => v], ft: [(v) => v / 0.3048, (v) => v * 0.3048] },
  };
  const DECIMALS = { 'm/s': 2, kt: 1, mph: 1, C: 2, F: 2, hPa: 2, inHg: 3, m: 2, ft: 1 };
  const LABELS = { C: '°C', F: '°F' };

  const isNum = (value) => typeof value === 'number' && Number.isFinite(value);
  const pad2 = (n) => String(n).padStart(2, '0');
  const defaults = () => Object.fromEntries(Object.entries(QUANTITIES).map(([q, units]) => [q, units[0]]));
  const listeners = new Set();

  function valid(quantity, unit) {
    return Object.prototype.hasOwnProperty.call(QUANTITIES, quantity) && QUANTITIES[quantity].includes(unit);
  }

  function load() {
    const choice = defaults();
    let stored = {};
    try {
      stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}') || {};
      if (stored.temperature === undefined && localStorage.getItem(OLD_TEMPERATURE_KEY) === 'F') stored.temperature = 'F';
    } catch {
      stored = {}; // storage disabled (private mode) or a damaged entry: the defaults
    }
    for (const [quantity, unit] of Object.entries(stored)) if (valid(quantity, unit)) choice[quantity] = unit;
    return choice;
  }

  let current = load();

  function notify() {
    const copy = { ...current };
    for (const callback of [...listeners]) callback(copy);
  }

  function get(quantity) {
    return quantity === undefined ? { ...current } : current[quantity];
  }

  function set(quantityOrChoice, unit) {
    const changes = typeof quantityOrChoice === 'string' ? { [quantityOrChoice]: unit } : quantityOrChoice || {};
    let changed = false;
    for (const [quantity, value] of Object.entries(changes)) {
      if (valid(quantity, value) && current[quantity] !== value) {
        current = { ...current, [quantity]: value };
        changed = true;
      }
    }
    if (changed) {
      try {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(current));
      } catch {
        // storage disabled (private mode): the choice lasts for this page only
      }
      notify();
    }
    return { ...current };
  }

  function pair(quantity, unit) {
    const table = CONVERSIONS[quantity];
    if (!table) return null;
    return table[unit === undefined ? current[quantity] : unit] || null;
  }

  function convert(quantity, value, unit) {
    if (!isNum(value)) return null;
    const p = pair(quantity, unit);
    return p ? p[0](value) : value;
  }

  function toBase(quantity, value, unit) {
    if (!isNum(value)) return null;
    const p = pair(quantity, unit);
    return p ? p[1](value) : value;
  }

  function decimals(quantity, unit) {
    const u = unit === undefined ? current[quantity] : unit;
    return DECIMALS[u] ?? 2;
  }

  let zoneFormat = null; // made once: the cards ask for the zone's name every second

  function zoneName(ts) {
    try {
      zoneFormat = zoneFormat || new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' });
      const parts = zoneFormat.formatToParts(new Date(ts * 1000));
      const name = parts.find((p) => p.type === 'timeZoneName');
      return name ? name.value : 'local';
    } catch {
      return 'local';
    }
  }

  function label(quantity, unit) {
    const u = unit === undefined ? current[quantity] : unit;
    if (quantity === 'time') return u === 'local' ? zoneName(Date.now() / 1000) : 'UTC';
    return LABELS[u] || u || '';
  }

  function format(quantity, value, { dp, unit, withUnit = true } = {}) {
    const converted = convert(quantity, value, unit);
    if (!isNum(converted)) return '--';
    const text = converted.toFixed(dp ?? decimals(quantity, unit));
    return withUnit ? `${text} ${label(quantity, unit)}` : text;
  }

  function zoneOffset(ts, zone) {
    if ((zone || current.time) !== 'local' || !isNum(ts)) return 0;
    return -new Date(ts * 1000).getTimezoneOffset() * 60;
  }

  function formatTime(ts, { seconds = true, date = false, zone } = {}) {
    if (!isNum(ts)) return seconds ? '--:--:--' : '--:--';
    const d = new Date((ts + zoneOffset(ts, zone)) * 1000); // read with the UTC getters: the zone's wall clock
    let text = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
    if (seconds) text += `:${pad2(d.getUTCSeconds())}`;
    if (date) text = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${text}`;
    return text;
  }

  function onChange(callback) {
    listeners.add(callback);
    return () => listeners.delete(callback);
  }

  window.addEventListener('storage', (event) => {
    if (event.key !== STORAGE_KEY && event.key !== null) return;
    const next = load();
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    current = next;
    notify();
  });

  window.Meso360Units = Object.freeze({ QUANTITIES, get, set, convert, toBase, decimals, label, format, formatTime, zoneOffset, onChange });
})();
