"""meso360-base sync: rsync over a real sshd (rrsync -ro on the vehicle side), pinned host key, appends, offline."""

import getpass
import json
import os
import re
from pathlib import Path

import pytest
from base_helpers import HEADER, Base, Vehicle, obs_rows, qc_lines
from sshd_fixture import ssh_keygen

from meso360.atomic import write_atomically
from meso360.qc.flags import HEADER as QC_HEADER

pytestmark = pytest.mark.sshd


@pytest.fixture(name="fleet")
def fleet_fixture(tmp_path):
    base = Base(tmp_path / "base")
    vehicle = Vehicle(tmp_path / "vehicle", base.public_key, getpass.getuser())
    vehicle.sshd.start()
    base.write_config(
        {
            "MM1": {
                "ssh_port": vehicle.sshd.port,
                "web_port": 18201,
                "host_key": vehicle.sshd.host_public_key,
                "user": vehicle.user,
            }
        }
    )
    yield base, vehicle
    vehicle.sshd.kill()


def _state(base):
    return json.loads((base.vehicle_dir("MM1") / "sync.json").read_text())


def _same_tree(base, vehicle):
    """Return True when data/ and support/ at base hold exactly the vehicle's files, byte for byte."""
    for name in ("data", "support"):
        source = {p.name: p.read_bytes() for p in (vehicle.root / name).iterdir()}
        copied = {p.name: p.read_bytes() for p in (base.vehicle_dir("MM1") / name).iterdir()}
        if source != copied:
            return False
    return True


def test_sync_copies_files_byte_identical_then_appends_only_the_new_rows(fleet):
    base, vehicle = fleet
    vehicle.write("data/20261130.txt", HEADER + obs_rows(0, 600))
    vehicle.write("data/20261129.txt", HEADER + obs_rows(40000, 300))
    vehicle.write("support/20261130_support.txt", "support header\n1,2,3\n")
    vehicle.write("state/obs.json", '{"last_record": 5}')

    first = base.sync("MM1")
    assert first.returncode == 0, first.stderr
    assert "MM1: synced 3 files" in first.stderr
    assert _same_tree(base, vehicle)
    assert not (base.vehicle_dir("MM1") / "state").exists(), "only data/ and support/ are pulled"
    state = _state(base)
    assert state["ok"] is True and state["files_behind"] == 0 and state["files_transferred"] == 3

    appended = obs_rows(600, 120)
    vehicle.write("data/20261130.txt", appended, mode="a")
    second = base.sync("MM1")
    assert second.returncode == 0, second.stderr
    # Only the grown file moved, and only its new rows (the literal data rsync sent).
    assert f"MM1: synced 1 files, {len(appended)} bytes moved" in second.stderr
    assert _same_tree(base, vehicle)
    rows = (base.vehicle_dir("MM1") / "data" / "20261130.txt").read_text().splitlines()
    assert len(rows) == 1 + 720 and len(set(rows)) == 721, "every row once, none duplicated"

    third = base.sync("MM1")
    assert "MM1: synced 0 files, 0 bytes moved" in third.stderr
    metrics = (base.metrics_dir / "sync_MM1.prom").read_text()
    assert 'meso360_base_sync_ok{vehicle="MM1"} 1' in metrics
    assert (
        f'meso360_base_sync_last_success_timestamp_seconds{{vehicle="MM1"}} {_state(base)["last_success"]}' in metrics
    )


def test_a_vehicle_whose_host_key_differs_from_the_pinned_one_is_refused_and_nothing_is_written(fleet, tmp_path):
    base, vehicle = fleet
    vehicle.write("data/20261130.txt", HEADER + obs_rows(0, 60))
    other_key = ssh_keygen(tmp_path / "other_host_key", "someone-else")
    base.write_config(
        {"MM1": {"ssh_port": vehicle.sshd.port, "web_port": 18201, "host_key": other_key, "user": vehicle.user}}
    )

    result = base.sync("MM1")

    assert result.returncode == 1
    assert (
        "MM1: sync failed: refused: the vehicle's SSH host key does not match host_key in fleet.conf" in result.stderr
    )
    assert not (base.vehicle_dir("MM1") / "data").exists(), "nothing of the vehicle was written"
    assert _state(base)["ok"] is False and _state(base)["last_success"] is None
    metrics = (base.metrics_dir / "sync_MM1.prom").read_text()
    assert 'meso360_base_sync_ok{vehicle="MM1"} 0' in metrics


def test_an_offline_vehicle_fails_clearly_is_behind_and_the_next_sync_catches_up(fleet):
    base, vehicle = fleet
    vehicle.write("data/20261130.txt", HEADER + obs_rows(0, 300))
    assert base.sync("MM1").returncode == 0
    synced_at = _state(base)["last_success"]

    vehicle.sshd.kill()  # the tunnel is down: nothing listens on the vehicle's port at base
    vehicle.write("data/20261130.txt", obs_rows(300, 3600), mode="a")
    vehicle.write("data/20261201.txt", HEADER + obs_rows(0, 100))
    offline = base.sync("MM1")

    assert offline.returncode == 1
    assert "MM1: sync failed: vehicle unreachable through its tunnel" in offline.stderr
    assert "Connection refused" in offline.stderr
    assert "files behind since the last success (last success" in offline.stderr
    state = _state(base)
    assert state["ok"] is False and state["files_behind"] is None and state["last_success"] == synced_at
    assert 'meso360_base_sync_ok{vehicle="MM1"} 0' in (base.metrics_dir / "sync_MM1.prom").read_text()

    vehicle.sshd.start()  # back online, same port and host key
    back = base.sync("MM1")
    assert back.returncode == 0, back.stderr
    assert "MM1: synced 2 files" in back.stderr
    assert _same_tree(base, vehicle)
    assert _state(base)["ok"] is True and _state(base)["files_behind"] == 0


def test_a_missing_base_key_is_named_instead_of_blaming_the_vehicle(fleet):
    base, _vehicle = fleet
    base.key_file.unlink()
    result = base.sync("MM1")
    assert result.returncode == 1
    assert f"MM1: sync failed: the base's key {base.key_file} is missing (fleet.conf [base] key_file)" in result.stderr
    assert _state(base)["ok"] is False


def test_an_unknown_vehicle_or_an_invalid_fleet_conf_exits_78_saying_why(fleet):
    base, _vehicle = fleet
    unknown = base.sync("MM9")
    assert unknown.returncode == 78
    assert "no [vehicle MM9] section (vehicles: MM1)" in unknown.stderr
    base.config_path.write_text("[base]\nio_timeout = forever\n")
    invalid = base.sync("MM1")
    assert invalid.returncode == 78
    assert "[base] io_timeout = 'forever': must be a number of seconds between 10.0 and 3600.0" in invalid.stderr


def _bytes_moved(result):
    return int(re.search(r"synced \d+ files, (\d+) bytes moved", result.stderr).group(1))


def _logins(vehicle):
    return vehicle.sshd.log_text().count("Accepted publickey for ")


def _masters_left(port):
    """Return the ssh processes still running a connection to `port` (a sync must close its ControlMaster)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ControlMaster=yes" in argv and str(port).encode() in argv:
            found.append(entry.name)
    return found


def test_a_rewritten_qc_sidecar_replaces_the_base_copy_shorter_or_same_size_and_daily_files_are_only_appended(fleet):
    base, vehicle = fleet
    vehicle.write("data/20261129.txt", HEADER + obs_rows(40000, 300))
    vehicle.write("data/20261129_qc.txt", QC_HEADER + qc_lines(1, 300))
    vehicle.write("data/20261130.txt", HEADER + obs_rows(0, 600))
    today_qc = vehicle.write("data/20261130_qc.txt", QC_HEADER + qc_lines(1, 600))
    vehicle.write("support/20261130_support.txt", "support header\n1,2,3\n")
    logins = _logins(vehicle)

    first = base.sync("MM1")
    assert first.returncode == 0, first.stderr
    assert "MM1: synced 5 files" in first.stderr
    assert _same_tree(base, vehicle)
    assert _logins(vehicle) == logins + 1, "both passes over one SSH login"
    assert not _masters_left(vehicle.sshd.port), "the connection ends with the sync"

    # As ingest goes on: rows appended to the data file and their lines to its sidecar.
    new_rows, new_lines = obs_rows(600, 120), qc_lines(601, 120)
    vehicle.write("data/20261130.txt", new_rows, mode="a")
    vehicle.write("data/20261130_qc.txt", new_lines, mode="a")
    grown = base.sync("MM1")
    assert grown.returncode == 0, grown.stderr
    assert "MM1: synced 2 files" in grown.stderr
    assert _same_tree(base, vehicle)
    # The data file's new rows exactly (appended); the sidecar's new lines plus at most the block of the old copy's
    # end that rsync's delta transfer cannot match (700 bytes for files this small), not the whole sidecar again.
    sidecar_moved = _bytes_moved(grown) - len(new_rows)
    assert len(new_lines) <= sidecar_moved <= len(new_lines) + 700, grown.stderr
    assert _logins(vehicle) == logins + 2

    # meso360ctl qc DAY rewrites sidecars whole and atomically: yesterday's shorter (its copy at base is longer), and
    # today's the same size with other flags, within the same second as the copy's time (only the nanoseconds differ).
    write_atomically(vehicle.root / "data/20261129_qc.txt", QC_HEADER + qc_lines(1, 250))
    synced_time_ns = today_qc.stat().st_mtime_ns
    rewritten = QC_HEADER + qc_lines(1, 720, flags="1909")
    assert len(rewritten) == today_qc.stat().st_size
    write_atomically(today_qc, rewritten)
    same_second_ns = synced_time_ns + 1 if (synced_time_ns + 1) % 10**9 else synced_time_ns - 1
    os.utime(today_qc, ns=(same_second_ns, same_second_ns))
    assert today_qc.stat().st_mtime_ns // 10**9 == synced_time_ns // 10**9, "the same second, as a quick rewrite has"

    third = base.sync("MM1")
    assert third.returncode == 0, third.stderr
    assert "MM1: synced 2 files" in third.stderr, "the two rewritten sidecars, not the data files"
    assert _same_tree(base, vehicle)
    assert (base.vehicle_dir("MM1") / "data/20261129_qc.txt").read_text() == QC_HEADER + qc_lines(1, 250)
    assert (base.vehicle_dir("MM1") / "data/20261130_qc.txt").read_text() == rewritten
    assert _logins(vehicle) == logins + 3
    assert not _masters_left(vehicle.sshd.port)
