"""meso360ctl status, start/stop/enable and logs, run as the real `meso360ctl` process.

PID 1 is not systemd on the development machine, so the real systemctl here answers "not booted
with systemd": those tests check that status reports the units as unknown while the data part still
works. To check how systemd's answers are interpreted, some tests put a fake `systemctl` (or
`journalctl`) script first on PATH that prints canned `systemctl show` output or errors; this only
emulates systemd, which cannot run here. The booted-container end-to-end test checks the real thing.
"""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meso360.datafile import OBS_HEADER

MESO360CTL = str(Path(sys.executable).parent / "meso360ctl")
UNITS = ("meso360-ingest.service", "meso360-web.service", "meso360-tunnel.service", "meso360-sim.service")


def obs_row(when, t_fast="21.5"):
    return f"2.5,180,20,50,{t_fast},10.25,50,900.5,9,{when:%d%m%y},{when:%H%M%S},33.19,-102.27,1021,0,85.5,28.16"


def write_config(tmp_path, extra=""):
    for name in ("data", "support", "state"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "meso360.conf"
    path.write_text(
        f"[meso360]\ndata_dir = {tmp_path / 'data'}\nsupport_dir = {tmp_path / 'support'}\n"
        f"state_dir = {tmp_path / 'state'}\n[ingest]\nlogger_url = http://127.0.0.1:9\n{extra}"
    )
    return path


def write_data(tmp_path, age_seconds):
    """Today's file whose last row is `age_seconds` old (by GPS time); return that time."""
    newest = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=age_seconds)
    rows = [obs_row(newest - dt.timedelta(seconds=s)) for s in (5, 4, 3, 1)] + [obs_row(newest, t_fast="22.75")]
    (tmp_path / "data" / f"{newest:%Y%m%d}.txt").write_text(OBS_HEADER + "\n" + "\n".join(rows) + "\n")
    return newest


def fake_tool(tmp_path, name, script):
    """Put an executable `name` (a sh script) in tmp_path/bin; return the PATH that finds it first."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


def show_block(unit, active="active", sub="running", enabled="enabled", restarts=0, status=""):
    return (
        f"Id={unit}\nLoadState=loaded\nActiveState={active}\nSubState={sub}\nUnitFileState={enabled}\n"
        f"ActiveEnterTimestamp=@1749145948\nNRestarts={restarts}\nWatchdogUSec=30000000\n"
        f"StatusText={status}\nResult=success\n"
    )


def fake_systemctl(tmp_path, blocks):
    """A systemctl whose `show` prints `blocks` and records its arguments in tmp_path/systemctl.args."""
    canned = tmp_path / "show.txt"
    canned.write_text("\n".join(blocks))
    return fake_tool(tmp_path, "systemctl", f'echo "$@" >> {tmp_path}/systemctl.args\ncat {canned}\n')


def run(config_path, *args, path=None):
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    return subprocess.run(
        [MESO360CTL, "--config", str(config_path), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_status_without_systemd_reports_units_unknown_and_fresh_data_as_healthy(tmp_path):
    config_path = write_config(tmp_path)
    newest = write_data(tmp_path, age_seconds=2)
    result = run(config_path, "status", "--json")
    assert result.returncode == 0, result.stdout
    status = json.loads(result.stdout)
    assert status["systemd"]["available"] is False
    assert {unit["unit"]: unit["health"] for unit in status["units"]} == dict.fromkeys(
        (*UNITS, "meso360.target"), "unknown"
    )
    observation = status["observation"]
    assert observation["gps_time"] == f"{newest:%Y-%m-%dT%H:%M:%SZ}"  # the one time format: ISO 8601 UTC, Z
    assert status["time"].endswith("Z") and "." not in status["time"]
    assert 0 <= observation["age_seconds"] < 30
    assert observation["t_fast_c"] == 22.75 and observation["pressure_hpa"] == 900.5
    assert status["today"]["gap_count"] == 1 and status["today"]["rows"] == 5
    assert status["tunnel"] == {"configured": False, "state": None}
    assert status["disk"]["free_bytes"] > 0
    assert status["healthy"] is True


def test_status_with_stale_data_is_unhealthy_and_exits_1(tmp_path):
    config_path = write_config(tmp_path)
    write_data(tmp_path, age_seconds=120)
    result = run(config_path, "status")
    assert result.returncode == 1
    assert "UNHEALTHY: newest observation is 12" in result.stdout
    assert "systemd is not available here" in result.stdout  # the real systemctl, PID 1 not systemd


def test_status_without_any_data_file_is_unhealthy(tmp_path):
    result = run(write_config(tmp_path), "status", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["observation"] is None


def test_status_reads_all_units_in_one_systemctl_call_and_passes_when_all_run(tmp_path):
    config_path = write_config(tmp_path)
    write_data(tmp_path, age_seconds=1)
    blocks = [show_block(unit, status="logger OK, last record 123456") for unit in (*UNITS, "meso360.target")]
    result = run(config_path, "status", path=fake_systemctl(tmp_path, blocks))
    assert result.returncode == 0, result.stdout
    assert "meso360-ingest.service   active/running" in result.stdout
    assert "since 2025-06-05T17:52:28Z" in result.stdout and "logger OK, last record 123456" in result.stdout
    (call,) = (tmp_path / "systemctl.args").read_text().splitlines()
    assert call.startswith("show") and all(unit in call for unit in UNITS)


@pytest.mark.parametrize(
    ("ingest_block", "problem"),
    [
        (show_block(UNITS[0], active="failed", sub="failed"), "meso360-ingest.service: failed"),
        (show_block(UNITS[0], active="activating", sub="auto-restart", restarts=7), "restarting"),
        (show_block(UNITS[0], active="inactive", sub="dead"), "enabled but not running"),
    ],
)
def test_status_with_a_broken_unit_exits_1_even_with_fresh_data(tmp_path, ingest_block, problem):
    config_path = write_config(tmp_path)
    write_data(tmp_path, age_seconds=1)
    blocks = [ingest_block] + [show_block(unit) for unit in (*UNITS[1:], "meso360.target")]
    result = run(config_path, "status", "--json", path=fake_systemctl(tmp_path, blocks))
    assert result.returncode == 1
    assert any(problem in text for text in json.loads(result.stdout)["problems"])


def test_status_treats_an_unconfigured_stopped_tunnel_as_fine_and_shows_tunnel_state(tmp_path):
    config_path = write_config(tmp_path)
    write_data(tmp_path, age_seconds=1)
    blocks = [show_block(unit) for unit in (UNITS[0], UNITS[1], "meso360.target")]
    blocks += [
        show_block(UNITS[2], active="inactive", sub="dead"),
        show_block(UNITS[3], "inactive", "dead", "disabled"),
    ]
    path = fake_systemctl(tmp_path, blocks)
    result = run(config_path, "status", path=path)
    assert result.returncode == 0, result.stdout
    assert "tunnel: not configured" in result.stdout

    state = {"state": "up", "since": "2025-06-05T17:52:28Z", "verified_at": "x", "reconnects": 3, "detail": "ok"}
    (tmp_path / "state" / "tunnel").mkdir()
    (tmp_path / "state" / "tunnel" / "tunnel.json").write_text(json.dumps(state))
    extra = "[tunnel]\nhost = 127.0.0.1\nuser = mm1\nremote_port = 20001\n"
    result = run(write_config(tmp_path, extra), "status", path=path)
    assert result.returncode == 1  # configured now, enabled and not running
    assert "tunnel: up since 2025-06-05T17:52:28Z" in result.stdout and "3 reconnects" in result.stdout


def test_start_without_systemd_says_so(tmp_path):
    result = run(write_config(tmp_path), "start", "ingest")
    assert result.returncode == 1
    assert "systemd is not available here" in result.stderr and "make demo" in result.stderr


def test_start_refused_by_polkit_explains_how_to_get_permission(tmp_path):
    script = 'echo "Failed to start meso360-ingest.service: Access denied" >&2\nexit 4\n'
    result = run(write_config(tmp_path), "restart", "ingest", path=fake_tool(tmp_path, "systemctl", script))
    assert result.returncode == 1
    assert "not permitted" in result.stderr and "sudo meso360ctl restart ingest" in result.stderr


def test_start_all_and_enable_now_call_systemctl_with_the_right_units(tmp_path):
    path = fake_tool(tmp_path, "systemctl", f'echo "$@" >> {tmp_path}/systemctl.args\n')
    config_path = write_config(tmp_path)
    assert run(config_path, "start", path=path).returncode == 0
    assert run(config_path, "enable", "web", "--now", path=path).returncode == 0
    assert run(config_path, "stop", "everything", path=path).returncode == 2  # not a component
    assert (tmp_path / "systemctl.args").read_text().splitlines() == [
        "start meso360.target",
        "enable --now meso360-web.service",
    ]


def test_a_tunnel_start_is_queued_not_awaited_and_says_when_it_is_ready(tmp_path):
    # The tunnel is READY only once its forward is verified: offline, a waiting systemctl would never return.
    path = fake_tool(tmp_path, "systemctl", f'echo "$@" >> {tmp_path}/systemctl.args\n')
    config_path = write_config(tmp_path)
    for args in (("restart", "tunnel"), ("start", "tunnel"), ("enable", "tunnel", "--now"), ("stop", "tunnel")):
        result = run(config_path, *args, path=path)
        assert result.returncode == 0, result.stderr
        if args[0] == "stop":
            assert result.stdout.strip() == "stop: meso360-tunnel.service: done"
        else:
            assert "requested; the tunnel reports ready once its forward to the bastion is verified" in result.stdout
    assert run(config_path, "restart", "ingest", path=path).stdout.strip() == "restart: meso360-ingest.service: done"
    assert (tmp_path / "systemctl.args").read_text().splitlines() == [
        "restart --no-block meso360-tunnel.service",
        "start --no-block meso360-tunnel.service",
        "enable --now --no-block meso360-tunnel.service",
        "stop meso360-tunnel.service",
        "restart meso360-ingest.service",
    ]


def test_logs_execs_journalctl_with_the_unit_and_options(tmp_path):
    path = fake_tool(tmp_path, "journalctl", 'echo "journalctl $@"\n')
    result = run(write_config(tmp_path), "logs", "ingest", "-n", "20", "-p", "warning", "--since", "today", path=path)
    assert result.returncode == 0
    assert result.stdout.strip() == "journalctl -u meso360-ingest.service --since today -n 20 -p warning"
    result = run(write_config(tmp_path), "logs", "-f", path=path)
    assert result.stdout.strip() == "journalctl -u meso360-* -u meso360.target -f"
