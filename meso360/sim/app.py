"""The running simulator: logger and control servers, the clock thread, outages, and the control API."""

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from meso360.sim.render import logger_time, table_name
from meso360.sim.replay import VALUES
from meso360.sim.server import LoggerHandler, LoggerHTTPServer
from meso360.sim.table import FaultError

log = logging.getLogger("meso360.sim")

MAX_RECORDS_PER_ANSWER = 200_000
BIND_RETRY_SECONDS = 10.0


class Simulator:
    """Owns the Logger state and both HTTP servers; start() binds, stop() ends everything at once."""

    def __init__(self, logger, options, stop_event):
        self.logger = logger
        self.options = options
        self.stop_event = stop_event
        self.connections = set()
        self._outage_end = threading.Event()
        self._outage_lock = threading.Lock()
        self._httpd = None
        self._control = None
        self.port = None
        self.control_port = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        """Bind both servers and start serving (threads); raise OSError if a port cannot be bound."""
        self._httpd = LoggerHTTPServer((self.options.host, self.options.port), LoggerHandler, self)
        self.port = self._httpd.server_address[1]
        self._control = LoggerHTTPServer((self.options.host, self.options.control_port), ControlHandler, self)
        self.control_port = self._control.server_address[1]
        self._serve(self._httpd, "logger-http")
        self._serve(self._control, "control-http")

    @staticmethod
    def _serve(httpd, name):
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True).start()

    def stop(self):
        self.stop_event.set()
        self._outage_end.set()
        for httpd in (self._httpd, self._control):
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()
        self._drop_connections()

    def _drop_connections(self):
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- outage ------------------------------------------------------------------------------

    def in_outage(self):
        return self.logger.outage_until is not None

    def start_outage(self, seconds):
        """Close the logger socket (connection refused) for `seconds`, then reopen it on the same port."""
        if not self._outage_lock.acquire(blocking=False):
            raise FaultError("an outage is already under way")
        self._outage_end.clear()
        self.logger.outage_until = time.monotonic() + seconds
        httpd, self._httpd = self._httpd, None
        httpd.shutdown()
        httpd.server_close()
        self._drop_connections()
        log.info("outage: logger port %s closed for %.1f s", self.port, seconds)
        threading.Thread(target=self._end_outage, args=(seconds,), name="outage", daemon=True).start()

    def _end_outage(self, seconds):
        try:
            self._outage_end.wait(seconds)
            deadline = time.monotonic() + BIND_RETRY_SECONDS
            while not self.stop_event.is_set():
                try:
                    self._httpd = LoggerHTTPServer((self.options.host, self.port), LoggerHandler, self)
                    break
                except OSError as error:
                    if time.monotonic() > deadline:
                        log.error("cannot reopen logger port %s: %s", self.port, error)
                        self.stop_event.set()
                        return
                    self.stop_event.wait(0.1)
            else:
                return
            self.logger.outage_until = None
            self._serve(self._httpd, "logger-http")
            log.info("outage over: logger port %s open again", self.port)
        finally:
            self._outage_lock.release()

    def end_outage(self):
        self._outage_end.set()

    # -- control API -------------------------------------------------------------------------

    def inject(self, fault):
        params = self.logger.add_fault(fault)
        if fault.get("kind") == "outage":
            self.start_outage(params["seconds"])
        return params

    def records_answer(self, params):
        table = table_name(params.get("table", "Obs"))
        if table is None:
            raise FaultError(f"unknown table {params.get('table')!r}")
        first = int(params.get("from", 0))
        last = int(params.get("to", first + MAX_RECORDS_PER_ANSWER - 1))
        if last - first >= MAX_RECORDS_PER_ANSWER:
            raise FaultError(f"at most {MAX_RECORDS_PER_ANSWER} records per request")
        signature = int(params["signature"]) if "signature" in params else None
        records = self.logger.history_records(first, last, signature)
        return {
            "table": table,
            "signature": self.logger.signature if signature is None else signature,
            "records": [
                {"no": r.no, "time": logger_time(r.seconds), "vals": VALUES[table](r, self.logger.rows)}
                for r in records
            ],
        }


class ControlHandler(BaseHTTPRequestHandler):
    """JSON control API: POST /fault, POST /clear, GET /state, GET /records, GET /wait."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("control %s - %s", self.address_string(), format % args)

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server naming
        sim = self.server.sim
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            if url.path == "/state":
                return self._reply(200, sim.logger.state() | {"logger_port": sim.port})
            if url.path == "/records":
                return self._reply(200, sim.records_answer(params))
            if url.path == "/wait":
                timeout = min(float(params.get("timeout", 10)), 60.0)
                reached = sim.logger.wait_for_record(int(params["record"]), timeout)
                return self._reply(200, {"reached": reached, "newest_record": sim.logger.state()["newest_record"]})
        except (FaultError, KeyError, ValueError) as error:
            return self._reply(400, {"error": str(error)})
        self._reply(404, {"error": f"no such resource {url.path}"})

    def do_POST(self):  # noqa: N802 - http.server naming
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if self.path == "/fault":
                if not isinstance(body, dict):
                    raise FaultError("body must be a JSON object")
                params = sim.inject(body)
                return self._reply(200, {"ok": True, "kind": body["kind"], "params": params})
            if self.path == "/clear":
                sim.logger.clear_faults()
                sim.end_outage()
                return self._reply(200, {"ok": True})
        except (FaultError, ValueError) as error:
            return self._reply(400, {"error": str(error)})
        self._reply(404, {"error": f"no such resource {self.path}"})
