"""The meso360ctl click group: global options, the error boundary and the list of commands.

Command modules import only click and the standard library at the top; heavier modules (requests,
the tunnel client) are imported inside the commands that need them, so `meso360ctl gaps` starts fast.
"""

import importlib
import importlib.util

import click

from meso360 import __version__
from meso360 import config as config_module
from meso360.errors import EXIT_CONFIG, ConfigError, Meso360Error
from meso360.signals import interrupt_on_sigint

# Optional command groups owned by other parts of meso360: name -> (module, attribute, short help).
# They are imported only when invoked, so their dependencies (paramiko...) do not slow every command.
_LAZY_COMMANDS = {
    "tunnel": ("meso360.tunnel.cli", "tunnel", "Reverse tunnel set-up: make its key, pin the bastion host key."),
    "passwd": ("meso360.web.passwd_cli", "passwd", "Set the operator password for the web control panel."),
}


class CtlContext:
    """What every command gets: the config path, and the config loaded once on first use."""

    def __init__(self, config_path):
        self.config_path = config_module.resolve_path(config_path)
        self._config = None

    @property
    def config(self):
        """Return the loaded Config. Raise ConfigError (turned into exit 78 at the boundary)."""
        if self._config is None:
            self._config = config_module.load(self.config_path)
        return self._config


def report_config_error(error):
    """Print every problem of a ConfigError on stderr."""
    click.echo("meso360ctl: the configuration is invalid:", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


class Meso360Group(click.Group):
    """A click group that turns domain errors into messages and exit codes, and lazy-loads optional groups."""

    def list_commands(self, ctx):
        lazy = [name for name, (module, _, _) in _LAZY_COMMANDS.items() if _module_exists(module)]
        return sorted(set(super().list_commands(ctx)) | set(lazy))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None or name not in _LAZY_COMMANDS:
            return command
        module_name, attribute, _ = _LAZY_COMMANDS[name]
        if not _module_exists(module_name):
            return None
        return getattr(importlib.import_module(module_name), attribute, None)

    def format_commands(self, ctx, formatter):
        # Short help of lazy groups comes from _LAZY_COMMANDS so `--help` does not import them.
        rows = []
        for name in self.list_commands(ctx):
            if name in _LAZY_COMMANDS and name not in self.commands:
                rows.append((name, _LAZY_COMMANDS[name][2]))
            else:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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


@click.group(cls=Meso360Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $MESO360_CONFIG, else /etc/meso360/meso360.conf).",
)
@click.version_option(__version__, prog_name="meso360ctl")
@click.pass_context
def cli(ctx, config_path):
    """Operate the meso360 data system of a Mobile Mesonet vehicle.

    Show its health, start and stop its daemons, read their logs, report gaps in the data
    files and check the set-up before a deployment.
    """
    ctx.obj = CtlContext(config_path)


def _register():
    from meso360.ctl import check, config_cmd, control, gaps_cmd, status, tail

    for command in (
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
    ):
        cli.add_command(command)


_register()


def main():
    """Console script entry point."""
    interrupt_on_sigint()  # Ctrl-C aborts any command, even when SIGINT was ignored at exec (background job)
    cli(prog_name="meso360ctl")
