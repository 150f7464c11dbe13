"""Unit tests of the day-history cache: today warmed and kept current, yesterday answered ahead, LRU bound."""

import datetime as dt
import gzip
import json
import logging
import subprocess
import sys
import threading
import time

import pytest

from meso360.web import dayrange, daysample, daysplit
from meso360.web.dayhistory import DEFAULT_POINTS, DayHistory
from meso360.web.daysample import DaySummary, ParsedDay, downsample, read_day
from meso360.web.daysplit import stream_downsample

TEST_LINES = open("test_data/test.txt").read().splitlines()
HEADER = TEST_LINES[0]
DAY = dt.datetime(2025, 11, 5, tzinfo=dt.UTC)


def _rows(start, count):
    lines = []
    for index in range(count):
        cells = TEST_LINES[1 + index % (len(TEST_LINES) - 1)].split(",")
        when = start + dt.timedelta(seconds=index)
        cells[9], cells[10] = when.strftime("%d%m%y"), when.strftime("%H%M%S")
        lines.append(",".join(cells) + "\n")
    return lines


def _write(directory, day, lines):
    path = directory / f"{day:%Y%m%d}.txt"
    with open(path, "a", encoding="utf-8") as file:
        if file.tell() == 0:
            file.write(HEADER + "\n")
        file.writelines(lines)
    return path


def _document(gzipped):
    return json.loads(gzip.decompress(gzipped))


def test_warm_keeps_todays_columns_and_a_row_appended_afterwards_is_in_the_answer(tmp_path):
    yesterday = DAY - dt.timedelta(days=1)
    _write(tmp_path, yesterday, _rows(yesterday, 3000))
    today = _write(tmp_path, DAY, _rows(DAY, 5000))
    history = DayHistory(tmp_path, "MM1")
    history.warm()
    kept = history._parsed
    assert kept is not None and kept.path == str(today) and kept.offset == today.stat().st_size
    assert any(key[0] == "20251104" and key[3] == DEFAULT_POINTS for key in history._cache)  # yesterday answered
    _write(tmp_path, DAY, _rows(DAY + dt.timedelta(seconds=5000), 1))
    raw, gzipped = history.body("20251105", DEFAULT_POINTS)
    document = _document(gzipped)
    assert raw is None
    assert document["total_rows"] == 5001
    assert document["points"]["ts"][-1] == int(DAY.timestamp()) + 5000
    assert history._parsed is kept  # extended by the one new row, not parsed again
    assert kept.offset == today.stat().st_size


def test_after_midnight_yesterday_is_answered_from_the_kept_columns_and_they_are_let_go(tmp_path):
    _write(tmp_path, DAY, _rows(DAY, 2000))
    history = DayHistory(tmp_path, "MM1")
    history.warm()
    kept = history._parsed
    tomorrow = DAY + dt.timedelta(days=1)
    _write(tmp_path, tomorrow, _rows(tomorrow, 10))
    history.warm()
    assert history._parsed is not kept and history._parsed.path.endswith("20251106.txt")
    assert _document(history.body("20251105", DEFAULT_POINTS)[1])["total_rows"] == 2000


def test_the_answer_cache_is_bounded_by_bytes_and_drops_the_least_recently_used(tmp_path):
    days = [DAY - dt.timedelta(days=offset) for offset in range(6)]
    for day in days:
        _write(tmp_path, day, _rows(day, 3000))
    one = len(DayHistory(tmp_path, "MM1").body(f"{days[0]:%Y%m%d}", DEFAULT_POINTS)[1])
    history = DayHistory(tmp_path, "MM1", cache_bytes=3 * one + one // 2)
    for day in days:
        history.body(f"{day:%Y%m%d}", DEFAULT_POINTS)
    assert history.cached_bytes() <= history.cache_bytes
    assert [key[0] for key in history._cache] == [f"{day:%Y%m%d}" for day in days[-3:]]


def test_the_warmer_thread_warms_after_the_reader_is_ready_and_stops(tmp_path):
    today = _write(tmp_path, DAY, _rows(DAY, 100))
    history = DayHistory(tmp_path, "MM1")
    stop, ready = threading.Event(), threading.Event()
    thread = history.start_warming(stop, ready, interval_s=0.05)
    assert history._parsed is None  # waits for the live window to be read first
    ready.set()
    deadline = time.monotonic() + 10
    while (history._parsed is None or history._parsed.offset < today.stat().st_size) and time.monotonic() < deadline:
        stop.wait(0.01)  # polling a condition with a deadline
    assert history._parsed.offset == today.stat().st_size
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_float32_columns_come_back_as_their_decimals(tmp_path):
    _write(tmp_path, DAY, _rows(DAY, 50))
    document = _document(DayHistory(tmp_path, "MM1").body("20251105", DEFAULT_POINTS)[1])
    first = TEST_LINES[1].split(",")
    assert document["points"]["t"][0] == float(first[4])
    assert document["points"]["pressure"][0] == float(first[7])
    assert document["points"]["lat"][0] == float(first[11])


def test_a_day_read_chunk_by_chunk_gives_the_answer_of_the_whole_day_read(tmp_path):
    lines = _rows(DAY, 9000)
    for index in (10, 4000, 8999):  # missing and garbage cells, a value beyond float32
        cells = lines[index].split(",")
        cells[4], cells[5], cells[12], cells[7] = "nan", "", "x", "1e39"
        lines[index] = ",".join(cells)
    path = _write(tmp_path, DAY, lines)
    for points in (DEFAULT_POINTS, 2002, 10, 8000):
        total, streamed = stream_downsample(path, points)
        assert total == 9000
        assert streamed == downsample(*read_day(path), points)
    assert stream_downsample(path, 9000) is None  # all rows fit: the whole-day path


def test_a_day_out_of_time_order_or_with_a_bad_line_is_read_whole(tmp_path):
    path = _write(tmp_path, DAY, _rows(DAY + dt.timedelta(seconds=100), 3000) + _rows(DAY, 50))
    assert stream_downsample(path, DEFAULT_POINTS) is None
    broken = _write(tmp_path, DAY + dt.timedelta(days=1), _rows(DAY, 3000) + ["1,2,3\n"])
    assert stream_downsample(broken, DEFAULT_POINTS) is None
    document = _document(DayHistory(tmp_path, "MM1").body("20251105", DEFAULT_POINTS)[1])
    assert document["total_rows"] == 3050 and document["points"]["ts"] == sorted(document["points"]["ts"])


def _day_with_odd_cells(tmp_path, count=9000):
    lines = _rows(DAY, count)
    for index in (10, 4000, 5100, 8999):  # missing and garbage cells, a value beyond float32, in both parts
        cells = lines[index].split(",")
        cells[4], cells[5], cells[12], cells[7] = "nan", "", "x", "1e39"
        lines[index] = ",".join(cells)
    return _write(tmp_path, DAY, lines)


def _expected_extremes(columns, first_row, rows, size):
    """range_extremes() of rows first_row.. (`rows` of them) built from the day's columns read whole (read_day)."""
    stamps, _fixes, series = columns
    stop = first_row + rows
    starts = range(first_row, stop, size)
    edges = [stamp for start in starts for stamp in (stamps[start], stamps[min(start + size, stop) - 1])]
    slices = [slice(start, start + size) for start in range(0, rows, size)]
    extremes = [dayrange.series_extremes(list(values[first_row:stop]), slices) for values in series.values()]
    return {"rows": rows, "edges": edges, "extremes": extremes}


def test_a_byte_range_is_summarised_as_the_rows_read_whole_across_gaps_repeats_and_midnight(tmp_path):
    lines = _rows(DAY + dt.timedelta(hours=23), 2000)  # the last hour of the day ...
    lines += _rows(DAY + dt.timedelta(days=1), 1500)  # ... and the first rows of the next date, in the same file
    lines[700:2000] = _rows(DAY + dt.timedelta(hours=23, minutes=20), 1300)  # a gap of about 8 minutes
    lines[1200] = lines[1199]  # the same time twice
    lines.insert(3000, "1,2,3\n")  # a malformed line: not a row
    for index in (10, 1999, 2000, 3100):  # missing and garbage cells, a value beyond float32
        cells = lines[index].split(",")
        cells[4], cells[5], cells[12], cells[7] = "nan", "", "x", "1e39"
        lines[index] = ",".join(cells)
    path = _write(tmp_path, DAY, lines)
    columns = read_day(path)
    assert len(columns[0]) == 3500 and columns[1] is None  # every row has a fix, in time order
    offsets = [0]
    with open(path, "rb") as file:
        file.readline()  # the header
        offsets = [file.tell()]
        for line in file:
            if line.count(b",") == 16:  # the start of each row's line, then the end of the file
                offsets.append(offsets[-1] + len(line))
            else:
                offsets[-1] += len(line)  # the malformed line belongs to the row before it
    for size in (16, 96, 1600):
        for first_row in (0, 1, size, 1984, 2000, 3488):
            answer = dayrange.range_extremes(path, offsets[first_row], offsets[-1], size)
            assert answer == _expected_extremes(columns, first_row, 3500 - first_row, size), (size, first_row)
        assert dayrange.range_extremes(path, 0, offsets[2010], size) == _expected_extremes(columns, 0, 2010, size)


def test_a_byte_range_with_a_row_without_fix_or_going_back_in_time_is_not_summarised(tmp_path):
    lines = _rows(DAY, 3000)
    cells = lines[2500].split(",")
    cells[10] = "126000"  # not a time of day
    path = _write(tmp_path, DAY, [*lines[:2500], ",".join(cells), *lines[2501:]])
    assert dayrange.range_extremes(path, 0, path.stat().st_size, 96) is None
    back = _write(tmp_path, DAY + dt.timedelta(days=1), [*lines[:2500], lines[100], *lines[2501:]])
    assert dayrange.range_extremes(back, 0, back.stat().st_size, 96) is None
    other = _write(tmp_path, DAY + dt.timedelta(days=2), [*lines[:2500], lines[2500].replace(",051125,", ",041125,")])
    assert dayrange.range_extremes(other, 0, other.stat().st_size, 96) is None  # the day before: back in time


@pytest.fixture
def split_always(monkeypatch):
    """Every day file is read in two parts (a real one is split from 2 MB); returns the helpers' answers."""
    monkeypatch.setattr(daysplit, "SPLIT_MIN_BYTES", 0)
    answers = []
    real = daysplit._helper_answer

    def recording(helper):
        answers.append(real(helper))
        return answers[-1]

    monkeypatch.setattr(daysplit, "_helper_answer", recording)
    return answers


def test_a_day_read_in_two_parts_by_a_helper_process_gives_the_answer_of_the_whole_day_read(tmp_path, split_always):
    path = _day_with_odd_cells(tmp_path)
    for points in (DEFAULT_POINTS, 2002, 10, 8000):
        total, streamed = stream_downsample(path, points)
        assert total == 9000
        assert streamed == downsample(*read_day(path), points)
    assert len(split_always) == 4 and all(
        isinstance(answer, dict) for answer in split_always
    )  # the helper did its part
    assert sum(answer["rows"] for answer in split_always) > 4 * 3000


@pytest.mark.parametrize(
    "command",
    [
        (sys.executable, "-c", "import sys; print('no such thing', file=sys.stderr); sys.exit(3)"),  # fails
        (sys.executable, "-c", "import sys; sys.stdin.readline(); print('{oops')"),  # answers garbage
        (sys.executable, "-c", "import time; time.sleep(30)"),  # never answers
        ("/nonexistent/python3",),  # cannot be started
    ],
    ids=["fails", "garbage", "hangs", "missing"],
)
def test_a_day_is_answered_in_this_process_when_the_helper_process_fails(tmp_path, monkeypatch, caplog, command):
    path = _day_with_odd_cells(tmp_path)
    expected = downsample(*read_day(path), DEFAULT_POINTS)
    monkeypatch.setattr(daysplit, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(daysplit, "HELPER_COMMAND", command)
    monkeypatch.setattr(daysplit, "HELPER_TIMEOUT_S", 1.0)
    with caplog.at_level(logging.WARNING, logger="meso360.web.daysplit"):
        assert stream_downsample(path, DEFAULT_POINTS) == (9000, expected)
    assert "reading the day in this process" in caplog.text or "reading in this process" in caplog.text


def _split_row(total):
    """The first row of the helper's part of a day of `total` rows."""
    size = daysample.buckets(total, DEFAULT_POINTS)[0]
    return round(total * daysplit.SPLIT_SHARE / size) * size


def _without_fix(line):
    cells = line.split(",")
    cells[9] = cells[10] = "nan"
    return ",".join(cells)


@pytest.mark.parametrize(
    ("change", "helper_answer"),
    [
        (lambda lines: lines.__setitem__(100, "1,2,3\n"), dict),  # a malformed line in this process's part
        (lambda lines: lines.__setitem__(8500, "1,2,3\n"), dict),  # ... in the helper's part: one row short
        (lambda lines: lines.__setitem__(8500, _without_fix(lines[8500])), type(None)),  # no fix there
        (lambda lines: lines.__setitem__(_split_row(9000) - 1, lines[6000]), dict),  # back in time across the parts
    ],
    ids=["malformed-first", "malformed-helper", "no-fix-helper", "time-order-across"],
)
def test_a_bad_line_in_either_part_of_a_split_day_sends_it_to_the_careful_path(
    tmp_path, split_always, change, helper_answer
):
    lines = _rows(DAY, 9000)
    change(lines)
    path = _write(tmp_path, DAY, lines)
    assert stream_downsample(path, DEFAULT_POINTS) is None
    assert len(split_always) == 1 and isinstance(split_always[0], helper_answer)
    document = _document(DayHistory(tmp_path, "MM1").body("20251105", DEFAULT_POINTS)[1])
    assert document["points"] == downsample(*read_day(path), DEFAULT_POINTS)  # answered by the careful path


def test_the_helper_process_is_a_command_line_tool(tmp_path):
    path = _write(tmp_path, DAY, _rows(DAY, 100))
    command = [sys.executable, "-m", "meso360.web.dayrange"]
    usage = subprocess.run(command, capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    idle = subprocess.run([*command, str(path)], input="", capture_output=True, text=True, check=False)
    assert idle.returncode == 0 and idle.stdout == ""  # no range given: not needed after all
    size = path.stat().st_size
    answer = subprocess.run([*command, str(path)], input=f"0 {size} 16\n", capture_output=True, text=True, check=True)
    summary = json.loads(answer.stdout)
    assert summary["rows"] == 100 and len(summary["edges"]) == 2 * 7 and len(summary["extremes"]) == 10


def test_the_kept_summary_of_today_answers_as_the_day_read_cold(tmp_path):
    lines = _rows(DAY, 9001)
    for index in range(2000, 2100):  # a stretch without a value, and single missing cells
        cells = lines[index].split(",")
        cells[4] = "nan"
        lines[index] = ",".join(cells)
    cells = lines[7000].split(",")
    cells[5], cells[12] = "", "x"
    lines[7000] = ",".join(cells)
    path = _write(tmp_path, DAY, lines[:5003])
    history = DayHistory(tmp_path, "MM1")
    history.warm()
    _write(tmp_path, DAY, lines[5003:])  # the summary is extended across its partial last block
    for points in (DEFAULT_POINTS, 2002, 10, 8000, 20000):
        warm = _document(history.body("20251105", points)[1])
        assert isinstance(history._parsed, DaySummary)
        total, cold = stream_downsample(path, points) or (None, downsample(*read_day(path), points))
        assert warm["points"] == cold == downsample(*read_day(path), points)
        assert warm["total_rows"] == 9001 and len(warm["points"]["ts"]) <= points


def test_a_today_with_a_row_without_fix_keeps_its_columns_and_answers_as_read_whole(tmp_path):
    lines = _rows(DAY, 3000)
    cells = lines[1500].split(",")
    cells[9] = cells[10] = "nan"
    lines[1500] = ",".join(cells)
    path = _write(tmp_path, DAY, lines)
    history = DayHistory(tmp_path, "MM1")
    history.warm()
    assert isinstance(history._parsed, ParsedDay)
    document = _document(history.body("20251105", DEFAULT_POINTS)[1])
    assert document["points"] == downsample(*read_day(path), DEFAULT_POINTS)
