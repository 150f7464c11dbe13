"""The file tail stream: resuming from a Last-Event-ID, and never sending a file's header as a data line."""

import json
import os
import threading

from meso360.datafile import OBS_HEADER
from meso360.web import tail

ROW = "1.{index},180,20.1,50,20.0,9.5,50.1,850.2,90,051125,1200{index:02d},35.1,-97.4,350,0,0,25"
ROWS = [ROW.format(index=index) for index in range(10)]


def first_lines(events, count):
    """Return the first `count` line events of the generator as (id, line), skipping other frames."""
    found = []
    for frame in events:
        for block in frame.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if fields.get("event") == "line":
                found.append((fields.get("id"), json.loads(fields["data"])["line"]))
        if len(found) >= count:
            return found
    raise AssertionError(f"the stream ended after {found}")


def write_file(directory, name, rows):
    path = directory / name
    path.write_text(OBS_HEADER + "\n" + "".join(row + "\n" for row in rows))
    return path


def test_a_resume_id_past_the_end_of_the_file_starts_from_its_last_lines_not_from_its_header(tmp_path):
    path = write_file(tmp_path, "20251105.txt", ROWS)
    resume = f"20251105.txt:{os.path.getsize(path) + 500}"  # a file replaced by a shorter one, or a made-up id
    events = tail.tail_events("obs", tmp_path, 3, resume, threading.Event(), keepalive_s=60)
    lines = first_lines(events, 3)
    assert [line for _id, line in lines] == ROWS[-3:]
    events.close()


def test_a_resume_id_inside_the_file_sends_the_lines_after_it(tmp_path):
    path = write_file(tmp_path, "20251105.txt", ROWS[:5])
    resume = f"20251105.txt:{os.path.getsize(path)}"
    with open(path, "a") as file:
        file.writelines(row + "\n" for row in ROWS[5:7])
    events = tail.tail_events("obs", tmp_path, 3, resume, threading.Event(), keepalive_s=60)
    assert [line for _id, line in first_lines(events, 2)] == ROWS[5:7]
    events.close()


def test_a_resume_id_naming_another_file_of_the_directory_is_not_followed(tmp_path):
    write_file(tmp_path, "20251105.txt", ROWS)
    (tmp_path / "notes.txt").write_text("private\n" * 5)
    events = tail.tail_events("obs", tmp_path, 2, "notes.txt:0", threading.Event(), keepalive_s=60)
    assert [line for _id, line in first_lines(events, 2)] == ROWS[-2:]
    events.close()


def test_a_new_daily_file_is_followed_from_its_first_row_without_its_header(tmp_path):
    write_file(tmp_path, "20251105.txt", ROWS[:3])
    stop = threading.Event()
    events = tail.tail_events("obs", tmp_path, 3, None, stop, keepalive_s=60)
    assert [line for _id, line in first_lines(events, 3)] == ROWS[:3]
    write_file(tmp_path, "20251106.txt", ROWS[3:5])
    assert [line for _id, line in first_lines(events, 2)] == ROWS[3:5]
    events.close()


def test_a_file_shorter_than_the_lines_asked_for_is_sent_without_its_header(tmp_path):
    write_file(tmp_path, "20251105.txt", ROWS[:2])
    events = tail.tail_events("obs", tmp_path, 5, None, threading.Event(), keepalive_s=60)
    assert [line for _id, line in first_lines(events, 2)] == ROWS[:2]
    events.close()
