"""Support records to rows of support_dir/YYYYMMDD_support.txt (36 columns, LEGACY.md section 1.11)."""

import csv
import datetime as dt
import io
import logging

from meso360 import datafile
from meso360.logger_answers import unquoted_page_values

log = logging.getLogger(__name__)

RMC_WIDTH = 12
GGA_WIDTH = 15
_NMEA_STRIP = "'\" "


def split_nmea(sentence, width):
    """Given an NMEA sentence, return its comma-separated fields, padded with '' or cut to `width`."""
    fields = str(sentence).strip(_NMEA_STRIP).split(",")
    return (fields + [""] * width)[:width]


def parse_record_time(text):
    """Given the logger's record time ("2026-11-26T17:52:28" with optional fraction), return a UTC datetime or None."""
    try:
        return dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def support_row(values, when):
    """Given 9 raw Support values and the record time, return the 36 file columns. Raise ValueError if not 9."""
    if len(values) != datafile.RAW_SUPPORT_FIELD_COUNT:
        raise ValueError(f"Support record has {len(values)} values, expected {datafile.RAW_SUPPORT_FIELD_COUNT}")
    date_text, time_text = datafile.format_gps_datetime(when)
    return [
        date_text,
        time_text,
        *values[0:3],
        *split_nmea(values[3], RMC_WIDTH),
        *split_nmea(values[4], GGA_WIDTH),
        *values[5:9],
    ]


def csv_line(columns):
    """Return `columns` as one csv.writer line, without its newline."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue()[:-1]


class SupportFormat:
    """How Support records become lines of support_dir/YYYYMMDD_support.txt."""

    header = datafile.SUPPORT_HEADER
    expected_fields = datafile.RAW_SUPPORT_FIELD_COUNT
    page_values = staticmethod(unquoted_page_values)  # the legacy page gives its values unchecked, only unquoted
    in_last_records = False  # the legacy pages show only the newest Support record

    def __init__(self, support_dir):
        self.directory = support_dir
        self._bad_time_logged = False

    def format(self, record, chain, now_utc):
        when = parse_record_time(record.time)
        if when is None:
            if not self._bad_time_logged:
                log.warning(
                    "Support record %s has an invalid time %r: using the host UTC clock", record.no, record.time
                )
            self._bad_time_logged = True
            when = now_utc
        else:
            self._bad_time_logged = False
        line = csv_line(support_row(record.values, when))
        return datafile.support_file_path(self.directory, when), line, chain, None

    def plain_line(self, record):
        when = parse_record_time(record.time)
        return csv_line(support_row(record.values, when)) if when else None

    def line_time(self, line):
        date_text, _, rest = line.partition(",")
        return datafile.parse_gps_datetime(date_text, rest.partition(",")[0])

    def record_time(self, record):
        return parse_record_time(record.time)

    def chain_after(self, record, line):
        return (None, None)

    def files(self):
        try:
            names = sorted(p for p in self.directory.iterdir() if p.name.endswith("_support.txt"))
        except FileNotFoundError:
            return []
        return names
