"""Operator sessions: random tokens in a server-side table with expiry, and CSRF tokens."""

import hmac
import secrets
import threading
import time

SESSION_COOKIE = "meso360_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 100


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
