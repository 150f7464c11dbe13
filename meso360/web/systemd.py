"""systemd from the web daemon: unit states with their health (cached), and the panel's control actions."""

import json
import logging
import shutil
import subprocess
import threading
import time

from meso360.systemd_units import (
    COMPONENTS,
    READY_NOTE,
    SERVICES,
    TARGET,
    SystemdUnavailable,
    query_units,
    start_not_awaited,
    systemctl_path,
    unit_health,
    unit_name,
    unitfile_instance,
)

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "restart", "enable", "disable", "restart-all")
SHOW_TIMEOUT_S = 5
CONTROL_TIMEOUT_S = 30
CACHE_SECONDS = 1.0
# How long to wait for a failed meso360-unitfile@ instance's messages to reach the journal.
JOURNAL_WAIT_S = 2.0
JOURNAL_TIMEOUT_S = 5


class ControlFailed(Exception):
    """systemctl could not run or refused the action; the message says why."""


def unit_entry(component, state, configured):
    """Given a component, its UnitState (None: unknown) and whether it is configured, return its /api/status dict.

    `health` and `reason` are the verdict of systemd_units.unit_health, the one rule; the panel shows it.
    """
    health, reason = unit_health(state, configured)
    entry = {"name": unit_name(component), "component": component, "configured": configured}
    entry |= {"health": health, "reason": reason, "since": None, "restarts": 0, "status_text": "", "enabled": None}
    if state is None or state.load_state == "not-found":
        active = "unknown" if state is None else "not-found"
        return entry | {"active": active, "sub": active}
    return entry | {
        "active": state.active_state or "unknown",
        "sub": state.sub_state or "unknown",
        "since": state.since,
        "restarts": state.restarts or 0,
        "status_text": state.status_text,
        "enabled": {"enabled": True, "disabled": False}.get(state.unit_file_state),
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
        try:
            shown = {state.unit: state for state in query_units(SERVICES, SHOW_TIMEOUT_S)}
            self._set_available(True, "")
        except SystemdUnavailable as error:
            shown = {}
            self._set_available(False, str(error))
        return [unit_entry(c, shown.get(unit_name(c)), self._configured[c]) for c in COMPONENTS]

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
        unit, helper, command = _control_command(action, component)
        started = int(time.time())
        done = _run_systemctl(command)
        output = " ".join((done.stderr + " " + done.stdout).split())
        if done.returncode != 0:
            # "Job for ... failed": the instance ran and refused or failed; its own words are in the journal.
            why = (helper and "Job for" in output and _journal_errors(helper, started)) or output
            raise ControlFailed(f"systemctl {' '.join(command)} failed (exit {done.returncode}): {why}")
        self._cached = None  # the next status shows the change
        if helper:
            return unit, f"{unit} {action}d (start at boot: {'yes' if action == 'enable' else 'no'})"
        if start_not_awaited(component, action):
            return unit, f"{action} requested; {READY_NOTE}"
        return unit, output or "done"


def _control_command(action, component):
    """Return (unit acted on, the unitfile helper instance or None, systemctl arguments) of a panel action."""
    if action == "restart-all":
        return TARGET, None, ["restart", "--no-block", TARGET]
    unit = unit_name(component)
    if action in ("enable", "disable"):
        helper = unitfile_instance(action, component)
        return unit, helper, ["start", helper]
    # The web daemon restarting or stopping itself must not wait for its own end; nor a tunnel start (READY_NOTE).
    no_block = component == "web" or start_not_awaited(component, action)
    return unit, None, [action] + (["--no-block"] if no_block else []) + [unit]


def _run_systemctl(command):
    """Run `systemctl --no-ask-password COMMAND...`; return the completed process. Raise ControlFailed."""
    try:
        systemctl = systemctl_path()
    except SystemdUnavailable as error:
        raise ControlFailed(str(error)) from None
    try:
        return subprocess.run(  # noqa: S603  argv list, no shell: systemctl on meso360 units
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
