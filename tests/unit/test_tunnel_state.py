"""TunnelState: logging once per change, STATUS text, tunnel.json (its reconnect Backoff: test_service.py)."""

import json
import logging

import pytest

from meso360 import config
from meso360.systemd_units import read_tunnel_state
from meso360.tunnel.state import TunnelState


class RecordingNotifier:
    """Stands in for meso360.notify.Notifier (which needs a NOTIFY_SOCKET); records what would be sent."""

    def __init__(self):
        self.sent = []

    def ready(self, status=None):
        self.sent.append(("READY", status))

    def status(self, text):
        self.sent.append(("STATUS", text))

    def watchdog(self):
        self.sent.append(("WATCHDOG", None))


@pytest.fixture
def tunnel_config():
    return config.parse("[tunnel]\nhost = bastion\nuser = mm1\nremote_port = 2222\n").tunnel


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def state(tunnel_config, tmp_path, notifier):
    return TunnelState(tunnel_config, tmp_path / "state", notifier)


def test_a_failure_repeated_by_every_retry_is_logged_once_and_a_new_cause_again(state, caplog):
    caplog.set_level(logging.INFO, logger="meso360.tunnel.state")
    for _ in range(5):
        state.connecting("connecting")
        state.down("cannot connect to bastion:22: connection refused", 4)
    state.down("timed out connecting to bastion:22", 8)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "connection refused" in warnings[0] and "timed out" in warnings[1]


def test_ready_is_sent_once_when_the_probe_first_verifies(state, notifier):
    state.down("connection refused", 1)
    assert not [kind for kind, _ in notifier.sent if kind == "READY"]
    state.up()
    state.up()
    state.down("connection closed", 1)
    state.up()
    assert [kind for kind, _ in notifier.sent].count("READY") == 1


def test_status_lines_say_where_when_and_how_often(state, notifier):
    state.reconnects = 3
    state.down("connection refused", 8)
    assert notifier.sent[-1][1] in (f"tunnel down: connection refused, retry in {n} s (3 reconnects)" for n in (7, 8))
    state.up()
    assert notifier.sent[-1][1] == "tunnel up: bastion:2222 → :22, verified 0 s ago, 3 reconnects"


def test_state_file_holds_the_documented_keys_for_other_processes(state, tmp_path):
    state.down("connection refused", 1)
    state.up()
    written = read_tunnel_state(tmp_path / "state")
    assert written["state"] == "up" and written["reconnects"] == 0 and written["detail"] == "verified"
    assert written["since"].endswith("Z") and written["verified_at"].endswith("Z")
    assert written["remote"] == "bastion:2222" and written["local_port"] == 22
    # In its own directory (writable by the tunnel's user alone), no temporary files left.
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["tunnel"]
    assert [p.name for p in (tmp_path / "state" / "tunnel").iterdir()] == ["tunnel.json"]
    json.loads((tmp_path / "state" / "tunnel" / "tunnel.json").read_text())


def test_an_unwritable_state_dir_does_not_stop_the_tunnel(tunnel_config, tmp_path, notifier, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = TunnelState(tunnel_config, blocker / "state", notifier)
    state.up()
    state.up()
    assert sum("cannot write" in r.getMessage() for r in caplog.records) == 1
