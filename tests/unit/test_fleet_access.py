"""fleet_access: base's key accepted or refused, the served directory, the authorized_keys file kept idempotent
(through a real sshd and rrsync: tests/integration/test_fleet_authorize.py)."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from meso360 import fleet_access


def openssh_public(private_key, comment="base@bastion"):
    text = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{text.decode()} {comment}\n"


@pytest.mark.parametrize(
    ("private_key", "key_type"),
    [
        (ed25519.Ed25519PrivateKey.generate(), "ssh-ed25519"),
        (rsa.generate_private_key(65537, 2048), "ssh-rsa"),
        (ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha2-nistp256"),
        (ec.generate_private_key(ec.SECP384R1()), "ecdsa-sha2-nistp384"),
    ],
)
def test_ed25519_rsa_and_ecdsa_public_keys_are_accepted_with_their_comment(private_key, key_type):
    text = "# base's key\n" + openssh_public(private_key)
    key = fleet_access.parse_public_key(text)
    assert (key.key_type, key.comment) == (key_type, "base@bastion")
    assert str(key) == text.splitlines()[1]


def test_a_key_whose_data_is_of_another_type_is_refused():
    ed_blob = openssh_public(ed25519.Ed25519PrivateKey.generate()).split()[1]
    with pytest.raises(fleet_access.KeyFileError, match="not a ecdsa-sha2-nistp256 key"):
        fleet_access.parse_public_key(f"ecdsa-sha2-nistp256 {ed_blob}")


def test_the_served_directory_is_the_one_holding_data_and_support():
    private = ("/etc/meso360/meso360.conf", "/etc/meso360/tunnel_key", "/etc/meso360/known_hosts")
    data, support = Path("/var/lib/meso360/data"), Path("/var/lib/meso360/support")
    assert fleet_access.exposed_directory(data, support, private) == Path("/var/lib/meso360")
    assert fleet_access.exposed_directory(Path("/srv/mm/data"), Path("/srv/mm/data/support"), private) == Path(
        "/srv/mm/data"
    )
    with pytest.raises(fleet_access.ExposureError, match="share no directory but /"):
        fleet_access.exposed_directory(Path("/data"), Path("/support"), private)
    with pytest.raises(fleet_access.ExposureError, match="holds /etc/meso360/meso360.conf"):
        fleet_access.exposed_directory(Path("/etc/meso360/data"), Path("/etc/meso360/support"), private)
    with pytest.raises(fleet_access.ExposureError, match="only letters"):
        fleet_access.exposed_directory(Path('/srv/my "data"/a'), Path('/srv/my "data"/b'), private)


def test_install_keeps_other_keys_replaces_this_keys_old_line_and_removes_it(tmp_path):
    keys_file = tmp_path / "ssh" / "authorized_keys"
    key = fleet_access.parse_public_key(openssh_public(ed25519.Ed25519PrivateKey.generate()))
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other@host"
    keys_file.parent.mkdir()
    keys_file.write_text(f"{other}\n{key}\n")  # this key already there, without the restriction

    assert fleet_access.install(keys_file, key, Path("/var/lib/meso360")) == "replaced"
    line = f'restrict,command="/usr/bin/rrsync -ro /var/lib/meso360" {key}'
    assert keys_file.read_text() == f"{other}\n{line}\n"
    assert fleet_access.install(keys_file, key, Path("/var/lib/meso360")) == "unchanged"
    assert keys_file.stat().st_mode & 0o777 == 0o644
    assert fleet_access.install(keys_file, key, Path("/var/lib/meso360"), remove=True) == "removed"
    assert keys_file.read_text() == f"{other}\n"
    assert fleet_access.install(keys_file, key, Path("/var/lib/meso360"), remove=True) == "absent"


def test_install_creates_the_missing_ssh_directory(tmp_path):
    keys_file = tmp_path / "home" / ".ssh" / "authorized_keys"
    key = fleet_access.parse_public_key(openssh_public(ed25519.Ed25519PrivateKey.generate()))
    assert fleet_access.install(keys_file, key, Path("/var/lib/meso360")) == "added"
    assert keys_file.parent.stat().st_mode & 0o777 == 0o755
