"""The design meso360-base-web does not use, for `make bench` to compare: the fleet stream with one waitress
worker thread per viewer (a generator waiting on a condition, as the vehicle web's live stream does). The same
poller, snapshot and routes otherwise. Run only by scripts/bench_base_web.py --thread-per-viewer.
"""

import argparse
import threading

from meso360.base import fleet_config
from meso360.base.web.app import create_app
from meso360.base.web.broadcast import RETRY_MS, STREAM_PATH
from meso360.base.web.daemon import _write_port_file
from meso360.base.web.poller import FleetPoller
from meso360.web.daemon import THREAD_STACK_BYTES
from meso360.web.server import create_server

VIEWER_THREADS = 1100


class Frames:
    """The newest frame and a condition its waiters sleep on."""

    def __init__(self):
        self.condition = threading.Condition()
        self.frame, self.number = b"", 0

    def publish(self, frame):
        with self.condition:
            self.frame, self.number = frame, self.number + 1
            self.condition.notify_all()

    def events(self):
        yield b"retry: %d\n\n%s" % (RETRY_MS, self.frame)  # the retry line and the current snapshot
        seen = self.number
        while True:
            with self.condition:
                if self.number == seen:
                    self.condition.wait(timeout=15)
                frame, number = self.frame, self.number
            yield frame if number != seen else b": keep-alive\n\n"
            seen = number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleet-config")
    parser.add_argument("--port-file")
    args = parser.parse_args()
    threading.stack_size(THREAD_STACK_BYTES)
    fleet = fleet_config.load(args.fleet_config)
    frames = Frames()
    poller = FleetPoller(fleet, frames.publish)
    app = create_app(fleet, poller, threading.Event())

    def app_with_threaded_stream(environ, start_response):
        if environ["PATH_INFO"] != STREAM_PATH:
            return app(environ, start_response)
        start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")])
        return frames.events()  # holds this worker thread for as long as the viewer stays

    server = create_server(
        app_with_threaded_stream, "127.0.0.1", 0, threads=VIEWER_THREADS, connection_limit=VIEWER_THREADS + 100
    )
    poller.start(threading.Event())
    _write_port_file(args.port_file, int(server.effective_port))
    server.run()


if __name__ == "__main__":
    main()
