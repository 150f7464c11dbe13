"""HTTP side of the simulator: the logger web server (with faults and outages) and the JSON control server."""

import base64
import hmac
import logging
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from meso360.sim import query, render

log = logging.getLogger("meso360.sim")

HUGE_BODY_BYTES = 32 * 1024 * 1024
LAST_RECORDS = 10


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8081
    control_port: int = 0
    page_size: int = 500
    station_name: str = "MM1"
    username: str | None = None
    password: str | None = None
    no_dataquery: bool = False
    omit_more: bool = False


class LoggerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, sim):
        self.sim = sim
        super().__init__(address, handler)


class _Answer(Exception):
    """Raised inside a handler to send an error page at once."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class LoggerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CR1000X"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("logger %s - %s", self.address_string(), format % args)

    def setup(self):
        super().setup()
        self.server.sim.connections.add(self.connection)

    def finish(self):
        self.server.sim.connections.discard(self.connection)
        super().finish()

    def do_GET(self):  # noqa: N802 - http.server naming
        sim = self.server.sim
        if sim.in_outage():
            self.close_connection = True
            return
        faults = sim.logger.begin_request()
        if "http_error" in faults:
            status = faults["http_error"]["status"]
            return self._send(status, render.error_page(status, "injected error"), "text/html")
        if "slow" in faults and sim.stop_event.wait(faults["slow"]["seconds"]):
            return
        malformed = faults.get("malformed", {}).get("variant")
        if malformed == "html200":
            return self._send(200, render.error_page(200, "Error: the server is busy"), "text/html")
        try:
            self._check_auth()
            body, content_type = self._dispatch(malformed)
        except _Answer as answer:
            return self._send(answer.status, render.error_page(answer.status, answer.message), "text/html")
        if malformed == "json":
            body = body[: len(body) // 2]
        elif malformed == "huge":
            return self._send_huge(body, content_type)
        self._send(200, body, content_type)

    def _check_auth(self):
        options = self.server.sim.options
        if options.username is None:
            return
        expected = base64.b64encode(f"{options.username}:{options.password or ''}".encode()).decode()
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Basic {expected}".encode()):
            raise _Answer(401, "authentication required")

    def _dispatch(self, malformed):
        url = urlsplit(self.path)
        if url.path == "/lastrecords.html":
            return self._last_records(malformed), "text/html"
        if url.path in ("", "/"):
            params = parse_qs(url.query)
        elif url.path.lower().startswith("/command="):
            params = parse_qs(url.path[1:] + ("&" + url.query if url.query else ""))
        else:
            raise _Answer(404, f"{url.path} not found")
        params = {key.lower(): values[-1] for key, values in params.items()}
        command = params.get("command", "").lower()
        if command == "newestrecord":
            return self._newest_record(params, malformed), "text/html"
        if self.server.sim.options.no_dataquery:
            raise _Answer(404, f"command {command!r} is not supported by this logger")
        if command == "dataquery":
            return self._data_query(params, malformed)
        if command == "clockcheck":
            seconds = self.server.sim.logger.clock_seconds()
            if params.get("format", "").lower() == "json":
                return render.clock_check_json(seconds), "application/json"
            return f"<html><body>outcome 1, time {render.logger_time(seconds, ' ')}</body></html>\n", "text/html"
        raise _Answer(404, f"unknown command {command!r}")

    def _table(self, name):
        table = render.table_name(name or "")
        if table is None:
            raise _Answer(404, f"table {name!r} not found")
        return table

    def _data_query(self, params, malformed):
        sim = self.server.sim
        uri = params.get("uri", "")
        source, _, rest = uri.partition(":") if ":" in uri else ("dl", "", uri)
        if source.lower() != "dl":
            raise _Answer(404, f"data source {source!r} not found")
        name, _, field_name = rest.partition(".")
        table = self._table(name)
        selected = render.select_fields(table, field_name)
        if selected is None:
            raise _Answer(404, f"field {field_name!r} not found in {table}")
        signature, records = sim.logger.snapshot()
        # The logger clock as of this snapshot, so backfill answers are consistent with the records.
        clock = records[-1].seconds if records else sim.logger.clock_seconds()
        try:
            chosen = query.select(records, params.get("mode", "").lower(), params.get("p1"), params.get("p2"), clock)
        except query.QueryError as error:
            raise _Answer(400, str(error)) from None
        chosen, more = query.page(chosen, sim.options.page_size)
        if params.get("format", "html").lower() != "json":
            return render.data_query_html(table, chosen, sim.logger.rows, selected), "text/html"
        body = render.data_query_json(
            table,
            signature,
            chosen,
            sim.logger.rows,
            selected,
            more,
            sim.options.station_name,
            malformed=malformed,
            omit_more=sim.options.omit_more,
        )
        return body, "application/json"

    def _newest_record(self, params, malformed):
        sim = self.server.sim
        table = self._table(params.get("table"))
        page = render.newest_record_html(table, sim.logger.newest(), sim.logger.rows)
        return _corrupt_html_rows(page, malformed)

    def _last_records(self, malformed):
        sim = self.server.sim
        _, records = sim.logger.snapshot()
        page = render.last_records_html(records[-LAST_RECORDS:], sim.logger.rows)
        if malformed == "fields":
            lines = page.split("\n")
            data = [i for i, line in enumerate(lines) if line[:1].isdigit()]
            if data:
                lines[data[-1]] = lines[data[-1]].rsplit(",", 1)[0]
            page = "\n".join(lines)
        elif malformed == "garbage":
            page = _garbage_last_line(page)
        return page

    def _send(self, status, body, content_type):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8" if "html" in content_type else content_type)
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="CR1000X"')
        self.end_headers()
        self.wfile.write(data)

    def _send_huge(self, body, content_type):
        data = body.encode()
        # Valid JSON/HTML padded with whitespace after the first character: only a size cap protects a client.
        padding = HUGE_BODY_BYTES - len(data)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) + max(padding, 0)))
        self.end_headers()
        self.wfile.write(data[:1])
        chunk = b" " * (1024 * 1024)
        while padding > 0:
            self.wfile.write(chunk[: min(padding, len(chunk))])
            padding -= len(chunk)
        self.wfile.write(data[1:])


def _corrupt_html_rows(page, malformed):
    """Apply the fields/garbage faults to a NewestRecord page: drop the last row, or garble the first number."""
    if malformed == "fields":
        head, _, tail = page.rpartition("<tr>")
        return head + tail.partition("</tr>")[2].lstrip("\n")
    if malformed == "garbage":
        start = page.find("<td>") + len("<td>")
        end = page.find("</td>", start)
        return page[:start] + "1.2.3#ERR" + page[end:] if start >= len("<td>") else page
    return page


def _garbage_last_line(page):
    lines = page.split("\n")
    data = [i for i, line in enumerate(lines) if line[:1].isdigit()]
    if data:
        parts = lines[data[-1]].split(",")
        parts[1] = "1.2.3#ERR"
        lines[data[-1]] = ",".join(parts)
    return "\n".join(lines)
