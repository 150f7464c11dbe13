"""One table's polling loop step: protocol choice, outage and disk-error handling with backoff, and its STATUS line."""

import datetime as dt
import logging
import time

from meso360.errors import LoggerError
from meso360.ingest.schedule import PhaseLock
from meso360.logger_answers import LoggerAnswerError
from meso360.logger_api import NotSupportedError
from meso360.service import Backoff

log = logging.getLogger(__name__)

REMINDER_INTERVAL_S = 300.0


def thousands(number):
    return f"{number:,}".replace(",", " ")


def _clock(when):
    return when.strftime("%H:%M:%SZ")


class RateLimitedLog:
    """Log through `logger`, at most once per `interval_s` (None: every call)."""

    def __init__(self, interval_s=None):
        self.interval_s = interval_s
        self._last = None

    def __call__(self, level, message, *args):
        now = time.monotonic()
        if self.interval_s is not None and self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        log.log(level, message, *args)


class TableRunner:
    """Drive one Collector: each step() does one poll (or start) and returns the seconds to wait before the next."""

    def __init__(self, collector, interval_s, log_every_s=None, legacy_interval_s=None):
        """`legacy_interval_s`: the poll interval and the longest retry delay with the legacy protocol, whose pages
        hold only the last few records (default interval_s)."""
        self.collector = collector
        self.table = collector.table
        self.normal_interval_s = interval_s
        self.legacy_interval_s = legacy_interval_s or interval_s
        self.schedule = PhaseLock(interval_s)
        self.schedule_legacy = False
        self.backoff = Backoff()
        self.normal_backoff_maximum_s = self.backoff.maximum_s
        self.say = RateLimitedLog(log_every_s)
        self.down_since = None  # UTC datetime while the logger is unreachable
        self.down_reason = None
        self.next_reminder = None
        self.disk_error = None
        self.answer_problem = None
        self.retry_at = None

    @property
    def interval_s(self):
        return self.legacy_interval_s if self.collector.protocol.legacy else self.normal_interval_s

    def _follow_protocol(self):
        """Poll and retry at the pace of the protocol in use (the legacy pages are a window of a few records)."""
        legacy = self.collector.protocol.legacy
        if legacy != self.schedule_legacy:
            self.schedule, self.schedule_legacy = PhaseLock(self.interval_s), legacy
        self.backoff.cap(self.legacy_interval_s if legacy else self.normal_backoff_maximum_s)

    def step(self):
        """Poll once; return the delay (s) until the next step. Unknown errors propagate."""
        self._follow_protocol()
        try:
            self.collector.protocol.reprobe_if_due()
            if not self.collector.started:
                self.collector.start()
            written_before = self.collector.written_total
            sent_at = time.monotonic()
            more = self.collector.poll()
        except NotSupportedError as error:
            return self._not_supported(error)
        except LoggerAnswerError as error:
            self._logger_up()
            self.collector.protocol.data_query_answered()
            if self.answer_problem is None:
                self.say(
                    logging.WARNING,
                    "%s: unusable answer from the logger (%s): nothing written, asking again",
                    self.table,
                    error,
                )
            self.answer_problem = str(error)
            return self.interval_s
        except LoggerError as error:
            return self._logger_down(str(error))
        except OSError as error:
            return self._disk_failed(error)
        self.collector.protocol.data_query_answered()
        self.answer_problem = None
        self._logger_up()
        self._disk_ok()
        got_new = self.collector.written_total > written_before
        self.retry_at = None
        return max(0.0, self.schedule.next_poll(sent_at, got_new, more, time.monotonic()) - time.monotonic())

    def _not_supported(self, error):
        self._logger_up()
        if self.collector.protocol.legacy:
            return self.interval_s
        self.answer_problem = str(error)
        if self.collector.protocol.not_supported_answer(error, self.say):
            return 0.0
        # Gathering the evidence at the legacy pace: an old logger's pages hold a few records only.
        return self.legacy_interval_s

    # -- outages and disk errors -----------------------------------------------------------------------------------

    def _logger_down(self, reason):
        now = dt.datetime.now(dt.UTC)
        if self.down_since is None:
            self.down_since, self.next_reminder = now, time.monotonic() + REMINDER_INTERVAL_S
            self.say(logging.WARNING, "%s: logger unreachable (%s); retrying with backoff", self.table, reason)
            if self.collector.started:
                self.collector.note_reconnected()
        elif time.monotonic() >= self.next_reminder:
            self.next_reminder = time.monotonic() + REMINDER_INTERVAL_S
            self.say(
                logging.WARNING,
                "%s: logger still unreachable since %s (%s)",
                self.table,
                _clock(self.down_since),
                reason,
            )
        self.down_reason = reason
        return self._retry_later()

    def _logger_up(self):
        if self.down_since is not None:
            seconds = (dt.datetime.now(dt.UTC) - self.down_since).total_seconds()
            self.say(
                logging.INFO,
                "%s: logger reachable again after %.0f s; collecting what it held meanwhile",
                self.table,
                seconds,
            )
        self.down_since = None
        self.down_reason = None
        if self.disk_error is None:
            self.backoff.reset()

    def _disk_failed(self, error):
        text = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
        if self.disk_error != text:
            self.say(
                logging.ERROR,
                "%s: cannot write (%s); nothing lost: the records stay on the logger and are "
                "written when writing works again",
                self.table,
                text,
            )
        self.disk_error = text
        return self._retry_later()

    def _retry_later(self):
        """Return the back-off delay of the next retry, and note when it is due (for STATUS)."""
        delay = self.backoff.next_delay()
        self.retry_at = time.monotonic() + delay
        return delay

    def _disk_ok(self):
        if self.disk_error is not None:
            self.say(logging.INFO, "%s: writing works again", self.table)
        self.disk_error = None
        self.backoff.reset()

    # -- STATUS ----------------------------------------------------------------------------------------------------

    def status(self):
        """Return the one-line human state of this table."""
        collector = self.collector
        last = collector.state.last_record if collector.started else None
        last_text = f"last record {last}" if last is not None and last >= 0 else "no record yet"
        retry = f"retry in {max(0, round(self.retry_at - time.monotonic()))} s" if self.retry_at else "retrying"
        if self.down_since is not None:
            return f"logger unreachable since {_clock(self.down_since)} ({self.down_reason}), {retry}; {last_text}"
        if self.disk_error is not None:
            return f"cannot write data ({self.disk_error}), {retry}; {last_text}"
        prefix = "legacy protocol (no DataQuery), " if collector.protocol.legacy else ""
        if not collector.started:
            return prefix + "starting: waiting for the logger"
        progress = collector.backfill_progress()
        if progress is not None:
            done, total = progress
            return f"{prefix}backfilling {thousands(done)} / {thousands(total)} records; {last_text}"
        problem = f" (last answer unusable: {self.answer_problem})" if self.answer_problem else ""
        at = collector.last_time_text or ""
        at_text = f" at {at[11:19]}Z" if len(at) >= 19 else ""
        lag = max(0, (collector.protocol.newest_known or 0) - (last or 0))
        return f"{prefix}logger OK, {last_text}{at_text}, {lag} s lag{problem}"
