"""Gap analysis (meso360.gaps) and the legacy-layout report of `meso360ctl gaps`."""

import datetime as dt
from pathlib import Path

import pytest

from meso360 import gaps
from meso360.ctl.gaps_cmd import format_report
from meso360.datafile import OBS_HEADER

REAL_DAY = Path(__file__).resolve().parents[2] / "test_data" / "test.txt"
VALUES = "2.5,108.8,23.1,82.2,23.2,19.92,81.8,900.85,93.1"
POSITION = "33.19017,-102.2727,1021,0,85.5,28.16"


def row(date_text, time_text):
    return f"{VALUES},{date_text},{time_text},{POSITION}"


def write_rows(path, times, date_text="050625"):
    """Write a data file with one row per HHMMSS in `times` (a tuple (date, time) for another date)."""
    lines = [OBS_HEADER]
    for entry in times:
        lines.append(row(*entry) if isinstance(entry, tuple) else row(date_text, entry))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_real_day_matches_the_legacy_report_numbers():
    report = gaps.analyze_file(REAL_DAY)
    assert report.rows == 21883
    assert report.rows_without_fix == 0
    assert len(report.gaps) == 178
    assert report.missing_seconds == 249
    assert report.duplicates == 80
    assert report.backward_jumps == 0
    assert [(b.label, b.count, b.missing_seconds) for b in report.buckets] == [("2-5s", 174, 223), ("6-30s", 4, 26)]
    assert max(gap.delta_seconds for gap in report.gaps) == 9
    assert report.first == dt.datetime(2025, 6, 5, 17, 52, 28, tzinfo=dt.UTC)
    assert report.last == dt.datetime(2025, 6, 5, 23, 59, 59, tzinfo=dt.UTC)


def test_real_day_completeness_counts_distinct_seconds_over_the_recorded_span():
    completeness = gaps.analyze_file(REAL_DAY).completeness()
    assert completeness.span_seconds == 22052  # 17:52:28..23:59:59 inclusive
    assert completeness.distinct_seconds == 21883 - 80
    # Without backward jumps, span - distinct seconds is exactly the missing seconds of the gaps.
    assert completeness.span_seconds - completeness.distinct_seconds == 249
    assert completeness.fraction == pytest.approx(21803 / 22052)


def test_real_day_report_keeps_the_legacy_layout_with_utc_times_on_both_ends():
    text = format_report(gaps.analyze_file(REAL_DAY))
    lines = text.splitlines()
    assert lines[:4] == ["", "=" * 60, "File: test.txt", "=" * 60]
    assert "Total data rows:   21883" in lines
    assert "Rows with NaN GPS: 0" in lines
    assert "Gaps (≥2s):      178" in lines
    assert "Total missing sec: 249s  (0.3% of a full day)" in lines
    assert "      2-5s:   174 gaps,     223s missing" in lines
    assert "     6-30s:     4 gaps,      26s missing" in lines
    assert "   #  UTC start   UTC end     delta  note" in lines
    assert "────  ────────  ────────  ────────  ────────────────────" in lines
    assert "   1  17:53:25  17:53:27        2s" in lines
    assert lines[-1] == " 178  23:54:16  23:54:18        2s"


def test_rows_without_fix_are_counted_and_their_stretch_is_one_gap(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["120000", "120001", ("nan", "nan"), ("nan", "nan"), "120004"])
    report = gaps.analyze_file(path)
    assert report.rows == 5
    assert report.rows_without_fix == 2
    assert [(g.start.strftime("%H%M%S"), g.end.strftime("%H%M%S"), g.missing_seconds) for g in report.gaps] == [
        ("120001", "120004", 2)
    ]


def test_duplicates_are_counted_and_are_not_gaps(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["120000", "120000", "120001", "120001", "120002"])
    report = gaps.analyze_file(path)
    assert report.duplicates == 2
    assert report.gaps == []
    assert report.completeness().fraction == 1.0
    assert "No gaps found." in format_report(report)


def test_a_gap_across_midnight_has_its_real_length_and_utc_times(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["235958", ("060625", "000001")])
    report = gaps.analyze_file(path)
    (gap,) = report.gaps
    assert gap.delta_seconds == 3
    assert gap.missing_seconds == 2
    assert "   1  23:59:58  00:00:01        3s" in format_report(report).splitlines()


def test_empty_files_report_nothing_and_no_completeness(tmp_path):
    for path in (tmp_path / "20250601.txt", tmp_path / "20250602.txt"):
        path.write_text(OBS_HEADER + "\n" if path.name == "20250601.txt" else "")
        report = gaps.analyze_file(path)
        assert (report.rows, report.gaps, report.first) == (0, [], None)
        assert report.completeness().fraction is None
        assert "No gaps found." in format_report(report)


def test_big_gaps_land_in_the_upper_buckets_with_their_notes(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["100000", "100040", "101000", "120000", "120010"])
    report = gaps.analyze_file(path)
    assert [gap.note for gap in report.gaps] == ["moderate", "long outage", "ops break?", ""]
    assert [(b.label, b.count) for b in report.buckets] == [("6-30s", 1), ("31-300s", 1), (">300s", 2)]
    text = format_report(report)
    assert "← ops break?" in text and "← long outage" in text and "← moderate" in text


def test_backward_jumps_and_malformed_lines_are_counted_not_reported_as_gaps(tmp_path):
    path = tmp_path / "20250605.txt"
    path.write_text("\n".join([OBS_HEADER, row("050625", "120005"), "garbage,line", row("050625", "120001")]) + "\n")
    report = gaps.analyze_file(path)
    assert report.backward_jumps == 1
    assert report.malformed_lines == 1
    assert report.gaps == []


def test_completeness_counts_from_the_first_to_the_last_row_only(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["120000", "120001", "120002", "120003", "120004", "120009"])
    report = gaps.analyze_file(path)
    complete = report.completeness()
    assert (complete.distinct_seconds, complete.span_seconds, complete.fraction) == (6, 10, 0.6)
    assert (complete.window_start, complete.window_end) == ("2025-06-05T12:00:00+00:00", "2025-06-05T12:00:09+00:00")
    assert gaps.completeness_pct(report) == 60.0
    assert gaps.completeness_pct(gaps.analyze_seconds([None])) is None  # no row with a fix: no window


def test_json_form_holds_the_numbers_and_iso_times(tmp_path):
    path = write_rows(tmp_path / "20250605.txt", ["120000", "120003"])
    data = gaps.analyze_file(path).as_dict()
    assert data["gap_count"] == 1 and data["missing_s"] == 2
    assert data["gaps"][0]["start"] == "2025-06-05T12:00:00+00:00"
    assert data["buckets"] == [{"label": "2-5s", "count": 1, "missing_seconds": 2}]


def test_a_gps_second_repeated_anywhere_in_the_file_counts_as_a_duplicate(tmp_path):
    # A re-collection writes seconds already in the file again, not next to their first copy.
    times = ["120000", "120001", "120002", "120003", "120001", "120002", "120004", "120002"]
    report = gaps.analyze_file(write_rows(tmp_path / "20250605.txt", times))
    assert report.duplicates == 3  # 120001 once more, 120002 twice more
    assert report.distinct_seconds == 5
    assert report.backward_jumps == 2
    assert report.as_dict()["duplicates"] == 3
    assert "Duplicate times:   3" in format_report(report).splitlines()


def test_duplicates_are_counted_the_same_row_by_row_as_from_the_file(tmp_path):
    # The web's live tally (GapCounter with a day array) and the file analysis agree.
    times = ["235958", "235959", "235958", ("060625", "000000"), ("060625", "000000"), "235959"]
    path = write_rows(tmp_path / "20250605.txt", times)
    day_start = int(dt.datetime(2025, 6, 5, tzinfo=dt.UTC).timestamp())
    counter = gaps.GapCounter(day_start=day_start)
    for second in gaps._LineTimes().seconds(path.read_text().splitlines(keepends=True)):
        counter.add(second)
    assert counter.report.duplicates == gaps.analyze_file(path).duplicates == 3


def test_the_web_day_summary_reports_repeated_seconds(tmp_path):
    from meso360.web.tally import DayTally

    path = write_rows(tmp_path / "20250605.txt", ["120000", "120001", "120002", "120000", "120001"])
    tally = DayTally(path)
    for second in gaps._LineTimes().seconds(path.read_text().splitlines(keepends=True)):
        tally.add(second)
    assert tally.summary()["duplicates"] == 2


def test_the_web_day_summary_counts_the_missing_seconds_of_every_gap_as_the_file_report_does(tmp_path):
    from meso360.web.tally import DayTally

    times = ["120000", "120001", "120010", "120011", "120500", "120501", "130000"]
    path = write_rows(tmp_path / "20250605.txt", times)
    tally = DayTally(path)
    summaries = []
    for second in gaps._LineTimes().seconds(path.read_text().splitlines(keepends=True)):
        tally.add(second)
        summaries.append(tally.summary()["missing_s"])
    assert summaries == [0, 0, 8, 8, 8 + 288, 8 + 288, 8 + 288 + 3298]
    assert summaries[-1] == gaps.analyze_file(path).missing_seconds  # meso360ctl gaps says the same
