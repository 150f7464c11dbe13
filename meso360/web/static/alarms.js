// alarms.js — the alarm banner of the dashboard and the control panel: the server's active alarms (GET /api/alarms,
// and `alarm` events of the live stream the page already has open, relayed by livefeed.js), each with its fix;
// a beep (Web Audio) while an alarm is not acknowledged, a system notification where the browser permits it.
// Acknowledge silences the alarms shown until they clear; one that clears and comes back sounds again.

import { el, fetchJSON, fmtDuration, isNum, toEpochSeconds, utcHMS } from './common.js';

const POLL_MS = 15000; // the stream's events come at once; this catches up after a reconnect or a missed one
const BEEP_EVERY_MS = 2000;
const TONES = [
  [880, 0.18],
  [660, 0.18],
]; // [Hz, seconds]: a two-tone beep, heard over an engine
const ALARM_EVENT = 'meso360:alarm';
const STREAM_OPEN_EVENT = 'meso360:stream-open';

function whenText(since, now) {
  return isNum(since) ? ` · since ${utcHMS(since)} UTC (${fmtDuration(now - since)})` : '';
}

export class AlarmBanner {
  constructor(root) {
    this.root = root;
    this.active = [];
    this.acknowledged = new Set(); // names silenced until they clear
    this.notified = new Set(); // names a system notification was shown for, until they clear
    this.notifications = [];
    this.audio = null;
    this.analyser = null;
    this.beeps = 0;
    this.serverRef = null; // {serverS, atMs}: the server's clock at the last answer, for the "for 3m 05s" ages
  }

  start() {
    const css = el('link', { rel: 'stylesheet', href: '/static/alarms.css' });
    document.head.append(css);
    window.addEventListener(ALARM_EVENT, (event) => this.receive(event.detail));
    window.addEventListener(STREAM_OPEN_EVENT, () => this.refresh());
    // Any click on the page lets the browser play sound from then on.
    document.addEventListener('pointerdown', () => this.unlockSound(false), { capture: true });
    this.refresh();
    setInterval(() => this.refresh(), POLL_MS);
    setInterval(() => this.tick(), BEEP_EVERY_MS);
  }

  async refresh() {
    try {
      const doc = await fetchJSON('/api/alarms', { timeoutMs: 5000 });
      const at = toEpochSeconds(doc.evaluated_at);
      if (isNum(at)) this.serverRef = { serverS: at, atMs: performance.now() };
      this.apply(doc.active || []);
    } catch {
      // the page's own connection state shows a lost server; the banner keeps what it had
    }
  }

  receive(data) {
    let doc;
    try {
      doc = JSON.parse(data);
    } catch {
      return;
    }
    if (doc && Array.isArray(doc.active)) this.apply(doc.active);
  }

  apply(active) {
    const names = new Set(active.map((alarm) => alarm.name));
    for (const name of [...this.acknowledged]) if (!names.has(name)) this.acknowledged.delete(name);
    for (const name of [...this.notified]) if (!names.has(name)) this.notified.delete(name);
    this.active = active;
    for (const alarm of active) {
      if (!this.notified.has(alarm.name)) {
        this.notified.add(alarm.name);
        this.notify(alarm);
      }
    }
    this.render();
    this.tick();
  }

  get unacknowledged() {
    return this.active.filter((alarm) => !this.acknowledged.has(alarm.name));
  }

  acknowledge() {
    for (const alarm of this.active) this.acknowledged.add(alarm.name);
    this.render();
  }

  serverNow() {
    const ref = this.serverRef;
    return ref ? ref.serverS + (performance.now() - ref.atMs) / 1000 : Date.now() / 1000;
  }

  /** The banner's fixed parts, made once: buttons replaced under the pointer would lose their click. */
  build() {
    this.count = el('span', { class: 'alarm-count' });
    this.ackButton = el('button', { type: 'button', class: 'btn alarm-ack', text: 'Acknowledge (silence)', onclick: () => this.acknowledge() });
    this.soundButton = el('button', { type: 'button', class: 'btn alarm-sound', text: 'Enable sound', onclick: () => this.unlockSound(true) });
    this.soundNote = el('span', { class: 'alarm-note', text: 'Sound is off: browsers play sound only after a click on the page.' });
    this.list = el('ul', { class: 'alarm-list' });
    this.root.replaceChildren(el('div', { class: 'alarm-head' }, this.count, this.ackButton, this.soundButton, this.soundNote), this.list);
  }

  render() {
    if (!this.list) this.build();
    this.root.classList.toggle('hidden', this.active.length === 0);
    this.count.textContent = this.active.length === 1 ? 'ALARM' : `${this.active.length} ALARMS`;
    this.ackButton.classList.toggle('hidden', !this.unacknowledged.length);
    this.soundButton.classList.toggle('hidden', this.soundOn());
    this.soundNote.classList.toggle('hidden', this.soundOn());
    const now = this.serverNow();
    const items = this.active.map((alarm) => {
      const since = toEpochSeconds(alarm.since);
      const silenced = this.acknowledged.has(alarm.name) ? ' · acknowledged' : '';
      return el(
        'li',
        { class: 'alarm-item', 'data-alarm': alarm.name },
        el('strong', { class: 'alarm-title', text: alarm.title }),
        el('span', { class: 'alarm-message', text: ` ${alarm.message}` }),
        el('span', { class: 'alarm-when', 'data-since': isNum(since) ? since : null, text: whenText(since, now) }),
        el('span', { class: 'alarm-acked', text: silenced }),
        el('div', { class: 'alarm-fix', text: `Fix: ${alarm.fix}` }),
      );
    });
    this.list.replaceChildren(...items);
  }

  soundOn() {
    return !!this.audio && this.audio.state === 'running';
  }

  /** Create or resume the audio context (it must happen in a click); `ask`: also ask to show notifications. */
  unlockSound(ask) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context && !this.audio) {
      this.audio = new Context();
      this.analyser = this.audio.createAnalyser();
      this.analyser.connect(this.audio.destination);
    }
    const resumed = this.audio && this.audio.state !== 'running' ? this.audio.resume() : Promise.resolve();
    resumed.then(() => this.render()).catch(() => {});
    if (ask && 'Notification' in window && Notification.permission === 'default') {
      Notification.requestPermission().catch(() => {});
    }
  }

  tick() {
    const now = this.serverNow();
    for (const node of this.root.querySelectorAll('.alarm-when[data-since]')) node.textContent = whenText(Number(node.dataset.since), now);
    if (!this.unacknowledged.length || !this.soundOn()) return;
    this.beep();
  }

  beep() {
    const context = this.audio;
    let at = context.currentTime;
    for (const [hz, seconds] of TONES) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = 'square';
      oscillator.frequency.value = hz;
      gain.gain.setValueAtTime(0.15, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + seconds);
      oscillator.connect(gain).connect(this.analyser);
      oscillator.start(at);
      oscillator.stop(at + seconds);
      at += seconds;
    }
    this.beeps += 1;
  }

  /** The loudness of what the banner plays right now (0: silence), from the analyser before the speakers. */
  level() {
    if (!this.analyser) return 0;
    const samples = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(samples);
    return Math.max(...samples.map(Math.abs));
  }

  notify(alarm) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      this.notifications.push(new Notification(`meso360: ${alarm.title}`, { body: `${alarm.message}\nFix: ${alarm.fix}`, tag: alarm.name }));
    } catch {
      // some browsers allow notifications only from a service worker: the banner and the sound remain
    }
  }
}

const root = document.getElementById('alarm-banner');
if (root) {
  const banner = new AlarmBanner(root);
  window.meso360Alarms = banner; // for the browser tests and for curious operators in the console
  banner.start();
}
