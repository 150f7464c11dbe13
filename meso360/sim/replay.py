"""Table layouts of the simulated CR1000X and the raw values of each record, replayed from real observations."""

import datetime as dt
import gzip
import math
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from meso360.datafile import OBS_COLUMN_COUNT, number_or_none

# Token the logger writes for a missing number (CRBasic NAN).
NAN = "NAN"
# Token the logger writes into GPS string fields without a fix (seen in legacy files as `nan`).
GPS_STRING_NAN = "nan"

FLOAT = "xsd:float"
STRING = "xsd:string"


class Field(NamedTuple):
    name: str
    type: str
    units: str


def _fields(declaration):
    """Given a table declared one field a line, `name type units` (float or string; units may hold spaces, or be
    left out), return its Fields in that order."""
    types = {"float": FLOAT, "string": STRING}
    return tuple(
        Field(name, types[kind], " ".join(units))
        for name, kind, *units in map(str.split, declaration.strip().splitlines())
    )


# The tables as the CR1000X program declares them, as its DataQuery answers' head lists them.
OBS_FIELDS = _fields(
    """
    WS_ms       float   meters/second
    WindDir     float   degrees
    T_slow      float   Deg C
    RH_slow     float   %
    T_fast      float   Deg C
    DewPt       float   Deg C
    RH_der      float   %
    Press_hPa   float   hPa
    CompassDir  float   degrees
    GPSDate     string  DDMMYY
    GPSTime     string  HHMMSS
    GPSStatus   string
    Lat         float   degrees
    Lon         float   degrees
    Alt         float   m
    GPSSpd      float   m/s
    GPSDir      float   degrees
    BattV       float   Volts
    PanelT      float   Deg C
    """
)

SUPPORT_FIELDS = _fields(
    """
    WS_ms_raw         float   meters/second
    WindDir_raw       float   degrees
    FluxDirection     float   degrees
    RMC               string
    GGA               string
    LOCAL_UTC_OFFSET  float   hours
    WD_OFFSET         float   degrees
    X                 float   meters/second
    Y                 float   meters/second
    """
)

TABLES = {"Obs": OBS_FIELDS, "Support": SUPPORT_FIELDS}

# Raw Obs indexes of the GPS fields a lost fix turns into NAN.
GPS_NUMERIC_INDEXES = (12, 13, 14, 15, 16)


class Record(NamedTuple):
    """One logger record, compact: values are derived on demand from the replay row."""

    no: int
    seconds: int  # logger time, seconds since the Unix epoch (UTC)
    row: int  # index into the replayed observation rows
    gps_seconds: int | None  # GPS date/time written into the record; None: no fix


def load_rows(path=None):
    """Given a processed observation file (17 columns, header), return its rows as tuples of tokens.

    Without a path, read the copy shipped inside the package. Raise ValueError if a row is malformed.
    """
    if path is None:
        blob = resources.files("meso360.sim").joinpath("data/test.txt.gz").read_bytes()
        text = gzip.decompress(blob).decode()
    else:
        raw = Path(path).read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
    rows = []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        tokens = tuple(NAN if token.lower() == "nan" else token for token in line.strip().split(","))
        if len(tokens) != OBS_COLUMN_COUNT:
            raise ValueError(
                f"{path or 'packaged test data'} line {number}: {len(tokens)} columns, need {OBS_COLUMN_COUNT}"
            )
        rows.append(tokens)
    if not rows:
        raise ValueError(f"{path or 'packaged test data'}: no observation rows")
    return rows


def utc(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def battery_token(row_index):
    """A slowly varying plausible battery voltage (the processed test data dropped the real one)."""
    return f"{12.80 + (row_index // 60 % 20) * 0.01:.2f}"


def obs_values(record, rows):
    """Given a Record, return its 19 raw Obs tokens (strings unquoted, missing numbers as NAN)."""
    row = rows[record.row]
    values = list(row[:9])
    if record.gps_seconds is None:
        values += [GPS_STRING_NAN, GPS_STRING_NAN, "V"] + [NAN] * 5
    else:
        gps = utc(record.gps_seconds)
        values += [gps.strftime("%d%m%y"), gps.strftime("%H%M%S"), "A", *row[11:16]]
    values += [battery_token(record.row), row[16]]
    return values


def _nmea(body):
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"${body}*{checksum:02X}"


def _degrees_minutes(value, width):
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    return f"{degrees:0{width}d}{minutes:05.2f}"


def nmea_sentences(record, rows):
    """Given a Record, return its ($GPRMC, $GPGGA) sentences built from its GPS time and position."""
    row = rows[record.row]
    lat, lon, alt = number_or_none(row[11]), number_or_none(row[12]), number_or_none(row[13])
    if record.gps_seconds is None or lat is None or lon is None:
        stamp = utc(record.seconds).strftime("%H%M%S.00")
        return _nmea(f"GPRMC,{stamp},V,,,,,,,,,,N"), _nmea(f"GPGGA,{stamp},,,,,0,00,99.9,,M,,M,,")
    gps = utc(record.gps_seconds)
    stamp = gps.strftime("%H%M%S.00")
    position = (
        f"{_degrees_minutes(lat, 2)},{'N' if lat >= 0 else 'S'},{_degrees_minutes(lon, 3)},{'E' if lon >= 0 else 'W'}"
    )
    knots = (number_or_none(row[14]) or 0.0) * 1.943844
    track = number_or_none(row[15]) or 0.0
    rmc = _nmea(f"GPRMC,{stamp},A,{position},{knots:.1f},{track:.1f},{gps.strftime('%d%m%y')},,,A")
    gga = _nmea(f"GPGGA,{stamp},{position},1,09,0.9,{alt or 0.0:.1f},M,-24.0,M,,")
    return rmc, gga


def support_values(record, rows):
    """Given a Record, return its 9 raw Support tokens."""
    row = rows[record.row]
    speed, direction = number_or_none(row[0]), number_or_none(row[1])
    if speed is None or direction is None:
        x = y = NAN
    else:
        x = f"{-speed * math.sin(math.radians(direction)):.3f}"
        y = f"{-speed * math.cos(math.radians(direction)):.3f}"
    rmc, gga = nmea_sentences(record, rows)
    return [row[0], row[1], row[8], rmc, gga, "-5", "0", x, y]


VALUES = {"Obs": obs_values, "Support": support_values}
