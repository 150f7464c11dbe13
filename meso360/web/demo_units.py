"""The units of `make demo`: the programs scripts/demo.py runs as plain processes, shown and controlled like systemd's.

The demo sets SUPERVISOR_ENV to its supervisor's socket (scripts/demo_supervisor.py) in the web daemon's
environment; the web daemon then takes the units' states, the panel's actions and the log view from there
instead of systemd. Installed, the variable is never set (systemd runs the daemons).
"""

import json
import logging
import os
import socket
import threading

from meso360.systemd_units import COMPONENTS, UnitState, unit_name
from meso360.web.systemd import ControlFailed, unit_entry

log = logging.getLogger(__name__)

SUPERVISOR_ENV = "MESO360_DEMO_SUPERVISOR"
CONNECT_TIMEOUT_S = 5.0
WATCH_TIMEOUT_S = 15.0  # the demo sends its states at least every 5 s
RETRY_S = 2.0
CONTROL_TIMEOUT_S = 30.0
FIRST_SNAPSHOT_WAIT_S = 5.0


def supervisor_socket():
    """Return the demo supervisor's socket path when this web daemon runs under `make demo`, else None."""
    return os.environ.get(SUPERVISOR_ENV) or None


def _state(component, values):
    """Given a component and the demo's dict for it (None: the demo does not run it), return its UnitState."""
    if values is None:
        return UnitState(unit_name(component), "loaded", "inactive", "dead", "", None, None, None, "", "success")
    return UnitState(
        unit=unit_name(component),
        load_state="loaded",
        active_state=values.get("active", ""),
        sub_state=values.get("sub", ""),
        unit_file_state="enabled",  # started with the demo: a stopped one is "enabled but not running"
        since=values.get("since"),
        restarts=values.get("restarts"),
        watchdog_seconds=None,
        status_text=f"pid {values['pid']} (run by the demo)" if values.get("pid") else "",
        result=values.get("result", ""),
    )


class DemoUnits:
    """The interface of web.systemd.Systemd, over the demo supervisor's socket."""

    supervisor = "demo"
    source = "demo"

    def __init__(self, path):
        self.path = path
        self.journal_socket = path  # the supervisor answers the log view's requests too (journalread protocol)
        self.available = None
        self.reason = ""
        self._entries = self._entries_of(None)
        self._first = threading.Event()

    def _entries_of(self, units):
        if units is None:
            return [unit_entry(c, None, c != "tunnel") for c in COMPONENTS]
        # The demo runs no tunnel: it shows as not configured, as on a vehicle without [tunnel] host.
        return [unit_entry(c, _state(c, units.get(c)), c in units) for c in COMPONENTS]

    def start(self, stop_event):
        threading.Thread(target=self._watch, args=(stop_event,), name="demo-units", daemon=True).start()

    def units(self):
        if self.available is None:
            self._first.wait(FIRST_SNAPSHOT_WAIT_S)
        return self._entries

    def active_units(self):
        """Return {unit name: True/False} for /metrics."""
        return {unit["name"]: unit["active"] == "active" for unit in self.units()}

    def _set(self, units, reason=""):
        if (units is not None) != self.available:
            if units is None:
                log.warning("the demo's supervisor does not answer: %s", reason)
            else:
                log.info("unit states from the demo's supervisor (%s)", self.path)
        self._entries = self._entries_of(units)
        self.available, self.reason = units is not None, reason
        self._first.set()

    def _watch(self, stop_event):
        while not stop_event.is_set():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                    connection.settimeout(CONNECT_TIMEOUT_S)
                    connection.connect(self.path)
                    connection.sendall(b'{"op": "watch"}\n')
                    connection.settimeout(WATCH_TIMEOUT_S)
                    for line in connection.makefile("rb"):
                        self._set(json.loads(line)["units"])
                        if stop_event.is_set():
                            return
                    self._set(None, "the demo closed its supervisor socket")
            except (OSError, ValueError, KeyError, TypeError) as error:
                self._set(None, f"cannot read the demo's supervisor socket {self.path}: {error}")
            stop_event.wait(RETRY_S)

    def control(self, action, component=None):
        """Ask the demo to act on its program; return (unit, result text). Raise ControlFailed with its message."""
        unit = unit_name(component or "all")
        request = json.dumps({"op": "control", "action": action, "component": component}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(CONTROL_TIMEOUT_S)
                connection.connect(self.path)
                connection.sendall(request)
                answer = json.loads(connection.makefile("rb").readline())
        except (OSError, ValueError) as error:
            raise ControlFailed(f"the demo's supervisor did not answer: {error}") from error
        if not answer.get("ok"):
            raise ControlFailed(str(answer.get("error")))
        return unit, str(answer.get("result"))
