"""The alarms and the logger battery in meso360ctl status.

The alarms are the web daemon's evaluation (GET /api/alarms on this computer): the very list the banner, the panel
and /metrics show, with the times the alarms started. When the web daemon does not answer (stopped, failed: then
the status must still tell), the same evaluation (meso360/alarms.py) runs here on the same sources
(meso360/alarm_inputs.py: data files, disk, tunnel.json, logger.json, the unit states), and the status says so.
"""

import http.client
import json
import time

import meso360
from meso360 import alarm_inputs, alarms
from meso360.logger_state import read_logger_state

WEB_TIMEOUT_S = 2.0
MAX_ANSWER_BYTES = 1024 * 1024
_ALARM_KEYS = ("name", "title", "message", "fix", "since")


def _web_address(listen):
    """Given [web] listen (host, port), return where this computer reaches the web daemon, or None (port 0)."""
    host, port = listen
    if not port:
        return None
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104  not a bind: a wildcard listen address is reached on loopback
    return host, port


def _valid(document):
    """Return the /api/alarms document if it has the expected shape, else raise ValueError."""
    active = document.get("active") if isinstance(document, dict) else None
    if not isinstance(active, list) or not all(isinstance(a, dict) and set(_ALARM_KEYS) <= set(a) for a in active):
        raise ValueError("not an /api/alarms answer")
    return document


def from_web(listen):
    """GET /api/alarms of the web daemon at [web] listen; return its document. Raise OSError, HTTPException or
    ValueError when it does not answer as expected."""
    address = _web_address(listen)
    if address is None:
        raise ValueError("[web] listen has port 0: the web daemon's port is not known")
    connection = http.client.HTTPConnection(*address, timeout=WEB_TIMEOUT_S)
    try:
        connection.request("GET", "/api/alarms", headers={"User-Agent": f"meso360ctl/{meso360.__version__}"})
        answer = connection.getresponse()
        body = answer.read(MAX_ANSWER_BYTES)
        if answer.status != 200:
            raise ValueError(f"/api/alarms answered HTTP {answer.status}")
        return _valid(json.loads(body))
    finally:
        connection.close()


def _units(unit_rows):
    """Given the unit rows of the status, return {component: (ActiveState, SubState)} of the units systemd knows."""
    found = {}
    for row in unit_rows:
        name = row["unit"]
        if name.startswith("meso360-") and name.endswith(".service") and row.get("active_state") != "unknown":
            found[name.removeprefix("meso360-").removesuffix(".service")] = (row["active_state"], row.get("sub_state"))
    return found


def collect(config, unit_rows, now=None):
    """Return {"source": "web"|"meso360ctl", "detail", "active": [alarm dicts], "thresholds"} for the status."""
    thresholds = alarms.thresholds_dict(config.alarms)
    try:
        document = from_web(config.web.listen)
        return {"source": "web", "detail": "as meso360-web evaluates them", "active": document["active"]} | {
            "thresholds": thresholds
        }
    except (OSError, http.client.HTTPException, ValueError) as error:
        why = f"meso360-web did not answer ({error}); evaluated here on the same sources"
    row_times = alarm_inputs.file_row_times(config.general.data_dir)
    inputs = alarm_inputs.gather(config, _units(unit_rows), row_times, time.time() if now is None else now)
    active = [alarm.as_dict() for alarm in alarms.evaluate(inputs, config.alarms)]
    return {"source": "meso360ctl", "detail": why, "active": active, "thresholds": thresholds}


def logger(config):
    """Return the logger's newest battery voltage as ingest keeps it: {"battery_v", "record_time", ...} or None."""
    return read_logger_state(config.general.state_dir)


def problems(alarm_status):
    """Return the status problems of the active alarms (each makes the status unhealthy)."""
    return [f"alarm {alarm['name']}: {alarm['message']}" for alarm in alarm_status["active"]]


def lines(alarm_status, logger_state):
    """Return the status lines of the logger battery and the alarms, each alarm with its fix."""
    volts = (logger_state or {}).get("battery_v")
    battery = "—" if volts is None else f"{volts:.2f} V at {logger_state.get('record_time') or '?'}"
    result = [f"logger battery: {battery}"]
    active = alarm_status["active"]
    if not active:
        return result + [f"alarms: none ({alarm_status['detail']})"]
    result.append(f"\nALARMS ({len(active)}, {alarm_status['detail']}):")
    for alarm in active:
        since = f" since {alarm['since']}" if alarm.get("since") else ""
        result += [f" !! {alarm['title']}{since}: {alarm['message']}", f"    fix: {alarm['fix']}"]
    return result
