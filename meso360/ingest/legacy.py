"""Legacy protocol for loggers without DataQuery: NewestRecord HTML, gaps backfilled from lastrecords.html.

The collector asks these for "the records numbered >= first"; de-duplication by record number, gap backfill and
loss accounting then work exactly as with DataQuery. Before records are declared lost (a gap the legacy pages cannot
fill), DataQuery is asked once more: when it answers, the legacy protocol is left and nothing is lost.
"""

import logging

from meso360.logger_api import LoggerAnswerError, NotSupportedError, Page

log = logging.getLogger(__name__)


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
    if records[0].no > first:
        answer = _data_query_instead(collector, first)
        if answer is not None:
            return answer
    return Page(_signature(collector), [], records, False)


def _data_query_instead(collector, first):
    """Ask DataQuery for the records from `first` on; when it answers, leave the legacy protocol and return its Page.

    Return None when the logger still does not know DataQuery. A malformed DataQuery answer (the command exists) also
    leaves the legacy protocol, and is raised (LoggerAnswerError): the records are asked for again, not lost.
    """
    try:
        page = collector.client.data_query(collector.table, collector.fmt.expected_fields, since_record=first)
    except NotSupportedError:
        return None
    except LoggerAnswerError:
        _leave(collector, first)
        raise
    _leave(collector, first)
    return page


def _leave(collector, first):
    log.warning(
        "%s: the legacy pages no longer hold record %d but the logger answers DataQuery: leaving the legacy "
        "protocol, collecting since record %d",
        collector.table,
        first,
        first,
    )
    collector.legacy = False
