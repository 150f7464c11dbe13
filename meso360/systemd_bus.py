"""systemd over D-Bus (jeepney): the meso360 units' states, read once and then followed through change signals.

The edge between meso360 and the system bus: jeepney and D-Bus errors become BusUnavailable here. The unit
properties are those `systemctl show` gives meso360 (systemd_units.SHOW_PROPERTIES), turned into the same
UnitState, so the health verdict (systemd_units.unit_health) does not care where a state came from.

systemd sends a unit's PropertiesChanged signals only while some client called Manager.Subscribe; it sends
UnitFileState changes (enable/disable) only as Manager.UnitFilesChanged, and after `daemon-reload` the
Manager.Reloading(false) signal; after `daemon-reexec` it owns its bus name anew (NameOwnerChanged).
"""

import contextlib
import logging
import time

from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from jeepney.low_level import HeaderFields
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from meso360.systemd_units import UnitState, utc_iso

log = logging.getLogger(__name__)

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER_INTERFACE = "org.freedesktop.systemd1.Manager"
UNIT_INTERFACE = "org.freedesktop.systemd1.Unit"
SERVICE_INTERFACE = "org.freedesktop.systemd1.Service"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
# The properties meso360 uses, by interface (the D-Bus names of systemd_units.SHOW_PROPERTIES).
UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "ActiveEnterTimestamp")
SERVICE_PROPERTIES = ("NRestarts", "WatchdogUSec", "StatusText", "Result")
CALL_TIMEOUT_S = 5.0
AUTH_TIMEOUT_S = 2.0


class BusUnavailable(Exception):
    """The system bus or systemd on it cannot be used; the message says why."""


def state_from_properties(unit, values):
    """Given a unit name and {D-Bus property: value}, return its UnitState (as systemd_units.parse_show would)."""
    entered_usec = values.get("ActiveEnterTimestamp") or 0
    watchdog_usec = values.get("WatchdogUSec") or 0
    return UnitState(
        unit=values.get("Id") or unit,
        load_state=values.get("LoadState", ""),
        active_state=values.get("ActiveState", ""),
        sub_state=values.get("SubState", ""),
        unit_file_state=values.get("UnitFileState", ""),
        since=utc_iso(entered_usec // 1_000_000) if entered_usec > 0 else None,
        restarts=values.get("NRestarts"),
        watchdog_seconds=watchdog_usec / 1e6 if watchdog_usec else None,
        status_text=values.get("StatusText", ""),
        result=values.get("Result", ""),
    )


def _wanted(interface):
    return UNIT_PROPERTIES if interface == UNIT_INTERFACE else SERVICE_PROPERTIES


class UnitBus:
    """One connection to the system bus following the given units: `open()`, then `changes()` until it raises.

    `values[unit]` holds the unit's properties, current after open() and after every change reported.
    """

    def __init__(self, units):
        self.units = tuple(units)
        self.values = {}
        self._paths = {}  # object path -> unit name
        self._connection = None
        self._signals = None

    def open(self):
        """Connect, subscribe to the units' signals and read their properties. Raise BusUnavailable."""
        try:
            self._connection = open_dbus_connection(bus="SYSTEM", auth_timeout=AUTH_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, KeyError, RuntimeError) as error:
            raise BusUnavailable(f"cannot connect to the system D-Bus: {error}") from error
        # Every signal that arrives while we wait for a reply lands here (the bus sends only those we match).
        self._signals = self._connection.filter(MatchRule(type="signal"), bufsize=10_000)
        try:
            self._subscribe()
            self.resync()
        except (ValueError, KeyError, TypeError, IndexError) as error:  # an answer not as systemd gives it
            self.close()
            raise BusUnavailable(f"unexpected answer from systemd: {error!r}") from error
        except BusUnavailable:
            self.close()
            raise

    def close(self):
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
            self._connection = None

    def _call(self, path, interface, method, signature=None, body=()):
        """Call a method of systemd and return its reply's body. Raise BusUnavailable (error reply, lost bus)."""
        return self._send(new_method_call(DBusAddress(path, SYSTEMD, interface), method, signature, body))

    def _send(self, message):
        method = f"{message.header.fields.get(HeaderFields.interface)}.{message.header.fields[HeaderFields.member]}"
        try:
            reply = self._connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
            return unwrap_msg(reply)
        except DBusErrorResponse as error:
            raise BusUnavailable(f"{method}: {error.name} {' '.join(map(str, error.data))}") from error
        except (OSError, TimeoutError, ValueError) as error:
            raise BusUnavailable(f"the system D-Bus connection broke during {method}: {error!r}") from error

    def _add_match(self, rule):
        self._send(message_bus.AddMatch(rule))

    def _subscribe(self):
        """Match the signals of the units, the manager and systemd's bus name, then ask systemd to send them."""
        for unit in self.units:
            (path,) = self._call(MANAGER_PATH, MANAGER_INTERFACE, "LoadUnit", "s", (unit,))
            self._paths[path] = unit
            self._add_match(MatchRule(type="signal", sender=SYSTEMD, interface=PROPERTIES_INTERFACE, path=path))
        self._add_match(MatchRule(type="signal", sender=SYSTEMD, interface=MANAGER_INTERFACE, path=MANAGER_PATH))
        owner = MatchRule(type="signal", sender="org.freedesktop.DBus", member="NameOwnerChanged")
        owner.add_arg_condition(0, SYSTEMD)
        self._add_match(owner)
        self._call(MANAGER_PATH, MANAGER_INTERFACE, "Subscribe")

    def _subscribe_again(self):
        """Subscribe after systemd owned its name anew; a re-executed systemd may have kept us subscribed."""
        try:
            self._call(MANAGER_PATH, MANAGER_INTERFACE, "Subscribe")
        except BusUnavailable as error:
            if "AlreadySubscribed" not in str(error):
                raise

    def _read(self, path, interface, names=None):
        """Return {property: value} of the object's interface (only `names` when given, one Get each)."""
        if names is None:
            (every,) = self._call(path, PROPERTIES_INTERFACE, "GetAll", "s", (interface,))
            return {name: every[name][1] for name in _wanted(interface) if name in every}
        values = {}
        for name in names:
            (variant,) = self._call(path, PROPERTIES_INTERFACE, "Get", "ss", (interface, name))
            values[name] = variant[1]
        return values

    def resync(self):
        """Read every property of every unit anew (at start, after a reload or a re-exec of systemd)."""
        for path, unit in self._paths.items():
            values = self._read(path, UNIT_INTERFACE)
            if unit.endswith(".service") and values.get("LoadState") != "not-found":
                values |= self._read(path, SERVICE_INTERFACE)
            self.values[unit] = values

    def changes(self, timeout_s):
        """Wait up to timeout_s for signals; apply them to `values`; return True when a unit changed.

        Raise BusUnavailable when the connection is lost or systemd left the bus.
        """
        deadline = time.monotonic() + timeout_s
        changed = False
        try:
            signal = self._connection.recv_until_filtered(self._signals.queue, timeout=timeout_s)
        except TimeoutError:
            return False
        except (OSError, ValueError) as error:
            raise BusUnavailable(f"the system D-Bus connection broke: {error!r}") from error
        while signal is not None:
            try:
                changed |= self._apply(signal)
            except (ValueError, KeyError, TypeError, IndexError) as error:  # a body not as systemd sends it
                raise BusUnavailable(f"unexpected signal {signal.header.fields}: {error!r}") from error
            signal = self._next_waiting() if time.monotonic() < deadline else None
        return changed

    def _next_waiting(self):
        """Return a signal already received or waiting on the socket (one change = several signals), else None."""
        try:
            while not self._signals.queue:
                self._connection.recv_messages(timeout=0)
        except TimeoutError:
            return None
        except (OSError, ValueError) as error:
            raise BusUnavailable(f"the system D-Bus connection broke: {error!r}") from error
        return self._signals.queue.popleft()

    def _apply(self, signal):
        """Apply one signal to `values`; return True when a unit's properties may have changed."""
        fields = signal.header.fields
        member, path = fields.get(HeaderFields.member), fields.get(HeaderFields.path)
        if signal.header.message_type != MessageType.signal:
            return False
        if member == "NameOwnerChanged":
            _name, _old, new = signal.body
            if not new:
                raise BusUnavailable("systemd left the system bus")
            self._subscribe_again()
            self.resync()
            return True
        if member == "Reloading":
            (reloading,) = signal.body
            if not reloading:
                self.resync()
            return not reloading
        if member == "UnitFilesChanged":
            for unit_path, unit in self._paths.items():
                self.values[unit] |= self._read(unit_path, UNIT_INTERFACE, ("UnitFileState",))
            return True
        unit = self._paths.get(path)
        if member != "PropertiesChanged" or unit is None:
            return False
        interface, changed, invalidated = signal.body
        wanted = _wanted(interface)
        values = self.values.setdefault(unit, {})
        values |= {name: variant[1] for name, variant in changed.items() if name in wanted}
        stale = [name for name in invalidated if name in wanted]
        if stale:
            values |= self._read(path, interface, stale)
        return True
