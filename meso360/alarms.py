"""The alarm conditions of meso360: one pure evaluation (inputs -> active alarms) and a tracker of starts and ends.

The web daemon evaluates them once a second (meso360/web/alarm_monitor.py) for the banner of both pages, /api/alarms,
its live stream and /metrics; `meso360ctl status` shows that evaluation, or runs the same one on the same sources
when the web daemon does not answer (meso360/alarm_inputs.py gathers them).
"""

import dataclasses
import datetime as dt
import logging

from meso360.logs import NOTICE
from meso360.systemd_units import COMPONENTS, epoch_of_utc_iso, unit_name, utc_iso

UNIT_ALARMS = tuple(f"unit_{component}" for component in COMPONENTS)
ALARM_NAMES = ("stale", "gps_lost", *UNIT_ALARMS, "tunnel_unverified", "disk_low", "completeness_low", "battery_low")
COMPLETENESS_WINDOW_S = 600
COMPLETENESS_MIN_SPAN_S = 60
# The logger writes one row a second: a run of rows without fix lasts that many seconds.
ROW_INTERVAL_S = 1.0

_FIXES = {
    "stale": "Check the datalogger: rack power, its network cable, and that meso360-ingest runs (panel: Components;"
    " its log says whether the logger answers). Rows held by the logger are collected when it answers again.",
    "gps_lost": "Check the GPS antenna and its cable on the roof rack and the receiver's power. Rows are still"
    " collected (timed by the computer's clock, into the host-date file).",
    "unit": "Read its log (panel: Log tab, or meso360ctl logs {component}), then restart it (panel, or"
    " sudo meso360ctl restart {component}). A unit that failed 10 times in 5 minutes stays failed until restarted.",
    "tunnel_unverified": "Check the vehicle's internet link (cell modem). The tunnel retries by itself; the panel's"
    " Tunnel card and meso360ctl status say why it is down (network, bastion, key).",
    "disk_low": "Copy old daily files off the vehicle computer and delete them there, or free space elsewhere on"
    " that disk: when it is full, ingest stops writing (the logger keeps the records meanwhile).",
    "completeness_low": "Records are being lost: check the logger link (cable, a busy logger) and the ingest log"
    " for 'lost' records; the panel's gap count shows where.",
    "battery_low": "Check the vehicle's charging (engine running, charger, fuse) and the battery terminals;"
    " the logger stops measuring when its supply drops below about 10 V.",
}

# The message of a value under its minimum (_under_minimum): `at` is " at <logger time>" of the battery reading.
_UNDER_MINIMUM = {
    "disk_low": "{value:.1f} % free on the disk of {data_dir} (under {minimum:g} %)",
    "completeness_low": "the last 10 minutes of data are {value:.1f} % complete (under {minimum:g} %)",
    "battery_low": "logger battery {value:.2f} V{at} (under {minimum:g} V)",
}


@dataclasses.dataclass(frozen=True)
class Alarm:
    """One active alarm: `since` (epoch s) when the inputs tell when it began, else None (the tracker knows)."""

    name: str
    title: str
    message: str
    fix: str
    since: float | None = None

    def as_dict(self):
        return dataclasses.asdict(self) | {"since": utc_iso(self.since)}


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What the evaluation looks at, gathered once (by the web daemon each second, or by meso360ctl)."""

    now: float  # epoch seconds, host clock
    data_dir: str
    last_row_at: float | None  # when the newest row was appended (newest data file's mtime); None: no data file
    rows_without_fix: int  # the newest rows without GPS fix, in a row
    completeness_pct: float | None  # of the last 10 minutes of data (recent_completeness); None: no row with fix
    units: dict  # component -> (ActiveState, SubState); a component left out is unknown
    tunnel_configured: bool
    tunnel_state: dict | None  # tunnel.json (read_tunnel_state)
    tunnel_probe_interval_s: float  # tunnel.probe_interval: a healthy tunnel is verified this often
    boot_time: float | None  # epoch seconds the host booted
    disk_free_pct: float | None
    battery_v: float | None
    battery_time: str | None  # logger time of the record the voltage came from


def trailing_without_fix(row_times):
    """Given the GPS times of the newest rows (epoch s, None without fix) oldest first, count the last Nones."""
    count = 0
    for when in reversed(row_times):
        if when is not None:
            break
        count += 1
    return count


def recent_completeness(row_times, window_s=COMPLETENESS_WINDOW_S, min_span_s=COMPLETENESS_MIN_SPAN_S):
    """Given the GPS times of the newest rows (None without fix), return the percent of seconds that have a row in
    the `window_s` of data time ending at the newest one, counted from the first row in that window (a start-up
    is not a hole; the dashboard's "Complete (10 min)" is the same rule). None without a row with fix, or while
    the rows in the window span less than `min_span_s` (one missing second of the first five is no alarm)."""
    fixed = [when for when in row_times if when is not None]
    if not fixed:
        return None
    latest = int(max(fixed))
    seconds = {int(when) for when in fixed if when >= latest - window_s + 1}
    expected = latest - min(seconds) + 1
    if expected < min_span_s:
        return None
    return min(100.0, 100.0 * len(seconds) / expected)


def _clock(epoch_seconds):
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).strftime("%H:%M:%SZ")


def _stale(inputs, limits):
    if inputs.last_row_at is None:
        return Alarm("stale", "No data", f"no data file in {inputs.data_dir} yet", _FIXES["stale"])
    if inputs.now - inputs.last_row_at <= limits.stale_s:
        return None
    message = f"no new row since {_clock(inputs.last_row_at)} (more than {limits.stale_s:g} s)"
    return Alarm("stale", "No new data", message, _FIXES["stale"], inputs.last_row_at + limits.stale_s)


def _gps_lost(inputs, limits):
    seconds = inputs.rows_without_fix * ROW_INTERVAL_S
    if seconds <= limits.gps_lost_s:
        return None
    message = f"the newest {inputs.rows_without_fix} rows have no GPS fix (more than {limits.gps_lost_s:g} s)"
    return Alarm("gps_lost", "GPS fix lost", message, _FIXES["gps_lost"])


def _units(inputs):
    alarms = []
    for component in COMPONENTS:
        active, sub = inputs.units.get(component, ("unknown", "unknown"))
        if active == "failed":
            message = f"{unit_name(component)} failed"
        elif sub == "auto-restart":
            message = f"{unit_name(component)} crashed; systemd is restarting it"
        else:
            continue
        title = f"{component} {'failed' if active == 'failed' else 'restarting'}"
        alarms.append(Alarm(f"unit_{component}", title, message, _FIXES["unit"].format(component=component)))
    return alarms


def _tunnel(inputs, limits):
    if not inputs.tunnel_configured:
        return None
    state = inputs.tunnel_state or {}
    verified = epoch_of_utc_iso(state.get("verified_at"))
    reference = verified or epoch_of_utc_iso(state.get("since")) or inputs.boot_time
    # Never shorter than two probes: a healthy tunnel is verified only every probe_interval.
    threshold = max(limits.tunnel_unverified_s, 2 * inputs.tunnel_probe_interval_s)
    if reference is None or inputs.now - reference <= threshold:
        return None
    minutes = f"{threshold / 60:g} min"
    what = f"last verified at {_clock(verified)}" if verified else f"not verified since {_clock(reference)}"
    where = state.get("state") or "no state reported (tunnel.json missing)"
    detail = f"{where}: {state['detail']}" if state.get("detail") else where
    message = f"the tunnel to base was {what} (more than {minutes}); {detail}"
    since = reference + threshold
    return Alarm("tunnel_unverified", "Tunnel to base down", message, _FIXES["tunnel_unverified"], since)


def _under_minimum(inputs, limits):
    """The alarms of a measured value under its minimum in config.alarms (None: not measured, no alarm)."""
    at = f" at {inputs.battery_time}" if inputs.battery_time else ""
    found = []
    for name, title, value, minimum in (
        ("disk_low", "Data disk almost full", inputs.disk_free_pct, limits.disk_free_min_pct),
        ("completeness_low", "Records missing", inputs.completeness_pct, limits.completeness_min_pct),
        ("battery_low", "Logger battery low", inputs.battery_v, limits.battery_min_v),
    ):
        if value is None or value >= minimum:
            continue
        message = _UNDER_MINIMUM[name].format(value=value, minimum=minimum, data_dir=inputs.data_dir, at=at)
        found.append(Alarm(name, title, message, _FIXES[name]))
    return found


def evaluate(inputs, limits):
    """Given the Inputs and the thresholds (config.alarms), return the active Alarms in ALARM_NAMES order."""
    found = [_stale(inputs, limits), _gps_lost(inputs, limits), *_units(inputs), _tunnel(inputs, limits)]
    found += _under_minimum(inputs, limits)
    return [alarm for alarm in found if alarm is not None]


def thresholds_dict(limits):
    """The thresholds as /api/alarms and meso360ctl status --json show them."""
    return dataclasses.asdict(limits)


class AlarmTracker:
    """Remember when each active alarm started; log each start once at warning and each end once at notice."""

    def __init__(self, logger=None):
        self._log = logger or logging.getLogger(__name__)
        self._since = {}  # name -> epoch seconds it started
        self._current = {}  # name -> Alarm of the last update

    def update(self, alarms, now):
        """Given the Alarms active now (epoch s `now`), return (names started, names ended) since the last update."""
        current = {alarm.name: alarm for alarm in alarms}
        started = [name for name in current if name not in self._since]
        ended = [name for name in self._since if name not in current]
        for name in started:
            alarm = current[name]
            self._since[name] = alarm.since if alarm.since is not None else now
            self._log.warning("alarm %s started: %s: %s. Fix: %s", name, alarm.title, alarm.message, alarm.fix)
        for name in ended:
            lasted = now - self._since.pop(name)
            self._log.log(NOTICE, "alarm %s ended after %.0f s", name, max(0.0, lasted))
        self._current = current
        return started, ended

    def active(self):
        """Return the active alarms as dicts (name, title, message, fix, since) in ALARM_NAMES order."""
        alarms = sorted(self._current.values(), key=lambda alarm: ALARM_NAMES.index(alarm.name))
        return [alarm.as_dict() | {"since": utc_iso(self._since[alarm.name])} for alarm in alarms]
