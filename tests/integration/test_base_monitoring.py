"""meso360-base monitoring files checked by the real Prometheus tools: rules (check and unit tests), the generated
prometheus.yml and targets, the sync textfile exposition, and the example Alertmanager configuration."""

import json
import subprocess
import urllib.request
from pathlib import Path

from base_helpers import exec_start
from sshd_fixture import free_port, wait_for

from meso360.base import fleet_config, sync_state, targets
from meso360.base.sync import SyncResult

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "meso360" / "base" / "monitoring"
RULES = MONITORING / "meso360.rules.yml"
RULES_TESTS = Path(__file__).with_name("base_rules_test.yml")
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvTvz3yEFIXcV0tkrI5wJ5MJq1iZs3sL0z1YfGcCqlJ"
ALERTS = ("VehicleUnreachable", "NoNewObservation", "SyncBehind", "DiskLow", "AlarmActive")


def _fleet(tmp_path, vehicles=("MM1", "MM2")):
    sections = [
        f"[base]\ndata_root = {tmp_path / 'root'}\nmetrics_dir = {tmp_path / 'metrics'}\n"
        f"targets_file = {tmp_path / 'targets' / 'vehicles.json'}\n"
    ]
    for number, name in enumerate(vehicles, start=1):
        sections.append(
            f"[vehicle {name}]\nssh_port = {2200 + number}\nweb_port = {8200 + number}\nhost_key = {HOST_KEY}\n"
        )
    return fleet_config.parse("\n".join(sections), "fleet.conf")


def _run(*argv, stdin=None):
    return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=60, check=False)


def test_the_shipped_rules_pass_promtool_check_rules_and_name_every_alert():
    result = _run("promtool", "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout
    text = RULES.read_text()
    assert all(f"alert: {name}\n" in text for name in ALERTS)


def test_every_alert_fires_and_stays_quiet_as_its_promtool_unit_tests_say():
    tests = RULES_TESTS.read_text()
    assert all(f"alertname: {name}\n" in tests for name in ALERTS), "a case for every alert"
    assert tests.count("exp_alerts: []") >= len(ALERTS), "and a case where each does not fire"
    result = _run("promtool", "test", "rules", str(RULES_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_generated_prometheus_config_and_targets_pass_promtool_check_config(tmp_path):
    fleet = _fleet(tmp_path)
    targets_file = targets.write_targets(fleet)
    assert json.loads(targets_file.read_text()) == [
        {"targets": ["127.0.0.1:8201"], "labels": {"vehicle": "MM1"}},
        {"targets": ["127.0.0.1:8202"], "labels": {"vehicle": "MM2"}},
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(targets.prometheus_config(targets_file, rules_path=RULES))
    result = _run("promtool", "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_the_packaged_prometheus_config_names_the_installed_paths():
    text = targets.prometheus_config("/var/lib/meso360-base/targets/vehicles.json")
    assert '"/usr/share/meso360-base/rules/meso360.rules.yml"' in text
    assert 'files: ["/var/lib/meso360-base/targets/vehicles.json"]' in text
    assert 'targets: ["127.0.0.1:9093"]' in text and 'targets: ["127.0.0.1:9191"]' in text


def test_the_sync_textfiles_of_several_vehicles_pass_promtool_check_metrics(tmp_path):
    fleet = _fleet(tmp_path)
    sync_state.record(fleet, "MM1", SyncResult(ok=True, files_transferred=2, bytes_moved=4096), 1_700_000_000.0)
    sync_state.record(fleet, "MM2", SyncResult(ok=False, error="vehicle unreachable"), 1_700_000_060.0)
    exposition = "".join(path.read_text() for path in sorted(fleet.base.metrics_dir.glob("*.prom")))
    # Node exporter merges the files; the same metric's HELP and TYPE appear once in what it serves.
    merged = _merge_families(exposition)
    result = _run("promtool", "check", "metrics", stdin=merged)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'meso360_base_sync_last_success_timestamp_seconds{vehicle="MM1"} 1700000000.0' in merged
    # Never synced: the first attempt stands in for the last success, so SyncBehind fires 10 minutes later.
    assert 'meso360_base_sync_last_success_timestamp_seconds{vehicle="MM2"} 1700000060.0' in merged
    assert 'meso360_base_sync_ok{vehicle="MM2"} 0' in merged


def _merge_families(exposition):
    families = {}
    for line in exposition.splitlines():
        name = line.split()[2] if line.startswith("#") else line.split("{")[0]
        family = families.setdefault(name, [])
        if line not in family:
            family.append(line)
    return "".join(line + "\n" for family in families.values() for line in family)


def test_the_example_alertmanager_config_passes_amtool_check_config():
    result = _run("amtool", "check-config", str(MONITORING / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "2 receivers" in result.stdout


def test_the_node_exporter_unit_serves_the_sync_textfiles_and_the_disks(tmp_path):
    fleet = _fleet(tmp_path)
    sync_state.record(fleet, "MM1", SyncResult(ok=True, files_transferred=1, bytes_moved=10), 1_700_000_000.0)
    port = free_port()
    argv = exec_start(
        "meso360-base-node-exporter.service",
        {"127.0.0.1:9191": f"127.0.0.1:{port}", "/var/lib/meso360-base/metrics": str(fleet.base.metrics_dir)},
    )
    assert argv[0] == "/usr/bin/prometheus-node-exporter"
    log = open(tmp_path / "node-exporter.log", "wb")  # noqa: SIM115  closed below
    process = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        text = wait_for(lambda: _get(f"http://127.0.0.1:{port}/metrics"), 30, "the node exporter answering")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
    assert 'meso360_base_sync_ok{vehicle="MM1"} 1' in text
    assert 'meso360_base_sync_last_success_timestamp_seconds{vehicle="MM1"} 1.7e+09' in text
    assert "node_textfile_scrape_error 0" in text
    assert "node_filesystem_avail_bytes{" in text and 'mountpoint="/"' in text
    assert "node_cpu_seconds_total" not in text, "only the two collectors the base needs"


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310  http to loopback
            return answer.read().decode()
    except OSError:
        return None
