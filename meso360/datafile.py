"""The daily data files: row format, naming, durable appends, torn-line repair, and reading complete lines."""

import datetime as dt
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

OBS_COLUMNS = (
    "sfc_wspd,sfc_wdir,t_slow,rh_slow,t_fast,dewpoint,der_rh,pressure,compass_dir,"
    "gps_date,gps_time,lat,lon,gps_alt,gps_spd,gps_dir,panel_temp"
).split(",")
OBS_HEADER = ",".join(OBS_COLUMNS)

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


def parse_gps_datetime(date_text, time_text):
    """Given DDMMYY and HHMMSS, return an aware UTC datetime, or None when missing or invalid."""
    if len(date_text) != 6 or len(time_text) != 6 or not (date_text + time_text).isdigit():
        return None
    try:
        return dt.datetime.strptime(date_text + time_text, "%d%m%y%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


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


def parse_obs_line(line):
    """Given one line of a data file, return its 17 columns, or None for the header or a malformed line."""
    fields = line.rstrip("\r\n").split(",")
    if len(fields) != len(OBS_COLUMNS) or fields[0] == OBS_COLUMNS[0]:
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


def read_complete_lines(path, offset=0, max_bytes=None):
    """Read whole lines of `path` from byte `offset`; return (lines, new_offset).

    A last line without its newline (still being written, or torn) is left for the next call.
    Raise FileNotFoundError when the file does not exist.
    """
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read() if max_bytes is None else file.read(max_bytes)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    chunk = data[: end + 1]
    lines = chunk.decode("utf-8", errors="replace").splitlines()
    return lines, offset + len(chunk)


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


def repair_torn_tail(path):
    """Cut a partial last line (left by a power cut) off `path`; return the bytes removed (0 if intact)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        tail_start = max(0, size - 65536)
        os.lseek(fd, tail_start, os.SEEK_SET)
        tail = os.read(fd, size - tail_start)
        if tail.endswith(b"\n"):
            return 0
        newline = tail.rfind(b"\n")
        keep = tail_start + newline + 1 if newline >= 0 else 0
        os.ftruncate(fd, keep)
        os.fsync(fd)
        return size - keep
    finally:
        os.close(fd)


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DailyAppender:
    """Durable appends to daily CSV files: header once per file, one write per line, fsync per batch.

    Keeps the current file open; a torn last line of a file is repaired the first time it is opened.
    """

    def __init__(self, header):
        self._header = header
        self._path = None
        self._fd = None

    @property
    def path(self):
        return self._path

    def _open(self, path):
        self.close()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        removed = repair_torn_tail(path)
        if removed:
            log.warning("repaired %s: removed a torn last line of %d bytes (power cut?)", path, removed)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            created = False
        try:
            if created or os.fstat(fd).st_size == 0:
                _write_all(fd, (self._header + "\n").encode())
                os.fsync(fd)
                _fsync_directory(path.parent)
        except OSError:
            os.close(fd)
            if created:
                # Leave no header-less file behind (disk full while writing the header).
                path.unlink(missing_ok=True)
            raise
        self._path, self._fd = path, fd

    def append(self, path, lines):
        """Append `lines` (without newlines) to `path` and fsync; return the file size afterwards.

        Raise OSError (disk full, read-only) after cutting off any partly written line.
        """
        if self._path != Path(path) or self._fd is None:
            self._open(path)
        try:
            for line in lines:
                _write_all(self._fd, (line + "\n").encode())
            os.fsync(self._fd)
        except OSError:
            # A partial line must never stay in the file: cut back to the last complete line.
            fd, self._fd, failed_path = self._fd, None, self._path
            os.close(fd)
            repair_torn_tail(failed_path)
            raise
        return os.fstat(self._fd).st_size

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._path = None


def _write_all(fd, data):
    """os.write until all of `data` is written (a short write is possible on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
