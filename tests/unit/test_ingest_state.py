"""Unit tests of the resume state file and of the schedule helpers."""

import json

from meso360.ingest import state as state_store
from meso360.ingest.schedule import PhaseLock
from meso360.ingest.state import TableState


def test_state_round_trips_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "obs.json"
    saved = TableState("4242", 17, "050625 175228", "050625 175229", str(tmp_path / "x.txt"), 999)
    state_store.save(path, saved)
    assert state_store.StateFile(path, "Obs", tmp_path).load() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["obs.json"]


def test_state_replace_keeps_the_old_state_until_the_rename(tmp_path):
    path = tmp_path / "obs.json"
    state_store.save(path, TableState(last_record=1))
    (tmp_path / ".obs.json.tmp").write_text("{garbage")  # a crash while writing the temporary file
    assert state_store.StateFile(path, "Obs", tmp_path).load().last_record == 1
    state_store.save(path, TableState(last_record=2))
    assert json.loads(path.read_text())["last_record"] == 2


def test_missing_or_corrupt_state_means_no_state(tmp_path):
    assert state_store.StateFile(tmp_path / "none.json", "Obs", tmp_path).load() is None
    (tmp_path / "bad.json").write_text("{not json")
    assert state_store.StateFile(tmp_path / "bad.json", "Obs", tmp_path).load() is None


def test_phase_lock_converges_to_shortly_after_the_record_arrival():
    lock = PhaseLock(1.0)
    seen_at, polls, newest_seen, t = [], 0, -1, 10.0
    while t < 60.0:  # records appear at k + 0.30 s; each poll takes 10 ms
        polls += 1
        newest = int(t - 0.30)
        got_new = newest > newest_seen
        if got_new:
            seen_at.append(t - (newest + 0.30))
            newest_seen = newest
        t = lock.next_poll(t, got_new, False, t + 0.01)
    late = sorted(seen_at[10:])
    assert late[len(late) // 2] < 0.2 and late[-1] < 0.3  # median and worst delay after convergence
    assert polls < 50 * 1.2  # about one request per record


def test_phase_lock_polls_at_once_while_more_records_wait():
    lock = PhaseLock(1.0)
    assert lock.next_poll(5.0, True, True, 5.02) == 5.02


def test_state_with_wrong_types_is_no_state_and_says_why(tmp_path, caplog):
    wrong = [
        {"file": 123, "last_record": 5},
        {"last_record": "5"},
        {"last_record": True},
        {"last_record": 5, "file_size": "x"},
        {"last_record": 5, "file_size": -1},
        {"last_record": 5, "signature": ["a"]},
        {"last_record": 5, "last_raw_gps": 7},
        {"last_record": -2},
        [1, 2, 3],
        "text",
        None,
    ]
    for number, data in enumerate(wrong):
        path = tmp_path / f"state{number}.json"
        path.write_text(json.dumps(data))
        caplog.clear()
        assert state_store.StateFile(path, "Obs", tmp_path).load() is None, data
        assert "unreadable" in caplog.text and str(path) in caplog.text, data
