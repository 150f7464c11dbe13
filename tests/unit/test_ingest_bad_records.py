"""Unit tests of bad records: asked for again over BAD_RECORD_RETRY_S before being skipped (the logger's answers come
from a fake here, to control the clock; the integration tests use the simulator)."""

import logging

from test_ingest_batching import Clock, FakeLogger, rows, started

from meso360.ingest.bad_records import BAD_RECORD_RETRY_S


def break_record(logger, number):
    logger.records[number].problem = f"record {number} has 18 values, expected 19"


def record_3_broken(tmp_path):
    """Return (logger, clock, collector): records 0-2 written, then 3 (broken) and 4 produced."""
    logger, clock = FakeLogger(), Clock()
    logger.produce(3)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    logger.produce(2)
    break_record(logger, 3)
    return logger, clock, collector


def test_a_record_bad_in_many_answers_within_the_retry_time_is_not_skipped(tmp_path):
    logger, clock, collector = record_3_broken(tmp_path)
    for _ in range(20):  # twenty answers in 29 s, all with record 3 broken
        assert collector.poll() is False
        clock.t += (BAD_RECORD_RETRY_S - 1) / 20
    assert collector.state.last_record == 2
    logger.records[3].problem = None  # the logger serves a good copy
    collector.poll()
    assert collector.state.last_record == 4 and len(rows(tmp_path)) == 5
    assert collector.bad_records.attempts == {}


def test_a_record_still_bad_after_the_retry_time_is_skipped_and_logged(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="meso360.ingest")
    logger, clock, collector = record_3_broken(tmp_path)
    collector.poll()
    clock.t += BAD_RECORD_RETRY_S
    collector.poll()
    assert collector.state.last_record == 2  # bad twice only: still asked for
    collector.poll()
    assert collector.state.last_record == 3
    assert "record 3 was bad 3 times over 30 s" in caplog.text
    collector.poll()
    assert collector.state.last_record == 4 and len(rows(tmp_path)) == 4
