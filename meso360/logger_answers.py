"""The Campbell datalogger's answers, validated: DataQuery JSON, legacy NewestRecord HTML and lastrecords.html.

Number tokens are kept as the exact text the logger sent, so a file row holds them byte for byte. An answer that is
unusable as a whole raises LoggerAnswerError; a single bad record is a Record with a `problem`.
"""

import csv
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

from meso360.datafile import RAW_OBS_FIELD_COUNT
from meso360.errors import LoggerError

# Raw Obs indexes that hold text (GPS date, time, status); every other Obs value is a number.
OBS_TEXT_INDEXES = frozenset((9, 10, 11))
_NAN_TOKENS = frozenset(("NAN", "NaN", "nan", "-NAN", "+NAN"))
_INF_TOKENS = frozenset(("INF", "+INF", "-INF", "Infinity", "-Infinity", "inf", "-inf"))


class LoggerAnswerError(LoggerError):
    """The logger answered, but the answer is not usable (not JSON, wrong shape, too large)."""


class _Number(str):
    """A JSON number token kept as its text."""


@dataclass
class Record:
    """One logger record: number, logger time text and the raw values as text; `problem` says why it is bad."""

    no: int | None
    time: str
    values: list
    problem: str | None = None


@dataclass
class Page:
    """One answer of a table's records: a DataQuery page, or what the legacy pages show (`more` False)."""

    signature: str
    records: list = field(default_factory=list)
    more: bool = False


def number_text(token):
    """Given a number value as text, return it for the file ("NAN" -> "nan"); None if it is not a number."""
    if isinstance(token, bool) or not isinstance(token, str):
        return None
    if token in _NAN_TOKENS:
        return "nan"
    if isinstance(token, _Number) or token in _INF_TOKENS:
        return str(token)
    try:
        float(token)
    except ValueError:
        return None
    return token


def _text_value(token):
    if isinstance(token, bool) or token is None:
        return None
    return "nan" if token in _NAN_TOKENS else str(token)


def parse_data_query(text, expected_fields):
    """Given a DataQuery JSON answer, return a Page; records failing validation carry a `problem`.

    Raise LoggerAnswerError if the answer as a whole is unusable.
    """
    try:
        answer = json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=lambda c: _Number(c))
    except ValueError as error:
        raise LoggerAnswerError(f"answer is not JSON ({error})") from error
    if not isinstance(answer, dict) or not isinstance(answer.get("head"), dict):
        raise LoggerAnswerError("answer has no head object")
    head = answer["head"]
    fields = head.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "name" in f for f in fields):
        raise LoggerAnswerError("answer head has no list of fields")
    if len(fields) != expected_fields:
        raise LoggerAnswerError(f"table has {len(fields)} fields, expected {expected_fields}")
    data = answer.get("data", [])
    if not isinstance(data, list):
        raise LoggerAnswerError("answer data is not a list")
    more = answer.get("more", False)
    if more not in (True, False):
        raise LoggerAnswerError(f"answer 'more' is {more!r}, not true/false")
    types = [str(f.get("type", "xsd:float")) for f in fields]
    records = [_parse_entry(entry, types) for entry in data]
    return Page(str(head.get("signature", "")), records, more)


def _parse_entry(entry, types):
    if not isinstance(entry, dict):
        return Record(None, "", [], "record is not an object")
    no = entry.get("no")
    number = int(no) if isinstance(no, _Number) and no.isdigit() else None
    time_text = entry.get("time")
    vals = entry.get("vals")
    if number is None:
        return Record(None, "", [], f"record number {no!r} is not a whole number")
    if not isinstance(time_text, str) or not isinstance(vals, list):
        return Record(number, "", [], "record has no time or no vals")
    if len(vals) != len(types):
        return Record(number, time_text, [], f"record {number} has {len(vals)} values, expected {len(types)}")
    values = []
    for index, (token, kind) in enumerate(zip(vals, types, strict=True)):
        value = _text_value(token) if kind.endswith("string") else number_text(token)
        if value is None:
            return Record(number, time_text, [], f"record {number} value {index + 1} ({token!r}) is not a {kind}")
        values.append(value)
    return Record(number, time_text, values)


class _NewestRecordParser(HTMLParser):
    """Collect the text of each <td> (an empty cell stays an empty value) and the labelled header values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cells = []
        self.labels = {}
        self._cell = None
        self._bold = None
        self._pending_label = None

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            self._cell = []
        elif tag == "b":
            self._bold = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "b" and self._bold is not None:
            self._pending_label = "".join(self._bold).strip().rstrip(":")
            self._bold = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._bold is not None:
            self._bold.append(data)
        elif self._pending_label:
            self.labels[self._pending_label] = data.strip()
            self._pending_label = None


def obs_page_values(tokens):
    """Given the 19 raw Obs values of a legacy page as text, return them cleaned for the file.

    Raise LoggerAnswerError if there are not 19 or one is not usable.
    """
    if len(tokens) != RAW_OBS_FIELD_COUNT:
        raise LoggerAnswerError(f"record has {len(tokens)} values, expected {RAW_OBS_FIELD_COUNT}")
    values = []
    for index, token in enumerate(tokens):
        token = token.strip()
        if index in OBS_TEXT_INDEXES:
            value = _text_value(token.strip('"'))
            if any(c in value for c in ',\n"'):
                value = None
        else:
            value = number_text(token)
        if value is None:
            raise LoggerAnswerError(f"value {index + 1} ({token!r}) is not usable")
        values.append(value)
    return values


def unquoted_page_values(tokens):
    """Given the raw values of a legacy page as text, return them without their quotes (no check per value)."""
    return [token.strip('"') for token in tokens]


def parse_newest_record(text, expected_fields, page_values):
    """Given a NewestRecord HTML page, the table's field count and its cleaner of page values (obs_page_values,
    unquoted_page_values), return a Record (time = the page's Record Date).

    Raise LoggerAnswerError if the page has no record number, the wrong number of values, or one the cleaner rejects.
    """
    parser = _NewestRecordParser()
    parser.feed(text)
    parser.close()
    current = parser.labels.get("Current Record", "")
    if not current.isdigit():
        raise LoggerAnswerError(f"NewestRecord page has no Current Record number ({current!r})")
    number = int(current)
    if len(parser.cells) != expected_fields:
        raise LoggerAnswerError(
            f"NewestRecord record {number} has {len(parser.cells)} values, expected {expected_fields}"
        )
    return Record(number, parser.labels.get("Record Date", "").replace(" ", "T"), page_values(parser.cells))


def parse_last_records(text):
    """Given lastrecords.html, return the Obs records on its lines `no,v1,...,v19`, sorted by number.

    Lines that are not records (HTML tags) are ignored; a record line failing validation gives a Record with a
    `problem` and no values.
    """
    records = {}
    for line in text.splitlines():
        line = line.strip()
        head, _, _ = line.partition(",")
        if not head.isdigit():
            continue
        tokens = next(csv.reader([line]))
        try:
            records[int(head)] = Record(int(head), "", obs_page_values(tokens[1:]))
        except LoggerAnswerError as error:
            records[int(head)] = Record(int(head), "", [], f"lastrecords line of record {head}: {error}")
    return [records[number] for number in sorted(records)]
