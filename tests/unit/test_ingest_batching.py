"""Unit tests of the batched state saves of the Collector: rows always on disk first, the state saved at most every
STATE_SAVE_INTERVAL_S in the same file, at once at a file switch and at close; a crash in between is reconciled."""

import datetime as dt
import json
import logging

from meso360.ingest import state as state_store
from meso360.ingest.collector import STATE_SAVE_INTERVAL_S, Collector
from meso360.ingest.sequencer import ObsFormat
from meso360.ingest.state import TableState
from meso360.logger_answers import Page, Record

RAW = ["2.548", "108.8", "23.1", "82.2", "23.2", "19.92", "81.8", "900.85", "93.1", "311226", "235958", "A",
       "33.19017", "-102.2727", "1021", "0", "85.5", "12.91", "28.16"]  # fmt: skip
START = dt.datetime(2026, 12, 31, 23, 59, 0, tzinfo=dt.UTC)


class FakeLogger:
    """The logger's Obs table: record n has GPS time START + n s."""

    signature = "4242"

    def __init__(self):
        self.records = []

    def produce(self, count):
        for _ in range(count):
            number = len(self.records)
            values = list(RAW)
            when = START + dt.timedelta(seconds=number)
            values[9], values[10] = when.strftime("%d%m%y"), when.strftime("%H%M%S")
            values[0] = f"{number}.5"
            self.records.append(Record(number, when.strftime("%Y-%m-%dT%H:%M:%S"), values))

    def data_query(self, table, expected_fields, since_record=None, most_recent=None):
        if most_recent is not None:
            return Page(self.signature, self.records[-most_recent:])
        return Page(self.signature, [r for r in self.records if r.no >= since_record])


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make_collector(tmp_path, logger, clock):
    return Collector(logger, "Obs", ObsFormat(tmp_path / "data"), tmp_path / "state" / "obs.json", clock=clock)


def saved(tmp_path):
    return json.loads((tmp_path / "state" / "obs.json").read_text())


def rows(tmp_path):
    lines = []
    for path in sorted((tmp_path / "data").glob("*.txt")):
        lines += path.read_text().splitlines()[1:]
    return lines


def started(tmp_path, logger, clock):
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    state_store.save(tmp_path / "state" / "obs.json", TableState(signature=logger.signature, last_record=-1))
    collector = make_collector(tmp_path, logger, clock)
    collector.start()
    return collector


def test_same_file_state_saves_are_batched_and_close_saves_the_rest(tmp_path):
    logger, clock = FakeLogger(), Clock()
    logger.produce(3)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    assert len(rows(tmp_path)) == 3
    assert saved(tmp_path)["last_record"] == -1  # saved at the switch to the new file, before its first row
    assert saved(tmp_path)["file"].endswith("20261231.txt")
    for _ in range(4):
        clock.t += 1
        logger.produce(1)
        collector.poll()
    assert len(rows(tmp_path)) == 7 and saved(tmp_path)["last_record"] == -1
    clock.t += STATE_SAVE_INTERVAL_S - 4
    logger.produce(1)
    collector.poll()
    state = saved(tmp_path)
    assert state["last_record"] == 7
    assert state["file_size"] == (tmp_path / "data" / "20261231.txt").stat().st_size
    clock.t += 1
    logger.produce(1)
    collector.poll()
    assert saved(tmp_path)["last_record"] == 7
    collector.close()
    assert saved(tmp_path)["last_record"] == 8


def test_a_file_switch_saves_the_state_at_once_and_an_idle_poll_saves_when_due(tmp_path):
    logger, clock = FakeLogger(), Clock()
    logger.produce(30)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    logger.produce(40)  # records 30..69: GPS crosses midnight at record 60
    clock.t += 1
    collector.poll()
    state = saved(tmp_path)
    assert state["file"].endswith("20270101.txt") and state["last_record"] == 59  # the old file's rows all saved
    assert len(rows(tmp_path)) == 70
    clock.t += STATE_SAVE_INTERVAL_S
    collector.poll()  # nothing new: the state catches up anyway
    assert saved(tmp_path)["last_record"] == 69


def test_a_crash_before_the_batched_save_writes_no_row_twice(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meso360.ingest")
    logger, clock = FakeLogger(), Clock()
    logger.produce(5)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    clock.t += STATE_SAVE_INTERVAL_S
    logger.produce(1)
    collector.poll()
    assert saved(tmp_path)["last_record"] == 5
    for _ in range(3):
        clock.t += 1
        logger.produce(1)
        collector.poll()
    assert saved(tmp_path)["last_record"] == 5 and len(rows(tmp_path)) == 9
    # Crash: no close. A new start reconciles the 3 rows past the saved state and goes on after them.
    logger.produce(2)
    restarted = make_collector(tmp_path, logger, clock)
    restarted.start()
    assert restarted.state.last_record == 8
    assert "3 rows written just before the stop are already in" in caplog.text
    restarted.poll()
    restarted.close()
    expected = [",".join(r.values[:11] + r.values[12:17] + r.values[18:]) for r in logger.records]
    assert rows(tmp_path) == expected and len(expected) == 11
    assert saved(tmp_path)["last_record"] == 10
