"""The tunnel's current state: logged on change, sent as sd_notify STATUS, written to tunnel.json."""

import contextlib
import json
import logging
import os
import tempfile
import time

from meso360.systemd_units import tunnel_state_path, utc_iso

log = logging.getLogger(__name__)


class TunnelState:
    """Track connecting/up/down, the reconnect count and the last verification; report every change."""

    def __init__(self, tunnel, state_dir, notifier, web_target=("127.0.0.1", 8080)):
        self._tunnel = tunnel
        self._path = tunnel_state_path(state_dir)  # read by systemd_units.read_tunnel_state
        self._notifier = notifier
        self.state = "connecting"
        self.detail = "starting"
        self.since = time.time()
        self.verified_at = None
        self.reconnects = 0
        self.retry_at = None
        self.ready_sent = False
        self._write_failed = False
        self._logged_down = None  # the failure last logged, so a retry loop logs each new cause once
        # The web forward (tunnel.remote_web_port): off, pending, verified, refused or failed; "down" with the session.
        web_host, web_port = web_target
        self.web_local = f"[{web_host}]:{web_port}" if ":" in web_host else f"{web_host}:{web_port}"
        self.web_state = "pending" if tunnel.remote_web_port else "off"
        self.web_detail = "not requested yet" if tunnel.remote_web_port else "tunnel.remote_web_port is 0"
        self.web_verified_at = None
        self._logged_web = None  # (state, detail) last logged, so a retry every probe_interval logs a cause once

    @property
    def route(self):
        return f"{self._tunnel.host}:{self._tunnel.remote_port} → :{self._tunnel.local_port}"

    def connecting(self, detail):
        """A connection attempt starts; after an outage the state stays "down" until the probe verifies."""
        self.retry_at = None
        if self.state == "connecting":
            self._change("connecting", detail)

    def up(self):
        """The probe has just verified the forward end to end."""
        self.verified_at = time.time()
        self.retry_at = None
        if self.state != "up" or self.detail != "verified":
            after = f" after {time.time() - self.since:.0f} s down" if self.state == "down" else ""
            log.info("tunnel up: %s verified end to end%s (%d reconnects)", self.route, after, self.reconnects)
        self._logged_down = None
        self._change("up", "verified")
        self._send_ready()

    def unverified(self, detail):
        """The forward is in place but the probe cannot prove it (not allowed, or the vehicle side failed)."""
        if detail != self.detail:
            log.warning("tunnel established but not verified: %s", detail)
        self._logged_down = None
        self._change("up", detail)
        self._send_ready()

    def web_verified(self):
        """GET /healthz through the bastion's web port has just answered 200."""
        self.web_verified_at = time.time()
        if self._logged_web != ("verified", None):
            log.info(
                "web forward verified: %s:%s → %s answers GET /healthz end to end",
                self._tunnel.host,
                self._tunnel.remote_web_port,
                self.web_local,
            )
            self._logged_web = ("verified", None)
        self._change_web("verified", "verified")

    def web_failed(self, state, detail):
        """The web forward was refused by the bastion (`state` "refused") or its probe failed ("failed")."""
        if self._logged_web != (state, detail):
            log.warning(
                "web forward %s: %s; the ssh forward stays up, retrying every %.0f s",
                "not in place" if state == "refused" else "not verified",
                detail,
                self._tunnel.probe_interval,
            )
            self._logged_web = (state, detail)
        self._change_web(state, detail)

    def _change_web(self, state, detail):
        if (state, detail) != (self.web_state, self.web_detail):
            self.web_state, self.web_detail = state, detail
            self.write()
        self.refresh_status()

    def down(self, detail, retry_in_seconds, level=logging.WARNING):
        """A connection attempt failed or the session died; the next attempt is in retry_in_seconds."""
        if self.web_state != "off":
            if self.web_state == "verified":
                self._logged_web = None  # log "verified" again once a new session proves it
            self.web_state, self.web_detail = "down", "no ssh session"
        self.retry_at = time.monotonic() + retry_in_seconds
        if detail != self._logged_down:
            log.log(
                level, "tunnel down: %s; retrying with backoff (up to %.0f s)", detail, self._tunnel.retry_max_delay
            )
            self._logged_down = detail
        else:
            log.debug("still down: %s; retry in %.1f s", detail, retry_in_seconds)
        self._change("down", detail)

    def _send_ready(self):
        if not self.ready_sent:
            self._notifier.ready(self.status_text())
            self.ready_sent = True

    def _change(self, state, detail):
        if state != self.state:
            self.since = time.time()
        self.state, self.detail = state, detail
        self.write()
        self.refresh_status()

    def status_text(self):
        """Return the one-line STATUS, e.g. "tunnel up: bastion:2222 → :22, verified 12 s ago, 0 reconnects"."""
        if self.state == "up":
            checked = f"verified {time.time() - self.verified_at:.0f} s ago" if self.verified_at else "not verified"
            note = "" if self.detail == "verified" else f" ({self.detail})"
            return f"tunnel up: {self.route}, {checked}, {self.reconnects} reconnects{note}{self._web_status()}"
        if self.state == "down":
            retry = max(0, round(self.retry_at - time.monotonic())) if self.retry_at else 0
            return f"tunnel down: {self.detail}, retry in {retry} s ({self.reconnects} reconnects)"
        return f"tunnel connecting: {self.route}: {self.detail} ({self.reconnects} reconnects)"

    def _web_status(self):
        if self.web_state == "off":
            return ""
        return f"; web :{self._tunnel.remote_web_port} → {self.web_local} {self.web_state}"

    def refresh_status(self):
        self._notifier.status(self.status_text())

    def as_dict(self):
        return {
            "state": self.state,
            "since": utc_iso(self.since),
            "verified_at": utc_iso(self.verified_at),
            "reconnects": self.reconnects,
            "detail": self.detail,
            "remote": f"{self._tunnel.host}:{self._tunnel.remote_port}",
            "local_port": self._tunnel.local_port,
            "web_forward": self._web_dict(),
            "pid": os.getpid(),
            "updated_at": utc_iso(time.time()),
        }

    def _web_dict(self):
        """The web forward's part of tunnel.json: {"state": "off"}, or its state, detail, ends and last proof."""
        if self.web_state == "off":
            return {"state": "off"}
        return {
            "state": self.web_state,
            "detail": self.web_detail,
            "verified_at": utc_iso(self.web_verified_at),
            "remote": f"{self._tunnel.host}:{self._tunnel.remote_web_port}",
            "local": self.web_local,
        }

    def write(self):
        """Replace tunnel.json atomically; a failure is logged once and never stops the tunnel."""
        directory = os.path.dirname(self._path)
        temporary = None
        try:
            os.makedirs(directory, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".tunnel.", delete=False) as file:
                temporary = file.name
                json.dump(self.as_dict(), file)
                file.write("\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, self._path)
            self._write_failed = False
        except OSError as error:
            if temporary:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            if not self._write_failed:
                log.warning("cannot write %s: %s", self._path, error)
            self._write_failed = True
