"""Operator sessions: random tokens in a server-side table with expiry, CSRF tokens, and login throttling."""

import hmac
import secrets
import threading
import time

SESSION_COOKIE = "meso360_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 100
FAILURE_DELAY_S = 1.0  # every failed login answers after this delay
FAILURE_WINDOW_S = 60.0
MAX_FAILURES_PER_WINDOW = 10  # then every login is refused until the window passes


class Session:
    __slots__ = ("token", "csrf_token", "expires")

    def __init__(self, token, csrf_token, expires):
        self.token = token
        self.csrf_token = csrf_token
        self.expires = expires


class Sessions:
    """In-memory sessions (a restart logs everyone out, which is fine on a vehicle)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions = {}
        self._failures = []

    def create(self):
        """Return a new Session; the oldest is dropped when there are too many."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_SECONDS)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[min(self._sessions, key=lambda token: self._sessions[token].expires)]
            self._sessions[session.token] = session
        return session

    def _expire(self, now):
        for token in [token for token, session in self._sessions.items() if session.expires <= now]:
            del self._sessions[token]

    def get(self, token):
        """Return the live Session for the cookie value `token`, or None."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expires <= self._clock():
                self._sessions.pop(token, None)
                return None
            return session

    def drop(self, token):
        with self._lock:
            self._sessions.pop(token or "", None)

    def csrf_ok(self, session, header_value):
        """Return True when `header_value` is this session's CSRF token (constant-time compare)."""
        return bool(header_value) and hmac.compare_digest(session.csrf_token.encode(), header_value.encode())

    def throttled(self):
        """Return True when too many logins failed recently (all logins are refused for a while)."""
        now = self._clock()
        with self._lock:
            self._failures = [when for when in self._failures if now - when < FAILURE_WINDOW_S]
            return len(self._failures) >= MAX_FAILURES_PER_WINDOW

    def failed(self):
        with self._lock:
            self._failures.append(self._clock())
