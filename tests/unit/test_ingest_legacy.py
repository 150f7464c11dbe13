"""Unit tests of the legacy protocol's safety net: before records are declared lost, DataQuery is asked once more
(the logger's answers come from a fake: a logger that knows DataQuery but was taken for an old one)."""

from test_ingest_batching import Clock, FakeLogger, rows, started

from meso360.logger_api import NotSupportedError


class LegacyPagesLogger(FakeLogger):
    """The fake logger's legacy pages: NewestRecord and lastrecords.html (its last 10 records)."""

    def __init__(self, knows_data_query):
        super().__init__()
        self.knows_data_query = knows_data_query
        self.serving_data_query = True

    def data_query(self, table, expected_fields, since_record=None, most_recent=None):
        if not (self.knows_data_query or self.serving_data_query):
            raise NotSupportedError("HTTP 404 for DataQuery")
        return super().data_query(table, expected_fields, since_record, most_recent)

    def newest_record_page(self, table, expected_fields, page_values):
        return self.records[-1]

    def last_records(self):
        return self.records[-10:]


def test_a_gap_the_legacy_pages_cannot_fill_is_collected_with_data_query_when_it_answers(tmp_path):
    logger, clock = LegacyPagesLogger(knows_data_query=True), Clock()
    logger.produce(5)
    collector = started(tmp_path, logger, clock)
    collector.poll()
    collector.protocol.use_legacy(True)  # taken for an old logger (busy pages), then an outage of 40 records
    logger.produce(40)
    collector.poll()
    assert collector.protocol.legacy is False
    assert collector.state.last_record == 44 and len(rows(tmp_path)) == 45


def test_a_logger_without_data_query_loses_only_what_its_pages_no_longer_show(tmp_path):
    logger, clock = LegacyPagesLogger(knows_data_query=False), Clock()
    logger.produce(5)
    collector = started(tmp_path, logger, clock)
    logger.serving_data_query = False
    collector.protocol.use_legacy(True)
    collector.poll()
    logger.produce(40)
    collector.poll()
    assert collector.protocol.legacy is True
    assert collector.state.last_record == 44 and len(rows(tmp_path)) == 5 + 10  # records 5-34 were not shown
