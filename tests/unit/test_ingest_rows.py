"""Unit tests of the Obs GPS rules (frozen GPS chain, no fix) and of the Support row format."""

import csv
import datetime as dt
import io

from meso360 import datafile
from meso360.ingest.sequencer import FROZEN, NO_FIX, Episodes, obs_row
from meso360.ingest.support import SupportFormat, split_nmea, support_row
from meso360.logger_answers import Record

RAW = ["2.548", "108.8", "23.1", "82.2", "23.2", "19.92", "81.8", "900.85", "93.1", "311226", "235958", "A",
       "33.19017", "-102.2727", "1021", "0", "85.5", "12.91", "28.16"]  # fmt: skip


def raw_at(date_text, time_text):
    values = list(RAW)
    values[9], values[10] = date_text, time_text
    return values


def test_frozen_gps_chain_advances_one_second_per_record_across_midnight():
    row, chain, flag = obs_row(raw_at("311226", "235958"), (None, None))
    assert flag is None and chain == ("311226 235958", "311226 235958")
    written = []
    for _ in range(3):  # GPS stuck at 23:59:58 for three more records
        row, chain, flag = obs_row(raw_at("311226", "235958"), chain)
        assert flag == FROZEN
        written.append((row[9], row[10]))
    assert written == [("311226", "235959"), ("010127", "000000"), ("010127", "000001")]
    assert datafile.obs_file_path("/d", row, None).name == "20270101.txt"


def test_gps_moving_again_writes_its_own_time():
    _row, chain, _ = obs_row(raw_at("311226", "235958"), (None, None))
    _row, chain, _ = obs_row(raw_at("311226", "235958"), chain)
    row, chain, flag = obs_row(raw_at("010127", "000000"), chain)
    assert flag is None and (row[9], row[10]) == ("010127", "000000")


def test_no_fix_rows_keep_nan_and_break_the_frozen_chain():
    _row, chain, _ = obs_row(raw_at("311226", "235958"), (None, None))
    row, chain, flag = obs_row(raw_at("nan", "nan"), chain)
    assert flag == NO_FIX and (row[9], row[10]) == ("nan", "nan") and chain == (None, None)
    now = dt.datetime(2027, 1, 1, 0, 0, 5, tzinfo=dt.UTC)
    assert datafile.obs_file_path("/d", row, now).name == "20270101.txt"
    row, chain, flag = obs_row(raw_at("311226", "235958"), chain)
    assert flag is None and row[10] == "235958"


def test_episodes_are_logged_once_at_start_and_once_at_end(caplog):
    episodes = Episodes("Obs")
    with caplog.at_level("WARNING"):
        for number, flag in enumerate([None, FROZEN, FROZEN, FROZEN, None, NO_FIX, NO_FIX, None]):
            episodes.observe(number, flag)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4
    assert "after 3 frozen records (1-3)" in messages[1]
    assert "after 2 records without fix" in messages[3]


RMC = "$GPRMC,175228.00,A,3311.41,N,10216.36,W,0.0,85.5,050625,,,A*6B"
GGA = "$GPGGA,175228.00,3311.41,N,10216.36,W,1,09,0.9,1021.0,M,-24.0,M,,*5C"
SUPPORT = ["2.61", "15.2", "93.1", RMC, GGA, "-5", "0", "1.5", "nan"]


def test_support_row_has_36_columns_split_like_the_legacy():
    row = support_row(SUPPORT, dt.datetime(2025, 6, 5, 17, 52, 28, tzinfo=dt.UTC))
    assert len(row) == len(datafile.SUPPORT_COLUMNS) == 36
    assert row[:5] == ["050625", "175228", "2.61", "15.2", "93.1"]
    assert row[5:8] == ["$GPRMC", "175228.00", "A"] and row[16] == ""  # 12 RMC fields, mode/checksum cut
    assert row[17] == "$GPGGA" and row[31] == "*5C"
    assert row[32:] == ["-5", "0", "1.5", "nan"]


def test_nmea_is_padded_and_quotes_stripped():
    assert split_nmea('"$GPRMC,1,V"', 5) == ["$GPRMC", "1", "V", "", ""]


def test_support_line_is_csv_writer_text_named_by_record_time(tmp_path):
    values = list(SUPPORT)
    values[5] = 'a "quoted", value'
    record = Record(7, "2025-06-05T17:52:28", values)
    path, line, _chain, _flag = SupportFormat(tmp_path).format(record, (None, None), None)
    assert path.name == "20250605_support.txt"
    assert next(csv.reader(io.StringIO(line)))[32] == 'a "quoted", value'
    assert '"a ""quoted"", value"' in line
