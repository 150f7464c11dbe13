"""meso360ctl tunnel keygen|trust: make the tunnel key, pin the bastion's host key."""

import getpass
import pwd

import click

from meso360 import users
from meso360.ctl.context import config_option
from meso360.errors import TunnelError

DAEMON_USER = users.TUNNEL_USER


def _default_owner():
    """The daemon's user when we run as root and it exists, so the key is readable by the tunnel only."""
    if getpass.getuser() != "root":
        return None
    try:
        pwd.getpwnam(DAEMON_USER)
    except KeyError:
        return None
    return DAEMON_USER


@click.group("tunnel", short_help="Reverse tunnel set-up: make its key, pin the bastion host key.")
@config_option()
def tunnel():
    """Set up the reverse SSH tunnel to the bastion (meso360-tunnel)."""


@tunnel.command()
@click.option("--force", is_flag=True, help="Replace an existing key (the bastion must then get the new one).")
@click.option("--owner", help=f"User owning the key files (default: {DAEMON_USER} when run as root and it exists).")
@click.pass_obj
def keygen(ctl, force, owner):
    """Create the tunnel's ed25519 key at tunnel.key_file and print the bastion's authorized_keys line."""
    from meso360.tunnel import keys  # imports paramiko: only when the command runs, not on every meso360ctl start

    config = ctl.config
    tunnel_config = config.tunnel
    if tunnel_config.remote_port is None:
        raise click.ClickException(f"set tunnel.remote_port in {config.path} first (the port opened on the bastion)")
    try:
        generated = keys.generate_key(
            tunnel_config.key_file,
            config.general.vehicle,
            tunnel_config.remote_port,
            owner=owner or _default_owner(),
            overwrite=force,
            remote_web_port=tunnel_config.remote_web_port,
        )
    except (TunnelError, OSError, LookupError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {generated.private_path} (private, 0600) and {generated.public_path}.")
    user = tunnel_config.user or "USER"
    click.echo(f"On the bastion, add this line to ~{user}/.ssh/authorized_keys:\n")
    click.echo(generated.authorized_keys_line)
    ports = " and ".join(
        f"localhost:{port}" for port in (tunnel_config.remote_port, tunnel_config.remote_web_port) if port
    )
    click.echo(f"\nIt allows this key nothing but listening on, and connecting to, {ports} of the bastion.")


@tunnel.command()
@click.argument("host", required=False)
@click.option("--port", type=click.IntRange(1, 65535), help="SSH port of the bastion (default: tunnel.port).")
@click.option("--yes", is_flag=True, help="Record the key without asking (only after checking the fingerprint).")
@click.pass_obj
def trust(ctl, host, port, yes):
    """Fetch the bastion's host key, show its fingerprint and pin it in tunnel.known_hosts."""
    from meso360.tunnel import keys  # imports paramiko: only when the command runs, not on every meso360ctl start

    config = ctl.config
    host = host or config.tunnel.host
    if not host:
        raise click.ClickException(f"give HOST or set tunnel.host in {config.path}")
    port = port or config.tunnel.port
    try:
        host_key = keys.fetch_host_key(host, port, config.tunnel.connect_timeout)
    except TunnelError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{host}:{port} presents a {host_key.key_type} host key with fingerprint {host_key.fingerprint}")
    click.echo(
        "Compare it with the bastion's own: ssh-keygen -lf /etc/ssh/ssh_host_"
        f"{host_key.key_type.removeprefix('ssh-').split('-')[0]}_key.pub (run on the bastion)."
    )
    if not yes and not click.confirm(f"Pin this key in {config.tunnel.known_hosts}?", default=False):
        raise click.ClickException("not recorded")
    try:
        keys.add_known_host(config.tunnel.known_hosts, host_key)
    except OSError as error:
        raise click.ClickException(f"cannot write {config.tunnel.known_hosts}: {error}") from error
    click.echo(f"Recorded in {config.tunnel.known_hosts}; meso360-tunnel will accept only this key for {host}:{port}.")
