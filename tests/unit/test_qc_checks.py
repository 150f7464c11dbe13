"""QC checks (meso360/qc/) on the real drive (test_data/test.txt) with injected faults that must be flagged, and
clean stretches that must not; the sidecar written as rows arrive equals a recompute byte for byte."""

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from meso360 import config
from meso360.datafile import OBS_COLUMNS, OBS_HEADER, RowReader, format_gps_datetime, parse_obs_line
from meso360.qc.flags import GPS_CHECKS, VARIABLE_CHECKS, VARIABLES, parse_line
from meso360.qc.report import count_text
from meso360.qc.sidecar import LineMaker, QcStream, compute_text, recompute, sidecar_path

REAL_DAY = Path(__file__).resolve().parents[2] / "test_data" / "test.txt"
QC = config.parse("").qc
COLUMN = {name: index for index, name in enumerate(OBS_COLUMNS)}


def real_rows():
    return [line.split(",") for line in REAL_DAY.read_text().splitlines()[1:]]


def flags_of(rows):
    """Return the parsed sidecar lines of `rows` (lists of 17 cells), checked in order."""
    return [parse_line(line) for line in LineMaker(QC).lines([",".join(row) for row in rows])]


def flag(parsed, variable, check):
    """The digit of `check` for `variable` ("gps" for the GPS checks) in one parsed sidecar line."""
    if variable == "gps":
        return parsed[3][GPS_CHECKS.index(check)]
    return parsed[4][VARIABLES.index(variable)][VARIABLE_CHECKS.index(check)]


def rows_flagged(parsed_lines, checks):
    return sum(
        any(flag(parsed, variable, check) in "12" for variable in VARIABLES for check in checks)
        for parsed in parsed_lines
    )


def moving_index(rows, start):
    """The first row from `start` on where the vehicle drives (gps_spd over 5 m/s) for the next 10 rows."""
    for index in range(start, len(rows)):
        if all(float(rows[i][COLUMN["gps_spd"]]) > 5 for i in range(index - 5, index + 10)):
            return index
    raise AssertionError("no driving stretch in the real data")


def test_real_drive_has_almost_no_range_or_step_flags_and_no_stuck_sensor_or_gps_jump():
    parsed = flags_of(real_rows())
    assert len(parsed) == 21883
    assert rows_flagged(parsed, ("range", "step")) / len(parsed) < 0.01
    assert rows_flagged(parsed, ("persistence",)) == 0
    for check in ("fix", "jump"):
        assert not any(flag(line, "gps", check) in "12" for line in parsed), check
    assert {line[2] for line in parsed} == {0, 1}  # stationary and moving both occur on the drive


def test_a_temperature_spike_is_flagged_at_its_row_only():
    rows = real_rows()
    rows[5000][COLUMN["t_fast"]] = str(float(rows[5000][COLUMN["t_fast"]]) + 15)
    parsed = flags_of(rows)
    assert flag(parsed[5000], "t_fast", "step") == "1"
    assert [flag(parsed[i], "t_fast", "step") for i in (4999, 5001, 5002)] == ["0", "0", "0"]


def test_values_beyond_sensor_and_climate_limits_are_bad_and_suspect():
    rows = real_rows()
    rows[3000][COLUMN["t_fast"]] = "70"
    rows[3100][COLUMN["sfc_wspd"]] = "55"
    parsed = flags_of(rows)
    assert flag(parsed[3000], "t_fast", "range") == "2"
    assert flag(parsed[3100], "sfc_wspd", "range") == "1"


def test_a_pressure_stuck_for_twenty_minutes_is_flagged_from_its_fifteenth_minute():
    rows = real_rows()
    for index in range(8000, 9200):
        rows[index][COLUMN["pressure"]] = "880.00"
    parsed = flags_of(rows)
    reader = RowReader()
    stuck = [i for i in range(7990, 9210) if flag(parsed[i], "pressure", "persistence") == "1"]
    assert stuck[-1] == 9199
    assert reader.gps_seconds(rows[stuck[0]]) - reader.gps_seconds(rows[8000]) == 15 * 60
    assert flag(parsed[9200], "pressure", "persistence") == "0"


def test_a_dewpoint_above_the_temperature_is_flagged_with_the_humidity_that_disagrees():
    rows = real_rows()
    rows[12000][COLUMN["dewpoint"]] = str(float(rows[12000][COLUMN["t_fast"]]) + 3)
    parsed = flags_of(rows)
    assert flag(parsed[12000], "dewpoint", "consistency") == "2"
    assert flag(parsed[12000], "rh_slow", "consistency") == "1"
    assert flag(parsed[11999], "rh_slow", "consistency") == "0"


def test_a_gps_position_jump_is_bad_and_the_track_after_it_is_not():
    rows = real_rows()
    rows[15000][COLUMN["lat"]] = str(float(rows[15000][COLUMN["lat"]]) + 0.1)  # 11 km in a second
    parsed = flags_of(rows)
    assert flag(parsed[15000], "gps", "jump") == "2"
    assert flag(parsed[15001], "gps", "jump") == "0"


def test_rows_without_fix_fail_the_fix_check_and_have_no_motion():
    rows = real_rows()
    for index in range(16000, 16010):
        for name in ("gps_date", "gps_time", "lat", "lon", "gps_spd"):
            rows[index][COLUMN[name]] = "nan"
    parsed = flags_of(rows)
    assert all(flag(parsed[i], "gps", "fix") == "2" and parsed[i][2] == 9 for i in range(16000, 16010))
    assert flag(parsed[16010], "gps", "fix") == "0"


def test_rows_ingest_retimed_while_the_gps_was_frozen_are_flagged():
    rows = real_rows()
    start = moving_index(rows, 17000)
    reader = RowReader()
    frozen_at = reader.gps_seconds(rows[start - 1])
    gps_values = rows[start - 1][COLUMN["lat"] : COLUMN["gps_dir"] + 1]
    for offset, index in enumerate(range(start, start + 5), start=1):
        # as ingest writes them: the receiver's values repeated, the time inferred as previous + 1 s
        rows[index][COLUMN["lat"] : COLUMN["gps_dir"] + 1] = gps_values
        date_text, time_text = format_gps_datetime(dt.datetime.fromtimestamp(frozen_at + offset, dt.UTC))
        rows[index][COLUMN["gps_date"]], rows[index][COLUMN["gps_time"]] = date_text, time_text
    parsed = flags_of(rows)
    assert [flag(parsed[i], "gps", "frozen") for i in range(start, start + 5)] == ["1"] * 5
    assert flag(parsed[start - 1], "gps", "frozen") == "0"


def test_a_repeated_gps_second_is_suspect_time():
    parsed = flags_of(real_rows())
    assert flag(parsed[1], "gps", "time") == "1"  # the real file repeats 17:52:28
    assert flag(parsed[2], "gps", "time") == "0"


def write_day(path, lines):
    path.write_text("".join(line + "\n" for line in [OBS_HEADER, *lines]))


def test_sidecar_written_as_rows_arrive_and_after_restarts_equals_a_recompute(tmp_path):
    lines = REAL_DAY.read_text().splitlines()[1:3001]
    data = tmp_path / "20250605.txt"
    write_day(data, lines[:1000])
    stream = QcStream(data, QC)
    assert stream.update() == 1000
    with data.open("a") as file:
        file.write("\n".join(lines[1000:2000]) + "\n" + lines[2000][:20])  # a row still being written
    assert stream.update() == 1000
    stream = QcStream(data, QC)  # a restart: resumes after the sidecar's last line
    assert stream.update() == 0
    with data.open("a") as file:
        file.write(lines[2000][20:] + "\n" + "\n".join(lines[2001:]) + "\n")
    sidecar = sidecar_path(data)
    with sidecar.open("a") as file:
        file.write("2001,2025-06")  # a line torn by a power cut
    assert QcStream(data, QC).update() == 1000
    assert sidecar.read_text() == compute_text(data, QC)
    assert count_text(sidecar.read_text()).rows == 3000


def test_a_recompute_while_the_stream_runs_leaves_no_duplicate(tmp_path):
    lines = REAL_DAY.read_text().splitlines()[1:2001]
    data = tmp_path / "20250605.txt"
    write_day(data, lines[:1000])
    stream = QcStream(data, QC)
    stream.update()
    with data.open("a") as file:
        file.write("\n".join(lines[1000:]) + "\n")
    assert recompute(data, QC) == 2000
    stream.update()
    assert sidecar_path(data).read_text() == compute_text(data, QC)


def test_a_sidecar_of_other_rows_is_rewritten_whole(tmp_path):
    lines = REAL_DAY.read_text().splitlines()[1:501]
    data = tmp_path / "20250605.txt"
    write_day(data, lines)
    recompute(data, QC)
    changed = [*lines[:499], ",".join(["9"] * 9 + lines[499].split(",")[9:])]  # the last row replaced
    write_day(data, changed)
    QcStream(data, QC).update()
    assert sidecar_path(data).read_text() == compute_text(data, QC)


@pytest.mark.parametrize("line", ["not,a,row", ""])
def test_a_malformed_line_gets_a_line_of_unchecked_flags(line):
    made = list(LineMaker(QC).lines([line]))
    assert made == ["1,nan,9,9999," + ",".join(["9999"] * len(VARIABLES))]
    assert parse_obs_line(line) is None


def test_a_qc_low_limit_above_its_high_one_is_a_config_error_naming_both():
    with pytest.raises(config.ConfigError) as raised:
        config.parse(
            "[qc]\ntemperature_min_c = 40\ntemperature_max_c = 30\npressure_min_hpa = 1000\npressure_max_hpa = 900\n",
            "c.conf",
        )
    assert "c.conf: qc.temperature_min_c must be below qc.temperature_max_c" in str(raised.value)
    assert "qc.pressure_min_hpa must be below qc.pressure_max_hpa" in str(raised.value)


def test_the_writer_follows_the_two_newest_days_and_a_disk_error_is_said_once_then_retried(tmp_path, caplog):
    from meso360.qc.writer import QcWriter, run_qc

    lines = REAL_DAY.read_text().splitlines()[1:301]
    for name in ("20250603.txt", "20250604.txt", "20250605.txt"):
        write_day(tmp_path / name, lines)
    assert QcWriter(tmp_path, QC).step() == 600
    assert not (tmp_path / "20250603_qc.txt").exists()  # only the two newest days are followed
    (tmp_path / "20250606.txt").write_text(OBS_HEADER + "\n")
    (tmp_path / "20250606_qc.txt").mkdir()  # a sidecar that cannot be written
    stop = threading.Event()
    settings = config.parse(f"[meso360]\ndata_dir = {tmp_path}\n")
    thread = threading.Thread(target=run_qc, args=(settings, stop, 0.01))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while caplog.text.count("QC: cannot write the QC flags") < 1 and time.monotonic() < deadline:
            stop.wait(0.01)
        stop.wait(0.2)  # a polled condition above; here the retries go on, each failing the same way
        assert caplog.text.count("QC: cannot write the QC flags") == 1
        (tmp_path / "20250606_qc.txt").rmdir()
        while not (tmp_path / "20250606_qc.txt").is_file() and time.monotonic() < deadline:
            stop.wait(0.01)
        assert (tmp_path / "20250606_qc.txt").read_text() == compute_text(tmp_path / "20250606.txt", QC)
    finally:
        stop.set()
        thread.join(5)
    assert thread.is_alive() is False
