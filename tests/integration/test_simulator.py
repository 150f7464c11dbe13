"""The logger simulator as the ingest daemon sees it: a real meso360-sim process answering over loopback HTTP."""

import datetime as dt
import json
import re
import socket
import time

import pytest
import requests

TIMEOUT = 10


def data_query(sim, mode, p1=None, p2=None, table="Obs", **kwargs):
    params = {"command": "DataQuery", "uri": f"dl:{table}", "format": "json", "mode": mode}
    if p1 is not None:
        params["p1"] = p1
    if p2 is not None:
        params["p2"] = p2
    kwargs.setdefault("timeout", TIMEOUT)
    return requests.get(sim.url + "/", params=params, **kwargs)  # noqa: S113  timeout set just above


def query_json(sim, mode, p1=None, p2=None, table="Obs"):
    answer = data_query(sim, mode, p1, p2, table)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


def nos(answer):
    return [entry["no"] for entry in answer["data"]]


def parse_time(text):
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)


def wait_until(condition, timeout=20.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        time.sleep(0.05)  # polling with a deadline


def test_since_record_pages_with_more_and_every_value_matches_what_was_produced(simulator):
    sim = simulator(rate=2, prefill=130, page_size=50)
    pages, first, collected = [], 0, []
    while True:
        answer = query_json(sim, "since-record", first)
        pages.append(answer)
        collected += answer["data"]
        if not answer["more"]:
            break
        first = answer["data"][-1]["no"] + 1
    assert len(pages) >= 3
    assert all(len(page["data"]) == 50 for page in pages[:-1])
    assert all(page["more"] is True for page in pages[:-1])
    assert [e["no"] for e in collected] == list(range(collected[-1]["no"] + 1))
    produced = {r["no"]: r for r in sim.records("Obs", 0, collected[-1]["no"])}
    for entry in collected:
        raw = produced[entry["no"]]
        assert entry["time"] == raw["time"]
        assert len(entry["vals"]) == 19
        for value, token in zip(entry["vals"], raw["vals"], strict=True):
            assert value == token if isinstance(value, str) else value == float(token)
    head = pages[0]["head"]
    assert head["signature"] == sim.state()["signature"]
    assert head["environment"]["table_name"] == "Obs" and head["environment"]["model"] == "CR1000X"
    assert [f["type"] for f in head["fields"]].count("xsd:string") == 3


def test_json_numbers_keep_the_exact_text_of_the_observation_file(simulator):
    sim = simulator(prefill=20)
    body = data_query(sim, "since-record", 0).text
    raw = sim.records("Obs", 0, 0)[0]["vals"]
    expected = ",".join(
        f'"{token}"' if index in (9, 10, 11) or token == "NAN" else token for index, token in enumerate(raw)
    )
    assert f'"vals":[{expected}]' in body


def test_since_record_includes_p1(simulator):
    sim = simulator(prefill=50)
    assert nos(query_json(sim, "since-record", 30))[0] == 30


def test_since_record_older_than_the_oldest_held_starts_at_the_oldest(simulator):
    sim = simulator(rate=1, prefill=100, table_size=30)
    state = sim.state()
    assert state["oldest_record"] == 70
    answer = query_json(sim, "since-record", 5)
    assert nos(answer)[0] == 70


def test_since_record_newer_than_the_newest_answers_no_records(simulator):
    sim = simulator(rate=1, prefill=20)
    answer = query_json(sim, "since-record", 10_000)
    assert answer["data"] == [] and answer["more"] is False
    assert answer["head"]["signature"] == sim.state()["signature"]


def test_most_recent_answers_the_newest_records_in_order(simulator):
    sim = simulator(rate=1, prefill=40)
    answer = query_json(sim, "most-recent", 3)
    numbers = nos(answer)
    assert len(numbers) == 3 and numbers == list(range(numbers[0], numbers[0] + 3))
    assert numbers[-1] >= 39


def test_backfill_answers_the_records_of_the_last_p1_seconds(simulator):
    sim = simulator(rate=1, prefill=100)
    answer = query_json(sim, "backfill", 10)
    times = [parse_time(e["time"]) for e in answer["data"]]
    assert len(times) == 11
    assert times[-1] - times[0] == dt.timedelta(seconds=10)


def test_since_time_and_half_open_date_range(simulator):
    sim = simulator(rate=1, prefill=60, start_time="2026-11-26T12:00:59Z")
    since = query_json(sim, "since-time", "2026-11-26T12:00:50")
    assert since["data"][0]["time"] == "2026-11-26T12:00:50"
    window = query_json(sim, "date-range", "2026-11-26T12:00:10", "2026-11-26T12:00:20")
    assert [e["time"][-2:] for e in window["data"]] == [f"{s:02d}" for s in range(10, 20)]


def test_newest_record_html_on_both_paths(simulator):
    sim = simulator(rate=1, prefill=10, start_time="2026-11-26T17:52:28Z")
    for path in ("/?command=NewestRecord&table=Obs", "/command=NewestRecord&table=Obs"):
        page = requests.get(sim.url + path, timeout=TIMEOUT).text
        number = int(re.search(r"Current Record: </b>(\d+)<", page).group(1))
        assert number >= 9
        assert re.search(r"Record Date: </b>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.0<", page)
        assert len(re.findall(r"<td>(.*?)</td>", page)) == 19
        assert re.findall(r"<th>(.*?)</th>", page)[11] == "GPSStatus"
    support = requests.get(sim.url + "/command=NewestRecord&table=Support", timeout=TIMEOUT).text
    assert len(re.findall(r"<td>(.*?)</td>", support)) == 9
    assert '"$GPRMC,' in support


def test_lastrecords_html_holds_the_last_ten_records_one_per_line(simulator):
    sim = simulator(rate=1, prefill=30)
    page = requests.get(sim.url + "/lastrecords.html", timeout=TIMEOUT).text
    rows = [line.split(",") for line in page.splitlines() if line[:1].isdigit()]
    assert len(rows) == 10
    assert all(len(row) == 20 for row in rows)
    numbers = [int(row[0]) for row in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 10)) and numbers[-1] >= 29


def test_clock_check_answers_the_logger_clock(simulator):
    sim = simulator(rate=1, prefill=5, start_time="2026-11-26T17:52:28Z")
    answer = requests.get(sim.url + "/?command=ClockCheck&format=json", timeout=TIMEOUT).json()
    assert answer["outcome"] == 1
    assert parse_time(answer["time"]) >= dt.datetime(2026, 11, 26, 17, 52, 28, tzinfo=dt.UTC)


def test_basic_auth_is_required_when_configured(simulator):
    sim = simulator(prefill=5, username="campbell", password="secret")
    denied = requests.get(sim.url + "/?command=ClockCheck&format=json", timeout=TIMEOUT)
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(sim.url + "/lastrecords.html", auth=("campbell", "nope"), timeout=TIMEOUT)
    assert wrong.status_code == 401
    allowed = data_query(sim, "most-recent", 1, auth=("campbell", "secret"))
    assert allowed.status_code == 200 and len(allowed.json()["data"]) == 1


def test_logger_without_dataquery_answers_404_but_serves_the_legacy_pages(simulator):
    sim = simulator(prefill=5, no_dataquery=True)
    answer = data_query(sim, "since-record", 0)
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith("text/html")
    assert "Current Record: </b>" in requests.get(sim.url + "/command=NewestRecord&table=Obs", timeout=TIMEOUT).text
    assert requests.get(sim.url + "/lastrecords.html", timeout=TIMEOUT).status_code == 200


def test_unknown_table_answers_404(simulator):
    sim = simulator(prefill=5)
    assert data_query(sim, "most-recent", 1, table="Nope").status_code == 404
    assert requests.get(sim.url + "/?command=NewestRecord&table=Nope", timeout=TIMEOUT).status_code == 404


def test_table_keeps_only_table_size_records(simulator):
    sim = simulator(rate=50, table_size=20)
    sim.wait_for_record(60)
    state = sim.state()
    assert state["table_records"] == 20
    assert state["oldest_record"] == state["newest_record"] - 19
    assert len(sim.records("Obs", 0, 60)) == 61  # the history still has the dropped ones


def test_midnight_crossing_changes_the_gps_date(simulator):
    sim = simulator(rate=20, start_time="2026-11-26T23:59:55Z")
    sim.wait_for_record(10)
    records = sim.records("Obs", 0, 10)
    assert records[0]["time"] == "2026-11-26T23:59:55"
    assert (records[4]["vals"][9], records[4]["vals"][10]) == ("261126", "235959")
    assert (records[5]["vals"][9], records[5]["vals"][10]) == ("271126", "000000")
    assert records[5]["time"] == "2026-11-27T00:00:00"


def test_outage_refuses_connections_then_reopens_the_same_port_with_no_lost_records(simulator):
    sim = simulator(rate=20, prefill=10)
    before = sim.state()["newest_record"]
    sim.fault("outage", seconds=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + "/lastrecords.html", timeout=TIMEOUT)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", sim.port)) != 0
    wait_until(lambda: not sim.state()["outage"], message="outage end")
    after = query_json(sim, "since-record", before)
    numbers = nos(after)
    assert numbers[0] == before and numbers == list(range(before, numbers[-1] + 1))
    assert numbers[-1] > before + 10  # records kept coming during the outage


def test_http_error_fault_answers_the_status_count_times(simulator):
    sim = simulator(prefill=5)
    sim.fault("http_error", status=503, count=2)
    statuses = [data_query(sim, "most-recent", 1).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_slow_fault_delays_the_answer(simulator):
    sim = simulator(prefill=5)
    sim.fault("slow", seconds=1.5, count=1)
    started = time.monotonic()
    assert data_query(sim, "most-recent", 1).status_code == 200
    assert time.monotonic() - started >= 1.4
    with pytest.raises(requests.Timeout):
        sim.fault("slow", seconds=3, count=1)
        data_query(sim, "most-recent", 1, timeout=0.5)


def test_malformed_json_is_truncated(simulator):
    sim = simulator(prefill=5)
    sim.fault("malformed", variant="json", count=1)
    with pytest.raises(json.JSONDecodeError):
        json.loads(data_query(sim, "since-record", 0).text)
    assert data_query(sim, "since-record", 0).json()["data"]


def test_malformed_fields_and_garbage_corrupt_one_record(simulator):
    sim = simulator(prefill=5)
    sim.fault("malformed", variant="fields", count=1)
    assert len(query_json(sim, "since-record", 0)["data"][-1]["vals"]) == 18
    sim.fault("malformed", variant="garbage", count=1)
    vals = query_json(sim, "since-record", 0)["data"][-1]["vals"]
    assert vals[0] == "1.2.3#ERR"


def test_malformed_html200_and_huge(simulator):
    sim = simulator(prefill=5)
    sim.fault("malformed", variant="html200", count=1)
    answer = data_query(sim, "since-record", 0)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    sim.fault("malformed", variant="huge", count=1)
    with data_query(sim, "since-record", 0, stream=True) as huge:
        assert int(huge.headers["Content-Length"]) >= 30 * 1024 * 1024


def test_frozen_gps_repeats_the_previous_gps_time(simulator):
    sim = simulator(rate=20, prefill=5)
    start = sim.state()["newest_record"]  # before the fault: at 20 records a second one could come between
    sim.fault("frozen_gps", count=3)
    sim.wait_for_record(start + 8)
    records = sim.records("Obs", start, start + 8)
    gps = [r["vals"][10] for r in records]
    frozen = [i for i in range(1, len(gps)) if gps[i] == gps[i - 1]]
    assert len(frozen) == 3 and frozen == list(range(frozen[0], frozen[0] + 3))
    # the logger clock keeps advancing meanwhile
    assert len({r["time"] for r in records}) == len(records)


def test_no_fix_writes_nan_gps_and_status_v(simulator):
    sim = simulator(rate=20, prefill=5)
    sim.fault("no_fix", count=2)
    start = sim.state()["newest_record"]
    sim.wait_for_record(start + 4)
    lost = [r for r in sim.records("Obs", start, start + 4) if r["vals"][11] == "V"]
    assert len(lost) == 2
    assert all(r["vals"][9] == "nan" and r["vals"][12] == "NAN" and r["vals"][13] == "NAN" for r in lost)
    answer = query_json(sim, "since-record", lost[0]["no"])
    assert answer["data"][0]["vals"][12] == "NAN"


def test_recompile_changes_the_signature_and_restarts_record_numbers(simulator):
    sim = simulator(rate=20, prefill=50, first_record=1000)
    old = sim.state()["signature"]
    assert nos(query_json(sim, "most-recent", 1))[0] >= 1049
    sim.fault("recompile")
    sim.wait_for_record(2)
    answer = query_json(sim, "since-record", 0)
    assert answer["head"]["signature"] != old
    assert nos(answer)[0] == 0
    assert sim.records("Obs", 1000, 1001, signature=old)[0]["no"] == 1000


def test_bad_fault_requests_are_refused(simulator):
    sim = simulator(prefill=1)
    answer = requests.post(sim.control_url + "/fault", json={"kind": "meteor"}, timeout=TIMEOUT)
    assert answer.status_code == 400 and "unknown fault kind" in answer.json()["error"]


def test_support_table_has_nine_fields_and_valid_nmea(simulator):
    sim = simulator(prefill=5)
    answer = query_json(sim, "most-recent", 1, table="Support")
    assert [f["name"] for f in answer["head"]["fields"]][3:5] == ["RMC", "GGA"]
    vals = answer["data"][0]["vals"]
    assert len(vals) == 9
    for sentence in vals[3:5]:
        body, checksum = sentence[1:].split("*")
        expected = 0
        for char in body:
            expected ^= ord(char)
        assert int(checksum, 16) == expected


def test_sigterm_stops_the_simulator_cleanly(simulator):
    sim = simulator(prefill=1)
    assert sim.stop() == 0


# --- state file: the same logger across restarts -------------------------------------------------


def assert_one_continuous_logger(records, rows):
    """Record numbers consecutive, each stamped one logger second after the previous, replaying the next row."""
    times = [parse_time(record["time"]) for record in records]
    assert [r["no"] for r in records] == list(range(records[0]["no"], records[0]["no"] + len(records)))
    assert {(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)} == {1.0}
    for record in records:  # started at record 0 on row 0: record k replays row k
        assert record["vals"][:9] == list(rows[record["no"] % len(rows)][:9]), record


def test_a_restart_with_a_state_file_continues_the_same_logger_and_produces_the_stopped_time(simulator, tmp_path):
    from meso360.sim.replay import load_rows

    rows = load_rows()
    state_file = tmp_path / "sim-state.json"
    rate = 20
    first = simulator(rate=rate, prefill=50, state_file=state_file)
    first.wait_for_record(70)
    signature = first.state()["signature"]
    before = first.records("Obs", 0, 70)
    stopped_at = time.time()
    assert first.stop() == 0
    saved = json.loads(state_file.read_text())
    time.sleep(1.0)  # the scenario: the logger keeps running while the vehicle computer is off

    second = simulator(rate=rate, prefill=50, state_file=state_file)  # --prefill applies to a first start only
    started_at = time.time()
    state = second.state()
    assert state["signature"] == signature
    assert state["oldest_record"] == 0  # the table it held before the stop is still there
    produced_while_stopped = state["resumed"]["produced_while_stopped"]
    assert rate * (1.0 - 0.2) <= produced_while_stopped <= rate * (started_at - stopped_at + 0.2)
    assert state["newest_record"] >= saved["next_record"] + produced_while_stopped - 1
    after = second.records("Obs", 0, state["newest_record"] + 20)
    assert after[: len(before)] == before  # what it held before the stop, value for value
    assert_one_continuous_logger(after, rows)
    second.wait_for_record(state["newest_record"] + 5)
    assert_one_continuous_logger(second.records("Obs", 0, state["newest_record"] + 5), rows)


def test_a_malformed_state_file_is_logged_and_ignored_then_replaced(simulator, tmp_path):
    state_file = tmp_path / "sim-state.json"
    state_file.write_text('{"signature": "not a number"')
    sim = simulator(rate=20, prefill=5, state_file=state_file)
    assert sim.state()["oldest_record"] == 0 and sim.state()["resumed"] is None
    signature = sim.state()["signature"]
    assert sim.stop() == 0
    assert "ignoring the state file" in sim.log_path.read_text()
    assert json.loads(state_file.read_text())["signature"] == signature


def test_a_state_file_in_a_missing_directory_is_refused_at_start(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "meso360.sim.cli", "--port", "0", "--state-file", str(tmp_path / "no" / "state.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot save the state file" in result.stderr


def test_a_killed_simulator_goes_on_from_its_last_periodic_save_with_the_same_records(simulator, tmp_path):
    from meso360.sim.replay import load_rows

    state_file = tmp_path / "sim-state.json"
    first = simulator(rate=20, prefill=10, state_file=state_file)
    at_start = json.loads(state_file.read_text())["next_record"]
    wait_until(lambda: json.loads(state_file.read_text())["next_record"] > at_start, 15, "a periodic save")
    served = first.records("Obs", 0, first.state()["newest_record"])
    first.process.kill()  # SIGKILL: no save at stop
    first.process.wait(timeout=10)
    saved = json.loads(state_file.read_text())

    second = simulator(rate=20, prefill=10, state_file=state_file)
    state = second.state()
    assert state["signature"] == saved["signature"]
    # The records served after the last save are produced again, value for value.
    assert second.records("Obs", 0, served[-1]["no"]) == served
    assert_one_continuous_logger(second.records("Obs", 0, state["newest_record"]), load_rows())
