"""meso360ctl status: the health of the units, the tunnel and the data, as text or JSON, with an exit code."""

import datetime as dt
import json
import shutil
from pathlib import Path

import click

from meso360 import systemd_units
from meso360.ctl import alarm_status
from meso360.ctl.newest import newest_observation, today_or_newest, utc_today_name
from meso360.datafile import daily_files
from meso360.gaps import analyze_file, completeness_pct

STALE_AFTER_SECONDS = 30
SYSTEMCTL_TIMEOUT_SECONDS = 15
EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1


def _today(data_dir, now):
    """Gap summary of today's file (UTC), else the newest file; None when there is none."""
    path, _note = today_or_newest(daily_files(data_dir), utc_today_name(now))
    if path is None:
        return None
    report = analyze_file(path)
    completeness = report.completeness()
    return {
        "file": str(path),
        "is_today": path.name == utc_today_name(now),
        "rows": report.rows,
        "rows_without_fix": report.rows_without_fix,
        "gap_count": len(report.gaps),
        "missing_s": report.missing_seconds,
        "duplicates": report.duplicates,
        "backward_jumps": report.backward_jumps,
        "completeness": completeness.fraction,
        "completeness_pct": completeness_pct(report),
        "completeness_window": [completeness.window_start, completeness.window_end],
    }


def _disk(path):
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total}


def _units(config):
    """Return ({"available", "detail"}, [unit row with its health verdict]) of every meso360 unit and the target."""
    try:
        states = systemd_units.query_units(systemd_units.ALL_UNITS, SYSTEMCTL_TIMEOUT_SECONDS)
        answer = {"available": True, "detail": ""}
    except systemd_units.SystemdUnavailable as error:
        states = []
        answer = {"available": False, "detail": f"{error}; units reported as unknown"}
    rows = []
    for name in systemd_units.ALL_UNITS:
        state = next((unit for unit in states if unit.unit == name), None)
        configured = config.tunnel.configured or name != systemd_units.unit_name("tunnel")
        health, reason = systemd_units.unit_health(state, configured)
        known = state.as_dict() if state else {"unit": name, "active_state": "unknown"}
        rows.append({**known, "health": health, "reason": reason})
    return answer, rows


def collect(config, now=None):
    """Given a Config, return the status dict (JSON-ready), including `healthy` and `problems`."""
    now = now or dt.datetime.now(dt.UTC)
    problems = []
    status = {"time": systemd_units.utc_iso(now.timestamp()), "vehicle": config.general.vehicle, "config": config.path}
    status["systemd"], status["units"] = _units(config)
    problems += [f"{unit['unit']}: {unit['reason']}" for unit in status["units"] if unit["health"] == "unhealthy"]
    state = systemd_units.read_tunnel_state(config.general.state_dir)
    status["tunnel"] = {"configured": config.tunnel.configured, "state": state}

    observation = newest_observation(config.general.data_dir, now)
    status["observation"] = observation.as_dict() if observation else None
    if observation is None:
        problems.append(f"no observations in {config.general.data_dir}")
    elif observation.age_seconds > STALE_AFTER_SECONDS:
        problems.append(f"newest observation is {observation.age_seconds:.0f} s old (> {STALE_AFTER_SECONDS} s)")
    status["today"] = today = _today(config.general.data_dir, now)
    if today and today["duplicates"]:
        # ingest never writes a GPS second twice: repeats mean a stretch was collected again.
        problems.append(
            f"{Path(today['file']).name}: {today['duplicates']} rows repeat a GPS second already in the file"
            " (duplicate times: data collected twice)"
        )
    status["disk"] = _disk(config.general.data_dir)
    status["logger"] = alarm_status.logger(config)
    status["alarms"] = alarm_status.collect(config, status["units"], now.timestamp())
    problems += alarm_status.problems(status["alarms"])
    status["problems"] = problems
    status["healthy"] = not problems
    return status


def _value(number, unit, digits=1):
    return "—" if number is None else f"{number:.{digits}f} {unit}"


def _unit_lines(unit):
    """Given a unit row of the status dict, return its line, then its reason and STATUS= text if any."""
    since = ""
    if unit.get("since"):
        # ActiveEnterTimestamp: when it became active; for a stopped unit, when it last was.
        word = "since" if unit["active_state"] in ("active", "reloading") else "last active"
        since = f" {word} {unit['since']}"
    extra = []
    if unit.get("restarts"):
        extra.append(f"{unit['restarts']} restarts")
    if unit.get("watchdog_seconds"):
        extra.append(f"watchdog {unit['watchdog_seconds']:g} s")
    state = unit["active_state"] + (f"/{unit['sub_state']}" if unit.get("sub_state") else "")
    mark = {"unhealthy": "!!", "ok": "ok"}.get(unit["health"], "  ")
    lines = [f" {mark} {unit['unit']:<24} {state:<20}{since} {', '.join(extra)}".rstrip()]
    return lines + [f"{'':28}{detail}" for detail in (unit.get("reason"), unit.get("status_text")) if detail]


def _tunnel_line(tunnel):
    state = tunnel["state"]
    if not tunnel["configured"]:
        return "\ntunnel: not configured ([tunnel] host is empty)"
    if state is None:
        return "\ntunnel: configured; no state reported yet (tunnel.json missing)"
    line = (
        f"\ntunnel: {state.get('state', '?')} since {state.get('since', '?')}, verified {state.get('verified_at')},"
        f" {state.get('reconnects', 0)} reconnects {state.get('detail') or ''}".rstrip()
    )
    web = state.get("web_forward") or {}
    if web.get("state", "off") != "off":
        line += (
            f"\ntunnel web forward: {web.get('state')} ({web.get('remote')} → {web.get('local')}),"
            f" verified {web.get('verified_at')}; {web.get('detail') or ''}".rstrip("; ")
        )
    return line


def _data_lines(obs, today, disk):
    """Return the lines of the newest observation, today's file and the free disk space."""
    if obs is None:
        lines = ["\nnewest observation: none"]
    else:
        lines = [
            f"\nnewest observation: {obs['gps_time'] or 'no GPS fix'}, {obs['age_seconds']:.0f} s old ({obs['file']})",
            f"  T {_value(obs['t_fast_c'], '°C')}   Td {_value(obs['dewpoint_c'], '°C')}"
            f"   p {_value(obs['pressure_hpa'], 'hPa', 2)}"
            f"   wind {_value(obs['wind_speed_ms'], 'm/s')} from {_value(obs['wind_dir_deg'], '°', 0)}",
        ]
    if today:
        label = "today" if today["is_today"] else "newest file (none for today)"
        fraction = "—" if today["completeness"] is None else f"{today['completeness']:.1%}"
        lines.append(
            f"{label}: {today['rows']} rows, {fraction} complete, {today['gap_count']} gaps"
            f" ({today['missing_s']} s missing)"
            + (f", {today['duplicates']} duplicate times" if today["duplicates"] else "")
            + (f", {today['backward_jumps']} backward jumps" if today["backward_jumps"] else "")
        )
    lines.append(f"disk free: {disk['free_bytes'] / 1e9:.1f} GB of {disk['total_bytes'] / 1e9:.1f} GB ({disk['path']})")
    return lines


def format_status(status):
    """Given the status dict, return the text operators read."""
    lines = [f"meso360 on {status['vehicle']}   {status['time']}   config {status['config']}", ""]
    if not status["systemd"]["available"]:
        lines.append(f"systemd: {status['systemd']['detail']}")
    for unit in status["units"]:
        lines += _unit_lines(unit)
    lines.append(_tunnel_line(status["tunnel"]))
    lines += _data_lines(status["observation"], status["today"], status["disk"])
    lines += alarm_status.lines(status["alarms"], status["logger"])
    lines += ["", "HEALTHY" if status["healthy"] else "UNHEALTHY: " + "; ".join(status["problems"])]
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON (for scripts).")
@click.pass_obj
def status(ctl, as_json):
    """Show the health of meso360: units, tunnel, newest observation, today's gaps, disk.

    \b
    Exit codes:
      0  healthy (units that cannot be queried, e.g. without systemd, count as unknown, not unhealthy)
      1  unhealthy: a unit failed or is restarting, an enabled unit is not running,
         or the newest observation is older than 30 s (or there is none),
         or today's file repeats a GPS second (duplicate times),
         or an alarm is active (the web daemon's, else evaluated here; see README "Alarms")
      78 configuration invalid
    """
    result = collect(ctl.config)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else format_status(result))
    raise SystemExit(EXIT_HEALTHY if result["healthy"] else EXIT_UNHEALTHY)
