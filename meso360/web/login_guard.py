"""Login attempts: per-address failure limits, per-address and global limits on password checks running at once.

A password check (scrypt) takes about 50 ms and 16 MB: a hundred at once took 1.4 GB. At most
MAX_PARALLEL_CHECKS run at a time, so their memory is bounded; one address has at most
MAX_ATTEMPTS_PER_ADDRESS attempts in progress (the rest are refused at once, without a check), so a
flood from one address cannot queue ahead of an operator elsewhere. MAX_FAILURES_PER_WINDOW failures
from one address within FAILURE_WINDOW_S refuse that address, and only that one, until its oldest
failure is FAILURE_WINDOW_S old: refused attempts are not counted, so the lock ends a minute after the
guessing stops. Tunnelled users all arrive from 127.0.0.1 and share its limits; the vehicle LAN does not.
"""

import collections
import logging
import threading
import time

log = logging.getLogger(__name__)

MAX_PARALLEL_CHECKS = 2
CHECK_WAIT_S = 10.0  # an attempt that gets no check slot within this answers 503
MAX_ATTEMPTS_PER_ADDRESS = 2
# Attempts in progress from all addresses together, each holding a server thread while it waits for a
# check slot: a flood from many addresses gets 503s instead of taking the threads of /healthz and the streams.
MAX_ATTEMPTS = 16
FAILURE_WINDOW_S = 60.0
MAX_FAILURES_PER_WINDOW = 10
FAILURE_DELAY_S = 1.0  # every failed login answers after this delay (its address slot held meanwhile)
MAX_ADDRESSES = 4096  # addresses whose failures are remembered; the least recently failing is forgotten first


class LoginRefused(Exception):
    """An attempt refused before any password check; .status is the HTTP status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class LoginGuard:
    """Admit login attempts by client address and run their password checks with bounded concurrency."""

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(MAX_PARALLEL_CHECKS)
        self._in_progress = collections.Counter()
        self._failures = collections.OrderedDict()  # address -> deque of failure times, least recent first

    def _recent_failures(self, address, now):
        failures = self._failures.get(address)
        if failures is None:
            return 0
        while failures and now - failures[0] >= FAILURE_WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0
        return len(failures)

    def _admit(self, address):
        with self._lock:
            if self._recent_failures(address, self._clock()) >= MAX_FAILURES_PER_WINDOW:
                raise LoginRefused(429, f"too many failed logins from {address}: wait a minute and try again")
            if self._in_progress[address] >= MAX_ATTEMPTS_PER_ADDRESS:
                raise LoginRefused(429, f"another login from {address} is being checked: try again")
            if sum(self._in_progress.values()) >= MAX_ATTEMPTS:
                raise LoginRefused(503, "the server is busy checking other logins: try again")
            self._in_progress[address] += 1

    def _leave(self, address):
        with self._lock:
            self._in_progress[address] -= 1
            if self._in_progress[address] <= 0:
                del self._in_progress[address]

    def _failed(self, address):
        with self._lock:
            failures = self._failures.pop(address, None) or collections.deque(maxlen=MAX_FAILURES_PER_WINDOW)
            failures.append(self._clock())
            self._failures[address] = failures  # now the most recent
            if self._recent_failures(address, self._clock()) == MAX_FAILURES_PER_WINDOW:
                log.warning(
                    "%d wrong passwords from %s within %.0f s: its logins are refused until a minute has passed",
                    MAX_FAILURES_PER_WINDOW,
                    address,
                    FAILURE_WINDOW_S,
                )
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def check(self, address, verify):
        """Given the client address and a function returning True for the right password, return its answer.

        A wrong password answers after FAILURE_DELAY_S and counts against `address`.
        Raise LoginRefused (429) when the address may not try now, (503) when no check slot came free.
        """
        self._admit(address)
        try:
            if not self._checks.acquire(timeout=CHECK_WAIT_S):
                raise LoginRefused(503, "the server is busy checking other logins: try again")
            try:
                right = verify()
            finally:
                self._checks.release()
            if not right:
                self._failed(address)
                self._sleep(FAILURE_DELAY_S)  # slows down guessing; the failure count limits it
            return right
        finally:
            self._leave(address)
