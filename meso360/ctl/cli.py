"""The meso360ctl click group: the --config option, the error boundary and the list of commands.

Command modules import only click, the standard library and light meso360 modules at the top; heavier
ones (requests, paramiko) are imported inside the commands that need them, so `meso360ctl gaps` starts fast.
"""

import click

from meso360 import __version__
from meso360.ctl import check, config_cmd, control, gaps_cmd, passwd_cmd, status, tail, tunnel_cmd
from meso360.ctl.context import config_option, report_config_error
from meso360.ctl.export_cmd import export
from meso360.ctl.fleet_cmd import fleet
from meso360.ctl.qc_cmd import qc
from meso360.errors import EXIT_CONFIG, ConfigError, Meso360Error
from meso360.signals import interrupt_on_sigint

COMMANDS = (
    status.status,
    control.start,
    control.stop,
    control.restart,
    control.enable,
    control.disable,
    control.logs,
    gaps_cmd.gaps,
    check.check,
    config_cmd.config_group,
    tail.tail,
    passwd_cmd.passwd,
    tunnel_cmd.tunnel,
    fleet,
    export,
    qc,
)


class Meso360Group(click.Group):
    """A click group that turns domain errors into messages and exit codes, once, for every command."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            report_config_error(error)
            ctx.exit(EXIT_CONFIG)
        except Meso360Error as error:
            raise click.ClickException(str(error)) from error


EPILOG = """\b
Exit codes: 0 OK/healthy, 1 failure or unhealthy (see each command), 2 usage error,
78 configuration invalid.
Config: --config PATH > $MESO360_CONFIG > /etc/meso360/meso360.conf."""


@click.group(
    cls=Meso360Group,
    commands=COMMANDS,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@config_option()
@click.version_option(__version__, prog_name="meso360ctl")
def cli():
    """Operate the meso360 data system of a Mobile Mesonet vehicle.

    Show its health, start and stop its daemons, read their logs, report gaps in the data
    files and check the set-up before a deployment.
    """


def main():
    """Console script entry point."""
    interrupt_on_sigint()  # Ctrl-C aborts any command, even when SIGINT was ignored at exec (background job)
    cli(prog_name="meso360ctl")
