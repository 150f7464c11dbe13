"""Never-ending answers (server-sent events) written by one thread to many connections, without a thread each.

waitress runs each answer in a worker thread, and an SSE answer never ends: each viewer would hold a thread
that wakes at every event. Here the stream's GET never reaches a worker: FanoutServer.add_task (in waitress's
event loop) hands the connection to the stream's owner (its `fanout`), which queues the answer's head with
`begin` and then every event on the connection's output buffer with `append`, from its own thread, and pulls
the server's trigger; the event loop sends to every connection that is writable. The request stays in the connection's
queue, so waitress starts no task for it and its idle timeout does not apply. A viewer that takes nothing for
server.SEND_STALL_S is closed by the server's maintenance, which tells the fanout (`detach`); one too far behind
is refused by `append`. Any other request goes to the Bottle app in a worker thread as usual.

Used by the vehicle's live stream (web/livecast.py) and the base's fleet page (base/web/broadcast.py). A fanout
has `path`, `attach(channel, request)` (True: it answers; False: the Bottle route does, with the error) and
`detach(channel)`; both are called in the event loop, so they take no lock another thread may hold for long (a
stuck reader holding the live window's lock must not stop the server).
"""

from meso360.web.responses import SECURITY_HEADERS
from meso360.web.server import _Channel, _Server


def _head(chunked):
    fields = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)
    framing = "Transfer-Encoding: chunked\r\n" if chunked else ""
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
        f"X-Accel-Buffering: no\r\n{framing}Connection: close\r\n{fields}\r\n"
    ).encode()


# HTTP/1.1 clients get the body in chunks, one per append, as waitress sends an answer of unknown length: a client
# that reads "whatever has arrived" (requests' iter_content(chunk_size=None)) gets each event as it comes instead
# of waiting for the end of the answer. HTTP/1.0 clients get it plain, up to the close.
HEADS = {True: _head(True), False: _head(False)}


def begin(channel, retry_ms, data=b""):
    """Queue the answer's head, the client's reconnection delay and `data` on a connection the fanout took
    (FanoutServer.add_task); return False if it is gone."""
    return _queue(channel, HEADS[channel.chunked], b"retry: %d\n\n%s" % (retry_ms, data), None)


def append(channel, data, max_unsent=None):
    """Queue `data` (whole events) on a connection that had `begin`, without waiting; return False if it is gone
    or holds more than `max_unsent` bytes not yet sent (None: no limit)."""
    return _queue(channel, b"", data, max_unsent)


def _queue(channel, head, data, max_unsent):
    pieces = [head, b"%x\r\n" % len(data), data, b"\r\n"] if channel.chunked and data else [head, data]
    with channel.outbuf_lock:
        if not channel.connected or (max_unsent is not None and channel.total_outbufs_len > max_unsent):
            return False
        for piece in pieces:
            if piece:
                channel.outbufs[-1].append(piece)
                channel.current_outbuf_count += len(piece)
                channel.total_outbufs_len += len(piece)
    return True


def send(channels, data, max_unsent, trigger):
    """Queue `data` on each of `channels` and wake the event loop (`trigger`); close and return the ones that are
    gone or hold more than `max_unsent` bytes not yet sent (the caller forgets them)."""
    dropped = [channel for channel in channels if not append(channel, data, max_unsent)]
    for channel in dropped:
        drop(channel)
    if channels and trigger is not None:
        trigger()
    return dropped


def close(channels, trigger):
    """Close every one of `channels` (the stream is stopping) and wake the event loop to do it."""
    for channel in channels:
        drop(channel)
    if trigger is not None:
        trigger()


def drop(channel):
    """Have the event loop, which owns the socket, close `channel` once it is writable."""
    channel.will_close = True


class FanoutChannel(_Channel):
    """A connection that leaves its server's fanout when it closes."""

    streaming = False  # taken by the fanout (FanoutServer.add_task)
    chunked = False  # the stream's body in chunks: set by FanoutServer.add_task for an HTTP/1.1 request

    def handle_close(self):
        if self.streaming:
            self.server.fanout.detach(self)
        super().handle_close()


class FanoutServer(_Server):
    """The server of web/server.py that gives the GETs of its fanout's path to the fanout (see the module)."""

    channel_class = FanoutChannel
    fanout = None  # set by serve_fanout

    def add_task(self, channel):
        request = channel.requests[0]
        is_stream = request.error is None and request.command == "GET" and request.path == self.fanout.path
        if is_stream:
            channel.chunked = request.version == "1.1"
            if self.fanout.attach(channel, request):
                channel.streaming = True
                self.pull_trigger()  # what the fanout queued: let the loop send it
                return
        super().add_task(channel)  # the Bottle app answers (the stream's route gives the error)


def serve_fanout(server, fanout):
    """Make the FanoutServer `server` answer `fanout.path` through `fanout`; give the fanout the trigger that
    wakes the event loop (fanout.trigger)."""
    server.fanout = fanout
    fanout.trigger = server.pull_trigger
