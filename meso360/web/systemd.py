"""systemd from the web daemon: unit states in one `systemctl show` call (cached), and control verbs."""

import datetime as dt
import logging
import shutil
import subprocess
import threading
import time

log = logging.getLogger(__name__)

COMPONENTS = ("ingest", "web", "tunnel", "sim")
TARGET = "meso360.target"
ACTIONS = ("start", "stop", "restart", "enable", "disable", "restart-all")
SHOW_PROPERTIES = "Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,NRestarts,StatusText,UnitFileState"
SHOW_TIMEOUT_S = 5
CONTROL_TIMEOUT_S = 30
CACHE_SECONDS = 1.0


class ControlFailed(Exception):
    """systemctl could not run or refused the action; the message says why."""


def unit_of(component):
    """Given a component name, return its service unit."""
    return f"meso360-{component}.service"


def _iso(unix_value):
    """`@1749145948` (systemctl --timestamp=unix) -> ISO 8601 UTC; empty or 0 -> None."""
    text = unix_value.strip().lstrip("@")
    if not text.isdigit() or int(text) == 0:
        return None
    return dt.datetime.fromtimestamp(int(text), dt.UTC).isoformat().replace("+00:00", "Z")


def parse_show(text):
    """Given `systemctl show -p ... UNIT...` output, return {unit: {property: value}}."""
    units = {}
    for block in text.split("\n\n"):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in properties:
            units[properties["Id"]] = properties
    return units


def _unit_entry(component, properties, configured):
    if properties is None or properties.get("LoadState") in (None, "not-found"):
        active = "unknown" if properties is None else "not-found"
        return {
            "name": unit_of(component),
            "component": component,
            "active": active,
            "sub": active,
            "since": None,
            "restarts": 0,
            "status_text": "",
            "enabled": None,
            "configured": configured,
        }
    file_state = properties.get("UnitFileState", "")
    restarts = properties.get("NRestarts", "0")
    return {
        "name": unit_of(component),
        "component": component,
        "active": properties.get("ActiveState", "unknown"),
        "sub": properties.get("SubState", "unknown"),
        "since": _iso(properties.get("ActiveEnterTimestamp", "")),
        "restarts": int(restarts) if restarts.isdigit() else 0,
        "status_text": properties.get("StatusText", ""),
        "enabled": {"enabled": True, "disabled": False}.get(file_state),
        "configured": configured,
    }


class Systemd:
    """Ask systemd about the meso360 units and act on them, through `systemctl`.

    Unit states are cached for CACHE_SECONDS; while one request refreshes them, the others get
    the previous answer instead of waiting.
    """

    def __init__(self, tunnel_configured):
        self._configured = {component: True for component in COMPONENTS}
        self._configured["tunnel"] = tunnel_configured
        self._lock = threading.Lock()
        self._cached = None
        self._cached_at = 0.0
        self.available = None
        self.reason = ""

    def _systemctl(self):
        # Looked up on every call: the tests put a recording `systemctl` first on PATH.
        return shutil.which("systemctl")

    def units(self):
        """Return the list of unit dicts of /api/status (active "unknown" when systemd is not there)."""
        cached = self._cached
        if cached is not None and time.monotonic() - self._cached_at < CACHE_SECONDS:
            return cached
        if not self._lock.acquire(blocking=cached is None):
            return cached
        try:
            self._cached = self._query()
            self._cached_at = time.monotonic()
            return self._cached
        finally:
            self._lock.release()

    def _query(self):
        shown = {}
        systemctl = self._systemctl()
        if systemctl is None:
            self._set_available(False, "systemctl not found")
        else:
            command = [systemctl, "show", "--timestamp=unix", "-p", SHOW_PROPERTIES]
            command += [unit_of(component) for component in COMPONENTS]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=SHOW_TIMEOUT_S, check=False)
            except (OSError, subprocess.TimeoutExpired) as error:
                self._set_available(False, f"systemctl show failed: {error}")
            else:
                if done.returncode == 0:
                    shown = parse_show(done.stdout)
                    self._set_available(True, "")
                else:
                    lines = (done.stderr or done.stdout).strip().splitlines()
                    self._set_available(False, lines[0] if lines else f"systemctl show: exit {done.returncode}")
        return [_unit_entry(c, shown.get(unit_of(c)), self._configured[c]) for c in COMPONENTS]

    def _set_available(self, available, reason):
        if available != self.available:
            if available:
                log.info("systemd answers: unit states available")
            else:
                log.warning("unit states unknown: %s", reason)
        self.available, self.reason = available, reason

    def active_units(self):
        """Return {unit name: True/False} for /metrics."""
        return {unit["name"]: unit["active"] == "active" for unit in self.units()}

    def control(self, action, component=None):
        """Run the action through systemctl; return (unit, result text). Raise ControlFailed with its message."""
        if action == "restart-all":
            unit, command = TARGET, ["restart", "--no-block", TARGET]
        else:
            unit = unit_of(component)
            verb = {"enable": ["enable", "--now"], "disable": ["disable", "--now"]}.get(action, [action])
            # The web daemon restarting or stopping itself must not wait for its own end.
            command = verb + (["--no-block"] if component == "web" else []) + [unit]
        systemctl = self._systemctl()
        if systemctl is None:
            raise ControlFailed("systemctl not found: this system is not run by systemd")
        try:
            done = subprocess.run(
                [systemctl, "--no-ask-password", *command],
                capture_output=True,
                text=True,
                timeout=CONTROL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ControlFailed(f"systemctl {' '.join(command)} did not finish within {CONTROL_TIMEOUT_S} s") from None
        except OSError as error:
            raise ControlFailed(f"cannot run systemctl: {error}") from error
        output = " ".join((done.stderr + " " + done.stdout).split())
        if done.returncode != 0:
            raise ControlFailed(f"systemctl {' '.join(command)} failed (exit {done.returncode}): {output}")
        self._cached = None  # the next status shows the change
        return unit, output or "done"
