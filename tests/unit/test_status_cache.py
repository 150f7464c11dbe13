"""The /api/status body cache: built off the request path while requests come, never older than STALE_S."""

import json
import logging
import threading
import time

import pytest

from meso360.web import status_cache
from meso360.web.status_cache import StatusCache


class Builds:
    """A status document builder that counts its calls; `fail` makes it raise."""

    def __init__(self):
        self.count = 0
        self.fail = None

    def __call__(self, logged_in):
        if self.fail:
            raise self.fail
        self.count += 1
        return {"build": self.count, "control": {"enabled": True, "logged_in": logged_in}}


@pytest.fixture
def stop():
    """The stop event of the cache's thread, set at the end of the test."""
    event = threading.Event()
    yield event
    event.set()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_requests_between_refreshes_share_one_build(stop):
    builds, clock = Builds(), Clock()
    cache = StatusCache(builds, stop, clock=clock)
    first = cache.body(False)
    for _ in range(50):
        clock.now += 0.01
        assert cache.body(False) == first
    assert builds.count == 1


def test_the_two_bodies_differ_only_in_logged_in(stop):
    cache = StatusCache(Builds(), stop, clock=Clock())
    anonymous, logged_in = json.loads(cache.body(False)), json.loads(cache.body(True))
    assert anonymous["control"] == {"enabled": True, "logged_in": False}
    assert logged_in["control"] == {"enabled": True, "logged_in": True}
    assert {**logged_in, "control": anonymous["control"]} == anonymous


def test_a_request_after_a_pause_builds_its_own_body(stop):
    builds, clock = Builds(), Clock()
    cache = StatusCache(builds, stop, clock=clock)
    assert json.loads(cache.body(False))["build"] == 1
    clock.now += status_cache.STALE_S + 0.01  # the thread (real time) has not rebuilt it meanwhile
    assert json.loads(cache.body(False))["build"] == 2


def test_the_thread_rebuilds_while_asked_and_rests_when_not(monkeypatch, stop):
    monkeypatch.setattr(status_cache, "REFRESH_S", 0.02)
    monkeypatch.setattr(status_cache, "IDLE_S", 0.3)
    builds = Builds()
    cache = StatusCache(builds, stop)
    cache.body(False)
    deadline = time.monotonic() + 5
    while builds.count < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert builds.count >= 5, "the thread did not rebuild the body while it was asked for"
    assert json.loads(cache.body(False))["build"] >= 5  # a request gets the newest build
    time.sleep(0.5)  # past IDLE_S since the last request
    resting = builds.count
    time.sleep(0.2)
    assert builds.count == resting, "the thread kept building with nobody asking"


def test_a_failing_build_is_raised_to_the_request_and_logged_once_by_the_thread(monkeypatch, caplog, stop):
    monkeypatch.setattr(status_cache, "REFRESH_S", 0.02)
    builds = Builds()
    cache = StatusCache(builds, stop)
    cache.body(False)
    builds.fail = OSError("state dir gone")
    with caplog.at_level(logging.ERROR, logger="meso360.web.status_cache"):
        time.sleep(0.3)  # many passes of the thread, each failing
    failures = [record for record in caplog.records if "building the /api/status body failed" in record.message]
    assert len(failures) == 1
    with pytest.raises(OSError, match="state dir gone"):
        time.sleep(status_cache.STALE_S)  # the last good body is now too old
        cache.body(False)
    builds.fail = None
    time.sleep(0.1)
    assert json.loads(cache.body(False))["build"] >= 2, "the thread stopped after the failures"


def test_after_invalidate_the_next_request_builds_anew(stop):
    builds, clock = Builds(), Clock()
    cache = StatusCache(builds, stop, clock=clock)
    cache.body(False)
    cache.invalidate()  # a control action changed a unit
    clock.now += 0.01
    assert json.loads(cache.body(True))["build"] == 2
    assert builds.count == 2
