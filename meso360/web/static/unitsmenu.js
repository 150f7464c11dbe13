// unitsmenu.js — the dashboard's settings menu: one radio group per quantity of units.js (wind, temperature,
// pressure, altitude, time zone). A choice applies at once and is remembered by units.js.

import { el } from './common.js';

const Units = window.Meso360Units; // defined by units.js, which common.js imports first
const TITLES = { wind: 'Wind', temperature: 'Temperature', pressure: 'Pressure', altitude: 'Altitude', time: 'Time' };
const NAMES = { C: '°C', F: '°F', UTC: 'UTC', local: 'Local' };

export class UnitsMenu {
  /** button toggles the menu (a form element, filled here); the ids are units-<quantity>-<unit>. */
  constructor(button, form) {
    this.button = button;
    this.form = form;
    for (const [quantity, units] of Object.entries(Units.QUANTITIES)) {
      const group = el('fieldset', { class: 'units-group' }, el('legend', { text: TITLES[quantity] || quantity }));
      for (const unit of units) {
        const id = `units-${quantity}-${unit.replace('/', '')}`;
        const input = el('input', { type: 'radio', name: `units-${quantity}`, value: unit, id });
        input.addEventListener('change', () => Units.set(quantity, unit));
        group.append(el('label', { for: id }, input, ` ${NAMES[unit] || unit}`));
      }
      this.form.append(group);
    }
    this.form.addEventListener('submit', (e) => e.preventDefault());
    this.button.addEventListener('click', () => this.toggle());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isOpen()) {
        this.toggle(false);
        this.button.focus();
      }
    });
    document.addEventListener('click', (e) => {
      if (this.isOpen() && !this.form.contains(e.target) && !this.button.contains(e.target)) this.toggle(false);
    });
    Units.onChange(() => this.show());
    this.show();
  }

  isOpen() {
    return !this.form.classList.contains('hidden');
  }

  toggle(open = !this.isOpen()) {
    this.form.classList.toggle('hidden', !open);
    this.button.setAttribute('aria-expanded', String(open));
  }

  /** Check the radio of each chosen unit. */
  show() {
    const choice = Units.get();
    for (const input of this.form.querySelectorAll('input[type=radio]')) {
      input.checked = choice[input.name.slice('units-'.length)] === input.value;
    }
  }
}
