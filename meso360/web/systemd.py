"""systemd from the web daemon: unit states in one `systemctl show` call (cached), and control verbs."""

import datetime as dt
import json
import logging
import shutil
import subprocess
import threading
import time

from meso360.tunnel import state as tunnel_state

log = logging.getLogger(__name__)

COMPONENTS = ("ingest", "web", "tunnel", "sim")
TARGET = "meso360.target"
ACTIONS = ("start", "stop", "restart", "enable", "disable", "restart-all")
SHOW_PROPERTIES = "Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,NRestarts,StatusText,UnitFileState"
SHOW_TIMEOUT_S = 5
CONTROL_TIMEOUT_S = 30
CACHE_SECONDS = 1.0
# How long to wait for a failed meso360-unitfile@ instance's messages to reach the journal.
JOURNAL_WAIT_S = 2.0
JOURNAL_TIMEOUT_S = 5


class ControlFailed(Exception):
    """systemctl could not run or refused the action; the message says why."""


def unit_of(component):
    """Given a component name, return its service unit."""
    return f"meso360-{component}.service"


def unitfile_instance(verb, component):
    """Given enable/disable and a component, return the root oneshot that runs `systemctl VERB` on its unit.

    The web daemon may not enable unit files itself (polkit gets no unit name for that); the polkit
    rule lets it start exactly these instances of meso360-unitfile@.service (meso360/unitfile.py).
    """
    return f"meso360-unitfile@{verb}-{component}.service"


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
                done = subprocess.run(command, capture_output=True, text=True, timeout=SHOW_TIMEOUT_S, check=False)  # noqa: S603  argv list, no shell: meso360 units
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
        """Run the action through systemctl; return (unit, result text). Raise ControlFailed with its message.

        enable/disable start meso360-unitfile@VERB-COMPONENT.service and wait for it (a root oneshot
        running `systemctl enable|disable meso360-COMPONENT.service`); a failure is reported with that
        instance's error messages from the journal.
        """
        helper, no_block = None, False
        if action == "restart-all":
            unit, command = TARGET, ["restart", "--no-block", TARGET]
        elif action in ("enable", "disable"):
            unit, helper = unit_of(component), unitfile_instance(action, component)
            command = ["start", helper]
        else:
            unit = unit_of(component)
            # The web daemon restarting or stopping itself must not wait for its own end; see tunnel.state
            # for the tunnel.
            no_block = component == "web" or tunnel_state.start_not_awaited(component, action)
            command = [action] + (["--no-block"] if no_block else []) + [unit]
        systemctl = self._systemctl()
        if systemctl is None:
            raise ControlFailed("systemctl not found: this system is not run by systemd")
        started = int(time.time())
        try:
            done = subprocess.run(  # noqa: S603  argv list, no shell: meso360 units
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
            # "Job for ... failed": the instance ran and refused or failed; its own words are in the journal.
            why = (helper and "Job for" in output and _journal_errors(helper, started)) or output
            raise ControlFailed(f"systemctl {' '.join(command)} failed (exit {done.returncode}): {why}")
        self._cached = None  # the next status shows the change
        if helper:
            return unit, f"{unit} {action}d (start at boot: {'yes' if action == 'enable' else 'no'})"
        if tunnel_state.start_not_awaited(component, action):
            return unit, f"{action} requested; {tunnel_state.READY_NOTE}"
        return unit, output or "done"


def _journal_errors(unit, since):
    """Return the error messages of the unit's newest run since `since` (epoch s), joined; "" if none.

    Waits up to JOURNAL_WAIT_S: the job may end before journald has read the process's last lines.
    """
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        return ""
    command = [journalctl, "--no-pager", "-q", "-o", "json", "-p", "err", f"--since=@{since}"]
    command.append(f"_SYSTEMD_UNIT={unit}")
    deadline = time.monotonic() + JOURNAL_WAIT_S
    while True:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=JOURNAL_TIMEOUT_S, check=False)  # noqa: S603  argv list, no shell: journalctl of meso360 units
        except (OSError, subprocess.TimeoutExpired):
            return ""
        text = _newest_run_messages(done.stdout) if done.returncode == 0 else ""
        if text or time.monotonic() >= deadline:
            return text
        time.sleep(0.2)


def _newest_run_messages(json_lines):
    """Given `journalctl -o json` output, return the messages of the newest invocation, joined."""
    entries = []
    for line in json_lines.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("MESSAGE"), str):
            entries.append(entry)
    if not entries:
        return ""
    newest = entries[-1].get("_SYSTEMD_INVOCATION_ID")
    return " ".join(" ".join(e["MESSAGE"].split()) for e in entries if e.get("_SYSTEMD_INVOCATION_ID") == newest)
