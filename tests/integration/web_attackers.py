"""Hostile clients of meso360-web for the tests, run in their own process so that their threads do not
slow down the test's own probes: slowloris connections and a flood of wrong logins, on loopback only.

    python tests/integration/web_attackers.py --port PORT --slow 150 --flood 60 --seconds 20
prints {"statuses": {...}} (the answers the flood got) as its last line and exits.
"""

import argparse
import http.client
import json
import socket
import sys
import threading
import time


def login_from(address, port, password, timeout=30.0):
    """POST /api/login from a client socket bound to `address`; return (status, json)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(address, 0))
    try:
        body = json.dumps({"password": password})
        connection.request("POST", "/api/login", body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


class SlowClients:
    """Connections that send a request's header one line at a time, a line every `interval_s` (slowloris)."""

    def __init__(self, port, count, interval_s):
        self.port, self.count, self.interval_s = port, count, interval_s
        self.stop = threading.Event()
        self.sockets = []
        self.reopened = self.refused = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        return sock

    def start(self):
        self.sockets = [self._connect() for _ in range(self.count)]
        self.thread.start()

    def _run(self):
        line = 0
        while not self.stop.wait(self.interval_s):
            line += 1
            for index, sock in enumerate(self.sockets):
                try:
                    sock.sendall(b"X-Slow-%d: x\r\n" % line)
                except OSError:
                    # The server closed it (allowed): a slowloris opens another one at once.
                    sock.close()
                    self.reopened += 1
                    try:
                        self.sockets[index] = self._connect()
                    except OSError:
                        self.refused += 1

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


class LoginFlood:
    """`count` threads posting wrong passwords from one address as fast as they are answered."""

    def __init__(self, port, count, address="127.0.0.1"):
        self.port, self.count, self.address = port, count, address
        self.stop = threading.Event()
        self.statuses = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self):
        while not self.stop.is_set():
            try:
                status, _document = login_from(self.address, self.port, "wrong password", timeout=10)
            except OSError:
                status = "error"
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def start(self):
        for thread in self.threads:
            thread.start()

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow", type=int, default=150, help="slowloris connections")
    parser.add_argument("--slow-interval", type=float, default=5.0, help="seconds between header lines")
    parser.add_argument("--flood", type=int, default=60, help="threads posting wrong passwords")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the attack lasts")
    args = parser.parse_args(argv)
    slow = SlowClients(args.port, args.slow, args.slow_interval)
    flood = LoginFlood(args.port, args.flood)
    slow.start()
    flood.start()
    print("attacking", flush=True)
    try:
        time.sleep(args.seconds)  # the attack's length, not a synchronisation
    finally:
        flood.close()
        slow.close()
    statuses = {str(key): value for key, value in flood.statuses.items()}
    print(json.dumps({"statuses": statuses, "slow_reopened": slow.reopened, "slow_refused": slow.refused}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
