// components.js — how a systemd unit of /api/status is shown: dot colour and state text.
// The server judges each unit's health (meso360/systemd_units.py, unit_health); this only shows that verdict.

import { isNum, toEpochSeconds } from './common.js';

export const RECENT_START_S = 30;

const DOTS = { ok: 'running', unhealthy: 'failed', idle: 'disabled', 'not-installed': 'unconfigured', unknown: 'disabled' };

/** Given a unit of /api/status (with its `health` verdict and `reason`) and the server's clock (epoch s),
 * return {dot, label} for its row. */
export function componentState(unit, nowS) {
  const health = unit.health || 'unknown';
  if (health === 'ok') {
    if (unit.active !== 'active') return { dot: 'recent', label: `${unit.active} (${unit.sub || ''})` };
    const since = toEpochSeconds(unit.since);
    if (isNum(since) && isNum(nowS) && nowS - since < RECENT_START_S) return { dot: 'recent', label: 'running (just started)' };
    return { dot: 'running', label: 'running' };
  }
  // A component left out of the config (the tunnel without [tunnel] host) offers no actions.
  const dot = health === 'idle' && unit.configured === false ? 'unconfigured' : DOTS[health] || 'disabled';
  return { dot, label: unit.reason || health };
}
