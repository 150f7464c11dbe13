"""Integration tests of meso360-ingest: the real daemon subprocess against the real simulator over loopback HTTP."""

import datetime as dt
import json

from ingest_helpers import (
    IngestProcess,
    NotifySocket,
    assert_obs_complete,
    data_rows,
    expected_obs_rows,
    expected_support_rows,
    newest_on_disk,
    wait_until,
    write_config,
)

from meso360.errors import EXIT_CONFIG


def newest_written(sim, tmp_path, signature=None):
    """The number of the newest record in the data files (the state file lags by up to its save interval)."""
    return newest_on_disk(sim, tmp_path / "data", signature=signature)


def saved_record(tmp_path, name="obs"):
    """The last record of the state file, or -1."""
    try:
        return json.loads((tmp_path / "state" / f"{name}.json").read_text())["last_record"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return -1


def wait_written(sim, tmp_path, number, timeout=30.0):
    wait_until(lambda: newest_written(sim, tmp_path) >= number, timeout, f"record {number} written", interval=0.1)


def rewind_state(tmp_path, rows):
    """Recreate the crash window after a clean stop: the Obs state set back by its file's last `rows` rows, as
    if they were appended and fsynced but the state not saved yet. Return the state written."""
    state_path = tmp_path / "state" / "obs.json"
    state = json.loads(state_path.read_text())
    data_file = tmp_path / "data" / state["file"].rsplit("/", 1)[1]
    unsaved_bytes = sum(map(len, data_file.read_bytes().splitlines(keepends=True)[-rows:]))
    row_before = data_rows(tmp_path / "data")[-rows - 1]
    state.update(last_record=state["last_record"] - rows, file_size=state["file_size"] - unsaved_bytes)
    state["last_raw_gps"] = state["last_written_gps"] = " ".join(row_before.split(",")[9:11])
    state_path.write_text(json.dumps(state))
    return state


def run_until_more_written(sim, tmp_path, config, records):
    """Run the daemon until `records` more logger records are on disk, then stop it; return (daemon, newest)."""
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        newest = sim.wait_for_record(sim.state()["newest_record"] + records)
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    return daemon, newest


def test_records_across_a_utc_midnight_go_to_two_daily_files_exactly_once(simulator, tmp_path):
    sim = simulator(rate=20, start_time="2026-11-26T23:59:55Z")
    # first_start = all: from record 0 (23:59:55), however late the daemon starts (today would begin at midnight).
    daemon = IngestProcess(write_config(tmp_path, sim.url, first_start="all"), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 60)
        wait_until(lambda: newest_on_disk(sim, tmp_path / "support", "Support") >= 60, 30, "support", interval=0.1)
    finally:
        assert daemon.stop() == 0
    assert sorted(p.name for p in (tmp_path / "data").glob("????????.txt")) == ["20261126.txt", "20261127.txt"]
    first, last = assert_obs_complete(sim, tmp_path / "data")
    assert last >= 60
    first_day = data_rows(tmp_path / "data")[: 1 + 0]
    assert first_day and ",261126," in first_day[0]
    for row in data_rows(tmp_path / "data"):
        date_text = row.split(",")[9]
        assert date_text in ("261126", "271126")
    assert (tmp_path / "data" / "20261127.txt").read_text().count(",271126,") >= 50
    support = data_rows(tmp_path / "support", support=True)
    raws = sim.records("Support")
    first_support = next(i for i, raw in enumerate(raws) if expected_support_rows([raw])[0] == support[0])
    assert support == expected_support_rows(raws[first_support : first_support + len(support)])
    assert "Traceback" not in daemon.log()


def test_outage_of_minutes_of_logger_time_is_backfilled_and_reported(simulator, tmp_path):
    sim = simulator(rate=30)
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": notify.path}
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log", env=env)
    try:
        wait_written(sim, tmp_path, 20)
        sim.fault("outage", seconds=10)  # 300 records: five minutes of logger time
        wait_until(lambda: "logger unreachable since" in "".join(notify.drain()), 20, "STATUS unreachable")
        watchdogs_before = notify.drain().count("WATCHDOG=1")
        newest = sim.wait_for_record(sim.state()["newest_record"] + 300, timeout=40)
        assert notify.drain().count("WATCHDOG=1") > watchdogs_before  # fed during the backoff
        wait_written(sim, tmp_path, newest, timeout=60)
    finally:
        assert daemon.stop() == 0
    messages = notify.drain()
    notify.close()
    assert messages[0].startswith("READY=1")
    assert any(m.startswith("STATUS=logger OK, last record") and "s lag" in m for m in messages)
    assert "STOPPING=1" in messages
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert log.count("logger unreachable (") == 1  # the state change is logged once, not per retry
    assert "logger reachable again" in log
    assert "lost 0" in log and "recovered" in log


def test_restart_after_kill_9_writes_no_duplicate_and_loses_nothing(simulator, tmp_path):
    """SIGKILL within the state's save interval: rows on disk past the saved state are reconciled, not rewritten."""
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_until(
        lambda: 0 <= saved_record(tmp_path) < newest_written(sim, tmp_path) and newest_written(sim, tmp_path) >= 30,
        30,
        "rows on disk past the saved state",
        interval=0.1,
    )
    daemon.kill9()
    on_disk, saved = newest_written(sim, tmp_path), saved_record(tmp_path)
    assert saved < on_disk, "killed after a state save: the crash window was not exercised"
    newest = sim.wait_for_record(sim.state()["newest_record"] + 40)
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, newest)
    finally:
        assert daemon.stop() == 0
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "resuming after record" in log
    assert f"{on_disk - saved} rows written just before the stop are already in" in log
    assert saved_record(tmp_path) >= newest  # a clean stop saves the state


def test_rows_written_just_before_a_crash_are_not_written_again(simulator, tmp_path):
    """Recreate the crash window exactly: rows appended and fsynced, the state not yet saved."""
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 30)
    assert daemon.stop() == 0
    rewind_state(tmp_path, 5)
    daemon, newest = run_until_more_written(sim, tmp_path, config, 20)
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert "5 rows written just before the stop are already in" in daemon.log()


def test_rows_after_the_saved_state_are_not_written_again_when_the_logger_dropped_the_first_of_them(
    simulator, tmp_path
):
    """A crash window of 30 rows, then a stop long enough that the logger's ring table (40 records) dropped
    the first of them but still holds the last: the daemon finds the last row on disk among the records
    the logger holds and resumes after it."""
    sim = simulator(rate=5, table_size=40)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 35)
    assert daemon.stop() == 0
    unsaved = 30
    state = rewind_state(tmp_path, unsaved)
    last_on_disk = state["last_record"] + unsaved
    # The table holds the newest 40: the first unsaved record (last_on_disk - 29) is gone once the newest is
    # last_on_disk + 11; the last one written stays until the newest is last_on_disk + 40 (6 s later at 5/s).
    sim.wait_for_record(last_on_disk + 12)
    assert sim.state()["oldest_record"] > state["last_record"] + 1
    daemon, newest = run_until_more_written(sim, tmp_path, config, 10)
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert f"the last of them is record {last_on_disk}: resuming after it" in daemon.log()


def test_program_recompile_starts_a_new_sequence_without_merging_or_dropping(simulator, tmp_path):
    sim = simulator(rate=20)
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 40)
        old_signature = sim.state()["signature"]
        sim.fault("recompile")
        sim.wait_for_record(30)
        wait_until(lambda: 25 <= newest_written(sim, tmp_path) < 40, 30, "new sequence written", interval=0.1)
    finally:
        daemon.stop()
    rows = data_rows(tmp_path / "data")
    old_rows = expected_obs_rows(sim.records("Obs", signature=old_signature))
    start = old_rows.index(rows[0])
    boundary = 0  # rows of the old program written before the recompile (the rest it held is gone with it)
    while boundary < len(rows) and start + boundary < len(old_rows) and rows[boundary] == old_rows[start + boundary]:
        boundary += 1
    assert boundary >= 40
    new_rows = expected_obs_rows(sim.records("Obs"))
    assert len(rows) - boundary >= 25
    assert rows[boundary:] == new_rows[: len(rows) - boundary]  # the new sequence from its first record
    assert "table signature changed" in daemon.log()


def test_frozen_gps_time_is_inferred_one_second_per_record_and_logged_once(simulator, tmp_path):
    sim = simulator(rate=20)
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 20)
        sim.fault("frozen_gps", count=8)
        newest = sim.wait_for_record(sim.state()["newest_record"] + 30)
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    times = []
    for row in data_rows(tmp_path / "data"):
        fields = row.split(",")
        times.append(dt.datetime.strptime(fields[9] + fields[10], "%d%m%y%H%M%S").replace(tzinfo=dt.UTC))
    assert all(b - a == dt.timedelta(seconds=1) for a, b in zip(times, times[1:], strict=False))
    raw_times = [raw["vals"][10] for raw in sim.records("Obs")]
    assert len(raw_times) - len(set(raw_times)) == 8  # the logger really repeated a GPS time 8 times
    log = daemon.log()
    assert log.count("GPS time frozen") == 1 and log.count("after 8 frozen records") == 1


def test_records_without_gps_fix_are_written_with_nan_and_logged_once(simulator, tmp_path):
    sim = simulator(rate=20)
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 20)
        sim.fault("no_fix", count=6)
        newest = sim.wait_for_record(sim.state()["newest_record"] + 30)
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    assert_obs_complete(sim, tmp_path / "data", newest)
    nan_rows = [row for row in data_rows(tmp_path / "data") if row.split(",")[9:11] == ["nan", "nan"]]
    assert len(nan_rows) == 6
    log = daemon.log()
    assert log.count("GPS has no fix") == 1 and log.count("after 6 records without fix") == 1


def test_malformed_answers_and_http_503_write_nothing_bad_and_lose_nothing(simulator, tmp_path):
    sim = simulator(rate=20)
    daemon = IngestProcess(write_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, 10)
        for variant in ("json", "fields", "garbage", "html200", "huge"):
            sim.fault("malformed", variant=variant, count=1)
            wait_until(lambda: "malformed" not in sim.state()["faults"], 20, f"{variant} answer served")
            target = sim.state()["newest_record"] + 5
            sim.wait_for_record(target)
            wait_written(sim, tmp_path, target)
        sim.fault("http_error", status=503, count=2)
        newest = sim.wait_for_record(sim.state()["newest_record"] + 40)
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    assert_obs_complete(sim, tmp_path / "data", newest)
    log = daemon.log()
    assert "answer is not JSON" in log and "19 values, expected 19" not in log
    assert "18 values, expected 19" in log and "1.2.3#ERR" in log and "answer too large" in log
    assert "HTTP 503" in log
    assert "skipped, not written" not in log


def test_logger_without_dataquery_is_collected_with_the_legacy_protocol(simulator, tmp_path):
    sim = simulator(rate=4, no_dataquery=True)
    notify = NotifySocket(tmp_path / "notify.sock")
    config = write_config(tmp_path, sim.url, support_table="", poll_interval=1.0)
    daemon = IngestProcess(config, tmp_path / "ingest.log", env={"NOTIFY_SOCKET": notify.path})
    try:
        first = sim.state()["newest_record"]
        wait_written(sim, tmp_path, first + 24, timeout=40)
    finally:
        daemon.stop()
    assert any("legacy protocol (no DataQuery)" in m for m in notify.drain())
    notify.close()
    assert_obs_complete(sim, tmp_path / "data")
    log = daemon.log()
    assert log.count("using the legacy protocol") == 1
    assert "lost" not in log.split("using the legacy protocol", 1)[1].replace("lost 0", "")


def test_torn_last_line_is_cut_and_the_record_written_whole(simulator, tmp_path):
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 20)
    daemon.kill9()
    data_file = sorted((tmp_path / "data").glob("????????.txt"))[-1]  # not the QC sidecar YYYYMMDD_qc.txt
    with open(data_file, "ab") as file:
        file.write(b"3.136,101.9,23.1,81")  # a power cut in the middle of a row
    daemon, newest = run_until_more_written(sim, tmp_path, config, 20)
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert "torn last line of 19 bytes" in daemon.log()


def test_disk_full_is_reported_and_everything_is_backfilled_once_writable(simulator, tmp_path):
    import resource

    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 5)
    assert daemon.stop() == 0
    limit = sum(p.stat().st_size for p in (tmp_path / "data").iterdir()) + 3000

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = IngestProcess(config, tmp_path / "ingest.log", env={"NOTIFY_SOCKET": notify.path}, preexec_fn=small_files)
    try:
        wait_until(lambda: "cannot write" in daemon.log(), 30, "the write error logged")
        wait_until(lambda: any("STATUS=cannot write data" in m for m in notify.drain()), 10, "STATUS error")
        assert daemon.process.poll() is None  # still running, retrying
    finally:
        daemon.stop()
        notify.close()
    assert data_rows(tmp_path / "data")  # files intact: header, whole lines only
    daemon, newest = run_until_more_written(sim, tmp_path, config, 10)
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert daemon.log().count("File too large") >= 1


def test_config_error_exits_78_listing_every_problem(tmp_path):
    config = tmp_path / "bad.conf"
    config.write_text(
        "[meso360]\ndata_dir = relative/path\n[ingest]\nlogger_url = ftp://127.0.0.1\npoll_interval = x\n"
    )
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    assert daemon.process.wait(timeout=30) == EXIT_CONFIG
    daemon.stop()
    log = daemon.log()
    for key in ("meso360.data_dir", "ingest.logger_url", "ingest.poll_interval"):
        assert key in log


def test_lost_state_resumes_after_the_last_row_on_disk(simulator, tmp_path):
    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 30)
    assert daemon.stop() == 0
    (tmp_path / "state" / "obs.json").unlink()
    newest = sim.wait_for_record(sim.state()["newest_record"] + 40)
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    try:
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    assert_obs_complete(sim, tmp_path / "data", newest)
    assert "no state: the last row of" in daemon.log()


def test_logger_with_http_basic_auth_is_collected_with_the_configured_credentials(simulator, tmp_path):
    sim = simulator(rate=10, username="meso", password="s3cret")
    wrong = write_config(tmp_path, sim.url, support_table="", username="meso", password="wrong")
    daemon = IngestProcess(wrong, tmp_path / "wrong.log")
    try:
        wait_until(lambda: "check [ingest] username and password" in daemon.log(), 20, "the refusal in the log")
        assert daemon.process.poll() is None, "a refused login must not stop the daemon"
        assert newest_written(sim, tmp_path) == -1 and saved_record(tmp_path) == -1
    finally:
        daemon.stop()
    config = write_config(tmp_path, sim.url, support_table="", username="meso", password="s3cret")
    run_until_more_written(sim, tmp_path, config, 20)
    assert_obs_complete(sim, tmp_path / "data")


def test_disk_full_then_writable_again_without_a_restart_writes_no_row_twice(simulator, tmp_path):
    import resource

    sim = simulator(rate=20)
    config = write_config(tmp_path, sim.url, support_table="")
    daemon = IngestProcess(config, tmp_path / "ingest.log")
    wait_written(sim, tmp_path, 5)
    assert daemon.stop() == 0
    limit = sum(p.stat().st_size for p in (tmp_path / "data").iterdir()) + 3000

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    daemon = IngestProcess(config, tmp_path / "ingest.log", preexec_fn=small_files)
    try:
        wait_until(lambda: "cannot write" in daemon.log(), 30, "the write error logged")
        # The disk has room again (the file size limit is lifted): the same daemon catches up.
        resource.prlimit(daemon.process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        newest = sim.wait_for_record(sim.state()["newest_record"] + 20)
        wait_written(sim, tmp_path, newest)
    finally:
        daemon.stop()
    assert_obs_complete(sim, tmp_path / "data", newest)
