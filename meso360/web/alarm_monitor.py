"""The web daemon's alarms: evaluated once a second in a thread, for /api/alarms, /metrics and the live stream."""

import collections
import json
import logging
import time

from meso360 import alarm_inputs, alarms
from meso360.logger_state import read_logger_state
from meso360.systemd_units import utc_iso
from meso360.web.repeating import Repeating

log = logging.getLogger("meso360.web.alarms")

INTERVAL_S = 1.0
_NO_FIX = '"fix":false'  # in a Point's frame (points.py): the row has no GPS fix


class RecentRows:
    """The GPS times (None without fix) of the newest rows of the live window, followed one append at a time."""

    def __init__(self, window, size=alarm_inputs.RECENT_ROWS):
        self.window = window
        self.times = collections.deque(maxlen=size)
        self._last_id = None

    def update(self):
        """Take in the rows appended since the last call; return the GPS times, oldest first."""
        if self._last_id is None:
            last_id, points = self.window.snapshot()
            self.times.clear()
            self._add(points)
            self._last_id = last_id
            return list(self.times)
        points, reset = self.window.after(self._last_id)
        if reset:
            self.times.clear()
        self._add(points)
        if points:
            self._last_id = points[-1].id
        return list(self.times)

    def _add(self, points):
        self.times.extend(None if _NO_FIX in point.frame else point.ts for point in points)


def units_of(entries):
    """Given /api/status unit entries, return {component: (ActiveState, SubState)} of the units systemd reported."""
    return {entry["component"]: (entry["active"], entry["sub"]) for entry in entries if entry["active"] != "unknown"}


class AlarmMonitor:
    """Evaluate the alarms every INTERVAL_S; keep the active ones, the logger state, and an SSE frame per change."""

    def __init__(self, config, window, systemd, clock=time.time):
        self.config = config
        self.window = window
        self.systemd = systemd
        self.clock = clock
        self.rows = RecentRows(window)
        self.tracker = alarms.AlarmTracker(log)
        self.thresholds = alarms.thresholds_dict(config.alarms)
        self.active = []  # dicts of the active alarms (AlarmTracker.active)
        self.evaluated_at = None
        self.logger = None  # logger.json (battery voltage), as read at the last evaluation
        self.event = (0, b"")  # (version, SSE frame of the last start or end): streams.obs_events sends it
        self._boot = alarm_inputs.boot_time()
        self._thread = None
        self._repeating = Repeating(self.evaluate, INTERVAL_S, log, "alarm evaluation")

    def evaluate(self):
        """Evaluate once; when an alarm started or ended, make the new SSE frame and wake the live streams."""
        now = self.clock()
        self.logger = read_logger_state(self.config.general.state_dir)
        units = units_of(self.systemd.units())
        inputs = alarm_inputs.gather(self.config, units, self.rows.update(), now, self._boot)
        started, ended = self.tracker.update(alarms.evaluate(inputs, self.config.alarms), now)
        self.active = self.tracker.active()
        self.evaluated_at = now
        if started or ended:
            data = json.dumps({"started": started, "ended": ended, "active": self.active}, separators=(",", ":"))
            self.event = (self.event[0] + 1, f"event: alarm\ndata: {data}\n\n".encode())
            self.window.wake()

    def document(self):
        """Return the /api/alarms dict."""
        return {
            "active": self.active,
            "names": list(alarms.ALARM_NAMES),
            "thresholds": self.thresholds,
            "evaluated_at": utc_iso(self.evaluated_at),
        }

    def active_names(self):
        return {alarm["name"] for alarm in self.active}

    def start(self, stop_event):
        """Evaluate now, then every INTERVAL_S in a daemon thread until `stop_event` is set."""
        self._evaluate_logged()
        self._thread = self._repeating.start(stop_event, "alarms")

    def _evaluate_logged(self):
        # An alarm evaluation must never take the dashboard down: logged once per cause, tried again next pass.
        self._repeating.call()
