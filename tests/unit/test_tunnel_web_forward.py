"""The web forward's pieces: [tunnel] remote_web_port validation, the keygen line, its state in tunnel.json,
STATUS and `meso360ctl status` (end to end through a real sshd: tests/integration/test_tunnel.py)."""

import json
import logging

import pytest

from meso360 import config
from meso360.ctl.status import _tunnel_line
from meso360.errors import ConfigError
from meso360.systemd_units import read_tunnel_state
from meso360.tunnel import keys
from meso360.tunnel.state import TunnelState
from meso360.tunnel.web_forward import web_target

TUNNEL = "[tunnel]\nhost = bastion\nuser = mm1\nremote_port = 2222\n"


class RecordingNotifier:
    """Stands in for meso360.notify.Notifier (which needs a NOTIFY_SOCKET); records the STATUS texts."""

    def __init__(self):
        self.statuses = []

    def ready(self, status=None):
        pass

    def status(self, text):
        self.statuses.append(text)

    def watchdog(self):
        pass


def problems_of(text):
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.conf")
    return caught.value.problems


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("", 0), ("0", 0), ("1024", 1024), ("65535", 65535)])
def test_remote_web_port_is_off_by_default_or_a_port_from_1024(value, expected):
    text = TUNNEL + ("" if value is None else f"remote_web_port = {value}\n")
    assert config.parse(text).tunnel.remote_web_port == expected


@pytest.mark.parametrize("value", ["22", "1023", "65536", "-1", "web", "80.5"])
def test_remote_web_port_outside_1024_to_65535_is_refused_saying_what_is_allowed(value):
    problems = problems_of(TUNNEL + f"remote_web_port = {value}\n")
    assert problems == [
        f"test.conf: tunnel.remote_web_port = '{value}': must be 0 (off) or a port between 1024 and 65535"
    ]


def test_remote_web_port_equal_to_remote_port_is_refused():
    problems = problems_of("[tunnel]\nhost = bastion\nuser = mm1\nremote_port = 8201\nremote_web_port = 8201\n")
    assert problems == ["test.conf: tunnel.remote_web_port must differ from tunnel.remote_port (two forwards)"]


def test_the_example_config_documents_remote_web_port_commented_out():
    assert "\n#remote_web_port = 0\n" in config.example_text()


def test_keygen_line_lets_the_key_listen_on_and_open_both_ports_and_nothing_else():
    line = keys.authorized_keys_line("ssh-ed25519 AAAA meso360@MM1", 2201, 8201)
    options = (
        'restrict,port-forwarding,permitlisten="localhost:2201",permitlisten="localhost:8201",'
        'permitopen="localhost:2201",permitopen="localhost:8201"'
    )
    assert line == f"{options} ssh-ed25519 AAAA meso360@MM1"
    assert keys.authorized_keys_line("ssh-ed25519 AAAA c", 2201, 0) == keys.authorized_keys_line(
        "ssh-ed25519 AAAA c", 2201
    )


@pytest.mark.parametrize(
    ("listen", "target"),
    [
        (("0.0.0.0", 8080), ("127.0.0.1", 8080)),
        (("::", 8080), ("127.0.0.1", 8080)),
        (("127.0.0.1", 8081), ("127.0.0.1", 8081)),
        (("192.0.2.7", 80), ("192.0.2.7", 80)),
        (("::1", 8080), ("::1", 8080)),
    ],
)
def test_the_web_forward_connects_to_loopback_when_the_web_daemon_listens_on_every_address(listen, target):
    assert web_target(listen) == target


def make_state(tmp_path, text, listen=("127.0.0.1", 8080)):
    notifier = RecordingNotifier()
    return TunnelState(config.parse(text).tunnel, tmp_path / "state", notifier, listen), notifier


def test_tunnel_json_says_off_without_a_web_port(tmp_path):
    state, _ = make_state(tmp_path, TUNNEL)
    state.up()
    written = read_tunnel_state(tmp_path / "state")
    assert written["web_forward"] == {"state": "off"}
    assert "web" not in state.status_text()
    assert "web forward" not in _tunnel_line({"configured": True, "state": written})


def test_web_forward_states_reach_tunnel_json_status_and_ctl_status_and_each_cause_is_logged_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meso360.tunnel.state")
    state, notifier = make_state(tmp_path, TUNNEL + "remote_web_port = 8201\n")
    state.up()
    assert read_tunnel_state(tmp_path / "state")["web_forward"]["state"] == "pending"
    for _ in range(3):  # a retry every probe_interval, refused each time
        state.web_failed("refused", "the bastion refused to listen on localhost:8201")
    written = read_tunnel_state(tmp_path / "state")
    assert written["state"] == "up"  # the ssh forward is the lifeline
    assert written["web_forward"] == {
        "state": "refused",
        "detail": "the bastion refused to listen on localhost:8201",
        "verified_at": None,
        "remote": "bastion:8201",
        "local": "127.0.0.1:8080",
    }
    assert notifier.statuses[-1].endswith("; web :8201 → 127.0.0.1:8080 refused")
    line = _tunnel_line({"configured": True, "state": written})
    assert "tunnel web forward: refused (bastion:8201 → 127.0.0.1:8080)" in line
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "the ssh forward stays up" in warnings[0]

    state.web_verified()
    written = json.loads((tmp_path / "state" / "tunnel" / "tunnel.json").read_text())
    assert written["web_forward"]["state"] == "verified" and written["web_forward"]["verified_at"]
    assert any("web forward verified" in r.getMessage() for r in caplog.records)

    state.down("connection closed", 1)  # the session died: the web forward went with it
    assert read_tunnel_state(tmp_path / "state")["web_forward"]["state"] == "down"


def test_an_ipv6_web_address_is_shown_in_brackets(tmp_path):
    state, _ = make_state(tmp_path, TUNNEL + "remote_web_port = 8201\n", ("::1", 8080))
    assert state.web_local == "[::1]:8080"
