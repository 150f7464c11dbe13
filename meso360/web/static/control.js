// control.js — the control panel (/): server heartbeat, operator login, systemd components with their actions,
// quick links and downloads, system/position/resources/tunnel cards, the live tail and the latest observation.

import { $, HttpError, el, fetchJSON, fmt, fmtAgo, fmtCoord, fmtDuration, getTempUnit, isNum, queryNumber, setText, toEpochSeconds, utcDateTime } from './common.js';
import { componentState } from './components.js';
import { LiveFeed } from './livefeed.js';
import { TrackMap } from './map.js';
import { ObsBuffer } from './obs.js';
import { Sidebar } from './sidebar.js';
import { LiveTail } from './tail.js';

const STATUS_POLL_MS = 2000;
const CONFIRMS = {
  'restart-all': 'Restart all enabled components?',
  'stop:ingest': 'Stop ingest? Observations stop being collected until it is started again.',
  'disable:ingest': 'Disable ingest? It will not start at the next boot.',
  'stop:web': 'Stop the web server? This page stops working; start it again with `sudo meso360ctl start web`.',
  'disable:web': 'Disable the web server? It will not start at the next boot.',
};

function kvRows(container, rows) {
  container.replaceChildren(
    ...rows.map(([label, value, cls]) =>
      el('div', { class: 'kv' }, el('span', { class: 'label', text: label }), value instanceof Node ? value : el('span', { class: `value ${cls || ''}`.trim(), text: value })),
    ),
  );
}

/** The host CPU of /api/status resources: the machine's busy share (0-100 %), then each core's. */
function cpuText(r) {
  const cores = Array.isArray(r.cpu_cores_pct) ? r.cpu_cores_pct : [];
  const perCore = cores.length > 1 ? ` (cores ${cores.map((v) => (isNum(v) ? v.toFixed(0) : '--')).join(' / ')} %)` : '';
  return `${fmt(r.cpu_pct, 1, '%')}${perCore}`;
}

class ControlPanel {
  constructor() {
    this.failures = 0;
    this.status = null;
    this.session = { logged_in: false, control_enabled: false };
    this.csrf = null;
    this.busy = false;
    this.staleSeconds = queryNumber('stale_s', 30);
    this.buffer = new ObsBuffer(7200);
    this.sidebar = new Sidebar($('obs-sidebar'), { compact: true, idPrefix: 'obs' });
    this.sidebar.setUnit(getTempUnit());
    this.tail = new LiveTail($('tail'));
    this.map = new TrackMap($('position-map'), { compact: true });
    this.feed = new LiveFeed({
      staleSeconds: this.staleSeconds,
      onHistory: (points, body) => {
        this.setVehicle(body.vehicle);
        this.buffer.reset(points, body.last_id);
        this.sidebar.history(this.buffer.points);
        this.renderPosition();
        this.map.setTrack(this.buffer.points);
      },
      onPoint: (p) => {
        if (!this.buffer.add(p)) return;
        this.sidebar.point(p, this.buffer.points);
        this.renderPosition();
        this.map.setTrack(this.buffer.points);
      },
      onState: ({ state, message }) => {
        $('obs-dot').className = `dot dot-${state}`;
        $('obs-dot').title = message || state;
      },
    });
  }

  start() {
    this.bind();
    this.refreshSession();
    this.poll();
    this.loadDays();
    this.feed.start();
    this.selectTab('log');
    setInterval(() => {
      this.renderSystem();
      this.sidebar.renderStatus();
    }, 1000);
  }

  bind() {
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.login();
    });
    $('logout-btn').addEventListener('click', () => this.logout());
    $('restart-all').addEventListener('click', () => this.act('restart-all', null));
    for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => this.selectTab(tab.dataset.source));
    $('download-day').addEventListener('change', () => this.renderDownload());
  }

  setVehicle(name) {
    if (!name || name === this.vehicle) return;
    this.vehicle = name;
    setText($('vehicle'), name);
    document.title = `${name} · meso360 control panel`;
  }

  /** Server clock now (epoch s): the newest record time plus its age as the server saw it, advanced locally. */
  serverNow() {
    const ref = this.clockRef;
    if (ref) return ref.serverS + (performance.now() - ref.atMs) / 1000;
    return Date.now() / 1000;
  }

  flash(text, ok) {
    const node = $('flash');
    setText(node, text);
    node.className = `flash ${ok ? 'ok' : 'err'}`;
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => node.classList.add('hidden'), ok ? 6000 : 15000);
  }

  // ---- heartbeat and status --------------------------------------------------------------------------------
  async poll() {
    try {
      const status = await fetchJSON('/api/status', { timeoutMs: 5000 });
      this.failures = 0;
      this.status = status;
      if (status.newest && isNum(status.newest.ts) && isNum(status.newest.age_s)) {
        this.clockRef = { serverS: status.newest.ts + status.newest.age_s, atMs: performance.now() };
      }
      this.setVehicle(status.vehicle);
      this.sidebar.setServerStatus(status);
      if (status.control && !!status.control.logged_in !== !!this.session.logged_in) this.refreshSession();
      this.render();
    } catch {
      this.failures += 1;
    }
    const connected = this.failures < 2;
    $('heartbeat-dot').className = `dot ${connected ? 'dot-live' : 'dot-off'}`;
    setText($('heartbeat-text'), connected ? (this.status ? 'server connected' : 'connecting to server...') : 'server disconnected');
    $('heartbeat-text').className = connected ? 'c-ok' : 'c-bad';
    setTimeout(() => this.poll(), STATUS_POLL_MS);
  }

  render() {
    this.renderSessionBox();
    this.renderComponents();
    this.renderSystem();
    this.renderPosition();
    this.renderResources();
    this.renderBattery();
    this.renderTunnel();
    const logger = this.status && this.status.logger_url;
    $('link-logger').classList.toggle('hidden', !logger);
    if (logger && /^https?:\/\//.test(logger)) $('link-logger').href = logger;
  }

  canControl() {
    return this.session.control_enabled && this.session.logged_in && !!this.csrf;
  }

  // ---- session ---------------------------------------------------------------------------------------------
  async refreshSession() {
    try {
      const s = await fetchJSON('/api/session');
      this.session = s;
      this.sessionLoaded = true;
      this.csrf = s.csrf_token || null;
    } catch {
      // the heartbeat shows the server is unreachable
    }
    this.renderSessionBox();
    this.renderComponents();
  }

  renderSessionBox() {
    const enabled = this.status ? !!(this.status.control && this.status.control.enabled) : !!this.session.control_enabled;
    const loggedIn = !!this.session.logged_in;
    $('readonly-note').classList.toggle('hidden', enabled || (!this.status && !this.sessionLoaded));
    $('login-form').classList.toggle('hidden', !enabled || loggedIn);
    $('logged-in').classList.toggle('hidden', !enabled || !loggedIn);
    $('restart-all').disabled = !this.canControl() || this.busy;
    $('restart-all').title = this.canControl() ? '' : enabled ? 'log in to control the components' : 'control is read-only';
  }

  async login() {
    const password = $('password').value;
    $('login-btn').disabled = true;
    try {
      const answer = await fetchJSON('/api/login', { method: 'POST', body: { password } });
      this.csrf = answer.csrf_token;
      this.session = { ...this.session, logged_in: true, control_enabled: true };
      $('password').value = '';
      this.flash('Logged in.', true);
    } catch (error) {
      this.flash(`Login failed: ${error.message}`, false);
    } finally {
      $('login-btn').disabled = false;
    }
    await this.refreshSession();
  }

  async logout() {
    try {
      await fetchJSON('/api/logout', { method: 'POST', body: {}, headers: this.csrf ? { 'X-CSRF-Token': this.csrf } : {} });
    } catch {
      // the session ends on the server anyway when it expires
    }
    this.csrf = null;
    this.session = { ...this.session, logged_in: false };
    await this.refreshSession();
  }

  // ---- components and actions ------------------------------------------------------------------------------
  renderComponents() {
    const units = (this.status && this.status.units) || [];
    const systemd = this.status && this.status.systemd;
    const note = $('systemd-note');
    const demo = !!systemd && systemd.supervisor === 'demo';
    note.classList.toggle('hidden', !systemd || (systemd.available !== false && !demo));
    note.classList.toggle('c-warn', !!systemd && systemd.available === false);
    if (demo && systemd.available !== false) {
      setText(note, 'These are the programs of the demo (scripts/demo.py), run as plain processes: Start/Stop/Restart act on them. Installed, systemd runs them.');
    } else if (systemd && systemd.available === false) {
      setText(note, `${demo ? "the demo's supervisor" : 'systemd'} is not reachable: ${systemd.detail || 'unknown reason'}`);
    }
    const now = this.serverNow();
    const rows = units.map((unit) => this.componentRow(unit, now));
    $('components').replaceChildren(...rows);
  }

  componentRow(unit, now) {
    const { dot, label } = componentState(unit, now);
    const since = toEpochSeconds(unit.since);
    const meta = [];
    if (unit.name) meta.push(unit.name);
    if (isNum(unit.restarts) && unit.restarts > 0) meta.push(`restarts: ${unit.restarts}`);
    if (unit.enabled === false && dot !== 'disabled') meta.push('not started at boot');
    if (unit.status_text) meta.push(unit.status_text);
    const stateText = isNum(since) && dot !== 'unconfigured' ? `${label}  ${fmtDuration(now - since)}` : label;
    const row = el(
      'div',
      { class: 'component', id: `component-${unit.component}` },
      el('span', { class: `dot dot-${dot}`, title: label }),
      el('span', { class: 'name', text: unit.component }),
      el('span', { class: 'state', text: stateText }),
      el('div', { class: 'meta', text: meta.join(' · ') }),
    );
    if (dot === 'unconfigured' || !this.session.control_enabled) return row;
    const active = unit.active === true || ['active', 'activating', 'reloading'].includes(unit.active);
    const buttons = [];
    const button = (action, text, cls = '') => {
      const b = el('button', { type: 'button', class: `btn small ${cls}`.trim(), text, 'data-action': action, 'data-component': unit.component });
      b.disabled = !this.canControl() || this.busy;
      b.addEventListener('click', () => this.act(action, unit.component));
      buttons.push(b);
    };
    const demo = !!(this.status && this.status.systemd && this.status.systemd.supervisor === 'demo');
    if (active && !(demo && unit.component === 'web')) button('stop', 'Stop', 'btn-danger');
    else if (!active) button('start', 'Start');
    button('restart', 'Restart');
    // The demo has no start at boot (enable/disable), and a stopped web could not be started from this page.
    if (!demo) {
      if (unit.enabled === false) button('enable', 'Enable');
      else button('disable', 'Disable', 'btn-danger');
    }
    row.append(el('div', { class: 'actions' }, ...buttons));
    return row;
  }

  async act(action, component) {
    const question = CONFIRMS[component ? `${action}:${component}` : action];
    if (question && !window.confirm(question)) return;
    if (!this.canControl()) {
      this.flash('Log in with the operator password to control the components.', false);
      return;
    }
    this.busy = true;
    this.renderSessionBox();
    this.renderComponents();
    const what = component ? `${action} ${component}` : action;
    try {
      const body = component ? { action, component } : { action };
      const answer = await fetchJSON('/api/control', { method: 'POST', body, headers: { 'X-CSRF-Token': this.csrf }, timeoutMs: 40000 });
      this.flash(`${what}: ${answer.result || answer.status || 'done'}`, true);
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        await this.refreshSession();
      }
      this.flash(`${what} failed: ${error.message}`, false);
    } finally {
      this.busy = false;
      this.renderSessionBox();
      this.renderComponents();
    }
  }

  // ---- cards -----------------------------------------------------------------------------------------------
  renderSystem() {
    const s = this.status || {};
    const system = s.system || {};
    const c = system.config || {};
    if (system !== this.systemFrom) {
      this.systemFrom = system; // the machine's uptime as of that answer; it advances locally between polls
      this.systemAtMs = performance.now();
    }
    const uptime = isNum(system.uptime_s) ? system.uptime_s + (performance.now() - this.systemAtMs) / 1000 : null;
    const url = el('a', { href: `${location.protocol}//${location.host}/`, text: `${location.protocol}//${location.host}` });
    let tunnel = 'disabled';
    if (isNum(c.tunnel_port)) tunnel = c.tunnel_host ? `${c.tunnel_port} on ${c.tunnel_host}` : `${c.tunnel_port} (no tunnel host: disabled)`;
    let mdns = c.mdns_name ? `${c.mdns_name} (not announced: loopback only)` : '--';
    if (c.mdns_name && c.mdns_url) mdns = el('a', { href: c.mdns_url, title: `announced as "${c.mdns_name}"`, text: `${c.mdns_name} · ${c.mdns_url}` });
    kvRows($('system-card'), [
      ['URL', url],
      ['UTC', `${utcDateTime(Date.now() / 1000)} UTC`],
      ['Uptime', fmtDuration(uptime)],
      ['Vehicle', s.vehicle || '--'],
      ['Host', s.host || '--'],
      ['Version', s.version || '--'],
      ['Logger', c.logger_url || s.logger_url || '--'],
      ['Listen', c.listen || '--'],
      ['Data dir', c.data_dir || s.data_dir || '--'],
      ['Tunnel port', c.listen ? tunnel : '--'],
      ['mDNS', mdns],
    ]);
  }

  renderPosition() {
    const latest = this.buffer.latest() || (this.status && this.status.newest) || null;
    const lat = latest ? latest.lat : null;
    const lon = latest ? latest.lon : null;
    let map = '—';
    if (isNum(lat) && isNum(lon)) {
      const href = `https://www.openstreetmap.org/?mlat=${lat.toFixed(5)}&mlon=${lon.toFixed(5)}#map=14/${lat.toFixed(5)}/${lon.toFixed(5)}`;
      map = el('a', { id: 'map-link', href, target: '_blank', rel: 'noopener noreferrer', text: 'open map' });
    }
    const fix = latest ? (latest.fix === false ? 'no fix' : 'fix') : '--';
    kvRows($('position-card'), [
      ['Lat', fmtCoord(lat, 5, true)],
      ['Lon', fmtCoord(lon, 5, false)],
      ['Alt', window.Meso360Units.format('altitude', latest && latest.alt)], // the unit chosen on the dashboard
      ['GPS', fix, fix === 'fix' ? 'c-ok' : 'c-warn'],
      ['Map', map],
    ]);
  }

  renderResources() {
    const r = (this.status && this.status.resources) || {};
    kvRows($('resources-card'), [
      ['CPU', cpuText(r)],
      ['Mem', `${fmt(r.mem_pct, 1, '%')}${isNum(r.rss_mb) ? ` (web ${r.rss_mb.toFixed(0)} MB)` : ''}`],
      ['Disk', `${fmt(r.disk_pct, 1, '%')}${isNum(r.disk_free_gb) ? ` (${r.disk_free_gb.toFixed(1)} GB free)` : ''}`, isNum(r.disk_pct) && r.disk_pct > 90 ? 'c-bad' : ''],
    ]);
  }

  /** The logger's battery voltage (BattV, kept by ingest; not in the data files), added to the Resources card. */
  renderBattery() {
    const logger = (this.status && this.status.logger) || {};
    const volts = logger.battery_v;
    const low = isNum(volts) && isNum(logger.battery_min_v) && volts < logger.battery_min_v;
    const text = isNum(volts) ? `${volts.toFixed(2)} V${logger.record_time ? ` (${String(logger.record_time).slice(11, 19)})` : ''}` : '--';
    const row = el('div', { class: 'kv', id: 'battery-row' }, el('span', { class: 'label', text: 'Logger battery' }), el('span', { class: `value ${low ? 'c-bad' : ''}`.trim(), text }));
    $('resources-card').append(row);
  }

  renderTunnel() {
    const t = (this.status && this.status.tunnel) || {};
    if (!t.configured) {
      kvRows($('tunnel-card'), [['State', 'not configured', 'c-muted']]);
      return;
    }
    const now = this.serverNow();
    const since = toEpochSeconds(t.since);
    const verified = toEpochSeconds(t.verified_at);
    const state = t.state || 'unknown';
    const cls = /^(up|connected|verified|ok)/i.test(state) ? 'c-ok' : /(down|fail|error)/i.test(state) ? 'c-bad' : 'c-warn';
    kvRows($('tunnel-card'), [
      ['State', state, cls],
      ['Since', isNum(since) ? fmtAgo(now - since) : '--'],
      ['Verified', isNum(verified) ? fmtAgo(now - verified) : 'never'],
      ['Reconnects', isNum(t.reconnects) ? String(t.reconnects) : '--'],
      ['Detail', t.detail || '--'],
    ]);
  }

  async loadDays() {
    try {
      const { days } = await fetchJSON('/api/days');
      const select = $('download-day');
      const current = select.value;
      select.replaceChildren(...(days || []).map((d) => new Option(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`, d)));
      if (current && (days || []).includes(current)) select.value = current;
      this.renderDownload();
    } catch {
      setTimeout(() => this.loadDays(), 10000);
    }
  }

  renderDownload() {
    const day = $('download-day').value;
    const link = $('download-link');
    link.classList.toggle('hidden', !day);
    if (day) {
      link.href = `/data/${day}.txt`;
      link.setAttribute('download', `${day}.txt`);
    }
  }

  selectTab(source) {
    for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.source === source);
    this.tail.show(source);
  }
}

const panel = new ControlPanel();
window.meso360 = panel; // for the browser tests and for curious operators in the console
panel.start();
