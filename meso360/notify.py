"""sd_notify on the sdnotify library, plus what the daemons need: STATUS sent only on change, the watchdog interval."""

import os

import sdnotify


class Notifier:
    """Send READY, STATUS, WATCHDOG and STOPPING to systemd; every method is a no-op without NOTIFY_SOCKET."""

    def __init__(self):
        # The library connects to $NOTIFY_SOCKET and ignores a lost message (systemd gone, queue full); without
        # the variable it would leave an unclosed socket behind, hence not made at all.
        self._systemd = sdnotify.SystemdNotifier() if os.environ.get("NOTIFY_SOCKET") else None
        if self._systemd is not None and self._systemd.socket is not None:
            # Never block the daemon's loop on a full notify queue (systemd busy, or a test not reading).
            self._systemd.socket.setblocking(False)
        self.last_status = ""

    def _send(self, message):
        if self._systemd is not None:
            # The library encodes in Latin-1 and drops a message it cannot encode (a STATUS with "→"): hand it
            # the UTF-8 bytes systemd expects, spelled as the Latin-1 text that encodes to them.
            self._systemd.notify(message.encode().decode("latin-1"))

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
