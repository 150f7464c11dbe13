"""The daily data files: the Obs row format and its GPS time, naming, durable appends, torn-line repair, reading."""

import datetime as dt
import math
import os
import re
from itertools import islice, repeat
from operator import floordiv, le, mod
from pathlib import Path

OBS_COLUMNS = (
    "sfc_wspd,sfc_wdir,t_slow,rh_slow,t_fast,dewpoint,der_rh,pressure,compass_dir,"
    "gps_date,gps_time,lat,lon,gps_alt,gps_spd,gps_dir,panel_temp"
).split(",")
OBS_HEADER = ",".join(OBS_COLUMNS)
OBS_COLUMN_COUNT = len(OBS_COLUMNS)  # 17 file columns, from the logger's RAW_OBS_FIELD_COUNT (19) values

SUPPORT_COLUMNS = (
    "gps_date,gps_time,ws_ms_raw,wdir_raw,flux_dir,rmc_msg,rmc_time,rmc_status,rmc_lat,rmc_lat_hemi,rmc_lon,"
    "rmc_lon_hemi,rmc_speed,rmc_track,rmc_date,rmc_mag_var,rmc_mag_var_dir,gga_msg,gga_time,gga_lat,gga_lat_hemi,"
    "gga_lon,gga_lon_hemi,gga_quality,gga_sats,gga_hdop,gga_alt,gga_alt_units,gga_geoid_sep,gga_geoid_units,"
    "gga_age,gga_station,utc_offset,wd_offset,x,y"
).split(",")
SUPPORT_HEADER = ",".join(SUPPORT_COLUMNS)

RAW_OBS_FIELD_COUNT = 19
RAW_SUPPORT_FIELD_COUNT = 9
# Raw Obs indexes not written to the file (GPS status and battery voltage), per the legacy format.
_DROPPED_RAW_INDEXES = (11, 17)
GPS_DATE_COLUMN = OBS_COLUMNS.index("gps_date")
GPS_TIME_COLUMN = OBS_COLUMNS.index("gps_time")

_OBS_FILE_RE = re.compile(r"^(\d{8})\.txt$")
_TIME_OF_DAY = "(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]"  # HHMMSS as _clock_seconds accepts it (ASCII digits)
_TIMES_RE = re.compile(f"{_TIME_OF_DAY}(?:,{_TIME_OF_DAY})*")
_GPS_TOKEN_STRIP = "'\" \t"  # noqa: S105  not a password: what is stripped from GPS tokens


def clean_gps_token(text):
    """Given a raw GPS date or time value, return it without quotes/spaces, zero-padded to 6; `nan` kept."""
    token = str(text).strip(_GPS_TOKEN_STRIP)
    if token.lower() == "nan" or token == "":
        return "nan"
    return token.zfill(6)


def obs_row_from_raw(raw_values):
    """Given the logger's 19 raw Obs values as text, return the 17 file columns. Raise ValueError if not 19."""
    if len(raw_values) != RAW_OBS_FIELD_COUNT:
        raise ValueError(f"Obs record has {len(raw_values)} values, expected {RAW_OBS_FIELD_COUNT}")
    row = [str(value) for index, value in enumerate(raw_values) if index not in _DROPPED_RAW_INDEXES]
    row[GPS_DATE_COLUMN] = clean_gps_token(row[GPS_DATE_COLUMN])
    row[GPS_TIME_COLUMN] = clean_gps_token(row[GPS_TIME_COLUMN])
    return row


def _midnight_seconds(date_text):
    """Given DDMMYY, return the epoch seconds of its 00:00 UTC, or None when it is not a valid date."""
    if len(date_text) != 6 or not date_text.isdecimal():
        return None
    try:
        return int(dt.datetime.strptime(date_text, "%d%m%y").replace(tzinfo=dt.UTC).timestamp())
    except ValueError:
        return None


def _clock_seconds(time_text):
    """Given HHMMSS, return the seconds since midnight, or None when it is not a valid time of day."""
    if len(time_text) != 6 or not time_text.isdecimal():
        return None
    hours, rest = divmod(int(time_text), 10000)
    minutes, seconds = divmod(rest, 100)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return hours * 3600 + minutes * 60 + seconds


def parse_gps_datetime(date_text, time_text):
    """Given DDMMYY and HHMMSS, return an aware UTC datetime, or None when missing or invalid."""
    midnight, clock = _midnight_seconds(date_text), _clock_seconds(time_text)
    if midnight is None or clock is None:
        return None
    return dt.datetime.fromtimestamp(midnight + clock, dt.UTC)


class RowReader:
    """Data file lines to rows and their GPS time as epoch seconds (None without a valid fix): the one parser of
    the gps_date and gps_time columns, by the rules of parse_gps_datetime.

    Each date is parsed once per reader (strptime per row would make reading a full day take seconds).
    """

    def __init__(self):
        self._midnights = {}

    def midnight(self, date_text):
        """Given DDMMYY, return the epoch seconds of its 00:00 UTC, or None when it is not a valid date."""
        midnight = self._midnights.get(date_text, -1)
        if midnight == -1:
            midnight = _midnight_seconds(date_text)
            if len(self._midnights) > 1000:
                self._midnights.clear()
            self._midnights[date_text] = midnight
        return midnight

    def gps_seconds_of(self, date_text, time_text):
        """Given DDMMYY and HHMMSS cells, return epoch seconds, or None when not a valid time."""
        midnight = self.midnight(date_text)
        if midnight is None:
            return None
        clock = _clock_seconds(time_text)
        return None if clock is None else midnight + clock

    def gps_seconds(self, row):
        """Given the 17 columns of an Obs row, return its GPS time as epoch seconds, or None without a valid fix."""
        return self.gps_seconds_of(row[GPS_DATE_COLUMN], row[GPS_TIME_COLUMN])

    def parse(self, line):
        """Given a data file line, return (gps_epoch_seconds or None, row), or None for the header or a bad line."""
        row = parse_obs_line(line)
        if row is None:
            return None
        return self.gps_seconds(row), row

    def column_seconds(self, dates, times):
        """Given the gps_date and gps_time cells of many rows, return their epoch seconds (None: no valid fix).

        The same rules as gps_seconds_of(), in bulk: when every cell is valid, no per-row Python but one subtraction.
        """
        midnights = {date: self.midnight(date) for date in set(dates)}
        if None not in midnights.values() and set(map(len, times)) <= {6} and "".join(times).isdigit():
            try:
                clock = list(map(int, times))  # HHMMSS as a number
            except ValueError:
                clock = None  # a non-ASCII digit: the careful path decides
            if (
                clock
                and max(clock) < 240000
                and max(map(mod, clock, repeat(100))) < 60
                and max(map(mod, map(floordiv, clock, repeat(100)), repeat(100))) < 60
            ):
                seconds = [value - value // 10000 * 6400 - value // 100 % 100 * 40 for value in clock]
                if len(midnights) == 1:
                    midnight = next(iter(midnights.values()))
                    return [midnight + second for second in seconds]
                return [midnights[date] + second for date, second in zip(dates, seconds, strict=True)]
        return [self.gps_seconds_of(date, time) for date, time in zip(dates, times, strict=True)]

    def one_date_in_order(self, dates, times):
        """Given the gps_date and gps_time cells of many rows, return True when they all have the same valid date
        and a valid time, in time order (equal times allowed): every row has a GPS time by gps_seconds_of() and
        they never go back. False says nothing (column_seconds() then tells).

        Checked in bulk on the texts, no per-row Python: on one date, HHMMSS texts sort as their times do.
        """
        if not dates or dates.count(dates[0]) != len(dates) or self.midnight(dates[0]) is None:
            return False
        if not _TIMES_RE.fullmatch(",".join(times)):
            return False
        return all(map(le, times, islice(times, 1, None)))


def format_gps_datetime(when):
    """Given a UTC datetime, return (DDMMYY, HHMMSS) as written in the file."""
    return when.strftime("%d%m%y"), when.strftime("%H%M%S")


def row_timestamp(row):
    """Given the 17 columns of an Obs row, return its GPS time (UTC datetime) or None without a fix."""
    return parse_gps_datetime(row[GPS_DATE_COLUMN], row[GPS_TIME_COLUMN])


def obs_file_path(data_dir, row, now_utc):
    """Return the daily file for `row`: named by its GPS date, or by the host UTC date `now_utc` without a fix."""
    when = row_timestamp(row) or now_utc
    return Path(data_dir) / f"{when:%Y%m%d}.txt"


def support_file_path(support_dir, when_utc):
    """Return the daily Support file for a record stamped `when_utc`."""
    return Path(support_dir) / f"{when_utc:%Y%m%d}_support.txt"


def number_or_none(text, *, infinity_is_missing=False):
    """Given a data file cell, return its value as a float, or None for a missing one: nan, empty or not a number.

    With `infinity_is_missing`, inf and -inf are None too (for callers that need a finite number).
    """
    try:
        value = float(text)
    except ValueError:
        return None
    if infinity_is_missing:
        return value if math.isfinite(value) else None
    return None if math.isnan(value) else value


def parse_obs_line(line):
    """Given one line of a data file, return its 17 columns, or None for the header or a malformed line."""
    fields = line.rstrip("\r\n").split(",")
    if len(fields) != OBS_COLUMN_COUNT or fields[0] == OBS_COLUMNS[0]:
        return None
    return fields


def daily_files(data_dir):
    """Return the YYYYMMDD.txt data files in `data_dir`, oldest first (empty when the dir is missing)."""
    try:
        names = os.listdir(data_dir)
    except FileNotFoundError:
        return []
    return [Path(data_dir) / name for name in sorted(names) if _OBS_FILE_RE.match(name)]


def file_date(path):
    """Return the date a YYYYMMDD.txt file name stands for, or None."""
    match = _OBS_FILE_RE.match(Path(path).name)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d").date()  # noqa: DTZ007  a date only: no time of day, no zone
    except ValueError:
        return None


def read_complete_text(path, offset=0, max_bytes=None):
    """Read whole lines of `path` from byte `offset`; return (their text, new_offset).

    At most `max_bytes` are read (None: to the end); a last line without its newline (still being written,
    or torn) is left for the next call. Raise FileNotFoundError when the file does not exist.
    """
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read(max_bytes)
    end = data.rfind(b"\n")
    if end < 0:
        return "", offset
    return data[: end + 1].decode("utf-8", errors="replace"), offset + end + 1


def read_complete_lines(path, offset=0, max_bytes=None):
    """Read whole lines of `path` from byte `offset`; return (lines, new_offset), as read_complete_text()."""
    text, offset = read_complete_text(path, offset, max_bytes)
    return text.splitlines(), offset


def last_complete_lines(path, count, end=None, block_bytes=65536):
    """Return (the last `count` complete lines of `path` before byte `end`, the offset just after them).

    Reads blocks backwards from `end` (default: the end of the file). A last line without its newline
    (still being written, or torn) is not complete: it is neither returned nor counted in the offset.
    """
    with open(path, "rb") as file:
        end = file.seek(0, os.SEEK_END) if end is None else end
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= count:
            step = min(block_bytes, position)
            position -= step
            file.seek(position)
            data = file.read(step) + data
    cut = data.rfind(b"\n")
    if cut < 0:
        return [], position
    lines = data[: cut + 1].decode("utf-8", errors="replace").splitlines()
    if position > 0:
        lines = lines[1:]  # the first line read may be cut off at the block boundary
    return (lines[-count:] if count > 0 else []), position + cut + 1
