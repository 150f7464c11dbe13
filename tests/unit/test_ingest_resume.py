"""Unit tests of where collection resumes when the state disagrees with the files (the logger's answers come from a
fake, to build exact file contents; the integration tests use the simulator)."""

import logging

from test_ingest_batching import Clock, FakeLogger, make_collector, rows, started


def test_a_deleted_state_file_resumes_after_the_last_row_of_the_previous_file(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meso360.ingest")
    logger, clock = FakeLogger(), Clock()
    logger.produce(70)  # records 0-59 on 2026-12-31, 60-69 on 2027-01-01
    collector = started(tmp_path, logger, clock)
    collector.poll()
    collector.close()
    (tmp_path / "data" / "20270101.txt").unlink()  # the state's file is gone
    restarted = make_collector(tmp_path, logger, clock)
    restarted.start()
    assert restarted.state.last_record == 59
    restarted.poll()
    restarted.close()
    assert len(rows(tmp_path)) == 70 and len(set(rows(tmp_path))) == 70
    assert "records 60-69 are collected again" in caplog.text


def test_a_state_with_another_signature_resumes_after_the_last_row_when_the_logger_holds_it(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meso360.ingest")
    logger, clock = FakeLogger(), Clock()
    logger.produce(10)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    collector.state.signature = "1111"  # a state that disagrees with the logger
    collector.close()
    collector._save()
    logger.produce(5)
    restarted = make_collector(tmp_path, logger, clock)
    restarted.start()
    restarted.poll()
    restarted.close()
    assert len(rows(tmp_path)) == 15 and len(set(rows(tmp_path))) == 15
    assert "the state is wrong; resuming after that row" in caplog.text


def test_record_numbers_going_back_while_running_write_no_row_twice(tmp_path, caplog):
    """The logger renumbers its table (same signature, same records): the last row written is found again."""
    caplog.set_level(logging.INFO, logger="meso360.ingest")
    logger, clock = FakeLogger(), Clock()
    logger.produce(10)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    for number, record in enumerate(logger.records[5:]):
        record.no = number
    del logger.records[:5]
    for _ in range(3):
        collector.poll()  # three empty polls: the regression check
    assert collector.state.last_record == 4
    logger.produce(3)  # records 5, 6, 7 of the new numbering: new measurements, stamped after the rows on disk
    for record in logger.records[-3:]:
        record.values[0] = f"{record.no}.7"
        record.values[10] = f"2359{10 + record.no:02d}"
    collector.poll()
    collector.close()
    assert len(rows(tmp_path)) == 13 and len(set(rows(tmp_path))) == 13
    assert "the rows on disk decide" in caplog.text


def test_no_state_and_a_last_row_the_logger_no_longer_holds_resumes_after_its_time(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="meso360.ingest")
    logger, clock = FakeLogger(), Clock()
    logger.produce(10)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    collector.close()
    (tmp_path / "state" / "obs.json").unlink()
    logger.produce(20)
    del logger.records[:12]  # the logger dropped records 0-11 (rows 0-9 are on disk, 10 and 11 are lost)
    restarted = make_collector(tmp_path, logger, clock)
    restarted.start()
    assert restarted.state.last_record == 11
    restarted.poll()
    restarted.close()
    assert len(rows(tmp_path)) == 28
    assert "resuming at record 12, the first one stamped after it" in caplog.text
