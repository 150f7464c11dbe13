"""The time-range view's reading (rangeread) and its cache and validation (rangehistory), on the packaged real
observations written as two daily files across midnight (tests/conftest.py: real_days_across_midnight)."""

import array
import bisect
import calendar
import gzip
import json
import os
import shutil
import threading
import time

import pytest

from meso360 import config
from meso360.qc.sidecar import compute_text, sidecar_path
from meso360.web import daysplit, rangecareful, rangehistory, rangeread, rangeseek
from meso360.web.daysample import downsample, read_day
from meso360.web.points import SERIES_KEYS

DAYS = ("20250605.txt", "20250606.txt")  # 20:52:28 on 5 June .. 02:59:59 on 6 June


def seconds(text):
    return calendar.timegm(tuple(map(int, text.replace("T", "-").replace(":", "-").split("-"))))


def expected(paths, start, end, max_points):
    """The day history's rule on the rows of the range, computed here from each file's columns (read_day)."""
    stamps, fixes, series = [], [], {key: array.array("d") for key in SERIES_KEYS}
    for path in paths:
        day_stamps, day_fixes, day_series = read_day(path)
        first, last = bisect.bisect_left(day_stamps, start), bisect.bisect_left(day_stamps, end)
        stamps += list(day_stamps[first:last])
        fixes += [True] * (last - first) if day_fixes is None else day_fixes[first:last]
        for key in SERIES_KEYS:
            series[key] = (series[key] if len(series[key]) else day_series[key][:0]) + day_series[key][first:last]
    return len(stamps), downsample(stamps, None if all(fixes) else fixes, series, max_points)


def rows_between(path, start, end):
    """The rows of a file with GPS time start..end (end excluded), timed here with calendar.timegm."""
    count = 0
    for line in open(path).read().splitlines()[1:]:
        cells = line.split(",")
        day, clock = cells[9], cells[10]
        when = calendar.timegm(
            (2000 + int(day[4:]), int(day[2:4]), int(day[:2]), *map(int, (clock[:2], clock[2:4], clock[4:])))
        )
        count += start <= when < end
    return count


def paths_of(data_dir):
    return [str(data_dir / name) for name in DAYS]


@pytest.mark.parametrize("max_points", [10, 333, 2000, 20000])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2025-06-05T20:00:00Z", "2025-06-06T20:00:00Z"),  # both files whole
        ("2025-06-05T23:00:00Z", "2025-06-06T01:00:00Z"),  # across midnight, cut in both
        ("2025-06-05T21:13:07Z", "2025-06-05T23:41:59Z"),  # inside the first file
        ("2025-06-06T00:00:00Z", "2025-06-06T02:30:01Z"),  # the second file from its first row
    ],
)
def test_a_range_across_midnight_is_downsampled_exactly_as_its_rows_would_be_as_a_day(
    real_days_across_midnight, start, end, max_points
):
    paths, start_s, end_s = paths_of(real_days_across_midnight), seconds(start[:-1]), seconds(end[:-1])
    total, points = rangeread.range_answer(paths, start_s, end_s, max_points)
    want_total, want_points = expected(paths, start_s, end_s, max_points)
    assert total == want_total > 0
    assert points == want_points
    assert start_s <= points["ts"][0] and points["ts"][-1] < end_s


def test_the_fast_path_answers_a_large_range_and_a_bucket_spanning_midnight_is_merged(real_days_across_midnight):
    paths = paths_of(real_days_across_midnight)
    start, end = seconds("2025-06-05-21-00-00"), seconds("2025-06-06-02-00-00")
    reader = rangeread.RowReader()
    segments = [rangeseek.find_segment(path, start, end, reader) for path in paths]
    assert [segment.rows for segment in segments] == [rows_between(path, start, end) for path in paths]
    size = rangeread.buckets(sum(segment.rows for segment in segments), 1000)[0]
    assert segments[0].rows % size  # the bucket at midnight holds rows of both files
    answer = rangeread.fast_answer(segments, 1000)
    assert answer is not None
    assert answer == expected(paths, start, end, 1000)
    midnight = seconds("2025-06-06-00-00-00")
    assert any(a < midnight <= b for a, b in zip(answer[1]["ts"][0::2], answer[1]["ts"][1::2], strict=True))


def test_the_helper_process_summarises_part_of_a_large_range_with_the_same_answer(real_days_across_midnight):
    paths = paths_of(real_days_across_midnight)
    start, end = seconds("2025-06-05-20-00-00"), seconds("2025-06-06-03-00-00")
    helper = rangeread._helper_for(paths, start, end, rangeread.RowReader())
    assert helper is not None  # the two real files are 2.3 MB: over daysplit.SPLIT_MIN_BYTES
    try:
        reader = rangeread.RowReader()
        segments = [rangeseek.find_segment(path, start, end, reader) for path in paths]
        answer = rangeread.fast_answer(segments, 2000, helper)
        assert helper.poll() == 0  # it was given its part and answered
    finally:
        daysplit._stop_helper(helper)
    assert answer == expected(paths, start, end, 2000)


@pytest.mark.parametrize(
    ("in_memory_bytes", "how"), [(rangecareful.IN_MEMORY_BYTES, "(careful)"), (0, "(careful, a file at a time)")]
)
@pytest.mark.parametrize("max_points", [333, 2000])
def test_a_row_without_fix_sends_the_range_through_the_careful_path_with_the_day_rule(
    real_days_across_midnight, caplog, monkeypatch, in_memory_bytes, how, max_points
):
    monkeypatch.setattr(rangecareful, "IN_MEMORY_BYTES", in_memory_bytes)
    for name, index in ((DAYS[0], 4000), (DAYS[1], 500)):
        path = real_days_across_midnight / name
        lines = path.read_text().splitlines()
        cells = lines[index].split(",")
        cells[9], cells[10] = "000000", "000000"  # no GPS fix: timed 1 s after the row before, as in a day
        lines[index] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
    paths = paths_of(real_days_across_midnight)
    start, end = seconds("2025-06-05-22-00-00"), seconds("2025-06-06-02-00-00")
    with caplog.at_level("INFO", logger="meso360.web.rangeread"):
        total, points = rangeread.range_answer(paths, start, end, max_points)
    assert how in caplog.text
    assert (total, points) == expected(paths, start, end, max_points)
    assert total > max_points


def test_a_small_range_gives_every_row_read_from_the_range_start_only(real_days_across_midnight, caplog):
    paths = paths_of(real_days_across_midnight)
    start, end = seconds("2025-06-05-23-59-00"), seconds("2025-06-06-00-01-00")
    with caplog.at_level("INFO", logger="meso360.web.rangeread"):
        total, points = rangeread.range_answer(paths, start, end, 2000)
    assert "(whole rows)" in caplog.text
    assert total == len(points["ts"]) == 120
    assert (total, points) == expected(paths, start, end, 2000)


def test_a_range_with_no_rows_answers_empty_columns(real_days_across_midnight):
    paths = paths_of(real_days_across_midnight)
    total, points = rangeread.range_answer(paths, seconds("2025-06-05-01-00-00"), seconds("2025-06-05-02-00-00"), 2000)
    assert total == 0
    assert points["ts"] == [] and points["t"] == []
    assert rangeread.range_answer([], seconds("2030-01-01-00-00-00"), seconds("2030-01-02-00-00-00"), 2000)[0] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-30", "must be a UTC time"),
        ("2026-11-30T21:00:00", "must be a UTC time"),
        ("2026-11-30T21:00:00+00:00", "must be a UTC time"),
        ("2026-11-30 21:00:00Z", "must be a UTC time"),
        ("2026-11-30T21:00:00Z\n", "must be a UTC time"),
        ("２０２６-11-30T21:00:00Z", "must be a UTC time"),
        ("../../etc/passwd", "must be a UTC time"),
        ("9" * 5000, "must be a UTC time"),
        ("2026-02-30T21:00:00Z", "not a valid date"),
        ("2026-11-30T24:00:00Z", "not a valid date"),
        ("1969-12-31T23:00:00Z", "must be from 1970 to 2099"),
        ("9999-12-31T23:59:59Z", "must be from 1970 to 2099"),
    ],
)
def test_a_time_that_is_not_utc_with_z_is_refused_with_a_message_naming_it(text, message):
    with pytest.raises(rangehistory.RangeError, match=message) as raised:
        rangehistory.parse_range({"from": text, "to": "2026-11-30T22:00:00Z"})
    assert str(raised.value).startswith("from ")
    assert len(str(raised.value)) < 200  # a long input is cut in the message


def test_the_range_must_be_given_ordered_and_at_most_31_days():
    parse = rangehistory.parse_range
    with pytest.raises(rangehistory.RangeError, match="give from and to"):
        parse({"from": "2026-11-30T21:00:00Z"})
    with pytest.raises(rangehistory.RangeError, match="from must be before to"):
        parse({"from": "2026-11-30T21:00:00Z", "to": "2026-11-30T21:00:00Z"})
    with pytest.raises(rangehistory.RangeError, match="from must be before to"):
        parse({"from": "2026-11-30T21:00:00Z", "to": "2026-11-29T21:00:00Z"})
    with pytest.raises(rangehistory.RangeError, match="longer than 31 days"):
        parse({"from": "2026-10-30T21:00:00Z", "to": "2026-11-30T21:00:01Z"})
    assert parse({"from": "2026-10-30T21:00:00Z", "to": "2026-11-30T21:00:00Z"}) == (
        seconds("2026-10-30-21-00-00"),
        seconds("2026-11-30-21-00-00"),
    )
    # minutes only, and a browser's milliseconds (rounded up to the next whole second: rows are whole seconds)
    assert parse({"from": "2026-11-30T21:00Z", "to": "2026-11-30T22:00:00.250Z"}) == (
        seconds("2026-11-30-21-00-00"),
        seconds("2026-11-30-22-00-01"),
    )


def test_the_files_of_a_range_are_its_utc_days_and_only_regular_files_inside_data_dir(tmp_path):
    assert rangehistory.day_names(seconds("2025-12-31-22-00-00"), seconds("2026-01-01-00-00-00")) == ["20251231.txt"]
    assert rangehistory.day_names(seconds("2025-12-31-22-00-00"), seconds("2026-01-01-00-00-01")) == [
        "20251231.txt",
        "20260101.txt",
    ]
    data_dir, outside = tmp_path / "data", tmp_path / "outside"
    data_dir.mkdir()
    outside.mkdir()
    (outside / "20260101.txt").write_text("secret\n")
    (data_dir / "20260101.txt").symlink_to(outside / "20260101.txt")  # a link out of data_dir: never read
    (data_dir / "20251231.txt").write_text("x\n")
    ranges = rangehistory.RangeHistory(data_dir, "MM1")
    files = ranges.files(seconds("2025-12-31-00-00-00"), seconds("2026-01-02-00-00-00"))
    assert [os.path.basename(path) for path, *_stamps in files] == ["20251231.txt"]


def wait_for(condition, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)  # polling a condition with a deadline


def document(gzipped):
    return json.loads(gzip.decompress(gzipped))


def test_an_answer_is_cached_until_a_file_of_the_range_changes(real_days_across_midnight, monkeypatch):
    reads = []
    real = rangeread.range_answer
    monkeypatch.setattr(rangeread, "range_answer", lambda *args: reads.append(args) or real(*args))
    ranges = rangehistory.RangeHistory(real_days_across_midnight, "MM2")
    start, end = seconds("2025-06-05-21-00-00"), seconds("2025-06-06-03-00-00")
    first = ranges.body(start, end, 2000)
    assert ranges.body(start, end, 2000) is first
    assert len(reads) == 1
    body = document(first)
    assert (body["vehicle"], body["from"], body["to"]) == ("MM2", "2025-06-05T21:00:00Z", "2025-06-06T03:00:00Z")
    assert body["days"] == ["20250605", "20250606"]
    assert body["last_id"] == body["total_rows"] - 1
    # the newest file grows by one row in the range: a new answer holding it, the stale one dropped
    newest = real_days_across_midnight / DAYS[1]
    last = newest.read_text().splitlines()[-1].split(",")
    last[10] = "025959"
    last[4] = "70.00"  # t_fast beyond the sensor's range: QC flags it bad (below)
    with open(newest, "a") as file:
        file.write(",".join(last) + "\n")
    grown = document(ranges.body(start, end, 2000))
    assert grown["total_rows"] == body["total_rows"] + 1
    assert len(reads) == 2
    assert ranges.cached_count() == 1
    # the same size but a new mtime (a file replaced by a copy): read again
    stat = newest.stat()
    os.utime(newest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    ranges.body(start, end, 2000)
    assert len(reads) == 3
    # a QC sidecar of a day in the range written (meso360ctl qc DAY): read again, its marks in the answer
    sidecar_path(newest).write_text(compute_text(newest, config.parse("").qc))
    marked = document(ranges.body(start, end, 2000))
    assert len(reads) == 4
    spike = seconds("2025-06-06-02-59-59")
    t_marks = [mark for mark in marked["qc"] if mark[1] == "t" and mark[2] == 2]
    assert len(t_marks) == 1 and "range" in t_marks[0][3].split("+")
    assert marked["points"]["ts"][-2] <= t_marks[0][0] <= spike  # on a point of the last bucket, the spike's
    assert max(marked["points"]["t"][-2:]) == 70


def test_the_cache_keeps_within_its_byte_bound(real_days_across_midnight):
    ranges = rangehistory.RangeHistory(real_days_across_midnight, "MM2", cache_bytes=60_000)
    start = seconds("2025-06-05-21-00-00")
    for hour in range(1, 6):
        ranges.body(start, start + hour * 3600, 2000)
    assert 0 < ranges.cached_bytes() <= 60_000 or ranges.cached_count() == 1
    assert ranges.cached_count() < 5


def test_requests_beyond_the_waiting_ones_are_told_busy(real_days_across_midnight, monkeypatch):
    release, entered = threading.Event(), threading.Event()
    real = rangeread.range_answer

    def held(*args):
        entered.set()
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(rangeread, "range_answer", held)
    ranges = rangehistory.RangeHistory(real_days_across_midnight, "MM2")
    start = seconds("2025-06-05-21-00-00")
    threads = [threading.Thread(target=ranges.body, args=(start, start + 3600 * (i + 1), 2000)) for i in range(3)]
    threads[0].start()
    assert entered.wait(30)
    for thread in threads[1:]:
        thread.start()
    try:
        wait_for(lambda: ranges.waiting() == 1 + rangehistory.MAX_WAITING)
        with pytest.raises(rangehistory.RangeBusy):
            ranges.body(start, start + 7 * 3600, 2000)
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    assert ranges.cached_count() == 3


def test_reading_a_range_leaves_the_files_byte_identical(real_days_across_midnight, tmp_path):
    copy = tmp_path / "before"
    shutil.copytree(real_days_across_midnight, copy)
    ranges = rangehistory.RangeHistory(real_days_across_midnight, "MM2")
    ranges.body(seconds("2025-06-05-20-00-00"), seconds("2025-06-06-03-00-00"), 2000)
    for name in DAYS:
        assert (real_days_across_midnight / name).read_bytes() == (copy / name).read_bytes()
