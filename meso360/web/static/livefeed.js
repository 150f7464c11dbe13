// livefeed.js — the live data feed of a page: history preload (retried with backoff), the SSE stream with events
// queued until the history is in, de-duplication by id, resync on a hole or reset, and the live/stale/off state.

import { backoffMs, fetchJSON, isNum } from './common.js';
import { normalizePoint, pointsFromColumns } from './obs.js';

const MAX_QUEUE = 7200; // events kept while the history is loading (2 h at 1 Hz); older ones come with the history
const RESYNC_MIN_INTERVAL_MS = 10000;
const REOPEN_DELAY_MS = 5000;

/**
 * Callbacks: onHistory(points, body) replaces everything; onPoint(point) for each new row in id order;
 * onState({state: 'connecting'|'live'|'stale'|'off', message}) when the connection state changes.
 */
export class LiveFeed {
  constructor({ onHistory, onPoint, onState, staleSeconds = 30, historyUrl = '/api/history', streamUrl = '/api/stream' }) {
    this.onHistory = onHistory;
    this.onPoint = onPoint;
    this.onState = onState;
    this.staleMs = staleSeconds * 1000;
    this.staleSeconds = staleSeconds;
    this.historyUrl = historyUrl;
    this.streamUrl = streamUrl;
    this.ready = false; // history applied; events go straight through
    this.queue = [];
    this.lastId = null;
    this.lastDataAt = null; // performance.now() of the last obs event (keep-alives do not count)
    this.attempt = 0;
    this.loading = false;
    this.lastResyncAt = -Infinity;
    this.state = null;
    this.source = null;
    this.historyTimer = null;
  }

  start() {
    this.openStream();
    this.loadHistory();
    this.watchdog = setInterval(() => this.updateState(), 1000);
  }

  openStream() {
    const source = new EventSource(this.streamUrl);
    this.source = source;
    source.addEventListener('open', () => {
      this.lastDataAt = this.lastDataAt ?? performance.now();
      this.opened = true;
      this.updateState();
      window.dispatchEvent(new Event('meso360:stream-open')); // alarms.js asks for the alarms again
    });
    source.addEventListener('obs', (event) => this.receive(event));
    source.addEventListener('alarm', (event) => window.dispatchEvent(new CustomEvent('meso360:alarm', { detail: event.data })));
    source.addEventListener('qc', (event) => window.dispatchEvent(new CustomEvent('meso360:qc', { detail: event.data }))); // qcmarks.js
    source.addEventListener('reset', () => this.resync('server reset'));
    source.addEventListener('gap', () => this.resync('server gap'));
    source.addEventListener('error', () => {
      this.opened = false;
      this.errorSeen = true;
      this.updateState();
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an HTTP error): a new EventSource cannot send Last-Event-ID, so resync after it.
        setTimeout(() => {
          if (this.source === source) {
            this.openStream();
            this.resync('stream reopened');
          }
        }, REOPEN_DELAY_MS);
      }
    });
  }

  receive(event) {
    let raw;
    try {
      raw = JSON.parse(event.data);
    } catch {
      return; // a malformed event is skipped, never fatal
    }
    const p = normalizePoint(raw);
    if (p.id === null && event.lastEventId) p.id = Number(event.lastEventId);
    if (p.ts === null) return;
    this.lastDataAt = performance.now();
    if (!this.ready) {
      this.queue.push(p);
      if (this.queue.length > MAX_QUEUE) this.queue.splice(0, this.queue.length - MAX_QUEUE);
    } else {
      this.deliver(p);
    }
    this.updateState();
  }

  deliver(p) {
    if (isNum(p.id) && isNum(this.lastId)) {
      if (p.id <= this.lastId) return; // already have it (history overlap, resent window)
      if (p.id > this.lastId + 1) {
        // A hole in the ids: rows were missed (server restarted, or resume failed). Reload, keep this one queued.
        if (this.resync('missing ids')) {
          this.queue.push(p);
          return;
        }
      }
    }
    if (isNum(p.id)) this.lastId = p.id;
    this.onPoint(p);
  }

  /** Reload the history and re-apply queued events. Returns false when a resync ran too recently. */
  resync(reason) {
    const now = performance.now();
    if (this.loading) return true;
    if (now - this.lastResyncAt < RESYNC_MIN_INTERVAL_MS) return false;
    this.lastResyncAt = now;
    this.resyncReason = reason;
    this.ready = false;
    this.loadHistory();
    return true;
  }

  async loadHistory() {
    if (this.loading) return;
    this.loading = true;
    clearTimeout(this.historyTimer);
    let body;
    try {
      body = await fetchJSON(this.historyUrl, { timeoutMs: 20000 });
    } catch (error) {
      this.loading = false;
      const delay = backoffMs(this.attempt++);
      this.historyError = `history unavailable (${error.message}) - retrying in ${Math.round(delay / 1000)} s`;
      this.historyTimer = setTimeout(() => this.loadHistory(), delay);
      this.updateState(true);
      return;
    }
    this.loading = false;
    const points = pointsFromColumns(body.points);
    const ids = points.map((p) => p.id).filter(isNum);
    this.lastId = isNum(body.last_id) ? body.last_id : ids.length ? Math.max(...ids) : null;
    this.attempt = 0;
    this.historyError = null;
    this.onHistory(points, body);
    this.ready = true;
    const queued = this.queue.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    this.queue = [];
    for (const p of queued) this.deliver(p);
    this.updateState(true);
  }

  updateState(force = false) {
    let state;
    let message = '';
    if (!this.opened) {
      state = this.errorSeen ? 'off' : 'connecting';
      message = state === 'off' ? 'Viewer disconnected - retrying...' : 'connecting...';
    } else if (this.lastDataAt !== null && performance.now() - this.lastDataAt > this.staleMs) {
      state = 'stale';
      message = `No new data for ${this.staleSeconds}s - check rack power / datalogger`;
    } else {
      state = 'live';
    }
    if (this.historyError && !this.ready) message = message ? `${message} · ${this.historyError}` : this.historyError;
    const key = `${state}|${message}`;
    if (force || key !== this.stateKey) {
      this.stateKey = key;
      this.state = state;
      this.onState({ state, message });
    }
  }
}
