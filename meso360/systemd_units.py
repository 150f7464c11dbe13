"""The systemd vocabulary of meso360 (stdlib only): unit names, `systemctl show` states, unit health, tunnel.json.

Every meso360 module that names a unit, parses `systemctl show`, judges a unit's health or reads
tunnel.json takes it from here: meso360ctl, the web daemon and the root helper meso360.unitfile (run as
`python3 -I -m meso360.unitfile`, so this module imports nothing but the standard library).
"""

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess

COMPONENTS = ("ingest", "web", "tunnel", "sim")
TARGET = "meso360.target"
# enable/disable of a unit file, run for the web daemon by the root oneshot meso360-unitfile@VERB-COMPONENT.service.
UNITFILE_VERBS = ("enable", "disable")
SHOW_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "ActiveEnterTimestamp",
    "NRestarts",
    "WatchdogUSec",
    "StatusText",
    "Result",
)
# Messages systemctl prints when it cannot talk to a running systemd (containers, chroots, WSL).
NO_SYSTEMD_MARKERS = ("not been booted with systemd", "Failed to connect to bus", "System has not been booted")
# meso360-tunnel is READY only once its forward is verified, which never happens while the vehicle is offline:
# `systemctl start|restart` of it would wait forever (TimeoutStartSec=infinity). meso360ctl and the web panel
# queue those jobs with --no-block instead and say so.
NOT_AWAITED_VERBS = ("start", "restart")
READY_NOTE = "the tunnel reports ready once its forward to the bastion is verified; its state is in status"
# tunnel.json is in its own directory below state_dir, writable by the tunnel's user alone.
TUNNEL_STATE_SUBDIRECTORY = "tunnel"
TUNNEL_STATE_FILE_NAME = "tunnel.json"


def unit_name(component):
    """Given a component name, or "all" for the target, return its systemd unit."""
    return TARGET if component == "all" else f"meso360-{component}.service"


SERVICES = tuple(unit_name(component) for component in COMPONENTS)
ALL_UNITS = SERVICES + (TARGET,)


def unitfile_instance(verb, component):
    """Given enable/disable and a component, return the root oneshot that runs `systemctl VERB` on its unit.

    The web daemon may not enable unit files itself (polkit gets no unit name for that); the polkit
    rule lets it start exactly these instances of meso360-unitfile@.service (meso360/unitfile.py).
    """
    return f"meso360-unitfile@{verb}-{component}.service"


UNITFILE_INSTANCES = tuple(unitfile_instance(verb, name) for verb in UNITFILE_VERBS for name in COMPONENTS)


def start_not_awaited(component, verb):
    """True when `verb` of the meso360 `component` is queued without waiting for it (a tunnel start)."""
    return component == "tunnel" and verb in NOT_AWAITED_VERBS


def utc_iso(epoch_seconds):
    """Given seconds since the epoch (or None), return ISO 8601 UTC to the second with `Z`, or None."""
    if epoch_seconds is None:
        return None
    when = dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def epoch_of_utc_iso(text):
    """Given ISO 8601 text as utc_iso writes it (no zone: UTC), return seconds since the epoch, or None if it is not."""
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


@dataclasses.dataclass(frozen=True)
class UnitState:
    """One unit as `systemctl show` reports it; times ISO 8601 UTC with `Z`."""

    unit: str
    load_state: str
    active_state: str
    sub_state: str
    unit_file_state: str
    since: str | None
    restarts: int | None
    watchdog_seconds: float | None
    status_text: str
    result: str

    def as_dict(self):
        return dataclasses.asdict(self)


class SystemdUnavailable(Exception):
    """systemctl is missing or PID 1 is not systemd; the message says which."""


def systemctl_path():
    """Return the path of systemctl (looked up on every call: tests put a fake first on PATH).

    Raise SystemdUnavailable.
    """
    path = shutil.which("systemctl")
    if path is None:
        raise SystemdUnavailable("systemctl not found: this system is not run by systemd")
    return path


def query_units(units, timeout_seconds):
    """Given unit names, return their [UnitState] from one `systemctl show`. Raise SystemdUnavailable saying why."""
    command = [systemctl_path(), "show", "--no-pager", "--timestamp=unix", "-p", ",".join(SHOW_PROPERTIES), *units]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_seconds, check=False)  # noqa: S603  argv list, no shell: systemctl show of meso360 units
    except subprocess.TimeoutExpired:
        raise SystemdUnavailable(f"systemctl show did not answer within {timeout_seconds:g} s") from None
    except OSError as error:
        raise SystemdUnavailable(f"cannot run systemctl: {error}") from error
    if result.returncode != 0 or any(marker in result.stderr for marker in NO_SYSTEMD_MARKERS):
        lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit {result.returncode}"]
        raise SystemdUnavailable(f"systemd is not available here ({lines[0]})")
    return parse_show(result.stdout)


def _unix_time(value):
    """`@1749145948` (--timestamp=unix) -> ISO 8601 UTC; empty, 0 or another form -> None."""
    text = value.strip().removeprefix("@")
    return utc_iso(int(text)) if text.isdigit() and int(text) > 0 else None


def _int_or_none(value):
    return int(value) if value.strip().isdigit() else None


def parse_show(text):
    """Given `systemctl show -p ... UNIT...` output (blocks separated by blank lines), return [UnitState]."""
    states = []
    for block in text.strip().split("\n\n"):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" not in values:
            continue
        watchdog_usec = _int_or_none(values.get("WatchdogUSec", ""))
        states.append(
            UnitState(
                unit=values["Id"],
                load_state=values.get("LoadState", ""),
                active_state=values.get("ActiveState", ""),
                sub_state=values.get("SubState", ""),
                unit_file_state=values.get("UnitFileState", ""),
                since=_unix_time(values.get("ActiveEnterTimestamp", "")),
                restarts=_int_or_none(values.get("NRestarts", "")),
                watchdog_seconds=watchdog_usec / 1e6 if watchdog_usec else None,
                status_text=values.get("StatusText", ""),
                result=values.get("Result", ""),
            )
        )
    return states


def unit_health(state, configured=True):
    """Given a UnitState (None: systemd did not answer) and whether its component is configured, return
    (verdict, reason): verdict ok, unhealthy, idle, not-installed or unknown; the one rule of meso360ctl and the panel.
    """
    if state is None:
        return "unknown", ""
    if state.load_state == "not-found":
        return "not-installed", "unit not installed"
    if state.active_state == "failed":
        return "unhealthy", f"failed ({state.result or state.sub_state})"
    if state.sub_state == "auto-restart":
        return "unhealthy", "crashed; systemd is restarting it"
    if state.active_state in ("active", "reloading", "activating"):
        return "ok", ""
    if not configured:
        return "idle", "tunnel not configured (skipped)"
    if state.unit_file_state == "enabled":
        return "unhealthy", "enabled but not running"
    return "idle", "not enabled, not running"


def tunnel_state_path(state_dir):
    """Given the state directory ([meso360] state_dir), return the path of tunnel.json."""
    return os.path.join(str(state_dir), TUNNEL_STATE_SUBDIRECTORY, TUNNEL_STATE_FILE_NAME)


def read_tunnel_state(state_dir):
    """Given the state directory, return the dict meso360-tunnel wrote to tunnel.json, or None if there is none.

    A file that cannot be read or is not a JSON object gives {"state": "unreadable", "detail": why}.
    """
    try:
        with open(tunnel_state_path(state_dir), encoding="utf-8") as file:
            state = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return {"state": "unreadable", "detail": str(error)}
    return state if isinstance(state, dict) else {"state": "unreadable", "detail": "not a JSON object"}
