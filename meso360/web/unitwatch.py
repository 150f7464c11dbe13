"""The meso360 units' states for /api/status and /metrics, kept in memory by one background thread.

The thread follows systemd over D-Bus (meso360.systemd_bus: PropertiesChanged signals, no polling) and, while
the bus cannot be used, polls `systemctl show` instead, trying the bus again every BUS_RETRY_S. A request only
reads the snapshot: it never waits for systemd, nor starts a process.
"""

import logging
import threading
import time

from meso360.systemd_bus import BusUnavailable, UnitBus, state_from_properties
from meso360.systemd_units import SERVICES, SystemdUnavailable, query_units

log = logging.getLogger(__name__)

SHOW_TIMEOUT_S = 5
BUS_WAIT_S = 1.0  # how long one wait for signals lasts (then the stop event is looked at)
BUS_RETRY_S = 10.0  # on the fallback, how often the bus is tried again
POLL_S = 1.0  # the fallback's pace while systemctl answers (the panel polls every 2 s)
NO_SYSTEMD_POLL_S = 30.0  # the fallback's pace while systemctl says there is no systemd (a demo, a container)
FIRST_SNAPSHOT_WAIT_S = 5.0


class UnitWatcher:
    """The states of `units` ({unit: UnitState}, {} when systemd cannot be asked), from D-Bus or systemctl.

    `source` is "dbus", "systemctl" or None (nothing answers); `available` and `reason` say whether systemd
    answered and why not. `on_change()` is called in the watcher's thread after every new snapshot.
    """

    def __init__(self, on_change, units=SERVICES):
        self.units = tuple(units)
        self.states = None
        self.available = None
        self.reason = ""
        self.source = None
        self._on_change = on_change
        self._first = threading.Event()
        self._wake = threading.Event()
        self._bus_problem = None
        self._next_poll = 0.0  # monotonic time of the fallback's next `systemctl show`

    def start(self, stop_event):
        """Start the watcher thread; it ends with stop_event."""
        threading.Thread(target=self._run, args=(stop_event,), name="unit-states", daemon=True).start()

    def wait_first(self, timeout_s=FIRST_SNAPSHOT_WAIT_S):
        """Wait until the first snapshot is there (at most timeout_s); return whether it is."""
        return self._first.wait(timeout_s)

    def refresh(self):
        """Ask for a new snapshot now (after a control action): the fallback polls at once; D-Bus needs nothing."""
        self._wake.set()

    def _publish(self, states, source, reason=""):
        available = source is not None
        if available != self.available or reason != self.reason or source != self.source:
            if source == "dbus":
                log.info("unit states followed over D-Bus (change signals from systemd)")
            elif source == "systemctl":
                log.info("unit states polled with systemctl every %g s (%s)", POLL_S, self._bus_problem)
            else:
                log.warning("unit states unknown: %s", reason)
        self.states, self.available, self.reason, self.source = states, available, reason, source
        self._on_change()
        self._first.set()

    def _run(self, stop_event):
        while not stop_event.is_set():
            bus = UnitBus(self.units)
            try:
                bus.open()
            except BusUnavailable as error:
                if str(error) != self._bus_problem:
                    log.info("systemd D-Bus not usable: %s", error)
                self._bus_problem = str(error)
                self._poll_systemctl(stop_event, time.monotonic() + BUS_RETRY_S)
                continue
            self._bus_problem = None
            self._follow(bus, stop_event)

    def _follow(self, bus, stop_event):
        try:
            self._publish(self._bus_states(bus), "dbus")
            while not stop_event.is_set():
                if bus.changes(BUS_WAIT_S):
                    self._publish(self._bus_states(bus), "dbus")
        except BusUnavailable as error:
            log.warning("lost systemd on D-Bus (%s): polling systemctl until it is back", error)
            self._bus_problem = str(error)
        finally:
            bus.close()

    def _bus_states(self, bus):
        return {unit: state_from_properties(unit, bus.values[unit]) for unit in self.units if unit in bus.values}

    def _poll_systemctl(self, stop_event, until):
        """Poll `systemctl show` at its pace until the monotonic time `until` (then the bus is tried again)."""
        while not stop_event.is_set() and time.monotonic() < until:
            if self._wake.is_set() or time.monotonic() >= self._next_poll:
                self._wake.clear()
                try:
                    states = {state.unit: state for state in query_units(self.units, SHOW_TIMEOUT_S)}
                    self._publish(states, "systemctl")
                    pause = POLL_S
                except SystemdUnavailable as error:
                    self._publish({}, None, str(error))
                    pause = NO_SYSTEMD_POLL_S
                self._next_poll = time.monotonic() + pause
            self._wake.wait(min(1.0, max(0.05, min(self._next_poll, until) - time.monotonic())))
