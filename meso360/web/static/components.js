// components.js — how a systemd unit of /api/status is shown: dot colour and state text.

import { isNum, toEpochSeconds } from './common.js';

export const RECENT_START_S = 30;

/** Given a unit of /api/status and the server's clock (epoch s), return {dot, label} for its row. */
export function componentState(unit, nowS) {
  const active = typeof unit.active === 'boolean' ? (unit.active ? 'active' : 'inactive') : String(unit.active || 'unknown');
  if (unit.configured === false) return { dot: 'unconfigured', label: 'not configured' };
  if (active === 'not-found') return { dot: 'unconfigured', label: 'not installed' };
  if (active === 'failed') return { dot: 'failed', label: 'failed' };
  if (active === 'activating' || active === 'reloading' || active === 'deactivating') return { dot: 'recent', label: `${active} (${unit.sub || ''})` };
  if (active === 'active') {
    const since = toEpochSeconds(unit.since);
    if (isNum(since) && isNum(nowS) && nowS - since < RECENT_START_S) return { dot: 'recent', label: 'running (just started)' };
    return { dot: 'running', label: 'running' };
  }
  if (unit.enabled === false) return { dot: 'disabled', label: 'disabled' };
  if (active === 'inactive') return { dot: 'stopped', label: 'stopped' };
  return { dot: 'disabled', label: active };
}
