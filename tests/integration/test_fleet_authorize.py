"""`meso360ctl fleet authorize` through a real OpenSSH sshd on 127.0.0.1 and Debian's rrsync: the line it installs
lets base's key read data_dir and support_dir with rsync, byte for byte, and refuses everything else.

The test runs as the current user (the sshd fixture's authorized_keys is the file the command writes, given with
--authorized-keys); the meso360-fleet account and its ACL come from the package (debian/meso360.sysusers, .tmpfiles).
"""

import getpass
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sshd_fixture import free_port, ssh_keygen, sshd_fixture  # noqa: F401 - sshd_fixture registers the fixture

from meso360.ctl.cli import cli
from meso360.errors import EXIT_DATA

pytestmark = pytest.mark.sshd

COMMAND_TIMEOUT_S = 60
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(name="vehicle")
def vehicle_fixture(tmp_path, sshd):
    """A vehicle's files (data, support, state, a secret beside them), base's key, the config, and ssh options."""
    root = tmp_path / "vehicle"
    exposed = root / "lib"
    (exposed / "data").mkdir(parents=True)
    (exposed / "support").mkdir()
    (exposed / "data" / "20250601.txt").write_bytes(b"sfc_wspd,sfc_wdir\n" + os.urandom(50000) + b"\n")
    (exposed / "data" / "20250602.txt").write_text("sfc_wspd,sfc_wdir\n1.5,270\n")
    (exposed / "support" / "20250601_support.txt").write_bytes(os.urandom(3000))
    (root / "etc").mkdir()
    (root / "etc" / "secret").write_text("operator password hash\n")
    config_path = root / "etc" / "meso360.conf"
    config_path.write_text(
        f"[meso360]\ndata_dir = {exposed / 'data'}\nsupport_dir = {exposed / 'support'}\n"
        f"state_dir = {exposed / 'state'}\n[tunnel]\nkey_file = {root / 'etc' / 'tunnel_key'}\n"
        f"known_hosts = {root / 'etc' / 'known_hosts'}\n"
    )
    base_key = tmp_path / "base_key"
    ssh_keygen(base_key, "base@bastion")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd.known_hosts_line())
    ssh = [
        "ssh", "-F", "/dev/null", "-i", str(base_key), "-p", str(sshd.port), "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=20",
    ]  # fmt: skip
    return {
        "exposed": exposed,
        "config": config_path,
        "base_key": base_key,
        "ssh": ssh,
        "remote": f"{getpass.getuser()}@127.0.0.1",
        "sshd": sshd,
    }


def authorize(vehicle, *extra, key_file=None):
    key_file = key_file or f"{vehicle['base_key']}.pub"
    arguments = ["--config", str(vehicle["config"]), "fleet", "authorize", str(key_file)]
    arguments += ["--authorized-keys", str(vehicle["sshd"].authorized_keys), *extra]
    return CliRunner().invoke(cli, arguments)


def rsync(vehicle, *arguments):
    return subprocess.run(
        ["rsync", "-e", " ".join(vehicle["ssh"]), *arguments],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def ssh(vehicle, *arguments):
    return subprocess.run(
        [*vehicle["ssh"], *arguments], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def authorize_and_read(vehicle, tmp_path):
    """Authorize base's key and prove it reads data/: so a refusal after this is the line's, not a failed login."""
    assert authorize(vehicle).exit_code == 0
    proof = tmp_path / "proof"
    result = rsync(vehicle, "-a", f"{vehicle['remote']}:data/20250602.txt", f"{proof}")
    assert result.returncode == 0, result.stderr
    assert proof.read_bytes() == (vehicle["exposed"] / "data" / "20250602.txt").read_bytes()


def tree(directory):
    return {
        path.relative_to(directory).as_posix(): path.read_bytes() for path in directory.rglob("*") if path.is_file()
    }


def test_authorize_installs_one_rrsync_line_and_is_idempotent(vehicle):
    first = authorize(vehicle)
    assert first.exit_code == 0, first.output
    public = (vehicle["base_key"].parent / "base_key.pub").read_text().strip()
    line = f'restrict,command="/usr/bin/rrsync -ro {vehicle["exposed"]}" {public}'
    assert vehicle["sshd"].authorized_keys.read_text() == line + "\n"
    assert line in first.output and "meso360-fleet@localhost:data/" in first.output

    again = authorize(vehicle)
    assert again.exit_code == 0 and "Already installed" in again.output
    assert vehicle["sshd"].authorized_keys.read_text() == line + "\n"  # the same key twice: one line

    removed = authorize(vehicle, "--remove")
    assert removed.exit_code == 0 and removed.output.startswith("Removed")
    assert vehicle["sshd"].authorized_keys.read_text() == ""


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "exactly one ssh public key line, found 0"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\nssh-ed25519 AAAA\n", "found 2"),
        ('command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA', "not an ed25519, RSA or ECDSA public key"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "not an ed25519, RSA or ECDSA public key"),
        ("ssh-ed25519 not*base64", "not base64"),
        ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA== x", "not a ssh-rsa key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n", "private key"),
    ],
)
def test_anything_but_one_public_key_line_is_refused_with_exit_65(vehicle, tmp_path, content, said):
    bad = tmp_path / "bad.pub"
    bad.write_text(content)
    result = authorize(vehicle, key_file=bad)
    assert result.exit_code == EXIT_DATA == 65
    assert said in result.output and str(bad) in result.output
    assert vehicle["sshd"].authorized_keys.read_text() == ""  # nothing installed


def test_a_served_directory_holding_the_config_is_refused(vehicle):
    config = vehicle["config"]
    data = vehicle["exposed"] / "data"
    config.write_text(config.read_text().replace(f"support_dir = {vehicle['exposed'] / 'support'}", "support_dir = /"))
    result = authorize(vehicle)
    assert result.exit_code == 1 and "share no directory but /" in result.output
    config.write_text(config.read_text().replace("support_dir = /", f"support_dir = {config.parent}/support"))
    result = authorize(vehicle)
    assert result.exit_code == 1 and f"holds {config}" in result.output, (data, result.output)
    assert vehicle["sshd"].authorized_keys.read_text() == ""


def test_base_reads_data_and_support_byte_identical_and_appends_to_a_growing_file(vehicle, tmp_path):
    assert authorize(vehicle).exit_code == 0
    copy = tmp_path / "base"
    copy.mkdir()
    for directory in ("data", "support"):
        result = rsync(vehicle, "-a", f"{vehicle['remote']}:{directory}/", f"{copy / directory}/")
        assert result.returncode == 0, result.stderr
    assert tree(copy) == tree(vehicle["exposed"])
    assert len(tree(copy)) == 3

    with open(vehicle["exposed"] / "data" / "20250602.txt", "a") as grown:
        grown.write("2.5,280\n")
    result = rsync(vehicle, "-a", "--append-verify", f"{vehicle['remote']}:data/", f"{copy / 'data'}/")
    assert result.returncode == 0, result.stderr
    assert tree(copy) == tree(vehicle["exposed"])


def test_writing_through_rsync_is_refused(vehicle, tmp_path):
    authorize_and_read(vehicle, tmp_path)
    intruder = tmp_path / "20250603.txt"
    intruder.write_text("forged\n")
    before = tree(vehicle["exposed"])
    result = rsync(vehicle, "-a", str(intruder), f"{vehicle['remote']}:data/")
    assert result.returncode != 0
    assert "sending to read-only server is not allowed" in result.stderr
    result = rsync(vehicle, "-a", "--delete", f"{tmp_path / 'empty'}/", f"{vehicle['remote']}:data/")
    assert result.returncode != 0
    assert tree(vehicle["exposed"]) == before  # nothing written, nothing deleted


def test_reading_outside_the_served_directory_is_refused(vehicle, tmp_path):
    authorize_and_read(vehicle, tmp_path)
    copy = tmp_path / "base"
    for source in ("../etc/secret", "../etc/", "/etc/passwd", str(vehicle["config"])):
        result = rsync(vehicle, "-a", f"{vehicle['remote']}:{source}", f"{copy}/")
        assert result.returncode != 0, (source, result.stdout)
        assert "/usr/bin/rrsync error:" in result.stderr, (source, result.stderr)
    assert not copy.exists() or tree(copy) == {}


def test_a_symlink_out_of_the_served_directory_is_not_followed(vehicle, tmp_path):
    authorize_and_read(vehicle, tmp_path)
    secret = vehicle["config"].parent / "secret"
    os.symlink(secret, vehicle["exposed"] / "data" / "escape")
    copy = tmp_path / "base"
    copy.mkdir()
    for options in (["-aL"], ["-a", "--copy-links"], ["-a", "--copy-unsafe-links"]):
        rsync(vehicle, *options, f"{vehicle['remote']}:data/", f"{copy}/")
        assert not (copy / "escape").is_file(), options  # never the secret's content
    assert secret.read_bytes() not in b"".join(path.read_bytes() for path in copy.rglob("*") if path.is_file())


def test_a_shell_or_any_command_is_refused(vehicle, tmp_path):
    authorize_and_read(vehicle, tmp_path)
    marker = tmp_path / "ran"
    for arguments in ([f"touch {marker}"], ["ls", "/"], []):
        result = ssh(vehicle, "-T", vehicle["remote"], *arguments)
        assert result.returncode != 0, (arguments, result.stdout)
        assert "/usr/bin/rrsync error:" in result.stderr, (arguments, result.stderr)
        assert "bin" not in result.stdout.split()
    result = ssh(vehicle, "-tt", vehicle["remote"], f"touch {marker}")
    assert result.returncode != 0
    assert not marker.exists()


def test_local_and_remote_forwarding_are_refused(vehicle, tmp_path):
    authorize_and_read(vehicle, tmp_path)
    sshd = vehicle["sshd"]
    # -W (a direct-tcpip channel, what -L opens): to the vehicle's own sshd, which is surely listening.
    result = ssh(vehicle, "-W", f"127.0.0.1:{sshd.port}", vehicle["remote"])
    assert result.returncode != 0
    assert "SSH-2.0-" not in result.stdout and "prohibited" in result.stderr
    port = free_port()
    result = ssh(
        vehicle, "-N", "-o", "ExitOnForwardFailure=yes", "-R", f"{port}:127.0.0.1:{sshd.port}", vehicle["remote"]
    )
    assert result.returncode != 0 and "forwarding failed" in result.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens for the vehicle's key
    assert "Accepted publickey" in sshd.log_text()  # the key was accepted: restrict, not auth, refused these


def test_the_packaged_fleet_account_reads_data_and_support_but_not_the_state_through_a_stock_sshd(tmp_path):
    # The account, its home and the state ACL from debian/meso360.sysusers and .tmpfiles, in a private mount
    # namespace (copies of /etc, an empty /var/lib): sshd with StrictModes and PAM logs it in, rrsync serves it.
    script = Path(__file__).with_name("fleet_account_check.sh")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", str(script), str(REPO), str(tmp_path), sys.executable],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    checks = dict(line.split()[1:] for line in result.stdout.splitlines() if line.startswith("CHECK "))
    assert checks == {
        "sysusers": "0",
        "tmpfiles": "0",
        "authorize": "0",
        "read-data": "0",
        "data-identical": "0",
        "read-support": "0",
        "read-state": "12",  # rrsync: the ACL keeps the fleet account out of state/
        "state-copied": "1",
        "push": "12",  # rrsync -ro
        "shell": "1",
    }, result.stdout + result.stderr
    assert "Permission denied" in (tmp_path / "state.err").read_text()
    assert "Accepted publickey for meso360-fleet" in (tmp_path / "sshd.log").read_text()
