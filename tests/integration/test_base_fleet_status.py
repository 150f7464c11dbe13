"""meso360ctl fleet status on the base: the sync states written by real syncs over sshd, and a real Prometheus on
loopback scraping a vehicle's /metrics through the generated targets file (or not reachable at all)."""

import getpass
import http.server
import json
import subprocess
import threading
import time

import pytest
from base_helpers import HEADER, Base, Vehicle, exec_start, obs_rows
from click.testing import CliRunner
from sshd_fixture import free_port, kill_tree, wait_for
from test_base_monitoring import RULES

from meso360.base import fleet_config, targets
from meso360.ctl.cli import cli
from meso360.ctl.fleet_status import PrometheusUnavailable, query_prometheus

pytestmark = pytest.mark.sshd


class VehicleMetrics:
    """A vehicle's /metrics stand-in: its newest observation is always 3 s old (or what exposition() returns)."""

    def __init__(self, exposition=None):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  the http.server name
                text = exposition() if exposition else f"meso360_obs_timestamp_seconds {time.time() - 3:.3f}\n"
                body = text.encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="fleet")
def fleet_fixture(tmp_path):
    """MM1: a real vehicle sshd (synced once) with /metrics; MM2: configured, never reachable, never synced."""
    base = Base(tmp_path / "base")
    vehicle = Vehicle(tmp_path / "vehicle", base.public_key, getpass.getuser())
    vehicle.sshd.start()
    metrics = VehicleMetrics()
    base.write_config(
        {
            "MM1": {
                "ssh_port": vehicle.sshd.port,
                "web_port": metrics.port,
                "host_key": vehicle.sshd.host_public_key,
                "user": vehicle.user,
            },
            "MM2": {"ssh_port": free_port(), "web_port": free_port(), "host_key": vehicle.sshd.host_public_key},
        }
    )
    vehicle.write("data/20261130.txt", HEADER + obs_rows(0, 60))
    assert base.sync("MM1").returncode == 0
    assert base.sync("MM2").returncode == 1
    yield base
    metrics.close()
    vehicle.sshd.kill()


@pytest.fixture(name="prometheus")
def prometheus_fixture(tmp_path, fleet):
    """A real Prometheus on 127.0.0.1 with the generated config (1 s scrapes) and targets file."""
    targets_file = targets.write_targets(fleet_config.load(fleet.config_path))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        targets.prometheus_config(
            targets_file,
            rules_path=RULES,
            node_exporter=f"127.0.0.1:{free_port()}",
            alertmanager=f"127.0.0.1:{free_port()}",
            interval_seconds=1,
        )
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115  closed at teardown
    # The packaged unit's command line, with the test's paths and port.
    argv = exec_start(
        "meso360-base-prometheus.service",
        {
            "/etc/meso360-base/prometheus.yml": str(config),
            "/var/lib/meso360-base/prometheus": str(tmp_path / "tsdb"),
            "127.0.0.1:9190": f"127.0.0.1:{port}",
        },
    )
    assert argv[0] == "/usr/bin/prometheus"
    process = subprocess.Popen(argv, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def both_scraped():
        try:
            return len(query_prometheus(url, 'up{job="vehicles"}')) == 2
        except PrometheusUnavailable:
            return False

    wait_for(both_scraped, 60, "Prometheus scraping both vehicles' targets")
    yield url
    kill_tree(process.pid)
    process.wait(timeout=10)
    log.close()


def test_fleet_status_shows_sync_and_what_prometheus_sees_per_vehicle(fleet, prometheus):
    result = CliRunner().invoke(
        cli, ["fleet", "status", "--fleet-config", str(fleet.config_path), "--prometheus", prometheus]
    )
    lines = result.output.splitlines()
    mm1 = next(line for line in lines if line.startswith("MM1 "))
    mm2 = next(line for line in lines if line.startswith("MM2 "))
    fields = mm1.split()
    assert fields[0] == "MM1" and 0 <= int(fields[1]) < 120 and fields[2:6] == ["s", "ago", "0", "up"], result.output
    assert mm1.split()[-2:] == ["s", "ago"] and 2 <= int(mm1.split()[-3]) <= 10, result.output
    assert mm2.split()[:6] == ["MM2", "never", "(failing)", "unknown", "down", "-"], result.output
    assert "MM2: last sync failed: vehicle unreachable through its tunnel" in result.output
    assert f"Prometheus {prometheus}: answering" in result.output
    assert result.exit_code == 1, "MM2 is behind and down"

    as_json = CliRunner().invoke(
        cli, ["fleet", "status", "--fleet-config", str(fleet.config_path), "--prometheus", prometheus, "--json"]
    )
    report = {row["vehicle"]: row for row in json.loads(as_json.output)["vehicles"]}
    assert report["MM1"]["up"] is True and report["MM1"]["files_behind"] == 0
    assert report["MM2"]["up"] is False and report["MM2"]["files_behind"] is None


def test_fleet_status_says_clearly_when_prometheus_is_not_reachable(fleet):
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["fleet", "status", "--fleet-config", str(fleet.config_path), "--prometheus", url])
    mm1 = next(line for line in result.output.splitlines() if line.startswith("MM1 "))
    fields = mm1.split()
    assert fields[0] == "MM1" and int(fields[1]) < 120 and fields[2:] == ["s", "ago", "0", "?", "?"], result.output
    assert f"Prometheus {url}: not reachable (" in result.output
    assert "Connection refused" in result.output and "up and last observation unknown" in result.output
    assert result.exit_code == 1


def test_fleet_status_with_an_invalid_fleet_config_lists_every_problem_and_exits_78(tmp_path):
    path = tmp_path / "fleet.conf"
    path.write_text("[base]\nsync_interval = 5\n\n[vehicle MM1]\nssh_port = 2201\nhost_key = ssh-rsa nope\n")
    result = CliRunner().invoke(cli, ["fleet", "status", "--fleet-config", str(path)])
    assert result.exit_code == 78
    assert "[base] sync_interval = '5': must be a number of seconds between 30.0 and 3600.0" in result.output
    assert "[vehicle MM1] web_port: required" in result.output
    assert "[vehicle MM1] host_key = 'ssh-rsa nope': must be a host public key" in result.output
