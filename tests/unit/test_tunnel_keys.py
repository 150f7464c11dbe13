"""Tunnel key checks, known_hosts pinning, the authorized_keys line and --check-configured."""

import logging
import os
import stat
import subprocess
import sys

import pytest

from meso360 import config
from meso360.errors import EXIT_CONFIG, ConfigError
from meso360.tunnel import daemon, keys, ssh


def make_key(path, passphrase=""):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True)
    return path


def test_missing_key_file_tells_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="meso360ctl tunnel keygen"):
        ssh.load_private_key(tmp_path / "tunnel_key")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_key_readable_by_group_or_others_is_refused_with_the_fix(tmp_path, mode):
    key = make_key(tmp_path / "tunnel_key")
    key.chmod(mode)
    with pytest.raises(ConfigError, match=f"permissions {mode:04o} are too open.*chmod 600 {key}"):
        ssh.load_private_key(key)


def test_key_with_a_passphrase_is_refused(tmp_path):
    key = make_key(tmp_path / "tunnel_key", passphrase="secret")
    with pytest.raises(ConfigError, match="passphrase"):
        ssh.load_private_key(key)


def test_private_ed25519_key_with_mode_0600_loads(tmp_path):
    key = make_key(tmp_path / "tunnel_key")
    assert ssh.load_private_key(key).get_name() == "ssh-ed25519"


def test_missing_known_hosts_tells_how_to_record_the_bastion(tmp_path):
    with pytest.raises(ConfigError, match="meso360ctl tunnel trust"):
        ssh.load_known_hosts(tmp_path / "known_hosts")


def test_trusting_a_host_again_replaces_only_its_own_line(tmp_path):
    key_a = ssh.load_private_key(make_key(tmp_path / "a"))
    key_b = ssh.load_private_key(make_key(tmp_path / "b"))
    known_hosts = tmp_path / "etc" / "known_hosts"
    other = keys.ServerHostKey("other", 22, "ssh-ed25519", ssh.fingerprint(key_a), key_a)
    keys.add_known_host(known_hosts, other)
    keys.add_known_host(known_hosts, keys.ServerHostKey("bastion", 2200, "ssh-ed25519", "x", key_a))
    keys.add_known_host(known_hosts, keys.ServerHostKey("bastion", 2200, "ssh-ed25519", "x", key_b))
    lines = known_hosts.read_text().splitlines()
    assert lines == [f"other ssh-ed25519 {key_a.get_base64()}", f"[bastion]:2200 ssh-ed25519 {key_b.get_base64()}"]
    assert ssh.load_known_hosts(known_hosts).lookup("[bastion]:2200")["ssh-ed25519"] == key_b


def test_fingerprint_matches_ssh_keygen(tmp_path):
    key_path = make_key(tmp_path / "k")
    expected = subprocess.run(["ssh-keygen", "-lf", f"{key_path}.pub"], capture_output=True, text=True).stdout
    assert ssh.fingerprint(ssh.load_private_key(key_path)) == expected.split()[1]


def test_authorized_keys_line_allows_only_the_vehicles_own_port():
    line = keys.authorized_keys_line("ssh-ed25519 AAAA meso360@MM1", 2222)
    options = 'restrict,port-forwarding,permitlisten="localhost:2222",permitopen="localhost:2222"'
    assert line == f"{options} ssh-ed25519 AAAA meso360@MM1"


def write_config(tmp_path, text):
    path = tmp_path / "meso360.conf"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[tunnel]\nhost = bastion\nuser = mm1\nremote_port = 2222\n", 0),
        ("[tunnel]\nhost =\n", 1),
        # A broken config must not look like "not configured" to ExecCondition=: ExecStart then fails with 78.
        ("[tunnel]\nhost = bastion\n", 0),
    ],
)
def test_check_configured_exit_codes_for_exec_condition(tmp_path, text, code):
    with pytest.raises(SystemExit) as exited:
        daemon.main(["--config", write_config(tmp_path, text), "--check-configured"])
    assert exited.value.code == code


def test_daemon_without_a_host_exits_zero_at_once_saying_why(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    loaded = config.load(write_config(tmp_path, f"[meso360]\nstate_dir = {tmp_path}\n"))
    assert daemon.run(loaded, stop_event=None, notifier=None) == 0
    assert "not configured" in caplog.text


def test_daemon_with_an_invalid_config_exits_with_the_config_code(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        daemon.main(["--config", write_config(tmp_path, "[tunnel]\nhost = bastion\nport = x\n")])
    assert exited.value.code == EXIT_CONFIG
    assert "tunnel.port" in capsys.readouterr().err


def test_keygen_works_without_the_ssh_keygen_program_and_openssh_accepts_the_key(tmp_path):
    # A minimal install has no openssh-client: keygen must not need it (PATH here has no ssh-keygen).
    key_file = tmp_path / "etc" / "tunnel_key"
    config_path = write_config(
        tmp_path, f"[meso360]\nvehicle = MM7\n[tunnel]\nremote_port = 2207\nkey_file = {key_file}\n"
    )
    empty = tmp_path / "no-tools"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", "from meso360.ctl.cli import main; main()", "--config", config_path, "tunnel", "keygen"],
        capture_output=True,
        text=True,
        env={"PATH": str(empty), "LC_ALL": "C.UTF-8", "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    public = key_file.with_name("tunnel_key.pub").read_text().strip()
    assert public.startswith("ssh-ed25519 ") and public.endswith(" meso360@MM7")
    assert (
        stat.S_IMODE(key_file.stat().st_mode),
        stat.S_IMODE(key_file.with_name("tunnel_key.pub").stat().st_mode),
    ) == (
        0o600,
        0o644,
    )
    assert keys.authorized_keys_line(public, 2207) in result.stdout
    # OpenSSH reads the private key and derives the same public key; paramiko (the daemon) loads it.
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, text=True, check=True)
    assert derived.stdout.split()[:2] == public.split()[:2]
    assert ssh.load_private_key(key_file).get_base64() == public.split()[1]
