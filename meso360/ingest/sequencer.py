"""Obs records to file rows: the frozen-GPS and no-fix rules, and their once-per-episode log lines."""

import datetime as dt
import logging

from meso360 import datafile
from meso360.logger_answers import obs_page_values

log = logging.getLogger(__name__)

ONE_SECOND = dt.timedelta(seconds=1)
FROZEN = "frozen"
NO_FIX = "no_fix"


def gps_key(row):
    """Return "DDMMYY HHMMSS" of a row, or None when it has no valid GPS time."""
    if datafile.row_timestamp(row) is None:
        return None
    return f"{row[datafile.GPS_DATE_COLUMN]} {row[datafile.GPS_TIME_COLUMN]}"


def _key_time(key):
    date_text, _, time_text = (key or "").partition(" ")
    return datafile.parse_gps_datetime(date_text, time_text)


def obs_row(values, chain):
    """Given 19 raw values and chain = (previous raw GPS key, previous written GPS key), return
    (row, new chain, flag): flag is FROZEN when the GPS time repeats the previous record's (time inferred as
    previous written + 1 s, chained, across midnight), NO_FIX without a GPS time, else None.

    Raise ValueError if the record does not have 19 values.
    """
    row = datafile.obs_row_from_raw(values)
    previous_raw, previous_written = chain
    raw = gps_key(row)
    if raw is None:
        return row, (None, None), NO_FIX
    if raw == previous_raw:
        base = _key_time(previous_written) or _key_time(raw)
        inferred = base + ONE_SECOND
        row[datafile.GPS_DATE_COLUMN], row[datafile.GPS_TIME_COLUMN] = datafile.format_gps_datetime(inferred)
        return row, (raw, gps_key(row)), FROZEN
    return row, (raw, raw), None


class ObsFormat:
    """How Obs records become lines of data_dir/YYYYMMDD.txt (the row format itself is datafile's).

    A table's format (this, or support.SupportFormat) is what the collector, resume and locate know of a table:
    header, expected_fields, page_values, in_last_records, directory; format() a record into (path, line, chain, flag);
    plain_line(), line_time(), record_time(), chain_after() to match lines on disk with records; files().
    """

    header = datafile.OBS_HEADER
    expected_fields = datafile.RAW_OBS_FIELD_COUNT
    page_values = staticmethod(obs_page_values)  # how the legacy pages' values are checked and cleaned
    in_last_records = True  # the legacy lastrecords.html page shows the last few Obs records

    def __init__(self, data_dir):
        self.directory = data_dir

    def format(self, record, chain, now_utc):
        """Return (path, line, chain after, flag) for `record`. Raise ValueError for a malformed record."""
        row, chain, flag = obs_row(record.values, chain)
        return datafile.obs_file_path(self.directory, row, now_utc), ",".join(row), chain, flag

    def plain_line(self, record):
        """The line `record` gives without any inference (to find a row already in a file)."""
        return ",".join(datafile.obs_row_from_raw(record.values))

    def line_time(self, line):
        """The GPS time of a file line, or None (no fix, or not a row)."""
        row = datafile.parse_obs_line(line)
        return datafile.row_timestamp(row) if row else None

    def record_time(self, record):
        """The GPS time of a record, or None without a fix."""
        return datafile.row_timestamp(datafile.obs_row_from_raw(record.values))

    def chain_after(self, record, line):
        """The frozen-GPS chain after `record` was written as `line` (see obs_row)."""
        row = datafile.parse_obs_line(line)
        return (gps_key(datafile.obs_row_from_raw(record.values)), gps_key(row) if row else None)

    def files(self):
        return datafile.daily_files(self.directory)


class Episodes:
    """Log frozen-GPS and no-fix episodes once when they start and once when they end, with their length."""

    def __init__(self, table):
        self.table = table
        self.kind = None
        self.first = None
        self.count = 0

    def observe(self, record_no, flag):
        if flag == self.kind:
            self.count += flag is not None
            return
        self._end(record_no)
        self.kind, self.first, self.count = flag, record_no, 1 if flag else 0
        if flag == FROZEN:
            log.warning(
                "%s: GPS time frozen from record %d: each record stamped previous time + 1 s", self.table, record_no
            )
        elif flag == NO_FIX:
            log.warning(
                "%s: GPS has no fix from record %d: rows written with nan, file by host UTC date", self.table, record_no
            )

    def _end(self, record_no):
        if self.kind == FROZEN:
            log.warning(
                "%s: GPS time moving again at record %d after %d frozen records (%d-%d), times inferred",
                self.table,
                record_no,
                self.count,
                self.first,
                self.first + self.count - 1,
            )
        elif self.kind == NO_FIX:
            log.warning("%s: GPS fix back at record %d after %d records without fix", self.table, record_no, self.count)
