"""Unit tests of the data file format, naming, durable appends and torn-line repair."""

import datetime as dt

import pytest

from meso360 import datafile
from meso360.ingest.appender import DailyAppender

RAW = ["2.548", "108.8", "23.1", "82.2", "23.2", "19.92", "81.8", "900.85", "93.1", '"50625"', ' "175228" ', "A",
       "33.19017", "-102.2727", "1021", "0", "85.5", "12.91", "28.16"]  # fmt: skip
ROW = "2.548,108.8,23.1,82.2,23.2,19.92,81.8,900.85,93.1,050625,175228,33.19017,-102.2727,1021,0,85.5,28.16"


def test_raw_record_becomes_the_legacy_row_without_status_and_battery():
    assert ",".join(datafile.obs_row_from_raw(RAW)) == ROW


def test_nan_gps_is_kept_as_nan():
    raw = list(RAW)
    raw[9], raw[10] = "NAN", '"nan"'
    row = datafile.obs_row_from_raw(raw)
    assert (row[9], row[10]) == ("nan", "nan")
    assert datafile.row_timestamp(row) is None


@pytest.mark.parametrize("count", [18, 20, 0])
def test_wrong_field_count_is_rejected(count):
    with pytest.raises(ValueError, match=f"has {count} values"):
        datafile.obs_row_from_raw((RAW * 2)[:count])


def test_file_is_named_by_gps_date_or_host_date_without_fix(tmp_path):
    row = ROW.split(",")
    now = dt.datetime(2026, 11, 26, 1, 2, 3, tzinfo=dt.UTC)
    assert datafile.obs_file_path(tmp_path, row, now).name == "20250605.txt"
    row[9] = "nan"
    assert datafile.obs_file_path(tmp_path, row, now).name == "20261126.txt"


def test_invalid_gps_date_gives_no_timestamp():
    assert datafile.parse_gps_datetime("320625", "120000") is None
    assert datafile.parse_gps_datetime("050625", "1200") is None
    assert datafile.parse_gps_datetime("050625", "235959") == dt.datetime(2025, 6, 5, 23, 59, 59, tzinfo=dt.UTC)


def test_appender_writes_header_once_and_rows_in_order(tmp_path):
    path = tmp_path / "data" / "20250605.txt"
    appender = DailyAppender(datafile.OBS_HEADER)
    appender.append(path, [ROW])
    appender.close()
    size = DailyAppender(datafile.OBS_HEADER).append(path, [ROW, ROW])
    text = path.read_text()
    assert text == datafile.OBS_HEADER + "\n" + (ROW + "\n") * 3
    assert size == len(text)


def test_torn_last_line_is_cut_at_next_open(tmp_path):
    path = tmp_path / "20250605.txt"
    path.write_text(datafile.OBS_HEADER + "\n" + ROW + "\n" + ROW[:20])
    DailyAppender(datafile.OBS_HEADER).append(path, [ROW])
    assert path.read_text() == datafile.OBS_HEADER + "\n" + ROW + "\n" + ROW + "\n"


def test_read_complete_lines_leaves_a_partial_line_for_later(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("a\nb\npart")
    lines, offset = datafile.read_complete_lines(path)
    assert (lines, offset) == (["a", "b"], 4)
    with open(path, "a") as file:
        file.write("ial\n")
    assert datafile.read_complete_lines(path, offset) == (["partial"], 12)


def test_daily_files_lists_only_data_files_oldest_first(tmp_path):
    for name in ["20250606.txt", "20250605.txt", "20250605_support.txt", "notes.txt"]:
        (tmp_path / name).write_text("")
    assert [p.name for p in datafile.daily_files(tmp_path)] == ["20250605.txt", "20250606.txt"]
    assert datafile.daily_files(tmp_path / "missing") == []


def test_parse_obs_line_skips_header_and_malformed_lines():
    assert datafile.parse_obs_line(datafile.OBS_HEADER) is None
    assert datafile.parse_obs_line("1,2,3") is None
    assert datafile.parse_obs_line(ROW + "\n") == ROW.split(",")


def test_every_gps_time_path_follows_the_one_parser():
    valid = [("050625", "175228"), ("311226", "235959"), ("010170", "000000")]
    invalid = [("050625", "176028"), ("320625", "120000"), ("050625", "240000"), ("nan", "175228")]
    invalid += [("050625", "1752"), ("050625", "17522\u00b2")]  # a superscript digit is not a digit of a time
    cases = valid + invalid
    reader = datafile.RowReader()
    for date_text, time_text in cases:
        when = datafile.parse_gps_datetime(date_text, time_text)
        seconds = None if when is None else int(when.timestamp())
        assert reader.gps_seconds_of(date_text, time_text) == seconds, (date_text, time_text)
        assert reader.column_seconds([date_text], [time_text]) == [seconds], (date_text, time_text)
    good = valid
    bulk = reader.column_seconds([d for d, _t in good], [t for _d, t in good])
    assert bulk == [int(datafile.parse_gps_datetime(d, t).timestamp()) for d, t in good]


@pytest.mark.parametrize(
    ("dates", "times", "expected"),
    [
        (["050625"] * 3, ["000000", "095959", "235959"], True),
        (["050625"] * 3, ["120000", "120000", "120001"], True),  # equal times: in order
        (["050625"] * 2, ["120001", "120000"], False),  # back in time
        (["050625", "060625"], ["235959", "000000"], False),  # two dates: column_seconds decides
        (["050625"] * 2, ["120000", "126000"], False),  # minute 60
        (["050625"] * 2, ["120000", "240000"], False),  # hour 24
        (["050625"] * 2, ["120000", "12000"], False),  # five digits
        (["050625"] * 2, ["120000", "1200000"], False),  # seven digits
        (["050625"] * 2, ["120000", "12000\u00b2"], False),  # a superscript digit
        (["050625"] * 2, ["120000", "nan"], False),
        (["320625"] * 2, ["120000", "120001"], False),  # no such date
        ([], [], False),
    ],
)
def test_one_date_in_order_is_true_only_when_every_row_has_a_time_of_that_date_never_going_back(dates, times, expected):
    reader = datafile.RowReader()
    assert reader.one_date_in_order(dates, times) is expected
    if expected:  # then every row has a GPS time and they never go back, by the one parser
        seconds = reader.column_seconds(dates, times)
        assert None not in seconds and seconds == sorted(seconds)


def test_a_cell_is_a_number_or_none_when_missing_and_infinity_is_missing_only_on_request():
    cells = ("1.5", "-0.25", "nan", "NAN", "", "x", "inf", "-inf")
    inf = float("inf")
    assert [datafile.number_or_none(text) for text in cells] == [1.5, -0.25, None, None, None, None, inf, -inf]
    finite = [datafile.number_or_none(text, infinity_is_missing=True) for text in cells]
    assert finite == [1.5, -0.25, None, None, None, None, None, None]
