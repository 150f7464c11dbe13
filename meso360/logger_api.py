"""HTTP client of the Campbell datalogger web API: one session, a timeout on every call, bounded answers.

What the logger answers is validated by meso360.logger_answers; library exceptions become LoggerError (cause chained).
"""

import json

import requests

from meso360 import USER_AGENT
from meso360.errors import LoggerError
from meso360.logger_answers import LoggerAnswerError, parse_data_query, parse_last_records, parse_newest_record

MAX_ANSWER_BYTES = 8 * 1024 * 1024


class NotSupportedError(LoggerError):
    """The logger does not know this command (HTTP 404, or an HTML page instead of JSON).

    `definitive` is True for HTTP 404 ("no such command"); an HTML page with status 200 may also be a busy
    logger's error page, so it is weak evidence (False).
    """

    def __init__(self, message, definitive=True):
        super().__init__(message)
        self.definitive = definitive


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
        except requests.exceptions.ConnectionError as error:
            raise LoggerError(_connection_reason(error)) from error
        except requests.exceptions.Timeout as error:
            raise LoggerError(f"no answer within {self.timeout_s:g} s") from error
        except requests.exceptions.RequestException as error:
            raise LoggerError(f"HTTP request failed: {error}") from error
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

    def newest_record_page(self, table, expected_fields, page_values):
        """Return the newest Record of `table` from the legacy NewestRecord page (see parse_newest_record)."""
        text = self.get_text(f"/command=NewestRecord&table={table}")
        return parse_newest_record(text, expected_fields, page_values)

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
