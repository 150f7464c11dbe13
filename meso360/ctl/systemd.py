"""systemctl and journalctl for meso360ctl: unit names, `systemctl show` parsing, verbs, permission errors."""

import dataclasses
import datetime as dt
import os
import shutil
import subprocess

from meso360.signals import default_signals_for_exec

COMPONENTS = ("ingest", "web", "tunnel", "sim")
TARGET = "meso360.target"
ALL_UNITS = tuple(f"meso360-{name}.service" for name in COMPONENTS) + (TARGET,)
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
SYSTEMCTL_TIMEOUT_SECONDS = 15
# Messages systemctl prints when it cannot talk to a running systemd (containers, chroots, WSL).
_NO_SYSTEMD_MARKERS = ("not been booted with systemd", "Failed to connect to bus", "System has not been booted")
_PERMISSION_MARKERS = ("Access denied", "Interactive authentication required", "Permission denied")


class SystemdUnavailable(Exception):
    """systemctl is missing or PID 1 is not systemd; `reason` says which."""


class PermissionDenied(Exception):
    """systemd refused the request (not root and not allowed by polkit)."""


def unit_name(component):
    """Given a component name or 'all', return the systemd unit."""
    return TARGET if component == "all" else f"meso360-{component}.service"


@dataclasses.dataclass(frozen=True)
class UnitState:
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


def _systemctl():
    path = shutil.which("systemctl")
    if path is None:
        raise SystemdUnavailable("systemctl not found: this system is not run by systemd")
    return path


def _parse_timestamp(value):
    """`@1749145948` (--timestamp=unix) or empty -> ISO 8601 UTC or None."""
    value = value.strip()
    if value.startswith("@") and value[1:].isdigit() and int(value[1:]) > 0:
        return dt.datetime.fromtimestamp(int(value[1:]), dt.UTC).isoformat()
    return value or None


def _int_or_none(value):
    return int(value) if value.strip().isdigit() else None


def parse_show_output(text):
    """Given `systemctl show UNIT... -p ...` output (blocks separated by blank lines), return [UnitState]."""
    states = []
    for block in text.strip().split("\n\n"):
        values = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value
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
                since=_parse_timestamp(values.get("ActiveEnterTimestamp", "")),
                restarts=_int_or_none(values.get("NRestarts", "")),
                watchdog_seconds=None if not watchdog_usec else watchdog_usec / 1e6,
                status_text=values.get("StatusText", ""),
                result=values.get("Result", ""),
            )
        )
    return states


def show_units(units=ALL_UNITS):
    """Return [UnitState] for `units` with one systemctl call. Raise SystemdUnavailable."""
    command = [_systemctl(), "show", "--no-pager", "--timestamp=unix", "-p", ",".join(SHOW_PROPERTIES), *units]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_SECONDS)  # noqa: S603  argv list, no shell: systemctl and meso360 units
    except subprocess.TimeoutExpired:
        raise SystemdUnavailable("systemctl show did not answer within 15 s") from None
    if result.returncode != 0 or any(marker in result.stderr for marker in _NO_SYSTEMD_MARKERS):
        detail = result.stderr.strip().splitlines()[0] if result.stderr.strip() else f"exit {result.returncode}"
        raise SystemdUnavailable(f"systemd is not available here ({detail})")
    return parse_show_output(result.stdout)


def run_verb(verb, units, extra=()):
    """Run `systemctl VERB [extra] UNITS...`, letting polkit ask for a password on a terminal.

    Return the completed process. Raise SystemdUnavailable or PermissionDenied.
    """
    command = [_systemctl(), verb, *extra, *units]
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603  argv list; stdin stays: polkit may ask
    stderr = result.stderr.strip()
    if result.returncode != 0:
        if any(marker in stderr for marker in _NO_SYSTEMD_MARKERS):
            raise SystemdUnavailable(f"systemd is not available here ({stderr.splitlines()[0]})")
        if result.returncode == 4 or any(marker in stderr for marker in _PERMISSION_MARKERS):
            raise PermissionDenied(stderr or f"systemctl {verb} exited with status 4")
    return result


def journalctl_argv(component=None, follow=False, since=None, lines=None, priority=None):
    """Return the journalctl command line for the logs of one component (or all meso360 units)."""
    units = [unit_name(component)] if component else ["meso360-*", TARGET]
    argv = ["journalctl"]
    for unit in units:
        argv += ["-u", unit]
    if follow:
        argv.append("-f")
    if since:
        argv += ["--since", since]
    if lines is not None:
        argv += ["-n", str(lines)]
    if priority:
        argv += ["-p", priority]
    return argv


def exec_journalctl(argv):
    """Replace this process with journalctl (so -f follows and Ctrl-C behaves). Raise SystemdUnavailable."""
    path = shutil.which(argv[0])
    if path is None:
        raise SystemdUnavailable("journalctl not found: this system has no systemd journal")
    default_signals_for_exec()  # Ctrl-C stops journalctl -f even when our SIGINT was ignored (background job)
    os.execv(path, argv)  # noqa: S606  journalctl found by shutil.which, argv list


def is_root():
    return os.geteuid() == 0
