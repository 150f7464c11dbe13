// tail.js — the control panel's Live Tail: the meso360 journal (priority colours) or the newest lines of today's
// obs/support file, over SSE; at most 200 lines kept, auto-scroll only while the reader is near the bottom.

import { isNum, toEpochSeconds, utcHMS } from './common.js';

export const MAX_LINES = 200;
const NEAR_BOTTOM_PX = 80;

/** Given a journal priority (0 emerg … 7 debug), return the CSS class of its colour. */
export function priorityClass(priority) {
  const p = Number(priority);
  if (!isNum(p)) return '';
  if (p <= 3) return 'prio-err';
  if (p === 4) return 'prio-warning';
  if (p === 5) return 'prio-notice';
  if (p >= 7) return 'prio-debug';
  return '';
}

const SOURCES = {
  log: { url: '/api/log/stream?lines=200', event: 'log', name: 'journal' },
  obs: { url: '/api/tail/stream?source=obs&lines=120', event: 'line', name: 'obs file' },
  support: { url: '/api/tail/stream?source=support&lines=120', event: 'line', name: 'support file' },
};

export class LiveTail {
  constructor(box) {
    this.box = box;
    this.source = null;
    this.events = null;
    this.seen = new Set();
  }

  show(name) {
    if (this.events) this.events.close();
    const spec = SOURCES[name];
    this.source = name;
    this.seen = new Set();
    this.box.replaceChildren();
    const connecting = this.info(`connecting to ${spec.name} tail...`);
    const events = new EventSource(spec.url);
    this.events = events;
    let wasOpen = false;
    events.addEventListener('open', () => {
      connecting.remove(); // connected: what comes now is the tail itself (or the server saying why there is none)
      if (wasOpen && name !== 'log') {
        // a file tail re-sends its last lines after a reconnect: start the box afresh instead of doubling them
        this.box.replaceChildren();
        this.info(`reconnected to ${spec.name} tail`);
      }
      wasOpen = true;
    });
    events.addEventListener('error', () => {
      if (this.events === events) this.info(`${spec.name} tail disconnected - retrying...`);
    });
    events.addEventListener(spec.event, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (name === 'log') this.logLine(data);
      else this.append(String(data.line ?? ''), '');
    });
  }

  logLine(entry) {
    if (entry.id !== undefined && entry.id !== null) {
      if (this.seen.has(entry.id)) return; // resent after a reconnect
      this.seen.add(entry.id);
      if (this.seen.size > 4 * MAX_LINES) this.seen = new Set([...this.seen].slice(-MAX_LINES));
    }
    const ts = toEpochSeconds(entry.time);
    const time = ts === null ? String(entry.time ?? '') : `${utcHMS(ts)}Z`;
    const unit = entry.unit ? String(entry.unit).replace(/\.service$/, '') : '';
    this.append(`${time} ${unit}${unit ? ': ' : ''}${entry.message ?? ''}`, priorityClass(entry.priority));
  }

  /** Append a line of the panel's own (not from the source); return its element. */
  info(text) {
    return this.append(text, 'tail-info');
  }

  append(text, cls) {
    const box = this.box;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    const line = document.createElement('div');
    line.textContent = text;
    if (cls) line.className = cls;
    box.append(line);
    while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
    if (nearBottom) box.scrollTop = box.scrollHeight;
    return line;
  }
}
