"""Integration tests of issue 9 (trust): ingest never declares lost what the logger still holds, and never writes a
record twice, whatever the state file, the disk or the logger's answers say. The real daemon against the real
simulator over loopback HTTP."""

import json

from ingest_helpers import (
    IngestProcess,
    assert_obs_complete,
    newest_on_disk,
    wait_until,
    write_config,
)


def newest_written(sim, tmp_path):
    return newest_on_disk(sim, tmp_path / "data")


def wait_written(sim, tmp_path, number, timeout=30.0):
    wait_until(lambda: newest_written(sim, tmp_path) >= number, timeout, f"record {number} written", interval=0.1)


def collect_until(sim, tmp_path, config, number, timeout=30.0):
    """Run the daemon until record `number` is on disk, then stop it cleanly; return the daemon."""
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, number, timeout)
    finally:
        assert daemon.stop() == 0
    return daemon


def test_a_state_file_with_wrong_types_is_logged_once_and_ignored(simulator, tmp_path):
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    collect_until(sim, tmp_path, config, 20)
    state_path = tmp_path / "state" / "obs.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "file": 123}))
    newest = sim.wait_for_record(sim.state()["newest_record"] + 30)
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, newest)
        assert daemon.process.poll() is None
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "Traceback" not in log
    assert log.count("is unreadable (file is 123, not text)") == 1
    assert "no state: the last row of" in log


def test_a_record_malformed_in_three_answers_within_a_second_is_asked_again_not_skipped(simulator, tmp_path):
    """One record per answer (page size 1) and a backlog after an outage: the next five answers, asked for at once
    because more records wait, all hold the same record broken (or the newest one); the sixth holds it whole."""
    sim = simulator(rate=2, page_size=1)
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 2)
        sim.fault("outage", seconds=3)
        sim.fault("malformed", variant="fields", count=5)
        wait_until(lambda: "malformed" not in sim.state()["faults"], 20, "five broken answers served")
        newest = sim.wait_for_record(sim.state()["newest_record"] + 2)
        wait_written(sim, tmp_path, newest, timeout=60)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "18 values, expected 19" in log
    assert "skipped, not written" not in log
