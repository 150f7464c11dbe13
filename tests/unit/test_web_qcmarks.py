"""QC marks of the charts (meso360/web/qcmarks.py) on the real drive (test_data/test.txt) with injected faults: the
flag lookup in sidecar lines, the incremental sidecar read, the live window's marks and their SSE batches, and the
merge into a stored day's rows and downsampled buckets."""

import gzip
import json
import os
from pathlib import Path

from meso360 import config
from meso360.datafile import OBS_COLUMNS, OBS_HEADER, RowReader
from meso360.qc.sidecar import compute_text, sidecar_path
from meso360.web.dayhistory import DayHistory
from meso360.web.qcmarks import (
    DayQcMarks,
    LiveQcMarks,
    SidecarTail,
    cell_mark,
    line_marks,
    marks_for_points,
)
from meso360.web.window import LiveWindow

REAL_DAY = Path(__file__).resolve().parents[2] / "test_data" / "test.txt"
QC = config.parse("").qc
COLUMN = {name: index for index, name in enumerate(OBS_COLUMNS)}
SPIKE, LIMIT_ROW, SUSPECT_ROW = 5000, 12000, 12010  # row indexes (0: the first row after the header)


def real_rows():
    return [line.split(",") for line in REAL_DAY.read_text().splitlines()[1:]]


def with_faults(rows):
    """The real rows with a +15 degC t_fast spike (step: suspect), a t_fast of 70 (range: bad) and 12.5 degC 10 s
    later (step: suspect), all in one downsampling bucket of a 2000-point answer."""
    rows[SPIKE][COLUMN["t_fast"]] = f"{float(rows[SPIKE][COLUMN['t_fast']]) + 15:.2f}"
    rows[LIMIT_ROW][COLUMN["t_fast"]] = "70"
    rows[SUSPECT_ROW][COLUMN["t_fast"]] = f"{float(rows[SUSPECT_ROW][COLUMN['t_fast']]) - 12.5:.2f}"
    return rows


def write_day(directory, rows, name="20250605.txt"):
    path = directory / name
    path.write_text(OBS_HEADER + "\n" + "".join(",".join(row) + "\n" for row in rows))
    sidecar_path(path).write_text(compute_text(path, QC))
    return path


def seconds_of(row):
    return RowReader().parse(",".join(row))[0]


def t_marks(marks):
    return [mark for mark in marks if mark[1] == "t"]


def test_a_cell_names_its_worst_flag_and_the_checks_that_gave_it():
    assert cell_mark("0000") is None and cell_mark("9999") is None and cell_mark("0090") is None
    assert cell_mark("0100") == (1, "step")
    assert cell_mark("2100") == (2, "range")
    assert cell_mark("1110") == (1, "range+step+persistence")
    assert cell_mark("0091") == (1, "consistency")


def test_a_sidecar_line_gives_marks_of_the_charted_variables_only():
    # t_fast step suspect, dewpoint consistency bad, der_rh (not charted) range suspect
    line = "7,2025-06-05T17:52:34Z,1,0000,0000,0000,0000,0000,0100,0002,1000,0000,0000"
    assert line_marks(line) == [[1749145954, "t", 1, "step"], [1749145954, "td", 2, "consistency"]]
    assert line_marks("7,2025-06-05T17:52:34Z,1,2111,0000,0000,0000,0000,0000,0000,1000,0000,0000") == []
    assert line_marks("8,nan,9,2999,0000,0000,0000,0000,2000,0000,0000,0000,0000") == []  # no GPS time to match
    assert line_marks("row,gps_time,motion,gps") == []


def test_the_real_drive_with_a_spike_marks_exactly_the_spikes_row_on_the_temperature_chart(tmp_path):
    rows = real_rows()
    clean = SidecarTail(sidecar_path(write_day(tmp_path, rows, "20250604.txt"))).new_marks()[0]
    rows[SPIKE][COLUMN["t_fast"]] = f"{float(rows[SPIKE][COLUMN['t_fast']]) + 15:.2f}"
    marks = SidecarTail(sidecar_path(write_day(tmp_path, rows))).new_marks()[0]
    assert t_marks(clean) == []  # the real drive's temperature passes every check
    assert t_marks(marks) == [[seconds_of(rows[SPIKE]), "t", 1, "step"]]
    assert [mark for mark in marks if mark[1] != "t"] == clean  # the other charts' marks are the real data's own


def test_the_sidecar_is_read_incrementally_and_again_whole_when_it_is_replaced(tmp_path):
    rows = with_faults(real_rows())
    path = write_day(tmp_path, rows)
    sidecar = sidecar_path(path)
    whole = sidecar.read_text()
    cut = whole.index("\n", len(whole) // 2) + 1
    sidecar.write_text(whole[:cut] + whole[cut : cut + 20])  # half, and a torn line
    tail = SidecarTail(sidecar)
    first, restarted = tail.new_marks()
    assert not restarted and tail.offset == cut
    assert t_marks(first) == [[seconds_of(rows[SPIKE]), "t", 1, "step"]]
    with open(sidecar, "a") as file:
        file.write(whole[cut + 20 :])
    second, restarted = tail.new_marks()
    assert not restarted and [mark[0] for mark in t_marks(second)] == [
        seconds_of(rows[row]) for row in (LIMIT_ROW, SUSPECT_ROW)
    ]
    assert tail.new_marks() == ([], False)  # nothing appended: nothing read
    replaced = sidecar.with_suffix(".new")
    replaced.write_text(whole)
    os.replace(replaced, sidecar)  # meso360ctl qc DAY rewrites it atomically
    again, restarted = tail.new_marks()
    assert restarted and again == first + second


def test_a_day_answer_with_every_row_keeps_each_mark_on_its_row(tmp_path):
    rows = with_faults(real_rows())[SPIKE - 100 : SPIKE + 100]
    path = write_day(tmp_path, rows)
    marks = DayQcMarks().marks(path)
    columns = {"ts": [seconds_of(row) for row in rows]}
    assert marks_for_points(columns, len(rows), marks) == marks
    assert marks_for_points(columns, len(rows), marks + [[1, "t", 2, "range"]]) == marks  # not drawn: left out


def test_a_downsampled_bucket_keeps_its_worst_flag_on_the_point_that_stands_out(tmp_path):
    rows = with_faults(real_rows())
    path = write_day(tmp_path, rows)
    history = DayHistory(tmp_path, "MM1")
    document = json.loads(gzip.decompress(history.body("20250605", 2000)[1]))
    points, placed = document["points"], t_marks(document["qc"])
    assert document["total_rows"] == len(rows) > len(points["ts"])
    assert len(placed) == 2  # the spike's bucket, and the bucket of the bad and the suspect value
    stamps = [seconds_of(row) for row in rows]
    by_ts = {ts: index for index, ts in enumerate(points["ts"])}
    spike_ts, spike_flag, spike_checks = placed[0][0], placed[0][2], placed[0][3]
    assert (spike_flag, spike_checks) == (1, "step")
    assert points["ts"][by_ts[spike_ts] - by_ts[spike_ts] % 2] <= stamps[SPIKE] <= points["ts"][by_ts[spike_ts] | 1]
    assert points["t"][by_ts[spike_ts]] == float(rows[SPIKE][COLUMN["t_fast"]])  # drawn at the spike's value
    limit_ts, limit_flag, limit_checks = placed[1][0], placed[1][2], placed[1][3]
    assert (limit_flag, limit_checks) == (2, "range")  # the worst of the bucket (a suspect row is in it too)
    assert points["t"][by_ts[limit_ts]] == 70.0
    assert DayQcMarks().marks(path) == history.qc_marks.marks(path)


def test_a_rewritten_sidecar_gives_a_new_day_answer(tmp_path):
    rows = real_rows()[:3000]
    path = write_day(tmp_path, rows)
    history = DayHistory(tmp_path, "MM1")
    assert t_marks(json.loads(gzip.decompress(history.body("20250605", 5000)[1]))["qc"]) == []
    sidecar = sidecar_path(path)
    lines = compute_text(path, QC).splitlines(keepends=True)
    fields = lines[2 + 1999].split(",")
    fields[8] = "2000"  # row 2000's t_fast: range bad, as `meso360ctl qc DAY` after a fix of the limits would say
    lines[2 + 1999] = ",".join(fields)
    replaced = sidecar.with_suffix(".new")
    replaced.write_text("".join(lines))
    os.replace(replaced, sidecar)
    marks = t_marks(json.loads(gzip.decompress(history.body("20250605", 5000)[1]))["qc"])  # every row drawn
    assert marks == [[seconds_of(rows[1999]), "t", 2, "range"]]


def live(rows, history_seconds=2 * 3600):
    """A LiveWindow with `rows` and its LiveQcMarks, as the data reader fills them."""
    window = LiveWindow("MM1", history_seconds)
    reader = RowReader()
    window.append([(reader.parse(",".join(row))[0], True, [1.0] * 10) for row in rows])
    return window, LiveQcMarks(window)


def test_live_marks_come_once_in_a_batch_and_with_the_history_within_the_window(tmp_path):
    rows = with_faults(real_rows())
    rows[100][COLUMN["t_fast"]] = "70"  # flagged bad, but more than the window's 600 s before its newest row
    path = write_day(tmp_path, rows[: SPIKE + 50])  # the sidecar follows the rows the window holds
    window, marks = live(rows[SPIKE - 50 : SPIKE + 50], history_seconds=600)
    assert marks.poll([path]) > 0
    assert marks.poll([path]) == 0  # nothing new in the sidecar
    history = json.loads(marks.history_text())
    assert t_marks(history) == [[seconds_of(rows[SPIKE]), "t", 1, "step"]]
    assert history and all(window.newest_gps_ts - 600 <= mark[0] for mark in history)  # older marks of the day let go
    seq, frames = marks.frames_after(0)
    assert seq == 1 and frames.startswith(b"event: qc\ndata: [[") and b'"t",1,"step"]' in frames
    assert marks.frames_after(seq) == (1, b"")
