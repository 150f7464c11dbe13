"""Parse the text of a daily file into columns fast: GPS seconds and the chart series as floats.

A full day is 86 400 rows; parsing it cell by cell in Python takes most of a second, so the common
case (well-formed lines, valid GPS times, numeric cells) takes bulk paths that stay in C: one
`str.split` per chunk, columns sliced with a stride, each distinct cell text converted once.
Anything unusual (a header, a malformed line, a missing fix, garbage in a cell) falls back to the
careful path for that chunk or column only.
"""

import array
import itertools
import math
import operator

from meso360.datafile import GPS_DATE_COLUMN, GPS_TIME_COLUMN, OBS_COLUMN_COUNT, OBS_COLUMNS, number_or_none
from meso360.web.points import SERIES_INDEXES

_HEADER_START = OBS_COLUMNS[0] + ","
_NAN = float("nan")


def _tokens(text):
    """Given complete lines, return their cells as one flat list (17 per row), plus a trailing ''.

    Malformed lines (not 17 cells) and header lines are dropped.
    """
    if "\r" in text:
        text = text.replace("\r", "")
    if text.startswith(_HEADER_START):
        text = text[text.index("\n") + 1 :]
    if "\n" + _HEADER_START not in text:
        tokens = text.replace("\n", ",").split(",")
        if len(tokens) == text.count("\n") * OBS_COLUMN_COUNT + 1:
            return tokens
    good = [line for line in text.splitlines() if line.count(",") == OBS_COLUMN_COUNT - 1]
    good = [line for line in good if not line.startswith(_HEADER_START)]
    return ",".join(good).split(",") + [""] if good else [""]


def _float_table(texts, single=False):
    """Given cells, return {distinct cell text: float}, nan for anything missing, non-finite or garbage.

    `single`: the floats rounded to float32, as an array("f") would keep them.
    """
    distinct = dict.fromkeys(texts)  # real columns repeat a lot: each text is converted once
    try:
        numbers = list(map(float, distinct))
    except ValueError:
        values = (number_or_none(text, infinity_is_missing=True) for text in distinct)
        numbers = [_NAN if value is None else value for value in values]
    if single:
        numbers = array.array("f", numbers).tolist()  # a double beyond float32 becomes inf, then nan below
    if not math.isfinite(sum(numbers)):  # a nan or an inf somewhere (or a huge overflowing sum)
        numbers = [value if math.isfinite(value) else _NAN for value in numbers]
    return dict(zip(distinct, numbers, strict=True))


def parse_chunk(text, rows, single=()):
    """Given complete lines of a daily file, return (seconds, series) of its well-formed rows in file order.

    seconds: epoch seconds per row, None without a valid GPS fix. series: one iterable of floats per
    SERIES key (nan = missing), in SERIES order. `rows` is a datafile.RowReader (its date cache is reused).
    `single`: the indexes (in SERIES order) of the series whose floats are rounded to float32.
    """
    tokens = _tokens(text)
    if len(tokens) == 1:
        return [], [() for _ in SERIES_INDEXES]
    dates = tokens[GPS_DATE_COLUMN:-1:OBS_COLUMN_COUNT]
    times = tokens[GPS_TIME_COLUMN:-1:OBS_COLUMN_COUNT]
    return rows.column_seconds(dates, times), _series(tokens, single)


def parse_ordered_chunk(text, rows, single=()):
    """Given complete lines of a daily file, return (row count, seconds_at, series) of its well-formed rows, or
    None when one of them has no valid GPS fix or they go back in time.

    seconds_at(start, step): the epoch seconds of rows start, start + step, ... (a list); series as parse_chunk's.
    In the common case (one date, times in order: checked in bulk) only the rows asked for are converted.
    """
    tokens = _tokens(text)
    count = (len(tokens) - 1) // OBS_COLUMN_COUNT
    if not count:
        return 0, lambda _start, _step: [], [() for _ in SERIES_INDEXES]
    dates = tokens[GPS_DATE_COLUMN:-1:OBS_COLUMN_COUNT]
    times = tokens[GPS_TIME_COLUMN:-1:OBS_COLUMN_COUNT]
    if rows.one_date_in_order(dates, times):

        def seconds_at(start, step):
            return list(map(rows.gps_seconds_of, dates[start::step], times[start::step]))

    else:
        seconds = rows.column_seconds(dates, times)
        if None in seconds or not all(map(operator.le, seconds, itertools.islice(seconds, 1, None))):
            return None

        def seconds_at(start, step):
            return seconds[start::step]

    return count, seconds_at, _series(tokens, single)


def _series(tokens, single):
    """Given a chunk's cells (_tokens), return each series' floats (an iterable), in SERIES order."""
    series = []
    for index, column in enumerate(SERIES_INDEXES):
        texts = tokens[column:-1:OBS_COLUMN_COUNT]
        series.append(map(_float_table(texts, index in single).__getitem__, texts))
    return series
