"""What every meso360ctl command gets: the one --config option, the config path and the config loaded once."""

import click

from meso360 import config as config_module


class CtlContext:
    """The config path (--config > $MESO360_CONFIG > /etc/meso360/meso360.conf) and the config, loaded on first use."""

    def __init__(self, given_path=None):
        self.given_path = given_path
        self._config = None

    @property
    def config_path(self):
        return config_module.resolve_path(self.given_path)

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


def _remember_config_path(ctx, _param, value):
    ctl = ctx.ensure_object(CtlContext)
    if value:  # the --config nearest to the command wins (meso360ctl tunnel --config X keygen)
        ctl.given_path = value


def config_option(hidden=False):
    """The --config option of meso360ctl, also accepted after `tunnel` and `passwd` (hidden there)."""
    return click.option(
        "--config",
        metavar="PATH",
        expose_value=False,
        hidden=hidden,
        callback=_remember_config_path,
        help="Config file (default: $MESO360_CONFIG, else /etc/meso360/meso360.conf).",
    )
