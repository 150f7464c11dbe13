"""Unit tests of the protocol choice: only persistent evidence switches to the legacy pages (the logger's answers come
from a fake and the clock is patched, to count answers and seconds exactly; the integration tests use the simulator)."""

import logging

from test_ingest_batching import FakeLogger

from meso360.ingest import protocol
from meso360.ingest.sequencer import ObsFormat
from meso360.logger_api import NotSupportedError


class OldLogger(FakeLogger):
    """A logger whose NewestRecord page works; what DataQuery answers is up to the test."""

    def newest_record_page(self, table, expected_fields, page_values):
        return self.records[-1]


def make_protocol(tmp_path):
    logger = OldLogger()
    logger.produce(3)
    return protocol.Protocol(logger, "Obs", ObsFormat(tmp_path), lambda: None)


def test_three_http_404_answers_switch_to_the_legacy_pages(tmp_path):
    chosen = make_protocol(tmp_path)
    answers = [chosen.not_supported_answer(NotSupportedError("HTTP 404"), logging.log) for _ in range(3)]
    assert answers == [False, False, True] and chosen.legacy
    assert chosen.since(2).records[-1].no == 2  # the newest record, from the legacy page


def test_html_answers_switch_only_after_thirty_seconds_of_them(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(protocol.time, "monotonic", lambda: now[0])
    chosen = make_protocol(tmp_path)
    busy = NotSupportedError("an HTML page", definitive=False)
    for _ in range(10):
        assert chosen.not_supported_answer(busy, logging.log) is False
        now[0] += 2.9
    now[0] += protocol.LEGACY_AFTER_HTML_S
    assert chosen.not_supported_answer(busy, logging.log) is True and chosen.legacy


def test_data_query_answering_starts_the_evidence_over(tmp_path):
    chosen = make_protocol(tmp_path)
    for _ in range(2):
        chosen.not_supported_answer(NotSupportedError("HTTP 404"), logging.log)
    chosen.data_query_answered()
    assert chosen.not_supported_answer(NotSupportedError("HTTP 404"), logging.log) is False and not chosen.legacy
