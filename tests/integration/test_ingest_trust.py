"""Integration tests of issue 9 (trust): ingest never declares lost what the logger still holds, and never writes a
record twice, whatever the state file, the disk or the logger's answers say. The real daemon against the real
simulator over loopback HTTP."""

import datetime as dt
import json

import pytest
from ingest_helpers import (
    IngestProcess,
    assert_obs_complete,
    expected_support_rows,
    newest_on_disk,
    rows_on_disk,
    wait_until,
    write_config,
)

from meso360.errors import EXIT_CONFIG


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


def test_a_data_file_that_lost_its_tail_after_a_clean_stop_is_completed_from_the_logger(simulator, tmp_path):
    """The state was saved at the stop; then the disk lost the file's last two and a half rows."""
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    collect_until(sim, tmp_path, config, 30)
    data_file = sorted((tmp_path / "data").glob("????????.txt"))[-1]  # not the QC sidecar YYYYMMDD_qc.txt
    lines = data_file.read_bytes().splitlines(keepends=True)
    cut = len(lines[-1]) + len(lines[-2]) + len(lines[-3]) // 2
    with open(data_file, "r+b") as file:
        file.truncate(data_file.stat().st_size - cut)
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        newest = sim.wait_for_record(sim.state()["newest_record"] + 20)
        wait_written(sim, tmp_path, newest)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "is shorter" in log and "collected again (their rows are not on the disk)" in log


def test_a_state_ahead_of_the_logger_with_the_same_signature_writes_no_row_twice(simulator, tmp_path):
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    collect_until(sim, tmp_path, config, 30)
    state_path = tmp_path / "state" / "obs.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "last_record": state["last_record"] + 100_000}))
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        newest = sim.wait_for_record(sim.state()["newest_record"] + 40)
        wait_written(sim, tmp_path, newest)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "disagrees with the logger" in log and "resuming after it" in log


@pytest.mark.parametrize("first_start", ["newest", "today", "all"])
def test_a_first_start_collects_what_first_start_says(simulator, tmp_path, first_start):
    """100 records held, the newest stamped 00:00:30 today (UTC): 30 of them are of yesterday."""
    today = dt.datetime.now(dt.UTC).date()
    sim = simulator(rate=10, prefill=100, start_time=f"{today:%Y-%m-%d}T00:00:30Z")
    config = write_config(tmp_path, sim.url, support_table="", first_start=first_start)
    collect_until(sim, tmp_path, config, 110)
    first, _last = assert_obs_complete(sim, tmp_path / "data", 110)
    if first_start == "all":
        assert first == 0
    elif first_start == "today":
        assert first == 69  # record 99 is stamped 00:00:30, record 69 00:00:00
        assert sim.records("Obs", first=69, last=69)[0]["time"].endswith("00:00:00")
    else:
        assert first >= 99
    assert f"([ingest] first_start = {first_start})" in (tmp_path / "ingest.log").read_text()


def test_a_bad_first_start_value_is_a_config_error(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", first_start="yesterday")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    assert daemon.process.wait(timeout=30) == EXIT_CONFIG
    daemon.stop()
    assert "ingest.first_start = 'yesterday': must be one of newest, today, all" in daemon.log()


def test_busy_html_answers_then_an_outage_neither_change_protocol_nor_lose_records(simulator, tmp_path):
    """Five HTML pages with status 200 (a busy logger), then a 12 s outage: DataQuery stays, everything is collected."""
    sim = simulator(rate=10)
    daemon = IngestProcess(write_config(tmp_path, sim.url), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 20)
        sim.fault("malformed", variant="html200", count=5)
        wait_until(lambda: "malformed" not in sim.state()["faults"], 20, "five busy pages served")
        sim.fault("outage", seconds=12)
        newest = sim.wait_for_record(sim.state()["newest_record"] + 150, timeout=40)
        wait_written(sim, tmp_path, newest, timeout=60)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "legacy protocol" not in log
    assert "were lost" not in log and "lost 0" in log


def test_legacy_protocol_polls_both_tables_every_second_and_an_8_s_outage_loses_nothing(simulator, tmp_path):
    """A logger without DataQuery at one record a second: lastrecords.html shows the last 10 Obs records, Support
    has only its newest record. Every Support record is collected while the logger answers, and retries during an
    8 s outage come often enough that lastrecords.html still holds every Obs record made meanwhile."""
    sim = simulator(rate=1, no_dataquery=True)
    config = write_config(tmp_path, sim.url, poll_interval=0.25)
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        first = sim.state()["newest_record"]
        wait_written(sim, tmp_path, first + 12, timeout=40)
        support_rows = rows_on_disk(tmp_path / "support", support=True)
        sim.fault("outage", seconds=8)
        newest = sim.wait_for_record(sim.state()["newest_record"] + 14, timeout=40)
        wait_written(sim, tmp_path, newest)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert len(support_rows) >= 10
    expected = expected_support_rows(sim.records("Support"))
    start = expected.index(support_rows[0])
    assert support_rows == expected[start : start + len(support_rows)]  # no Support record missed
    log = daemon.log()
    assert log.count("using the legacy protocol") == 2  # once per table
    assert "Obs: records" not in log  # no Obs record declared lost
