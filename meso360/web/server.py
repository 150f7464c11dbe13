"""The HTTP server of meso360-web: waitress, with the limits that keep it answering whatever clients send.

Why waitress (and not cheroot, used before): waitress reads every request (header and body) in its one
event-loop thread and hands only whole requests to the worker threads. A client that sends its header a
line at a time (slowloris) then holds a buffer of a few kB, never a worker thread; with cheroot each such
connection held one of the 128 threads, and 130 of them left none for /healthz or the panel. Waitress
writes answers from the worker thread straight to the socket (send_bytes=1), so the live stream's
latency and CPU stay as with cheroot (see `make bench`).
"""

import logging
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger(__name__)

# Every SSE client holds a worker thread for as long as it is connected (hours): streams.MAX_OBS_CLIENTS
# live clients, streams.MAX_OTHER_STREAMS log/tail streams and 20 threads for the API requests beside them.
WORKER_THREADS = 128
# Open connections, whatever their state; beyond it new ones wait in the listen backlog until some close.
# Well below the 1024 open files a systemd service gets (no setrlimit: the unit filters @resources).
CONNECTION_LIMIT = 400
# Largest request header (request line and all fields). A browser sends about 1 kB; beyond: 431.
MAX_HEADER_BYTES = 16 * 1024
# Largest request body: login and control bodies are JSON of a few hundred bytes; beyond: 413.
MAX_BODY_BYTES = 16 * 1024
# A request must arrive whole (header and body) within this many seconds of its first byte; a
# connection that sends nothing for IDLE_TIMEOUT_S between requests is closed. A running request
# (a live stream) is never cut by either.
REQUEST_DEADLINE_S = 10.0
IDLE_TIMEOUT_S = 10
CLEANUP_INTERVAL_S = 2  # how often the deadlines above are checked


class _Channel(HTTPChannel):
    """A waitress connection that remembers when the request it is receiving began to arrive."""

    request_started = None  # monotonic time of the first byte of a partly received request

    def received(self, data):
        if self.request is None and data:
            self.request_started = time.monotonic()
        result = super().received(data)
        if self.request is None:
            self.request_started = None  # every request it began is whole
        return result


class _Server(TcpWSGIServer):
    """waitress's TCP server, which also closes connections that send a request too slowly."""

    channel_class = _Channel
    slow_clients_dropping = False

    def maintenance(self, now):
        super().maintenance(now)  # connections idle for more than IDLE_TIMEOUT_S
        too_old = time.monotonic() - REQUEST_DEADLINE_S
        dropped = 0
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", None)
            if started is not None and started < too_old and not channel.requests and not channel.will_close:
                channel.will_close = True
                dropped += 1
        if dropped and not self.slow_clients_dropping:
            log.warning(
                "closing connections that did not send a whole request within %.0f s (%d now; slow clients)",
                REQUEST_DEADLINE_S,
                dropped,
            )
        elif not dropped and self.slow_clients_dropping:
            log.info("no more slow connections to close")
        self.slow_clients_dropping = bool(dropped)


def create_server(app, host, port):
    """Given a WSGI app and the address to listen on, return the bound, listening server (not yet serving).

    Call .run() in a thread to serve, .close() and .task_dispatcher.shutdown() to stop.
    Raise OSError when the address cannot be bound.
    """
    adjustments = Adjustments(
        host=host,
        port=port,
        threads=WORKER_THREADS,
        connection_limit=CONNECTION_LIMIT,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY_BYTES,
        channel_timeout=IDLE_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        asyncore_use_poll=True,  # select() fails on descriptors above 1023
        ident="meso360-web",
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,  # no proxy is trusted: X-Forwarded-* never reach the app
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adjustments.threads)
    return _Server(app, map={}, dispatcher=dispatcher, adj=adjustments, sockinfo=adjustments.listen[0])
