"""How a table's records are asked for: DataQuery, or the legacy pages of a logger without it, and when to switch.

Both sources answer "the records numbered >= first" as a Page, so de-duplication by record number, gap backfill and
loss accounting work the same with either. The legacy protocol (NewestRecord HTML, gaps backfilled from
lastrecords.html) is used only on persistent evidence that the logger has no DataQuery; DataQuery is asked for again
every DATAQUERY_REPROBE_S and before records are declared lost (a gap the legacy pages cannot fill): when it answers,
the legacy protocol is left and nothing is lost.
"""

import logging
import time

from meso360.errors import LoggerError
from meso360.logger_answers import LoggerAnswerError, Page
from meso360.logger_api import NotSupportedError

log = logging.getLogger(__name__)

# Persistent evidence of no DataQuery: this many answers in a row, and all of them HTTP 404 ("no such command") or
# HTML pages for at least LEGACY_AFTER_HTML_S (a busy logger answers an HTML error page with status 200 too), with
# NewestRecord working.
LEGACY_AFTER_NOT_SUPPORTED = 3
LEGACY_AFTER_HTML_S = 30.0
DATAQUERY_REPROBE_S = 300.0


class DataQuerySource:
    """Records from DataQuery pages (since-record, following "more"; most-recent for the newest)."""

    backfills = True
    loss_reason = "older than the logger keeps"

    def __init__(self, client, table, fmt):
        self.client, self.table, self.fmt = client, table, fmt

    def since(self, first):
        """Return a Page of the records numbered >= first that the logger still holds (one page)."""
        return self.client.data_query(self.table, self.fmt.expected_fields, since_record=first)

    def newest_page(self):
        """Return a Page holding the newest record."""
        return self.client.data_query(self.table, self.fmt.expected_fields, most_recent=1)


class LegacySource:
    """Records from NewestRecord (the newest one) and, for a table shown there, lastrecords.html (the last few).

    These pages carry no table signature: `signature()` gives the one known, so a later DataQuery answer can compare.
    """

    backfills = False
    loss_reason = "no longer shown by the legacy pages"

    def __init__(self, client, table, fmt, signature):
        self.client, self.table, self.fmt, self.signature = client, table, fmt, signature

    def newest_page(self):
        record = self.client.newest_record_page(self.table, self.fmt.expected_fields, self.fmt.page_values)
        return Page(self.signature(), [record], False)

    def since(self, first):
        """Return a Page of the records numbered >= first the pages show: the newest record, and the gap before it
        from lastrecords.html when the table is shown there (only the last few records; older ones are not shown).
        """
        newest = self.client.newest_record_page(self.table, self.fmt.expected_fields, self.fmt.page_values)
        if newest.no < first:
            return Page(self.signature(), [], False)
        records = [newest]
        if newest.no > first and self.fmt.in_last_records:
            held = self.client.last_records()
            records = [record for record in held if first <= record.no < newest.no] + records
        return Page(self.signature(), records, False)


class Protocol:
    """The source in use for one table, switched on evidence; what the collector and the resume logic ask."""

    def __init__(self, client, table, fmt, signature):
        self.table = table
        self.data_query = DataQuerySource(client, table, fmt)
        self.legacy_pages = LegacySource(client, table, fmt, signature)
        self.current = self.data_query
        self.newest_known = None  # the number of the newest record the logger was seen to hold
        self.not_supported = 0  # DataQuery answers in a row saying it is not supported
        self.not_supported_since = None
        self.not_supported_definitive = True  # all of them HTTP 404
        self.reprobe_at = None

    @property
    def legacy(self):
        return self.current is self.legacy_pages

    def use_legacy(self, legacy):
        """Switch to the legacy pages (True) or to DataQuery (False); the evidence gathered so far is reset."""
        self.current = self.legacy_pages if legacy else self.data_query
        self.not_supported = 0
        self.reprobe_at = time.monotonic() + DATAQUERY_REPROBE_S if legacy else None

    def since(self, first):
        """Return a Page of the records numbered >= first that the logger still holds (one page).

        With the legacy pages, a gap they cannot fill is asked of DataQuery first (see _data_query_instead).
        """
        page = self.current.since(first)
        if self.legacy and page.records and page.records[0].no > first:
            page = self._data_query_instead(first) or page
        if not page.more and page.records and not page.records[-1].problem:
            self.newest_known = page.records[-1].no
        return page

    def newest(self):
        """Return (signature, the newest valid record or None) and remember its number."""
        page = self.current.newest_page()
        newest = next((r for r in reversed(page.records) if not r.problem), None)
        if newest is not None:
            self.newest_known = newest.no
        return page.signature, newest

    def _data_query_instead(self, first):
        """Ask DataQuery for the records from `first`; when it answers, leave the legacy protocol and return its Page.

        Return None when the logger still does not know DataQuery. A malformed DataQuery answer (the command exists)
        also leaves the legacy protocol, and is raised (LoggerAnswerError): the records are asked for again, not lost.
        """
        try:
            page = self.data_query.since(first)
        except NotSupportedError:
            return None
        except LoggerAnswerError:
            self._leave_for_gap(first)
            raise
        self._leave_for_gap(first)
        return page

    def _leave_for_gap(self, first):
        log.warning(
            "%s: the legacy pages no longer hold record %d but the logger answers DataQuery: leaving the legacy "
            "protocol, collecting since record %d",
            self.table,
            first,
            first,
        )
        self.use_legacy(False)

    def reprobe_if_due(self):
        """With the legacy protocol, every DATAQUERY_REPROBE_S: leave it if the logger answers DataQuery again."""
        if not self.legacy or time.monotonic() < self.reprobe_at:
            return
        self.reprobe_at = time.monotonic() + DATAQUERY_REPROBE_S
        try:
            self.data_query.newest_page()
        except (NotSupportedError, LoggerAnswerError):
            return
        log.info("%s: the logger answers DataQuery again: leaving the legacy protocol", self.table)
        self.use_legacy(False)

    def data_query_answered(self):
        """DataQuery answered (even badly): the command exists, the evidence against it starts over."""
        if not self.legacy:
            self.not_supported = 0

    def not_supported_answer(self, error, say):
        """Count a DataQuery answer saying it is not supported (`error`); switch to the legacy protocol on persistent
        evidence with NewestRecord working. Return True when it switched. `say` logs (rate-limited per table)."""
        if self.not_supported == 0:
            self.not_supported_since, self.not_supported_definitive = time.monotonic(), True
            say(logging.WARNING, "%s: DataQuery not answered (%s): asking again", self.table, error)
        self.not_supported += 1
        self.not_supported_definitive = self.not_supported_definitive and getattr(error, "definitive", True)
        seconds = time.monotonic() - self.not_supported_since
        persistent = self.not_supported_definitive or seconds >= LEGACY_AFTER_HTML_S
        if self.not_supported < LEGACY_AFTER_NOT_SUPPORTED or not persistent:
            return False
        try:
            self.legacy_pages.newest_page()
        except LoggerError as legacy_error:
            say(
                logging.WARNING,
                "%s: DataQuery not answered (%s) and NewestRecord fails too (%s)",
                self.table,
                error,
                legacy_error,
            )
            return False
        # A change of protocol is logged whatever the rate limit of this table's messages.
        log.warning(
            "%s: the logger has no DataQuery (%d answers in %.0f s: %s): using the legacy protocol (NewestRecord "
            "and lastrecords.html); asking for DataQuery again every %d s and whenever the legacy pages miss a record",
            self.table,
            self.not_supported,
            seconds,
            error,
            DATAQUERY_REPROBE_S,
        )
        self.use_legacy(True)
        return True
