"""systemd from the web daemon: unit states with their health (followed in the background), and control actions."""

import json
import logging
import shutil
import subprocess
import time

from meso360 import journalread
from meso360.systemd_units import (
    COMPONENTS,
    READY_NOTE,
    TARGET,
    SystemdUnavailable,
    start_not_awaited,
    systemctl_path,
    unit_health,
    unit_name,
    unitfile_instance,
)
from meso360.web.unitwatch import UnitWatcher

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "restart", "enable", "disable", "restart-all")
CONTROL_TIMEOUT_S = 30
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
    """The meso360 units: their states from the UnitWatcher's snapshot (D-Bus, else systemctl, in the
    background), and the panel's actions through `systemctl`.

    A request reads the snapshot and costs nothing more; `start()` starts the watcher (the daemon does).
    """

    supervisor = "systemd"
    journal_socket = journalread.SOCKET_PATH  # the panel's log view (web/journal.py)

    def __init__(self, tunnel_configured):
        self._configured = {component: True for component in COMPONENTS}
        self._configured["tunnel"] = tunnel_configured
        self._watcher = UnitWatcher(self._snapshot_changed)
        self._entries = self._entries_of({})

    def start(self, stop_event):
        """Follow the units' states from now on (a background thread, until stop_event)."""
        self._watcher.start(stop_event)

    @property
    def available(self):
        return self._watcher.available

    @property
    def reason(self):
        return self._watcher.reason

    @property
    def source(self):
        """Where the states come from: "dbus", "systemctl" or None (systemd not reachable)."""
        return self._watcher.source

    def _entries_of(self, states):
        return [unit_entry(c, states.get(unit_name(c)), self._configured[c]) for c in COMPONENTS]

    def _snapshot_changed(self):
        self._entries = self._entries_of(self._watcher.states or {})

    def units(self):
        """Return the list of unit dicts of /api/status (active "unknown" when systemd is not there).

        Only the first requests after the start wait, for the first snapshot (at most a few seconds).
        """
        if self._watcher.states is None:
            self._watcher.wait_first()
        return self._entries

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
        self._watcher.refresh()  # the systemctl fallback polls at once; over D-Bus the signals tell
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
