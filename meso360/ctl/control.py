"""meso360ctl start/stop/restart/enable/disable/logs: systemctl and journalctl for the meso360 units.

They run as the operator on a terminal, where polkit may ask for a password.
"""

import os
import shutil
import subprocess

import click

from meso360.signals import default_signals_for_exec
from meso360.systemd_units import (
    COMPONENTS,
    NO_SYSTEMD_MARKERS,
    READY_NOTE,
    TARGET,
    SystemdUnavailable,
    start_not_awaited,
    systemctl_path,
    unit_name,
)

_PERMISSION_MARKERS = ("Access denied", "Interactive authentication required", "Permission denied")


class PermissionDenied(Exception):
    """systemd refused the request (not root and not allowed by polkit)."""


def run_verb(verb, units, extra=()):
    """Run `systemctl VERB [extra] UNITS...`, letting polkit ask for a password on a terminal.

    Return the completed process. Raise SystemdUnavailable or PermissionDenied.
    """
    command = [systemctl_path(), verb, *extra, *units]
    # stdin stays: polkit may ask for a password on the terminal.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  argv list, no shell
    stderr = result.stderr.strip()
    if result.returncode != 0:
        if any(marker in stderr for marker in NO_SYSTEMD_MARKERS):
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
    os.execv(path, argv)  # noqa: S606  exec journalctl by its full path, argv list (no shell)


_TARGET_CHOICE = click.Choice([*COMPONENTS, "all"])
_COMPONENT_CHOICE = click.Choice(COMPONENTS)
_NOT_PERMITTED = (
    "not permitted: {detail}\n"
    "Run it as root (sudo meso360ctl {verb} {what}); the meso360 polkit rule allows only the web daemon's user."
)
_NO_SYSTEMD = "{reason}.\nWithout systemd run the daemons in a terminal instead (e.g. `make demo`)."


def _systemctl(verb, component, extra=()):
    unit = unit_name(component)
    try:
        result = run_verb(verb, [unit], extra)
    except SystemdUnavailable as error:
        raise click.ClickException(_NO_SYSTEMD.format(reason=error)) from None
    except PermissionDenied as error:
        raise click.ClickException(_NOT_PERMITTED.format(detail=error, verb=verb, what=component)) from None
    if result.returncode != 0:
        raise click.ClickException(result.stderr.strip() or f"systemctl {verb} {unit} exited {result.returncode}")
    if result.stderr.strip():
        click.echo(result.stderr.strip(), err=True)
    if "--no-block" in extra:
        click.echo(f"{verb}: {unit}: requested; {READY_NOTE}")
    else:
        click.echo(f"{verb}: {unit}: done")


def _verb_command(verb, summary):
    @click.command(
        name=verb,
        help=f"{summary} a meso360 daemon, or all of them (meso360.target).\n\n"
        f"COMPONENT is one of {', '.join(COMPONENTS)} or all (default).\n\n"
        "Needs root, or the permission the meso360 polkit rule grants.",
    )
    @click.argument("component", type=_TARGET_CHOICE, default="all", required=False)
    def command(component):
        _systemctl(verb, component, ["--no-block"] if start_not_awaited(component, verb) else [])

    return command


start = _verb_command("start", "Start")
stop = _verb_command("stop", "Stop")
restart = _verb_command("restart", "Restart")


def _boot_command(verb, summary, now_help):
    @click.command(
        name=verb,
        help=f"{summary} (systemctl {verb}).\n\nCOMPONENT is one of {', '.join(COMPONENTS)}. Needs root.",
    )
    @click.argument("component", type=_COMPONENT_CHOICE)
    @click.option("--now", is_flag=True, help=now_help)
    def command(component, now):
        extra = ["--now"] if now else []
        if now and verb == "enable" and start_not_awaited(component, "start"):
            extra.append("--no-block")  # enable --now starts it
        _systemctl(verb, component, extra)

    return command


enable = _boot_command("enable", "Start COMPONENT at every boot", "Also start the daemon now.")
disable = _boot_command("disable", "Do not start COMPONENT at boot any more", "Also stop the daemon now.")


@click.command()
@click.argument("component", type=_COMPONENT_CHOICE, required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new messages (Ctrl-C stops).")
@click.option("--since", metavar="WHEN", help='Start at WHEN, e.g. "1 hour ago", today, "2025-06-05 17:00".')
@click.option("-n", "--lines", type=click.IntRange(min=0), metavar="N", help="Show the last N messages.")
@click.option(
    "-p",
    "--priority",
    metavar="PRIORITY",
    help="Only messages of this priority or worse: emerg..debug or 0..7, e.g. warning.",
)
def logs(component, follow, since, lines, priority):
    """Show the journal of one meso360 daemon (COMPONENT) or of all of them.

    Runs journalctl underneath; reading the journal needs root or the systemd-journal group.
    """
    argv = journalctl_argv(component, follow, since, lines, priority)
    try:
        exec_journalctl(argv)
    except SystemdUnavailable as error:
        raise click.ClickException(str(error)) from None
