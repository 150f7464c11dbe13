"""Legacy protocol for loggers without DataQuery: NewestRecord HTML, gaps backfilled from lastrecords.html.

The collector asks these for "the records numbered >= first"; de-duplication by record number, gap backfill and
loss accounting then work exactly as with DataQuery.
"""

from meso360.logger_api import Page


def _signature(collector):
    # NewestRecord pages carry no table signature: keep the one known, so a later DataQuery answer can compare.
    return collector.state.signature if collector.state is not None else None


def newest_page(collector):
    """Return a Page holding the newest record of the collector's table."""
    record = collector.client.newest_record(collector.table, collector.fmt.expected_fields)
    return Page(_signature(collector), [], [record], False)


def records_since(collector, first):
    """Return a Page of the records numbered >= first: the newest record, and for Obs the gap before it from
    lastrecords.html (only the last few records are there; older ones in the gap are lost).
    """
    newest = collector.client.newest_record(collector.table, collector.fmt.expected_fields)
    if newest.no < first:
        return Page(_signature(collector), [], [], False)
    records = [newest]
    if newest.no > first and collector.fmt.name == "Obs":
        held = collector.client.last_records()
        records = [record for record in held if first <= record.no < newest.no] + records
    return Page(_signature(collector), [], records, False)
