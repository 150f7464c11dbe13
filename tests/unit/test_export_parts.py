"""The export's parts on the real observations written as two daily files across midnight (no NetCDF here: the
package build runs these without python3-netcdf4; tests/integration/test_export.py checks NetCDF files)."""

import datetime as dt
import io
import json
import math

import pytest

from meso360.datafile import OBS_COLUMNS, OBS_HEADER
from meso360.export import output, select, text_formats, timerange
from meso360.export.variables import EXPORTED, MEASUREMENTS, ExportInfo

ACROSS_MIDNIGHT = ("2025-06-05T23:30:00Z", "2025-06-06T00:30:00Z")


def source_lines_between(data_dir, start, end):
    """The data-file lines from `start` to `end` (aware datetimes, included), timed here with strptime."""
    selected = []
    for path in sorted(data_dir.glob("*.txt")):
        for line in path.read_bytes().decode().splitlines()[1:]:
            cells = line.split(",")
            when = dt.datetime.strptime(cells[9] + cells[10], "%d%m%y%H%M%S").replace(tzinfo=dt.UTC)
            if start <= when <= end:
                selected.append(line)
    return selected


def chunks_across_midnight(data_dir):
    time_range = timerange.parse_range(*ACROSS_MIDNIGHT)
    return time_range, list(select.chunks_of_range(select.files_of_range(data_dir, time_range), time_range))


def test_a_bare_day_runs_from_its_first_to_its_last_second():
    time_range = timerange.parse_range("2025-06-05", "2025-06-06")
    assert time_range.start == dt.datetime(2025, 6, 5, tzinfo=dt.UTC)
    assert time_range.end == dt.datetime(2025, 6, 6, 23, 59, 59, tzinfo=dt.UTC)
    assert time_range.days() == [dt.date(2025, 6, 5), dt.date(2025, 6, 6)]


def test_a_time_with_an_offset_is_turned_into_utc():
    assert timerange.parse_instant("2025-06-05T20:00:00-05:00") == dt.datetime(2025, 6, 6, 1, tzinfo=dt.UTC)
    assert timerange.parse_instant("2025-06-05T20:00:00Z") == dt.datetime(2025, 6, 5, 20, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-06-05T20:00:00", "2025-06-06", "has no time zone"),
        ("yesterday", "2025-06-06", "is not an ISO 8601 time"),
        ("2025-06-05T25:00:00Z", "2025-06-06", "is not an ISO 8601 time"),
        ("2025-06-06T01:00:00Z", "2025-06-06T00:00:00Z", "is before --from"),
    ],
)
def test_a_bad_time_or_range_is_refused_with_the_reason(start, end, message):
    with pytest.raises(timerange.TimeRangeError, match=message):
        timerange.parse_range(start, end)


def test_a_range_across_midnight_takes_the_rows_of_both_files_in_order(real_days_across_midnight):
    time_range, chunks = chunks_across_midnight(real_days_across_midnight)
    assert sorted({chunk.path.name for chunk in chunks}) == ["20250605.txt", "20250606.txt"]
    expected = source_lines_between(real_days_across_midnight, time_range.start, time_range.end)
    assert [line for chunk in chunks for line in chunk.lines] == expected
    assert len(expected) > 3500  # an hour of real 1 Hz rows, with the real gaps and duplicates
    seconds = [second for chunk in chunks for second in chunk.seconds]
    assert seconds[0] == time_range.start_seconds and seconds[-1] == time_range.end_seconds


def test_rows_without_a_gps_time_and_a_torn_last_line_are_left_out(tmp_path):
    good = "2.5,108.8,23.1,82.2,23.2,19.92,81.8,900.85,93.1,050625,175228,33.19017,-102.2727,1021,0,85.5,28.16"
    no_fix = good.replace("050625,175228", "nan,nan")
    (tmp_path / "20250605.txt").write_text(f"{OBS_HEADER}\n{no_fix}\n{good}\n{good[:40]}")
    time_range = timerange.parse_range("2025-06-05", "2025-06-05")
    chunks = list(select.chunks_of_range(select.files_of_range(tmp_path, time_range), time_range))
    assert [line for chunk in chunks for line in chunk.lines] == [good]


def test_csv_is_the_header_and_the_source_lines_byte_for_byte(real_days_across_midnight):
    time_range, chunks = chunks_across_midnight(real_days_across_midnight)
    stream = io.StringIO(newline="")
    count = text_formats.write_csv(stream, chunks)
    expected = source_lines_between(real_days_across_midnight, time_range.start, time_range.end)
    assert stream.getvalue().encode() == (OBS_HEADER + "\n" + "".join(f"{line}\n" for line in expected)).encode()
    assert count == len(expected)


def test_json_holds_the_variables_with_units_and_every_value_of_the_rows(real_days_across_midnight):
    time_range, chunks = chunks_across_midnight(real_days_across_midnight)
    stream = io.StringIO()
    info = ExportInfo("MM2", "Test institution", time_range, "meso360ctl export")
    count = text_formats.write_json(stream, chunks, info)
    document = json.loads(stream.getvalue())
    assert (document["vehicle"], document["from"], document["to"]) == ("MM2", *ACROSS_MIDNIGHT)
    names = [variable["name"] for variable in document["variables"]]
    assert names == ["time", "lat", "lon", "gps_alt", *(variable.column for variable in MEASUREMENTS)]
    units = {variable["name"]: variable["units"] for variable in document["variables"]}
    assert (units["sfc_wspd"], units["t_fast"], units["pressure"]) == ("m s-1", "degC", "hPa")
    expected = source_lines_between(real_days_across_midnight, time_range.start, time_range.end)
    assert count == len(document["rows"]) == len(expected)
    for line, row in zip(expected, document["rows"], strict=True):
        cells = dict(zip(OBS_COLUMNS, line.split(","), strict=True))
        when = dt.datetime.strptime(cells["gps_date"] + cells["gps_time"], "%d%m%y%H%M%S").replace(tzinfo=dt.UTC)
        assert row[0] == when.timestamp()
        for name, value in zip(names[1:], row[1:], strict=True):
            assert value == (None if math.isnan(float(cells[name])) else float(cells[name]))
    assert sum(row.count(None) for row in document["rows"]) > 0  # the real nan cells are there, as null


def test_every_exported_measurement_but_the_panel_temperature_has_a_cf_standard_name():
    assert [variable.column for variable in EXPORTED if variable.standard_name is None] == ["panel_temp"]
    assert {variable.column for variable in EXPORTED} == set(OBS_COLUMNS) - {"gps_date", "gps_time"}


def test_an_existing_output_is_not_replaced_without_force(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("kept")
    with pytest.raises(output.OutputExistsError, match="give --force"):
        output.write_atomically(target, output.text_writer(lambda stream: stream.write("new")))
    assert target.read_text() == "kept"
    output.write_atomically(target, output.text_writer(lambda stream: stream.write("new")), force=True)
    assert target.read_text() == "new"


def test_a_failed_write_leaves_neither_the_output_nor_a_temporary_file(tmp_path):
    def fail_halfway(stream):
        stream.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        output.write_atomically(tmp_path / "out.csv", output.text_writer(fail_halfway))
    assert list(tmp_path.iterdir()) == []
