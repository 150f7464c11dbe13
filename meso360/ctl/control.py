"""meso360ctl start/stop/restart/enable/disable/logs: systemctl and journalctl for the meso360 units."""

import click

from meso360.ctl import systemd
from meso360.tunnel import state as tunnel_state

_TARGET_CHOICE = click.Choice([*systemd.COMPONENTS, "all"])
_COMPONENT_CHOICE = click.Choice(systemd.COMPONENTS)
_NOT_PERMITTED = (
    "not permitted: {detail}\n"
    "Run it as root (sudo meso360ctl {verb} {what}); the meso360 polkit rule allows only the web daemon's user."
)
_NO_SYSTEMD = "{reason}.\nWithout systemd run the daemons in a terminal instead (e.g. `make demo`)."


def _systemctl(verb, component, extra=()):
    unit = systemd.unit_name(component)
    try:
        result = systemd.run_verb(verb, [unit], extra)
    except systemd.SystemdUnavailable as error:
        raise click.ClickException(_NO_SYSTEMD.format(reason=error)) from None
    except systemd.PermissionDenied as error:
        raise click.ClickException(_NOT_PERMITTED.format(detail=error, verb=verb, what=component)) from None
    if result.returncode != 0:
        raise click.ClickException(result.stderr.strip() or f"systemctl {verb} {unit} exited {result.returncode}")
    if result.stderr.strip():
        click.echo(result.stderr.strip(), err=True)
    if "--no-block" in extra:
        click.echo(f"{verb}: {unit}: requested; {tunnel_state.READY_NOTE}")
    else:
        click.echo(f"{verb}: {unit}: done")


def _verb_command(verb, summary):
    @click.command(
        name=verb,
        help=f"{summary} a meso360 daemon, or all of them (meso360.target).\n\n"
        f"COMPONENT is one of {', '.join(systemd.COMPONENTS)} or all (default).\n\n"
        "Needs root, or the permission the meso360 polkit rule grants.",
    )
    @click.argument("component", type=_TARGET_CHOICE, default="all", required=False)
    def command(component):
        _systemctl(verb, component, ["--no-block"] if tunnel_state.start_not_awaited(component, verb) else [])

    return command


start = _verb_command("start", "Start")
stop = _verb_command("stop", "Stop")
restart = _verb_command("restart", "Restart")


def _boot_command(verb, summary, now_help):
    @click.command(
        name=verb,
        help=f"{summary} (systemctl {verb}).\n\nCOMPONENT is one of {', '.join(systemd.COMPONENTS)}. Needs root.",
    )
    @click.argument("component", type=_COMPONENT_CHOICE)
    @click.option("--now", is_flag=True, help=now_help)
    def command(component, now):
        extra = ["--now"] if now else []
        if now and verb == "enable" and tunnel_state.start_not_awaited(component, "start"):
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
    argv = systemd.journalctl_argv(component, follow, since, lines, priority)
    try:
        systemd.exec_journalctl(argv)
    except systemd.SystemdUnavailable as error:
        raise click.ClickException(str(error)) from None
