"""The simulator's state file and how a resumed Logger goes on: same signature, numbers, clock and replay row."""

import json
import logging

import pytest

from meso360.sim.replay import load_rows
from meso360.sim.state import LoggerState, load_state, save_state
from meso360.sim.table import Logger, TableOptions

START = 1_780_000_000  # logger time of the newest prefilled record
WALL = 1_790_000_000.0  # wall clock at the first start


@pytest.fixture(scope="module")
def rows():
    return load_rows()


def first_logger(rows, **options):
    return Logger(rows, TableOptions(start_seconds=START, **options), now=WALL)


def resumed(rows, state, now, **options):
    return Logger(rows, TableOptions(start_seconds=START + 999_999, prefill=500, resume=state, **options), now=now)


def test_a_resumed_logger_keeps_its_table_and_produces_the_records_due_while_it_was_stopped(rows):
    first = first_logger(rows, prefill=30, signature=4242)
    state = first.saved_state()
    assert (state.next_record, state.held_records, state.next_due_wall) == (30, 30, WALL + 1)

    again = resumed(rows, state, now=WALL + 10.5)  # records were due at WALL+1 .. WALL+10
    _, records = again.snapshot()
    assert again.signature == 4242
    assert [r.no for r in records] == list(range(40))
    assert [r.seconds - START for r in records] == list(range(-29, 11))
    assert [r.row for r in records] == list(range(40))
    assert records[:30] == first.snapshot()[1]
    assert again.resumed == {"held": 30, "produced_while_stopped": 10}
    assert again.next_due_wall == WALL + 11
    assert again.produce().seconds == START + 11


def test_a_stop_longer_than_the_table_keeps_numbers_and_clock_going_and_holds_the_newest_records(rows):
    state = first_logger(rows, prefill=30, table_size=10).saved_state()
    again = resumed(rows, state, now=WALL + 1000.2, table_size=10)
    _, records = again.snapshot()
    newest = 29 + 1000
    assert [r.no for r in records] == list(range(newest - 9, newest + 1))
    assert [r.seconds for r in records] == list(range(START + 991, START + 1001))
    assert [r.row for r in records] == [no % len(rows) for no in range(newest - 9, newest + 1)]
    assert again.resumed == {"held": 0, "produced_while_stopped": 1000}


def test_held_records_keep_their_gps_faults_when_rebuilt(rows):
    first = first_logger(rows, prefill=3)
    first.add_fault({"kind": "no_fix", "count": 1})
    first.produce()
    first.add_fault({"kind": "frozen_gps", "count": 1})
    first.produce()
    state = first.saved_state()
    assert state.gps_exceptions == ((3, None), (4, START))  # record 4 repeats record 2's GPS time
    again = resumed(rows, state, now=state.next_due_wall - 0.5)
    assert again.snapshot()[1] == first.snapshot()[1]


def test_a_state_from_the_future_produces_nothing_and_starts_the_clock_now(rows, caplog):
    state = first_logger(rows, prefill=5).saved_state()
    with caplog.at_level(logging.WARNING, logger="meso360.sim"):
        again = resumed(rows, state, now=WALL - 3600)
    assert [r.no for r in again.snapshot()[1]] == list(range(5))
    assert again.next_due_wall == WALL - 3600
    assert "the clock went back" in caplog.text


def test_the_state_file_round_trips_and_is_replaced_atomically(tmp_path, rows):
    path = tmp_path / "state.json"
    first = first_logger(rows, prefill=3)
    first.add_fault({"kind": "no_fix", "count": 1})
    first.produce()
    state = first.saved_state()
    save_state(path, state)
    save_state(path, state)
    assert load_state(path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        '{"version": 1}',
        '{"version": 2, "signature": 1, "next_record": 0, "next_seconds": 0, "replay_row": 0,'
        ' "next_due_wall": 0, "held_records": 0}',
        '{"version": 1, "signature": 0, "next_record": 0, "next_seconds": 0, "replay_row": 0,'
        ' "next_due_wall": 0, "held_records": 0}',
        '{"version": 1, "signature": 7, "next_record": -1, "next_seconds": 0, "replay_row": 0,'
        ' "next_due_wall": 0, "held_records": 0}',
        '{"version": 1, "signature": 7, "next_record": 0, "next_seconds": 0, "replay_row": 0,'
        ' "next_due_wall": "soon", "held_records": 0}',
        '{"version": 1, "signature": 7, "next_record": 0, "next_seconds": 0, "replay_row": 0,'
        ' "next_due_wall": 0, "held_records": 0, "gps_exceptions": [[1]]}',
    ],
)
def test_a_malformed_state_file_is_logged_and_ignored(tmp_path, caplog, text):
    path = tmp_path / "state.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="meso360.sim"):
        assert load_state(path) is None
    assert f"ignoring the state file {path}" in caplog.text


def test_an_unreadable_state_file_is_logged_and_ignored_and_a_missing_one_is_a_first_start(tmp_path, caplog):
    directory = tmp_path / "a-directory.json"
    directory.mkdir()
    with caplog.at_level(logging.INFO, logger="meso360.sim"):
        assert load_state(directory) is None
        assert load_state(tmp_path / "missing.json") is None
    assert "cannot read it" in caplog.text and "starting as a new logger" in caplog.text


def test_saved_state_json_names_every_field():
    state = LoggerState(7, 10, 100, 3, 5.5, 2, ((9, None),))
    assert state.as_dict() == {
        "version": 1,
        "signature": 7,
        "next_record": 10,
        "next_seconds": 100,
        "replay_row": 3,
        "next_due_wall": 5.5,
        "held_records": 2,
        "gps_exceptions": ((9, None),),
    }
    assert json.loads(json.dumps(state.as_dict()))["gps_exceptions"] == [[9, None]]
