"""Client of the Campbell datalogger web API: DataQuery JSON, legacy NewestRecord HTML and lastrecords.html.

Every answer is validated here; library exceptions become LoggerError (cause chained). Number tokens are kept
as the exact text the logger sent, so a file row holds them byte for byte.
"""

import csv
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

from meso360 import USER_AGENT
from meso360.errors import LoggerError

MAX_ANSWER_BYTES = 8 * 1024 * 1024
OBS_FIELD_COUNT = 19
SUPPORT_FIELD_COUNT = 9
# Raw Obs indexes that hold text (GPS date, time, status); every other Obs value is a number.
OBS_TEXT_INDEXES = frozenset((9, 10, 11))
_NAN_TOKENS = frozenset(("NAN", "NaN", "nan", "-NAN", "+NAN"))
_INF_TOKENS = frozenset(("INF", "+INF", "-INF", "Infinity", "-Infinity", "inf", "-inf"))


class LoggerAnswerError(LoggerError):
    """The logger answered, but the answer is not usable (not JSON, wrong shape, too large)."""


class NotSupportedError(LoggerError):
    """The logger does not know this command (HTTP 404, or an HTML page instead of JSON).

    `definitive` is True for HTTP 404 ("no such command"); an HTML page with status 200 may also be a busy
    logger's error page, so it is weak evidence (False).
    """

    def __init__(self, message, definitive=True):
        super().__init__(message)
        self.definitive = definitive


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
    """One DataQuery answer."""

    signature: str
    field_names: list
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
    return Page(str(head.get("signature", "")), [str(f["name"]) for f in fields], records, more)


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


def _obs_values(tokens):
    """Given 19 raw Obs text tokens, return them cleaned for the file; raise LoggerAnswerError if not usable."""
    if len(tokens) != OBS_FIELD_COUNT:
        raise LoggerAnswerError(f"record has {len(tokens)} values, expected {OBS_FIELD_COUNT}")
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


def parse_newest_record(text, expected_fields=OBS_FIELD_COUNT):
    """Given a NewestRecord HTML page, return a Record (time = the page's Record Date).

    Raise LoggerAnswerError if the page has no record number or the wrong number of values.
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
    values = _obs_values(parser.cells) if expected_fields == OBS_FIELD_COUNT else [c.strip('"') for c in parser.cells]
    return Record(number, parser.labels.get("Record Date", "").replace(" ", "T"), values)


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
            records[int(head)] = Record(int(head), "", _obs_values(tokens[1:]))
        except LoggerAnswerError as error:
            records[int(head)] = Record(int(head), "", [], f"lastrecords line of record {head}: {error}")
    return [records[number] for number in sorted(records)]


class LoggerClient:
    """HTTP client of one logger: one keep-alive session, a timeout on every call, bounded answer size."""

    def __init__(self, base_url, timeout_s, username="", password="", max_answer_bytes=MAX_ANSWER_BYTES):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        # The logger sits on the vehicle LAN: no proxy or ~/.netrc from the environment applies, and
        # looking them up again on every request was a quarter of the client's CPU per poll.
        self._session.trust_env = False
        if username:
            self._session.auth = (username, password)

    def close(self):
        self._session.close()

    def get_text(self, path):
        """GET base_url + path; return the body text. Raise LoggerError (NotSupportedError for 404)."""
        url = self.base_url + path
        try:
            with self._session.get(url, timeout=self.timeout_s, stream=True) as answer:
                if answer.status_code == 404:
                    raise NotSupportedError(f"HTTP 404 for {path}")
                if answer.status_code in (401, 403):
                    raise LoggerError(
                        f"HTTP {answer.status_code} {answer.reason}: the logger refused the login, "
                        "check [ingest] username and password"
                    )
                if answer.status_code != 200:
                    raise LoggerError(f"HTTP {answer.status_code} {answer.reason}")
                body = bytearray()
                for chunk in answer.iter_content(65536):
                    body += chunk
                    if len(body) > self.max_answer_bytes:
                        raise LoggerAnswerError(f"answer too large (over {self.max_answer_bytes // 1048576} MB)")
                content_type = answer.headers.get("Content-Type", "")
        except requests.exceptions.ConnectionError as error:
            raise LoggerError(_connection_reason(error)) from error
        except requests.exceptions.Timeout as error:
            raise LoggerError(f"no answer within {self.timeout_s:g} s") from error
        except requests.exceptions.RequestException as error:
            raise LoggerError(f"HTTP request failed: {error}") from error
        self.last_content_type = content_type
        return body.decode("utf-8", errors="replace")

    def data_query(self, table, expected_fields, since_record=None, most_recent=None):
        """Return the Page of `table` records numbered >= since_record (or the `most_recent` newest ones)."""
        if most_recent is not None:
            mode = f"mode=most-recent&p1={int(most_recent)}"
        else:
            mode = f"mode=since-record&p1={int(since_record)}"
        text = self.get_text(f"/?command=DataQuery&uri=dl:{table}&format=json&{mode}")
        if text.lstrip()[:1] == "<":
            raise NotSupportedError("DataQuery answered with an HTML page, not JSON", definitive=False)
        return parse_data_query(text, expected_fields)

    def newest_record(self, table, expected_fields=OBS_FIELD_COUNT):
        """Return the newest Record of `table` from the legacy NewestRecord page."""
        return parse_newest_record(self.get_text(f"/command=NewestRecord&table={table}"), expected_fields)

    def last_records(self):
        """Return the records of the legacy lastrecords.html page (the last few Obs records), sorted."""
        return parse_last_records(self.get_text("/lastrecords.html"))

    def clock_check(self):
        """Return the logger clock as text (ISO 8601, logger local time)."""
        text = self.get_text("/?command=ClockCheck&format=json")
        try:
            return str(json.loads(text)["time"])
        except (ValueError, KeyError, TypeError) as error:
            raise LoggerAnswerError("ClockCheck answer has no time") from error


def _connection_reason(error):
    text = str(error)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "connect timed out"),
        ("No route to host", "no route to host"),
        ("Name or service not known", "host name not known"),
        ("Network is unreachable", "network unreachable"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the logger"),
        ("Connection aborted", "connection closed by the logger"),
    ):
        if needle in text:
            return reason
    return f"connection failed ({text[:200]})"
