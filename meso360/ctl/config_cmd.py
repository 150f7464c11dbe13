"""meso360ctl config validate|show|example|import-legacy."""

import click

from meso360.config import SCHEMA, example_text
from meso360.ctl.config_import_cmd import import_legacy
from meso360.ctl.context import report_config_error
from meso360.errors import EXIT_CONFIG, ConfigError

SECRET_KEYS = {("ingest", "password"), ("web", "password_hash")}
MASK = "********"


def _text(value):
    if value is None:
        return ""
    if isinstance(value, tuple):  # web.listen as (host, port)
        host, port = value
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(value)


def effective_config_text(config):
    """Given a Config, return it as INI text with every key (defaults included) and secrets masked."""
    lines = [f"# effective configuration of {config.path} (defaults filled in, secrets masked)"]
    for section, keys in SCHEMA.items():
        values = config.section(section)
        lines += ["", f"[{section}]"]
        for key in keys:
            text = _text(getattr(values, key))
            if (section, key) in SECRET_KEYS and text:
                text = MASK
            lines.append(f"{key} = {text}")
    return "\n".join(lines)


@click.group(name="config")
def config_group():
    """Validate, show or generate the configuration file."""


@config_group.command()
@click.pass_obj
def validate(ctl):
    """Check the config file; print PASS, or every problem and exit 78."""

    try:
        ctl.config  # noqa: B018 - loading validates
    except ConfigError as error:
        report_config_error(error)
        raise SystemExit(EXIT_CONFIG) from None
    click.echo(f"PASS {ctl.config_path}: configuration is valid")


@config_group.command()
@click.pass_obj
def show(ctl):
    """Print the effective configuration: every key with defaults filled in; passwords masked."""
    click.echo(effective_config_text(ctl.config))


@config_group.command()
def example():
    """Print a commented example config with every key and its default."""
    click.echo(example_text(), nl=False)


config_group.add_command(import_legacy)
