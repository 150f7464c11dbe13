"""sd_notify helper: READY, STATUS, WATCHDOG, STOPPING; silent without NOTIFY_SOCKET."""

import os
import socket


class Notifier:
    """Send sd_notify messages to systemd; every method is a no-op outside systemd."""

    def __init__(self, socket_path=None):
        self._address = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
        self._socket = None
        if self._address:
            if self._address.startswith("@"):
                self._address = "\0" + self._address[1:]
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the daemon's loop on a full notify queue (systemd busy, or a test not reading).
            self._socket.setblocking(False)
        self.last_status = ""

    @property
    def enabled(self):
        return self._socket is not None

    def _send(self, message):
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self._address)
        except OSError:
            # systemd went away (shutdown), the socket is gone or its queue is full: a lost
            # notification is harmless, the next loop iteration sends a fresh one.
            return

    def ready(self, status=None):
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))
        if status:
            self.last_status = status

    def status(self, text):
        """Send STATUS=text unless it is the text already sent."""
        text = " ".join(text.split())
        if text != self.last_status:
            self.last_status = text
            self._send(f"STATUS={text}")

    def watchdog(self):
        self._send("WATCHDOG=1")

    def stopping(self):
        self._send("STOPPING=1")

    def watchdog_interval_s(self):
        """Return half of systemd's WatchdogSec for this process, or None when no watchdog."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 2e6
        except ValueError:
            return None
