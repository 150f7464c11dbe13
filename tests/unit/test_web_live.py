"""Unit tests of the live path's waiting: chained wake-ups of SSE clients and the inotify directory watch."""

import threading
import time
from pathlib import Path

from meso360.web.dirwatch import DirectoryWatch
from meso360.web.window import LiveWindow


def _values():
    return [1.0] * 10


def test_every_waiter_is_woken_by_one_append_and_sees_the_new_frames():
    window = LiveWindow("v", 3600, first_id=100)
    woken = []
    lock = threading.Lock()

    def client():
        window.wait_for_newer(100, 30.0)
        with lock:
            woken.append(window.latest_frames[:2])

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(window._waiters) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline: every client is waiting
    window.append([(1_700_000_000, True, _values())])
    for thread in threads:
        thread.join(10)
    assert woken == [(100, 101)] * 50
    assert b"id: 101\nevent: obs\n" in window.latest_frames[2]
    assert window._waiters == {}


def test_a_waiter_that_timed_out_leaves_no_trace_and_a_later_chain_still_wakes_everyone():
    window = LiveWindow("v", 3600, first_id=7)
    began = time.monotonic()
    window.wait_for_newer(7, 0.05)
    assert time.monotonic() - began >= 0.05
    assert window._waiters == {}
    done = threading.Event()

    def client():
        window.wait_for_newer(7, 30.0)
        done.set()

    thread = threading.Thread(target=client)
    thread.start()
    window.close()
    assert done.wait(10)
    returned = threading.Event()
    late = threading.Thread(target=lambda: (window.wait_for_newer(7, 3600.0), returned.set()), daemon=True)
    late.start()
    assert returned.wait(10)  # closed: a new waiter returns at once, not after its hour
    assert window._waiters == {}


def test_the_directory_watch_wakes_on_a_write_and_times_out_without_one(tmp_path):
    watch = DirectoryWatch.open(tmp_path)
    assert watch is not None  # Linux
    try:
        assert watch.wait(0.01) is False
        with open(tmp_path / "20251105.txt", "a") as file:
            file.write("row\n")
        assert watch.wait(5.0) is True
        assert watch.wait(0.01) is False  # the events were drained
    finally:
        watch.close()


def test_a_daily_file_removed_while_being_read_does_not_stop_the_reader(tmp_path, monkeypatch):
    # The e2e's web died of this: a past day's file, one of the two newest, was deleted between the reader's
    # stat and its read; the FileNotFoundError ended the reader thread and the watchdog killed the daemon.
    from meso360.web import reader as reader_module

    rows = (Path(__file__).resolve().parents[2] / "test_data" / "test.txt").read_text().splitlines()[1:6]
    old, new = tmp_path / "20250604.txt", tmp_path / "20250605.txt"
    old.write_text(rows[0] + "\n")
    new.write_text(rows[1] + "\n")
    reader = reader_module.DataReader(tmp_path, LiveWindow("v", 10**9))
    reader.poll()
    assert reader.rows_read == 2
    with old.open("a") as file:
        file.write(rows[2] + "\n")
    with new.open("a") as file:
        file.write(rows[3] + "\n" + rows[4] + "\n")
    real_read = reader_module.read_complete_lines

    def read_after_removal(path, offset, max_bytes):
        if path == old:
            old.unlink()  # removed right after the reader's stat, before its read
        return real_read(path, offset, max_bytes)

    monkeypatch.setattr(reader_module, "read_complete_lines", read_after_removal)
    reader.poll()  # raised FileNotFoundError before the fix
    assert reader.rows_read == 4  # the other file's two new rows, nothing of the removed one
