"""meso360-tunnel against a real OpenSSH sshd on 127.0.0.1, run as a real process; set up with the real CLI."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from sshd_fixture import (  # noqa: F401 - the *_fixture names register pytest fixtures
    env_fixture,
    free_port,
    notify_directory_fixture,
    ssh_keygen,
    sshd_fixture,
    vehicle_fixture,
    wait_for,
    web_fixture,
)

from meso360 import config as config_module
from meso360.ctl.tunnel_cmd import tunnel as tunnel_cli
from meso360.errors import EXIT_CONFIG
from meso360.tunnel import keys
from meso360.tunnel.forward import MAX_CONNECTIONS
from meso360.web.vehicle_metrics import tunnel_metrics

pytestmark = pytest.mark.sshd


# Bounded waits, passed as soon as the tunnel is up: a loaded 2-core CI machine took over 20 s for the first SSH
# handshake, key exchange and end-to-end probe.
TUNNEL_UP_S = 60


def run_cli(env, *args, input=None):
    result = CliRunner().invoke(tunnel_cli, ["--config", str(env.config_path), *args], input=input)
    return result


def keygen_and_authorize(env):
    """`meso360ctl tunnel keygen`, then put the printed authorized_keys line on the bastion as an admin would."""
    result = run_cli(env, "keygen", "--owner", "root")
    assert result.exit_code == 0, result.output
    line = next(text for text in result.output.splitlines() if text.startswith("restrict,"))
    env.sshd.authorized_keys.write_text(line + "\n")
    return line


def trust(env):
    result = run_cli(env, "trust", "--yes")
    assert result.exit_code == 0, result.output
    return result


def ready_setup(env):
    keygen_and_authorize(env)
    trust(env)
    return env


def exchange_through_bastion(remote_port):
    """Connect to the bastion's forwarded port; return (banner, echo, reply after our half-close)."""
    with socket.create_connection(("127.0.0.1", remote_port), timeout=10) as conn:
        conn.settimeout(10)
        banner = conn.recv(100)
        conn.sendall(b"hello")
        echo = b""
        while len(echo) < 5:
            echo += conn.recv(100)
        conn.shutdown(socket.SHUT_WR)
        tail = b""
        while chunk := conn.recv(100):
            tail += chunk
    return banner, echo, tail


def test_forward_reaches_the_vehicle_sshd_with_half_close_and_ready_is_sent_once_verified(env):
    ready_setup(env)
    daemon = env.start_daemon()

    state = env.wait_state(lambda s: s["state"] == "up", 20, "tunnel.json says up")
    assert state["verified_at"] and state["reconnects"] == 0
    lines = wait_for(lambda: (lines := env.notify.lines()) and "READY=1" in lines and lines, 10, "READY=1")
    assert any(line.startswith("STATUS=tunnel up: 127.0.0.1:") for line in lines)
    assert "WATCHDOG=1" in wait_for(env.notify.lines, 5, "watchdog")

    banner, echo, tail = exchange_through_bastion(env.remote_port)
    assert banner == b"SSH-2.0-test\r\n"
    assert echo == b"hello"
    assert tail == b"bye 5"  # our EOF reached the vehicle side, and its reply and EOF came back

    assert daemon.stop() == 0
    assert "STOPPING=1" in env.notify.lines()


def test_tunnel_comes_back_and_is_verified_again_after_the_bastion_restarts(env):
    ready_setup(env)
    env.start_daemon()
    first = env.wait_state(lambda s: s["state"] == "up", TUNNEL_UP_S, "tunnel up")

    env.sshd.kill()
    down = env.wait_state(lambda s: s["state"] == "down", 15, "tunnel down after the bastion died")
    assert down["detail"]
    wait_for(lambda: any(line.startswith("STATUS=tunnel down:") for line in env.notify.lines()), 10, "down status")

    env.sshd.start()
    again = env.wait_state(
        lambda s: s["state"] == "up"
        and s["verified_at"]
        and s["verified_at"] >= first["verified_at"]
        and s["reconnects"] >= 1,
        30,
        "tunnel up again",
    )
    assert again["since"] >= down["since"]
    banner, echo, tail = exchange_through_bastion(env.remote_port)
    assert (banner, echo, tail) == (b"SSH-2.0-test\r\n", b"hello", b"bye 5")
    assert env.sshd.log_text().count("Accepted publickey") >= 2
    assert env.notify.lines().count("READY=1") == 1


@pytest.mark.parametrize("case", ["unknown", "changed"])
def test_unknown_or_changed_host_key_is_refused_before_authenticating(env, tmp_path, case):
    keygen_and_authorize(env)
    env.known_hosts.parent.mkdir(parents=True, exist_ok=True)
    if case == "unknown":
        env.known_hosts.write_text("")
    else:
        impostor = ssh_keygen(tmp_path / "other_host_key")
        env.known_hosts.write_text(f"[127.0.0.1]:{env.sshd.port} {' '.join(impostor.split()[:2])}\n")
    real = subprocess.run(
        ["ssh-keygen", "-lf", f"{env.sshd.host_key}.pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    daemon = env.start_daemon()

    state = env.wait_state(lambda s: s["state"] == "down", 20, "connection refused by the host key check")
    assert real in state["detail"]
    assert ("HOST KEY CHANGED" in state["detail"]) == (case == "changed")
    wait_for(lambda: real in daemon.log_text(), 10, "fingerprint in the log")
    assert "Connection from 127.0.0.1" in env.sshd.log_text()  # it did reach the server …
    assert "Accepted publickey" not in env.sshd.log_text()  # … and never authenticated
    assert "READY=1" not in env.notify.lines()


def test_private_key_readable_by_others_is_a_config_error(env):
    keygen_and_authorize(env)
    trust(env)
    os.chmod(env.key_file, 0o644)
    connections_before = env.sshd.log_text().count("Connection from")
    result = subprocess.run(
        [sys.executable, "-m", "meso360.tunnel.daemon", "--config", str(env.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_CONFIG
    assert "too open" in result.stderr and f"chmod 600 {env.key_file}" in result.stderr
    assert env.sshd.log_text().count("Connection from") == connections_before  # refused before any contact


def test_forward_refused_by_the_bastion_backs_off_and_logs_the_fix_once(env):
    ready_setup(env)
    env.sshd.kill()
    env.sshd.extra_options = ["AllowTcpForwarding local"]
    env.sshd.start()
    daemon = env.start_daemon()

    wait_for(lambda: env.sshd.log_text().count("Accepted publickey") >= 3, 30, "three attempts")
    state = env.state()
    assert state["state"] == "down" and "refused to listen" in state["detail"]
    log = daemon.log_text()
    assert log.count("refused to listen") == 1, log  # one line per state change, not per retry
    assert "ClientAliveInterval" in log and "ClientAliveCountMax" in log
    assert "READY=1" not in env.notify.lines()


def test_keygen_makes_a_private_key_only_its_owner_can_read(env):
    line = keygen_and_authorize(env)
    assert stat.S_IMODE(env.key_file.stat().st_mode) == 0o600
    public = env.key_file.with_name("tunnel_key.pub")
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    port = env.remote_port
    assert line == (
        f'restrict,port-forwarding,permitlisten="localhost:{port}",permitopen="localhost:{port}" '
        + public.read_text().strip()
    )
    assert public.read_text().startswith("ssh-ed25519 ") and public.read_text().strip().endswith(" meso360@MM1")
    again = run_cli(env, "keygen")
    assert again.exit_code != 0 and "already exists" in again.output  # never overwrites silently


def test_trust_pins_the_servers_key_and_asks_first(env):
    declined = run_cli(env, "trust", input="n\n")
    assert declined.exit_code != 0 and not env.known_hosts.exists()
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", f"{env.sshd.host_key}.pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert fingerprint in declined.output

    accepted = run_cli(env, "trust", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert env.known_hosts.read_text() == env.sshd.known_hosts_line()


def test_silent_bastion_is_detected_by_keepalives_and_a_stale_listener_is_reported_until_it_goes(env):
    ready_setup(env)
    daemon = env.start_daemon()
    env.wait_state(lambda s: s["state"] == "up", TUNNEL_UP_S, "tunnel up")

    # Freeze the bastion's session: TCP stays open, nothing answers, and it keeps holding remote_port,
    # as a bastion does with a vehicle that dropped off the network without closing its connection.
    assert env.sshd.signal_sessions(signal.SIGSTOP) >= 1
    down = env.wait_state(lambda s: s["state"] == "down", 20, "link declared dead")
    assert "keepalives" in down["detail"]
    wait_for(lambda: "refused to listen" in daemon.log_text(), 20, "the stale listener blocks the new forward")
    assert "ClientAliveInterval" in daemon.log_text()

    # What ClientAliveInterval would do on the bastion: drop the dead session. The tunnel then comes back.
    env.sshd.signal_sessions(signal.SIGKILL)
    env.wait_state(lambda s: s["state"] == "up", 30, "tunnel up again once the stale session is gone")
    assert exchange_through_bastion(env.remote_port) == (b"SSH-2.0-test\r\n", b"hello", b"bye 5")


def test_connections_beyond_the_limit_are_refused_and_a_freed_slot_is_reused(env):
    ready_setup(env)
    env.write_config(probe_interval=600)  # only the first probe: no probe takes a slot during the test
    env.start_daemon()
    env.wait_state(lambda s: s["state"] == "up", TUNNEL_UP_S, "tunnel up")

    connections = []
    try:
        for _ in range(MAX_CONNECTIONS):
            conn = socket.create_connection(("127.0.0.1", env.remote_port), timeout=10)
            connections.append(conn)
            assert conn.recv(100) == b"SSH-2.0-test\r\n"
        with socket.create_connection(("127.0.0.1", env.remote_port), timeout=10) as extra:
            assert extra.recv(100) == b""  # closed by the tunnel without reaching the vehicle
        connections.pop().close()

        def banner_again():
            with socket.create_connection(("127.0.0.1", env.remote_port), timeout=10) as conn:
                return conn.recv(100) == b"SSH-2.0-test\r\n"

        wait_for(banner_again, 10, "a connection gets through once a slot is free")
    finally:
        for conn in connections:
            conn.close()


def test_sigterm_is_answered_at_once_while_the_server_keeps_silent(env):
    ready_setup(env)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP, never says a word
    try:
        env.write_config(port=silent.getsockname()[1], connect_timeout=15)
        daemon = env.start_daemon()
        silent.settimeout(30)
        conn, _ = silent.accept()  # the daemon now waits for the SSH banner (up to 15 s)
        with conn:
            started = time.monotonic()
            assert daemon.stop() == 0
            assert time.monotonic() - started < 10  # below the 15 s the banner wait could take
    finally:
        silent.close()


def with_web_forward(env, web):
    """Give the config a web forward: [web] listen on the wildcard address (the tunnel then connects to 127.0.0.1,
    where the stand-in listens) and a free remote_web_port on the bastion."""
    env.web_listen = f"0.0.0.0:{web.port}"
    env.web_remote_port = free_port()
    env.write_config(remote_web_port=env.web_remote_port)
    return env


def get_through_bastion(port, path="/healthz"):
    """GET http://127.0.0.1:port/path on the bastion's loopback; return (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:  # noqa: S310  loopback
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_web_forward_answers_healthz_through_the_bastion_and_is_reported_verified(env, web):
    with_web_forward(env, web)
    line = keygen_and_authorize(env)
    assert f'permitlisten="localhost:{env.web_remote_port}"' in line
    assert f'permitopen="localhost:{env.web_remote_port}"' in line
    trust(env)
    daemon = env.start_daemon()

    state = env.wait_state(
        lambda s: s["state"] == "up" and s["web_forward"]["state"] == "verified", TUNNEL_UP_S, "web forward verified"
    )
    assert state["web_forward"]["local"] == f"127.0.0.1:{web.port}"
    assert state["web_forward"]["remote"] == f"127.0.0.1:{env.web_remote_port}"
    assert state["web_forward"]["verified_at"] and web.requests >= 1  # the daemon's own probe reached the web side
    requests_before = web.requests
    status, body = get_through_bastion(env.web_remote_port)
    assert status == 200 and body == f"ok {requests_before + 1}".encode()
    assert get_through_bastion(env.web_remote_port, "/elsewhere")[0] == 404
    assert exchange_through_bastion(env.remote_port) == (b"SSH-2.0-test\r\n", b"hello", b"bye 5")  # both forwards
    web_status = f"; web :{env.web_remote_port} → 127.0.0.1:{web.port} verified"
    wait_for(lambda: any(web_status in line for line in env.notify.lines()), 10, "STATUS with the web forward")
    assert "web forward verified" in daemon.log_text()

    metrics = "\n".join(tunnel_metrics(config_module.load(env.config_path))) + "\n"
    assert "\nmeso360_tunnel_web_forward_verified 1\n" in metrics
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True, timeout=30
    )
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), metrics

    web.healthz_status = 503  # the web daemon says it is unhealthy: the forward is not verified, the tunnel stays up
    state = env.wait_state(lambda s: s["web_forward"]["state"] == "failed", 20, "web forward reported failed")
    assert "503" in state["web_forward"]["detail"] and state["state"] == "up" and state["reconnects"] == 0
    assert "meso360_tunnel_web_forward_verified 0" in tunnel_metrics(config_module.load(env.config_path))
    assert "meso360_tunnel_up 1" in tunnel_metrics(config_module.load(env.config_path))


def test_web_forward_refused_by_the_bastion_is_reported_and_retried_while_the_ssh_forward_stays_up(env, web):
    with_web_forward(env, web)
    keygen_and_authorize(env)
    public = env.key_file.with_name("tunnel_key.pub").read_text().strip()
    # The bastion's admin allowed only the sshd port: the web port's listen request is refused.
    env.sshd.authorized_keys.write_text(keys.authorized_keys_line(public, env.remote_port) + "\n")
    trust(env)
    daemon = env.start_daemon()

    state = env.wait_state(
        lambda s: s["state"] == "up" and s["web_forward"]["state"] == "refused", TUNNEL_UP_S, "web forward refused"
    )
    assert "refused to listen on localhost:" + str(env.web_remote_port) in state["web_forward"]["detail"]
    assert state["detail"] == "verified" and state["verified_at"]  # the lifeline is up and proven
    assert "READY=1" in env.notify.lines()
    assert exchange_through_bastion(env.remote_port) == (b"SSH-2.0-test\r\n", b"hello", b"bye 5")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env.web_remote_port), timeout=5).close()

    def refusals():
        denied = f"forward to host localhost port {env.web_remote_port}, but the request was denied"
        return env.sshd.log_text().count(denied) >= 2 and daemon.log_text()

    log = wait_for(refusals, 30, "a second web forward request (the retry)")
    assert log.count("web forward not in place") == 1, log  # one clear line, not one per retry
    assert "the ssh forward stays up" in log and "remote_web_port" in log
    state = env.state()
    assert state["state"] == "up" and state["reconnects"] == 0 and state["web_forward"]["state"] == "refused"
    assert "meso360_tunnel_web_forward_verified 0" in tunnel_metrics(config_module.load(env.config_path))


def test_web_forward_refused_while_the_port_is_taken_comes_up_at_a_retry_without_reconnecting(env, web):
    with_web_forward(env, web)
    ready_setup(env)
    squatter = socket.create_server(("127.0.0.1", env.web_remote_port))  # another program holds the bastion's port
    try:
        env.start_daemon()
        env.wait_state(lambda s: s["web_forward"]["state"] == "refused", TUNNEL_UP_S, "web forward refused")
    finally:
        squatter.close()
    state = env.wait_state(lambda s: s["web_forward"]["state"] == "verified", 30, "verified at a retry")
    assert state["reconnects"] == 0 and state["state"] == "up"
    assert get_through_bastion(env.web_remote_port)[0] == 200
