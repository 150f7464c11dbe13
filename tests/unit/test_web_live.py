"""Unit tests of the live path's reading: the inotify directory watch and files removed while read."""

from pathlib import Path

from meso360.web.dirwatch import DirectoryWatch
from meso360.web.window import LiveWindow


def _values():
    return [1.0] * 10


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
