"""Unit tests of the web daemon's pieces: tally vs. meso360.gaps, live window ids, downsampling, passwords."""

import datetime as dt
import math

import pytest

from meso360 import config as config_module
from meso360 import gaps
from meso360.web import auth
from meso360.web.dayhistory import ParsedDay, downsample
from meso360.web.passwd_cli import set_password_hash
from meso360.web.points import SERIES_KEYS, RowReader, number_or_none, series_values
from meso360.web.tally import DayTally
from meso360.web.window import LiveWindow

TEST_FILE = "test_data/test.txt"


def test_day_tally_row_by_row_equals_the_gap_analysis_of_the_whole_file(tmp_path):
    path = tmp_path / "20250605.txt"
    path.write_text(open(TEST_FILE).read())
    tally = DayTally(path)
    rows = RowReader()
    for line in open(path):
        parsed = rows.parse(line)
        if parsed is not None:
            tally.add(parsed[0])
    report = gaps.analyze_file(path)
    assert tally.report.rows == report.rows == 21883
    assert len(tally.report.gaps) == len(report.gaps) == 178
    assert tally.report.missing_seconds == report.missing_seconds == 249
    assert tally.report.duplicates == report.duplicates
    assert tally.report.distinct_seconds == report.distinct_seconds
    assert tally.summary()["completeness_pct"] == round(gaps.completeness(report).fraction * 100, 2)


def test_gps_time_parsing_rejects_missing_or_impossible_times():
    rows = RowReader()
    assert rows.gps_seconds_of("050625", "175228") == int(
        dt.datetime(2025, 6, 5, 17, 52, 28, tzinfo=dt.UTC).timestamp()
    )
    for date, time in [("nan", "175228"), ("050625", "nan"), ("050625", "176028"), ("320625", "000000"), ("", "")]:
        assert rows.gps_seconds_of(date, time) is None
    assert [number_or_none(text) for text in ("1.5", "nan", "inf", "", "x")] == [1.5, None, None, None, None]


def _window_with(count, history_seconds=100):
    window = LiveWindow("MM1", history_seconds, first_id=1000)
    window.append([(ts, True, [float(ts)] + [None] * 9) for ts in range(count)])
    return window


def test_live_window_trims_by_data_time_and_keeps_ids_contiguous():
    window = _window_with(300)
    _last_id, points = window.snapshot()
    assert [p.ts for p in points] == list(range(199, 300))
    ids = [p.id for p in points]
    assert ids == list(range(ids[0], ids[0] + len(ids))) and ids[-1] == 1300


def test_live_window_replays_after_an_id_and_resets_for_a_foreign_id():
    window = _window_with(300)
    newer, reset = window.after(1295)
    assert [p.id for p in newer] == [1296, 1297, 1298, 1299, 1300] and not reset
    assert window.after(1300) == ([], False)
    everything, reset = window.after(5)  # older than the window: the client missed rows
    assert reset and everything[-1].id == 1300 and len(everything) == len(window)
    assert window.after(999_999)[1] is True  # from a previous server with larger ids


def test_downsampling_keeps_each_series_minimum_and_maximum_in_time_order():
    count = 86400
    stamps = list(range(count))
    values = [math.sin(i / 500) for i in range(count)]
    values[12345], values[54321] = 7.0, -7.0
    values[100] = float("nan")
    columns = downsample(stamps, [True] * count, {"t": values}, 2000)
    assert len(columns["ts"]) <= 2000 and columns["ts"] == sorted(columns["ts"])
    assert max(columns["t"]) == 7.0 and min(columns["t"]) == -7.0
    assert len(columns["t"]) == len(columns["ts"])
    small = downsample([1, 2], [True, False], {"t": [1.0, float("nan")]}, 2000)
    assert small == {"id": [0, 1], "ts": [1, 2], "fix": [True, False], "t": [1.0, None]}


def test_password_hash_is_salted_and_verifies():
    first, second = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("correct horse", first)
    assert not auth.verify_password("correct hors", first)
    assert not auth.verify_password("x", "garbage") and not auth.verify_password("x", "")


@pytest.mark.parametrize(
    "text",
    [
        "[meso360]\nvehicle = MM2\n",
        "[web]\nlisten = 0.0.0.0:8080\n# keep me\n",
        "[web]\npassword_hash = old\n[tunnel]\nhost =\n",
        "# comment\n[meso360]\nvehicle = MM2\n[web]\n#password_hash =\nhistory_hours = 3",
    ],
)
def test_passwd_sets_the_hash_and_keeps_every_other_line(text):
    stored = "scrypt$2$1$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA=="
    new = set_password_hash(text, stored)
    assert config_module.parse(new).web.password_hash == stored
    others = [line for line in new.splitlines() if not line.startswith("password_hash =")]
    kept = [line for line in text.splitlines() if not line.startswith("password_hash =")]
    assert others[: len(kept)] == kept
    assert new.count("\npassword_hash =") + new.startswith("password_hash =") == 1


def _careful_reference(path):
    """Cell-by-cell parse of a daily file: the rules the bulk parser must give the same answer as."""
    rows, stamps, series = RowReader(), [], []
    for line in open(path, encoding="utf-8"):
        parsed = rows.parse(line)
        if parsed is not None:
            stamps.append(parsed[0])
            series.append([math.nan if value is None else value for value in series_values(parsed[1])])
    return stamps, series


def test_bulk_day_parser_equals_the_careful_parser_on_garbage_headers_and_missing_fixes(tmp_path):
    lines = open(TEST_FILE).read().splitlines()
    out = lines[:3000]
    broken = [list(line.split(",")) for line in lines[3000:3020]]
    broken[0][4], broken[1][7], broken[2][11], broken[3][5] = "nan", "NAN", "inf", "garbage"
    broken[4][9] = broken[4][10] = "nan"
    broken[5][10], broken[6][12], broken[7][0] = "246060", "", "-1e400"
    out += [",".join(fields) for fields in broken] + [lines[0], "1,2,3", ""] + lines[3020:4000]
    path = tmp_path / "20250605.txt"
    path.write_text("\r\n".join(out) + "\r\n")
    parsed = ParsedDay(path)
    parsed.extend()
    stamps, series = _careful_reference(path)
    assert [None if second < 0 else second for second in parsed.seconds] == stamps
    assert len(stamps) == 3999 and stamps.count(None) == 2  # the nan row and the 24:60:60 row
    for index, key in enumerate(SERIES_KEYS):
        got, want = list(parsed.series[key]), [row[index] for row in series]
        assert [value if value == value else None for value in got] == [v if v == v else None for v in want], key
