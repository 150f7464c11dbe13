"""The fleet snapshot: what the base knows of every vehicle, from Prometheus's samples and the synced copies.

Pure functions: the poller (poller.py) gathers the inputs and calls build(); the result holds no clock reading
of its own (the browser ages the timestamps), so it changes only when something about a vehicle does.
"""

import math
import re

from meso360.web.vehicle_metrics import OBSERVATION_GAUGES

STALE_AFTER_S = 60  # as the NoNewObservation alert (meso360/base/monitoring/meso360.rules.yml)
DAYS_LISTED = 31  # newest synced days offered for download per vehicle
DAY_FILE = re.compile(r"[0-9]{8}\.txt")  # used with fullmatch
OBS_METRICS = {name: key for key, name, _help in OBSERVATION_GAUGES} | {"meso360_obs_timestamp_seconds": "ts"}
TUNNEL_METRICS = {"meso360_tunnel_up": "up", "meso360_tunnel_web_forward_verified": "web_forward_verified"}
# One instant query per poll: every series of every vehicle the page shows.
QUERY = (
    '{job="vehicles",__name__=~"up|meso360_obs_.+|meso360_alarm_active|meso360_tunnel_up'
    '|meso360_tunnel_web_forward_verified"}'
)
# Where each vehicle was last seen in the past day, so that one which went down stays on the map where it was.
LAST_KNOWN_QUERIES = {
    key: f'last_over_time({metric}{{job="vehicles"}}[1d])'
    for key, metric in (
        ("lat", "meso360_obs_latitude_degrees"),
        ("lon", "meso360_obs_longitude_degrees"),
        ("ts", "meso360_obs_timestamp_seconds"),
    )
}


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def series_by_vehicle(samples):
    """Given Prometheus result samples, return {vehicle: {"up", "obs": {key: value}, "alarms", "tunnel"}}."""
    vehicles = {}
    for sample in samples:
        labels = sample.get("metric", {})
        name, vehicle = labels.get("__name__"), labels.get("vehicle")
        if vehicle is None:
            continue
        value = _number((sample.get("value") or [None, None])[1])
        entry = vehicles.setdefault(vehicle, {"up": None, "obs": {}, "alarms": [], "tunnel": {}})
        if name == "up":
            entry["up"] = value
        elif name in OBS_METRICS:
            entry["obs"][OBS_METRICS[name]] = value
        elif name == "meso360_alarm_active" and value == 1 and labels.get("name"):
            entry["alarms"].append(labels["name"])
        elif name in TUNNEL_METRICS and value is not None:
            entry["tunnel"][TUNNEL_METRICS[name]] = value == 1
    for entry in vehicles.values():
        entry["alarms"].sort()
    return vehicles


def state_of(series, reachable, now):
    """Return (state, reason): "down", "alarm", "stale" or "ok", the first that holds, in that order."""
    if not reachable:
        return "down", "the base Prometheus does not answer"
    if series is None or series["up"] is None:
        return "down", "not scraped yet (meso360-base-apply run?)"
    if series["up"] != 1:
        return "down", "unreachable through its tunnel"
    if series["alarms"]:
        return "alarm", "alarm: " + ", ".join(series["alarms"])
    newest = series["obs"].get("ts")
    if newest is None:
        return "stale", "no observation yet"
    if now - newest > STALE_AFTER_S:
        return "stale", f"no new observation for more than {STALE_AFTER_S} s"
    return "ok", "collecting"


def _sync(state):
    state = state or {}
    keys = ("last_success", "last_attempt", "ok", "files_behind", "error")
    return {key: state.get(key) for key in keys}


def _position(obs, last_known):
    """The newest position: the newest observation's, else the last one seen in the past day (or None)."""
    if obs.get("lat") is not None and obs.get("lon") is not None:
        return {"lat": obs["lat"], "lon": obs["lon"], "ts": obs.get("ts"), "current": True}
    if last_known.get("lat") is not None and last_known.get("lon") is not None:
        return {"lat": last_known["lat"], "lon": last_known["lon"], "ts": last_known.get("ts"), "current": False}
    return None


def vehicle_entry(vehicle, series, sync, days, reachable, now, last_known=None):
    """Return one vehicle's part of the snapshot (`sync`: its sync.json or None; `days`: YYYYMMDD names;
    `last_known`: {"lat", "lon", "ts"} it was last seen at in the past day)."""
    state, reason = state_of(series, reachable, now)
    series = series or {"up": None, "obs": {}, "alarms": [], "tunnel": {}}
    return {
        "name": vehicle.name,
        "web_port": vehicle.web_port,
        "state": state,
        "reason": reason,
        "up": None if series["up"] is None else series["up"] == 1,
        "obs": series["obs"],
        "position": _position(series["obs"], last_known or {}),
        "alarms": series["alarms"],
        "tunnel": series["tunnel"],
        "sync": _sync(sync),
        "days": days,
    }


def build(fleet, samples, prometheus_error, syncs, days, now, last_known=None, page_port=None):
    """Given the fleet config, the query's samples, why Prometheus failed (None: it answered), each vehicle's
    sync.json and synced days, the time, and the LAST_KNOWN_QUERIES' answers ({key: {vehicle: value}}), return
    the snapshot document. `page_port`: the port this page is served on (default: [web] listen's)."""
    reachable = prometheus_error is None
    series = series_by_vehicle(samples) if reachable else {}
    last_known = last_known or {}
    seen = {v.name: {key: values.get(v.name) for key, values in last_known.items()} for v in fleet.vehicles}
    return {
        "prometheus": {"url": fleet.web.prometheus_url, "reachable": reachable, "error": prometheus_error},
        "stale_after_s": STALE_AFTER_S,
        "page_port": page_port or fleet.web.listen[1],
        "vehicles": [
            vehicle_entry(v, series.get(v.name), syncs.get(v.name), days.get(v.name, []), reachable, now, seen[v.name])
            for v in fleet.vehicles
        ],
    }


def synced_days(directory):
    """Given a vehicle's synced data directory, return its newest day names (YYYYMMDD), newest first."""
    try:
        names = [entry.name for entry in directory.iterdir() if DAY_FILE.fullmatch(entry.name)]
    except OSError:
        return []
    return sorted((name[:8] for name in names), reverse=True)[:DAYS_LISTED]
