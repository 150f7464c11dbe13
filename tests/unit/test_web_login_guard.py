"""The login guard: failures counted per client address, bounded password checks running at once."""

import threading

import pytest

from meso360.web import login_guard
from meso360.web.login_guard import LoginGuard, LoginRefused


class FakeClock:
    """A monotonic clock the test moves by hand (the guard's window is a minute)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fail_until_refused(guard, address):
    failures = 0
    while True:
        try:
            assert guard.check(address, lambda: False) is False
        except LoginRefused as refused:
            return failures, refused
        failures += 1


def test_failures_from_one_address_lock_out_that_address_only_and_for_a_minute_after_the_last_guess(caplog):
    clock = FakeClock()
    guard = LoginGuard(clock=clock, sleep=lambda _seconds: None)
    failures, refused = fail_until_refused(guard, "192.168.1.50")
    assert failures == login_guard.MAX_FAILURES_PER_WINDOW and refused.status == 429
    assert "192.168.1.50" in str(refused)
    locked = [record for record in caplog.records if "wrong passwords from 192.168.1.50" in record.getMessage()]
    assert len(locked) == 1  # said once, when the address got locked, not for every refused attempt
    # The operator at another address still gets a password check.
    assert guard.check("192.168.1.20", lambda: True) is True
    # Refused attempts are not counted: the lock ends a window after the failures, however long the flood goes on.
    clock.now += login_guard.FAILURE_WINDOW_S - 1
    with pytest.raises(LoginRefused):
        guard.check("192.168.1.50", lambda: True)
    clock.now += 1
    assert guard.check("192.168.1.50", lambda: True) is True


def test_a_wrong_password_answers_after_the_failure_delay():
    slept = []
    guard = LoginGuard(sleep=slept.append)
    assert guard.check("10.0.0.1", lambda: False) is False
    assert guard.check("10.0.0.1", lambda: True) is True
    assert slept == [login_guard.FAILURE_DELAY_S]


def test_at_most_two_checks_run_at_once_and_one_address_cannot_queue_more_than_two_attempts():
    guard = LoginGuard(sleep=lambda _seconds: None)
    release = threading.Event()
    running, peak, lock = [0], [0], threading.Lock()

    def slow_check():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return False

    results = []

    def attempt(address):
        try:
            results.append(guard.check(address, slow_check))
        except LoginRefused as refused:
            results.append(refused.status)

    threads = [threading.Thread(target=attempt, args=(f"10.0.0.{index // 2}",)) for index in range(8)]
    threads += [threading.Thread(target=attempt, args=("10.0.0.0",)) for _ in range(3)]  # a third from one address
    for thread in threads:
        thread.start()
    deadline = threading.Event()
    for _ in range(200):
        with lock:
            if running[0] == login_guard.MAX_PARALLEL_CHECKS and results.count(429) == 3:
                break
        deadline.wait(0.05)  # polling the threads' progress, with a bound
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert peak[0] == login_guard.MAX_PARALLEL_CHECKS
    assert results.count(429) == 3  # the extra attempts of 10.0.0.0 were refused without a check
    assert results.count(False) == 8


def test_the_failures_of_many_addresses_are_remembered_within_a_bound(monkeypatch):
    monkeypatch.setattr(login_guard, "MAX_ADDRESSES", 5)
    guard = LoginGuard(sleep=lambda _seconds: None)
    for index in range(20):
        guard.check(f"10.0.1.{index}", lambda: False)
    assert len(guard._failures) == 5


def test_attempts_from_many_addresses_at_once_are_bounded_and_the_rest_answered_busy():
    guard = LoginGuard(sleep=lambda _seconds: None)
    release = threading.Event()
    results, lock = [], threading.Lock()

    def attempt(address):
        try:
            answer = guard.check(address, lambda: release.wait(10) and False)
        except LoginRefused as refused:
            answer = refused.status
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=attempt, args=(f"10.0.2.{index}",)) for index in range(40)]
    for thread in threads:
        thread.start()
    waited = threading.Event()
    for _ in range(200):
        with lock:
            if results.count(503) == 40 - login_guard.MAX_ATTEMPTS:
                break
        waited.wait(0.05)  # polling the threads' progress, with a bound
    with lock:
        busy = results.count(503)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert busy == 40 - login_guard.MAX_ATTEMPTS
    assert results.count(False) == login_guard.MAX_ATTEMPTS
