// rangepicker.js — the dashboard's "Range" view: two UTC date-time inputs and the quick buttons (last 6 h, last
// 24 h, up to the newest row the vehicle computer has, so a phone with a wrong clock still gets the right hours);
// it hands the chosen range (epoch seconds, end excluded) to the dashboard, which asks GET /api/range for it.

const MAX_RANGE_S = 31 * 86400; // the server's cap (meso360/web/rangehistory.py)

/** Epoch seconds as the API's UTC text: 2026-11-30T21:00:00Z. */
export function isoUtc(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Epoch seconds as a datetime-local input's value, in UTC: 2026-11-30T21:00. */
function inputValue(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 16);
}

/** A datetime-local input's value read as UTC, in epoch seconds (NaN when empty or invalid). */
function inputSeconds(value) {
  return value ? Date.parse(`${value}Z`) / 1000 : NaN;
}

/** "2026-11-29 21:00 – 2026-11-30 21:00" (UTC). */
export function rangeLabel(from, to) {
  const text = (s) => new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ');
  return `${text(from)} – ${text(to)}`;
}

export class RangePicker {
  /**
   * form: the #range-form element (inputs #range-from, #range-to, buttons with data-hours, a submit button).
   * onRange(from, to): show that range. newestTs(): the newest row's time (epoch s) or null.
   */
  constructor(form, { onRange, newestTs }) {
    this.form = form;
    this.onRange = onRange;
    this.newestTs = newestTs;
    this.from = form.querySelector('#range-from');
    this.to = form.querySelector('#range-to');
    this.message = form.querySelector('#range-message');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    for (const button of form.querySelectorAll('button[data-hours]')) {
      button.addEventListener('click', () => this.last(Number(button.dataset.hours)));
    }
  }

  open() {
    this.form.classList.remove('hidden');
    if (!this.from.value || !this.to.value) {
      const [from, to] = this.lastHours(24);
      this.from.value = inputValue(from);
      this.to.value = inputValue(to);
    }
  }

  close() {
    this.form.classList.add('hidden');
    this.say('');
  }

  /** The last `hours` hours up to the newest row (the next whole minute after it), else the browser's clock. */
  lastHours(hours) {
    const newest = this.newestTs();
    const end = Number.isFinite(newest) ? newest : Date.now() / 1000;
    const to = (Math.floor(end / 60) + 1) * 60;
    return [to - hours * 3600, to];
  }

  last(hours) {
    const [from, to] = this.lastHours(hours);
    this.from.value = inputValue(from);
    this.to.value = inputValue(to);
    this.say('');
    this.onRange(from, to);
  }

  submit() {
    const from = inputSeconds(this.from.value);
    const to = inputSeconds(this.to.value);
    if (!Number.isFinite(from) || !Number.isFinite(to)) return this.say('Give both times (UTC).');
    if (from >= to) return this.say('“From” must be before “to”.');
    if (to - from > MAX_RANGE_S) return this.say('At most 31 days.');
    this.say('');
    this.onRange(from, to);
  }

  say(text) {
    this.message.textContent = text;
    this.message.classList.toggle('hidden', !text);
  }
}
