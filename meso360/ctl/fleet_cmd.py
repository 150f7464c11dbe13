"""meso360ctl fleet: the vehicle's side of the fleet at base (authorize: base's read-only rsync access)."""

import os
from pathlib import Path

import click

from meso360 import fleet_access, users
from meso360.ctl.context import config_option
from meso360.ctl.fleet_status import status
from meso360.errors import EXIT_DATA

_DONE = {
    "added": "Added",
    "replaced": "Replaced the earlier line of this key with",
    "unchanged": "Already installed, unchanged:",
}


@click.group("fleet", short_help="The fleet: base's read-only access to this vehicle; at base, every vehicle's state.")
@config_option()
def fleet():
    """The fleet: on a vehicle, what base may reach through its tunnel (authorize); at base, each vehicle's sync and
    monitoring state (status, meso360-base)."""


fleet.add_command(status)


@fleet.command()
@click.argument("keyfile", type=click.File("r", encoding="utf-8", errors="replace"))
@click.option("--remove", is_flag=True, help="Take this key's access away instead.")
@click.option(
    "--authorized-keys",
    type=click.Path(dir_okay=False, path_type=Path),
    default=str(fleet_access.AUTHORIZED_KEYS),
    show_default=True,
    help=f"The {users.FLEET_USER} account's authorized_keys file.",
)
@click.pass_obj
def authorize(ctl, keyfile, remove, authorized_keys):
    """Let base's public key KEYFILE (a .pub file; - reads standard input) read data_dir and support_dir with
    rsync over SSH as the meso360-fleet user, and nothing else (rrsync -ro; no shell, no forwarding, no writes).

    Exit 65 if KEYFILE is not one ed25519, RSA or ECDSA public key line.
    """
    try:
        key = fleet_access.parse_public_key(keyfile.read())
    except fleet_access.KeyFileError as error:
        click.echo(f"meso360ctl fleet authorize: {keyfile.name}: {error}", err=True)
        raise SystemExit(EXIT_DATA) from error
    config = ctl.config
    general = config.general
    private = (config.path, config.tunnel.key_file, config.tunnel.known_hosts)
    try:
        directory = fleet_access.exposed_directory(general.data_dir, general.support_dir, private)
        outcome = fleet_access.install(authorized_keys, key, directory, remove=remove)
    except fleet_access.ExposureError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"cannot write {authorized_keys}: {error.strerror or error}") from error
    if remove:
        said = "Removed" if outcome == "removed" else "Not in"
        click.echo(f"{said} {authorized_keys}: {key.key_type} …{key.blob[-12:]} {key.comment}".rstrip())
        return
    click.echo(f"{_DONE[outcome]} {authorized_keys}:\n{fleet_access.access_line(key, directory)}\n")
    _explain(config, directory)


def _explain(config, directory):
    general = config.general
    data, support = (os.path.relpath(path, directory) for path in (general.data_dir, general.support_dir))
    port = config.tunnel.remote_port or "REMOTE_PORT"
    click.echo(
        f"Base may now read {general.data_dir} and {general.support_dir}, read-only, and nothing else."
        " On the bastion:\n"
        f"  rsync -a -e 'ssh -p {port}' {users.FLEET_USER}@localhost:{data}/ DEST/{data}/\n"
        f"  rsync -a -e 'ssh -p {port}' {users.FLEET_USER}@localhost:{support}/ DEST/{support}/"
    )
    state = Path(general.state_dir)
    if directory in state.parents and state != Path("/var/lib/meso360/state"):
        click.echo(
            f"Warning: state_dir {state} is inside {directory}: deny the fleet account, as the package does for"
            f" /var/lib/meso360/state: setfacl -m u:{users.FLEET_USER}:--- {state}",
            err=True,
        )
    if not Path(fleet_access.RRSYNC).exists():
        click.echo(f"Warning: {fleet_access.RRSYNC} is missing: install Debian's rsync package.", err=True)
