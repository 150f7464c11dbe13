"""A private D-Bus (the real dbus-daemon) and a small fake org.freedesktop.systemd1 service on it, written with jeepney.

Mocked because it cannot run here: this machine's PID 1 is not systemd, so there is no systemd on a system bus.
The bus is real (dbus-daemon, its own socket in tmp_path); the fake answers the calls meso360.systemd_bus makes
(Manager.LoadUnit, Manager.Subscribe, Properties.Get/GetAll) as systemd does, and sends the signals systemd sends
(PropertiesChanged with changed and invalidated properties, Manager.UnitFilesChanged). The real systemd path is
covered by the end-to-end test in a booted container.
"""

import os
import signal
import subprocess
import threading
import time

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from jeepney.low_level import HeaderFields

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
SERVICE = "org.freedesktop.systemd1.Service"
PROPERTIES = "org.freedesktop.DBus.Properties"
SIGNATURES = {
    "Id": "s", "LoadState": "s", "ActiveState": "s", "SubState": "s", "UnitFileState": "s",
    "ActiveEnterTimestamp": "t", "NRestarts": "u", "WatchdogUSec": "t", "StatusText": "s", "Result": "s",
}  # fmt: skip
SERVICE_PROPERTIES = ("NRestarts", "WatchdogUSec", "StatusText", "Result")


def unit_path(unit):
    """systemd's object path of a unit (bus_label_escape: every byte but [A-Za-z0-9] as _xx)."""
    return "/org/freedesktop/systemd1/unit/" + "".join(c if c.isalnum() else f"_{ord(c):02x}" for c in unit)


class PrivateBus:
    """`dbus-daemon --session` listening on tmp_path/bus; `address` is its D-Bus address. stop() ends it by pid."""

    def __init__(self, directory):
        self.socket_path = directory / "bus"
        self.address = f"unix:path={self.socket_path}"
        self.process = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={self.address}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "dbus-daemon.log", "wb"),  # noqa: SIM115  closed with the process
        )
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dbus-daemon did not start: {(directory / 'dbus-daemon.log').read_text()}")
            time.sleep(0.02)  # polling for its socket with a deadline

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)


class FakeSystemd:
    """org.freedesktop.systemd1 on a bus: units with properties, the method calls it got, signals on demand."""

    def __init__(self, address, units, replace=False):
        """Own the name on the bus at `address` (replace=True: take it from the fake owning it, as a re-executed
        systemd does; the first one allows that)."""
        self.units = {unit: dict(values, Id=unit) for unit, values in units.items()}
        self.calls = []  # (member, path) of every method call received
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.connection = open_dbus_connection(bus=address)
        flags = 2 if replace else 1  # DBUS_NAME_FLAG_REPLACE_EXISTING, DBUS_NAME_FLAG_ALLOW_REPLACEMENT
        reply = self.connection.send_and_get_reply(message_bus.RequestName(SYSTEMD, flags), timeout=5)
        assert reply.body == (1,), f"could not own {SYSTEMD}: {reply.body}"  # 1: primary owner
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self):
        """Leave the bus (systemd going away: its name loses its owner)."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.connection.close()

    def _send(self, message):
        with self._lock:
            self.connection.send(message)

    def _serve(self):
        while not self._stop.is_set():
            try:
                message = self.connection.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type == MessageType.method_call:
                self._answer(message)

    def _answer(self, message):
        fields = message.header.fields
        member, path = fields.get(HeaderFields.member), fields.get(HeaderFields.path)
        self.calls.append((member, path))
        by_path = {unit_path(unit): unit for unit in self.units}
        if member == "LoadUnit" and path == MANAGER_PATH:
            (unit,) = message.body
            not_found = {"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""}
            self.units.setdefault(unit, {"Id": unit, "ActiveEnterTimestamp": 0} | not_found)
            self._send(new_method_return(message, "o", (unit_path(unit),)))
        elif member == "Subscribe" and path == MANAGER_PATH:
            self.subscribed.set()
            self._send(new_method_return(message))
        elif member == "GetAll" and path in by_path:
            (interface,) = message.body
            values = self._interface_values(by_path[path], interface)
            self._send(new_method_return(message, "a{sv}", ({k: (SIGNATURES[k], v) for k, v in values.items()},)))
        elif member == "Get" and path in by_path:
            interface, name = message.body
            value = self._interface_values(by_path[path], interface)[name]
            self._send(new_method_return(message, "v", ((SIGNATURES[name], value),)))
        else:
            self._send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no {member}",)))

    def _interface_values(self, unit, interface):
        values = self.units[unit]
        if interface == SERVICE:
            return {k: v for k, v in values.items() if k in SERVICE_PROPERTIES}
        return {k: v for k, v in values.items() if k not in SERVICE_PROPERTIES}

    def change(self, unit, invalidate=(), **values):
        """Set properties of a unit and send PropertiesChanged as systemd does (per interface; names in
        `invalidate` are sent as invalidated, without their value: the client must Get them)."""
        self.units[unit] |= values
        for interface in (UNIT, SERVICE):
            names = [n for n in values if (n in SERVICE_PROPERTIES) == (interface == SERVICE)]
            changed = {n: (SIGNATURES[n], values[n]) for n in names if n not in invalidate}
            invalidated = [n for n in names if n in invalidate]
            if changed or invalidated:
                emitter = DBusAddress(unit_path(unit), interface=PROPERTIES)
                body = (interface, changed, invalidated)
                self._send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", body))

    def unit_files_changed(self, unit, unit_file_state):
        """`systemctl enable|disable`: no PropertiesChanged for UnitFileState, only Manager.UnitFilesChanged."""
        self.units[unit]["UnitFileState"] = unit_file_state
        self._send(new_signal(DBusAddress(MANAGER_PATH, interface=MANAGER), "UnitFilesChanged"))
