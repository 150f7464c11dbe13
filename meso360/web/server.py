"""The HTTP server of meso360-web: waitress, with the limits that keep it answering whatever clients send.

Why waitress (and not cheroot, used before): waitress reads every request (header and body) in its one
event-loop thread and hands only whole requests to the worker threads. A client that sends its header a
line at a time (slowloris) then holds a buffer of a few kB, never a worker thread; with cheroot each such
connection held one of the 128 threads, and 130 of them left none for /healthz or the panel. The live stream
is written by one thread to every viewer through the event loop (fanout.py, livecast.py).
"""

import logging
import socket
import time

from waitress.adjustments import Adjustments
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger(__name__)

# A log or tail stream holds a worker thread for as long as it is connected (streams.MAX_OTHER_STREAMS of them);
# the live streams hold none (livecast.py, fanout.py); the rest answer the API requests.
WORKER_THREADS = 32
# Open connections, whatever their state; beyond it new ones wait in the listen backlog until some close.
# Well below the 1024 open files a systemd service gets (no setrlimit: the unit filters @resources).
CONNECTION_LIMIT = 400
# Largest request header (request line and all fields). A browser sends about 1 kB; beyond: 431.
MAX_HEADER_BYTES = 16 * 1024
# Largest request body: login and control bodies are JSON of a few hundred bytes; beyond: 413.
MAX_BODY_BYTES = 16 * 1024
# A request must arrive whole (header and body) within this many seconds of its first byte (slow senders); a
# connection that sends nothing for IDLE_TIMEOUT_S between requests is closed. A running request
# (a live stream) is never cut by either.
REQUEST_DEADLINE_S = 10.0
IDLE_TIMEOUT_S = 10
# A client that takes none of the answer waiting for it for this long is dropped (a live stream to a
# laptop that went to sleep): its thread is freed and the unsent frames do not pile up in memory.
SEND_STALL_S = 20.0
# Unsent answer bytes a connection may hold before its worker waits for the client (bounds the memory).
OUTPUT_HIGH_WATER_BYTES = 1024 * 1024
CLEANUP_INTERVAL_S = 2  # how often the deadlines above are checked
# Answers waiting in memory for clients that have not taken them, all connections together: beyond it the
# big answers (histories) are refused with 503. 300 clients asking for the uncompressed 2 h history
# (0.7 MB) and reading nothing took the daemon to 240 MB.
PENDING_OUTPUT_LIMIT_BYTES = 32 * 1024 * 1024


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
    """waitress's TCP server, which also closes connections that send a request or take its answer too slowly."""

    channel_class = _Channel
    dropping = {"slow senders": False, "stalled readers": False}

    def maintenance(self, now):
        super().maintenance(now)  # connections idle for more than IDLE_TIMEOUT_S
        too_old = time.monotonic() - REQUEST_DEADLINE_S
        stalled_since = now - SEND_STALL_S  # waitress stamps last_activity with time.time() on each send
        dropped = {"slow senders": 0, "stalled readers": 0}
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", None)
            if started is not None and started < too_old and not channel.requests and not channel.will_close:
                channel.will_close = True  # closed once writable, by waitress's loop
                dropped["slow senders"] += 1
            elif channel.requests and channel.total_outbufs_len and channel.last_activity < stalled_since:
                channel.handle_close()  # the worker's next write raises ClientDisconnected
                dropped["stalled readers"] += 1
        self._log_changes(dropped)

    def pending_output_bytes(self):
        """Return the bytes of answers held in memory for clients that have not taken them yet (files excluded)."""
        total = 0
        for channel in list(self.active_channels.values()):
            for buffer in list(channel.outbufs):
                if not isinstance(buffer, ReadOnlyFileBasedBuffer):  # a download is read from its file
                    total += len(buffer)
        return total

    def _log_changes(self, dropped):
        """Log when connections start to be dropped for a reason, and when that stops: not once per pass."""
        states = dict(self.dropping)
        for reason, count in dropped.items():
            if count and not states[reason]:
                log.warning("closing connections of %s (%d now)", reason, count)
            elif not count and states[reason]:
                log.info("no more connections of %s to close", reason)
            states[reason] = bool(count)
        self.dropping = states


def create_server(
    app,
    host,
    port,
    server_class=_Server,
    threads=WORKER_THREADS,
    connection_limit=CONNECTION_LIMIT,
    ident="meso360-web",
):
    """Given a WSGI app and the address to listen on, return the bound, listening server (not yet serving).

    Call .run() in a thread to serve, .close() and .task_dispatcher.shutdown() to stop.
    Raise OSError when the address cannot be bound. The base's fleet page passes its own server class (a _Server
    subclass), thread count, connection limit and name.
    """
    adjustments = Adjustments(
        host=host,
        port=port,
        threads=threads,
        connection_limit=connection_limit,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY_BYTES,
        outbuf_high_watermark=OUTPUT_HIGH_WATER_BYTES,
        channel_timeout=IDLE_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        asyncore_use_poll=True,  # select() fails on descriptors above 1023
        ident=ident,
        expose_tracebacks=False,
        clear_untrusted_proxy_headers=True,  # no proxy is trusted: X-Forwarded-* never reach the app
    )
    sockinfo = adjustments.listen[0]
    listening = socket.socket(sockinfo[0], sockinfo[1], sockinfo[2])
    try:
        if sockinfo[0] == socket.AF_INET6:
            # "::" serves IPv4 too (as cheroot did); waitress alone would make every IPv6 socket IPv6-only.
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
        dispatcher = ThreadedTaskDispatcher()
        server = server_class(app, map={}, _sock=listening, dispatcher=dispatcher, adj=adjustments, sockinfo=sockinfo)
    except OSError:
        listening.close()
        raise
    dispatcher.set_thread_count(adjustments.threads)  # only once bound: a failed start leaves no threads
    return server
