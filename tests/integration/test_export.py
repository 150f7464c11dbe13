"""meso360ctl export as a process on the real observations written as two daily files across midnight: the CSV
lines byte for byte, the JSON values, the NetCDF read back with netCDF4 and xarray and checked with the IOOS
compliance checker's CF-1.8 suite; the errors and exit codes."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy
import pytest
import xarray

from meso360 import __version__
from meso360.datafile import OBS_COLUMNS, OBS_HEADER
from meso360.qc.flags import VARIABLES as QC_VARIABLES

BIN = Path(sys.executable).parent
FROM, TO = "2025-06-05T23:30:00Z", "2025-06-06T00:30:00Z"
EXPECTED_UNITS = {
    "time": "seconds since 1970-01-01 00:00:00 UTC",
    "lat": "degrees_north",
    "lon": "degrees_east",
    "alt": "m",
    "sfc_wspd": "m s-1",
    "sfc_wdir": "degree",
    "t_fast": "degC",
    "dewpoint": "degC",
    "der_rh": "percent",
    "pressure": "hPa",
    "compass_dir": "degree",
    "gps_spd": "m s-1",
}
EXPECTED_STANDARD_NAMES = {
    "time": "time",
    "lat": "latitude",
    "lon": "longitude",
    "alt": "altitude",
    "sfc_wspd": "wind_speed",
    "sfc_wdir": "wind_from_direction",
    "t_slow": "air_temperature",
    "t_fast": "air_temperature",
    "dewpoint": "dew_point_temperature",
    "rh_slow": "relative_humidity",
    "der_rh": "relative_humidity",
    "pressure": "air_pressure",
    "compass_dir": "platform_orientation",
    "gps_spd": "platform_speed_wrt_ground",
    "gps_dir": "platform_course",
}
NETCDF_NAMES = {"lat": "lat", "lon": "lon", "gps_alt": "alt"}


@pytest.fixture
def export_env(tmp_path, real_days_across_midnight):
    """A config naming vehicle MM2 over the two real daily files; returns a function running meso360ctl export."""
    config = tmp_path / "meso360.conf"
    config.write_text(f"[meso360]\nvehicle = MM2\ndata_dir = {real_days_across_midnight}\ninstitution = Test U\n")

    def run(*args, **kwargs):
        command = [str(BIN / "meso360ctl"), "--config", str(config), "export", *args]
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.run(command, stdout=subprocess.PIPE, timeout=120, check=False, **kwargs)

    run.data_dir = real_days_across_midnight
    return run


def source_rows(data_dir, start=FROM, end=TO):
    """The (aware GPS time, line) of the source rows from `start` to `end`, timed here with strptime."""
    start, end = (dt.datetime.fromisoformat(text) for text in (start, end))
    rows = []
    for path in sorted(data_dir.glob("????????.txt")):
        for line in path.read_bytes().decode().splitlines()[1:]:
            cells = line.split(",")
            when = dt.datetime.strptime(cells[9] + cells[10], "%d%m%y%H%M%S").replace(tzinfo=dt.UTC)
            if start <= when <= end:
                rows.append((when, line))
    return rows


def expected_column(rows, column):
    index = OBS_COLUMNS.index(column)
    return numpy.array([float(line.split(",")[index]) for _when, line in rows])


def test_csv_across_midnight_is_the_source_lines_byte_for_byte_in_a_file_and_on_stdout(export_env, tmp_path):
    expected = (OBS_HEADER + "\n" + "".join(line + "\n" for _when, line in source_rows(export_env.data_dir))).encode()
    result = export_env("--from", FROM, "--to", TO, "--format", "csv", "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.csv").read_bytes() == expected
    assert expected.count(b",050625,") > 1000 and expected.count(b",060625,") > 1000  # both days are in it
    row_count = expected.count(b"\n") - 1
    assert f"exported {row_count} rows (csv)".encode() in result.stderr
    on_stdout = export_env("--from", FROM, "--to", TO, "--format", "csv", "-o", "-")
    assert on_stdout.returncode == 0 and on_stdout.stdout == expected


def test_json_across_midnight_holds_every_value_of_the_source_rows(export_env):
    result = export_env("--from", FROM, "--to", TO, "--format", "json", "-o", "-")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    rows = source_rows(export_env.data_dir)
    assert (document["vehicle"], document["institution"], document["software"]) == ("MM2", "Test U", "meso360 0.2.0")
    names = [variable["name"] for variable in document["variables"]]
    values = numpy.array([[numpy.nan if v is None else v for v in row] for row in document["rows"]], dtype=float)
    assert values[:, 0].tolist() == [when.timestamp() for when, _line in rows]
    for position, name in enumerate(names[1:], start=1):
        numpy.testing.assert_array_equal(values[:, position], expected_column(rows, name))


def read_back_with_netcdf4(path):
    with netCDF4.Dataset(path) as dataset:
        attributes = dataset.__dict__
        variables = {
            name: (variable[:].filled(numpy.nan), variable.__dict__) for name, variable in dataset.variables.items()
        }
        trajectory = netCDF4.chartostring(dataset["trajectory"][:])
    return attributes, variables, str(trajectory)


def test_netcdf_across_midnight_reads_back_with_netcdf4_values_units_and_times_equal(export_env, tmp_path):
    path = tmp_path / "out.nc"
    result = export_env("--from", FROM, "--to", TO, "--format", "netcdf", "-o", str(path))
    assert result.returncode == 0, result.stderr
    attributes, variables, trajectory = read_back_with_netcdf4(path)
    rows = source_rows(export_env.data_dir)
    assert (attributes["Conventions"], attributes["featureType"]) == ("CF-1.8", "trajectory")
    assert (attributes["institution"], attributes["software"], trajectory) == (
        "Test U",
        f"meso360 {__version__}",
        "MM2",
    )
    assert "MM2" in attributes["platform"] and f"export --from {FROM} --to {TO}" in attributes["history"]
    assert variables["trajectory"][1]["cf_role"] == "trajectory_id"
    assert variables["time"][0].tolist() == [when.timestamp() for when, _line in rows]
    assert variables["time"][1]["calendar"] == "standard" and variables["time"][1]["axis"] == "T"
    for column in OBS_COLUMNS[:9] + OBS_COLUMNS[11:]:
        name = NETCDF_NAMES.get(column, column)
        numpy.testing.assert_array_equal(variables[name][0], expected_column(rows, column))
        assert variables[name][1]["_FillValue"] == -9999.0
    assert numpy.isnan(variables["compass_dir"][0]).any()  # a real nan cell, missing in the file
    for name, units in EXPECTED_UNITS.items():
        assert variables[name][1]["units"] == units
    for name, standard_name in EXPECTED_STANDARD_NAMES.items():
        assert variables[name][1]["standard_name"] == standard_name
    assert variables["sfc_wspd"][1]["coordinates"] == "time lat lon alt"


def test_netcdf_reads_back_with_xarray_as_a_trajectory_with_times_and_coordinates(export_env, tmp_path):
    path = tmp_path / "out.nc"
    assert export_env("--from", FROM, "--to", TO, "--format", "netcdf", "-o", str(path)).returncode == 0
    rows = source_rows(export_env.data_dir)
    with xarray.open_dataset(path) as dataset:
        assert set(dataset.coords) == {"time", "lat", "lon", "alt"}
        times = dataset["time"].values.astype("datetime64[s]").astype(int).tolist()
        assert times == [int(when.timestamp()) for when, _line in rows]
        numpy.testing.assert_array_equal(dataset["pressure"].values, expected_column(rows, "pressure"))
        numpy.testing.assert_array_equal(dataset["sfc_wdir"].values, expected_column(rows, "sfc_wdir"))
        assert dataset["t_fast"].attrs["units"] == "degC" and dataset["alt"].attrs["positive"] == "up"
        assert dataset.attrs["featureType"] == "trajectory"


def compliance_report(path, tmp_path):
    report_path = tmp_path / f"{path.stem}-cf.json"
    checker = [str(BIN / "compliance-checker"), "-t", "cf:1.8", "-f", "json", "-o", str(report_path), str(path)]
    subprocess.run(checker, capture_output=True, timeout=300, check=False)
    return json.loads(report_path.read_text())["cf:1.8"]


def test_netcdf_passes_the_ioos_compliance_checker_cf_1_8_suite_without_errors(export_env, tmp_path):
    path = tmp_path / "mm2.nc"
    assert export_env("--from", FROM, "--to", TO, "--format", "netcdf", "-o", str(path)).returncode == 0
    report = compliance_report(path, tmp_path)
    assert (report["high_count"], report["medium_count"]) == (0, 0), report["all_priorities"]
    assert report["scored_points"] == report["possible_points"] > 300
    # The checker does find errors: the same file with a unit that is not one gets high-priority failures.
    broken = tmp_path / "broken.nc"
    shutil.copy(path, broken)
    with netCDF4.Dataset(broken, "a") as dataset:
        dataset["pressure"].units = "furlongs per fortnight squared"
        dataset["t_fast"].standard_name = "air_temperature_of_the_moon"
    assert compliance_report(broken, tmp_path)["high_count"] > 0


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (("--from", "2025-06-05T23:30:00", "--to", TO), 64, b"has no time zone"),
        (("--from", "soon", "--to", TO), 64, b"is not an ISO 8601 time"),
        (("--from", TO, "--to", FROM), 64, b"is before --from"),
        (("--from", FROM, "--to", TO, "--format", "netcdf", "-o", "-"), 64, b"NetCDF cannot go to standard output"),
        (("--from", "2025-06-06T12:00:00Z", "--to", "2025-06-06T13:00:00Z"), 65, b"no rows from 2025-06-06T12:00"),
        (("--from", "2024-01-01", "--to", "2024-01-31"), 65, b"no rows from 2024-01-01 to 2024-01-31"),
        (("--from", FROM, "--to", TO, "--qc"), 1, b"no QC flags for 2025-06-05 (meso360ctl qc 2025-06-05)"),
    ],
)
def test_bad_times_an_empty_range_and_missing_qc_flags_exit_with_a_message_and_write_nothing(
    export_env, tmp_path, args, exit_code, message
):
    if "-o" not in args:
        args = (*args, "-o", str(tmp_path / "out.csv"))
    result = export_env(*args)
    assert (result.returncode, result.stdout) == (exit_code, b"")
    assert message in result.stderr
    assert not any(path.suffix in (".csv", ".partial") for path in tmp_path.iterdir())


def test_an_existing_output_is_kept_without_force_and_replaced_with_it(export_env, tmp_path):
    path = tmp_path / "out.json"
    path.write_text("precious")
    refused = export_env("--from", FROM, "--to", TO, "--format", "json", "-o", str(path))
    assert refused.returncode == 1 and b"exists: give --force" in refused.stderr
    assert path.read_text() == "precious"
    replaced = export_env("--from", FROM, "--to", TO, "--format", "json", "-o", str(path), "--force")
    assert replaced.returncode == 0 and json.loads(path.read_text())["vehicle"] == "MM2"
    assert sorted(entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".")) == []


def test_a_long_export_shows_progress_on_a_terminal_and_none_in_a_pipe(export_env, tmp_path):
    primary, secondary = os.openpty()
    try:
        on_terminal = export_env(
            "--from", "2025-06-05", "--to", "2025-06-06", "-o", "a.csv", cwd=tmp_path, stderr=secondary
        )
    finally:
        os.close(secondary)
    shown = os.read(primary, 65536)
    os.close(primary)
    assert on_terminal.returncode == 0 and b"Exporting" in shown and b"100%" in shown
    in_pipe = export_env("--from", "2025-06-05", "--to", "2025-06-06", "-o", "b.csv", cwd=tmp_path)
    assert b"Exporting" not in in_pipe.stderr and (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len((tmp_path / "b.csv").read_bytes().splitlines()) == 21883 + 1  # every real row, the header


def qc_days(export_env):
    """Write the QC sidecars of both days with `meso360ctl qc DAY`; return the config path."""
    config = export_env.data_dir.parent / "meso360.conf"
    for day in ("2025-06-05", "2025-06-06"):
        made = subprocess.run(
            [str(BIN / "meso360ctl"), "--config", str(config), "qc", day], capture_output=True, check=False
        )
        assert made.returncode == 0, made.stderr
    return config


def qc_flags_by_time(data_dir, variable):
    """{GPS time text: [worst flag of `variable` ("gps" or a column) of each of its rows]} from the sidecars."""
    from meso360.qc.flags import COLUMNS, worst

    column = COLUMNS.index(variable)
    flags = {}
    for path in sorted(data_dir.glob("*_qc.txt")):
        for line in path.read_text().splitlines()[2:]:
            cells = line.split(",")
            flags.setdefault(cells[1], []).append(worst(cells[column]))
    return flags


def test_json_with_qc_has_each_rows_flags_from_the_sidecars_with_their_meanings(export_env, tmp_path):
    qc_days(export_env)
    path = tmp_path / "out.json"
    result = export_env("--from", FROM, "--to", TO, "--format", "json", "--qc", "-o", str(path))
    assert result.returncode == 0, result.stderr
    document = json.loads(path.read_text())
    names = [variable["name"] for variable in document["variables"]]
    assert names[-11:] == ["motion", "gps_qc"] + [f"{name}_qc" for name in QC_VARIABLES]
    t_fast_qc = document["variables"][names.index("t_fast_qc")]
    assert t_fast_qc["flag_values"] == [0, 1, 2, 9] and t_fast_qc["flag_meanings"] == "good suspect bad not_checked"
    assert t_fast_qc["standard_name"] == "air_temperature status_flag"
    rows = source_rows(export_env.data_dir)
    assert len(document["rows"]) == len(rows)
    expected = qc_flags_by_time(export_env.data_dir, "dewpoint")
    seen = {}
    for row, (when, _line) in zip(document["rows"], rows, strict=True):
        key = f"{when:%Y-%m-%dT%H:%M:%SZ}"
        assert row[names.index("dewpoint_qc")] == expected[key][seen.get(key, 0)]
        seen[key] = seen.get(key, 0) + 1
    assert {row[names.index("motion")] for row in document["rows"]} <= {0, 1}


def test_netcdf_with_qc_has_cf_flag_variables_and_passes_the_compliance_checker(export_env, tmp_path):
    qc_days(export_env)
    path = tmp_path / "mm2-qc.nc"
    result = export_env("--from", "2025-06-05", "--to", "2025-06-06", "--format", "netcdf", "--qc", "-o", str(path))
    assert result.returncode == 0, result.stderr
    with netCDF4.Dataset(path) as dataset:
        flag = dataset["dewpoint_qc"]
        assert list(flag.flag_values) == [0, 1, 2, 9] and flag.flag_meanings == "good suspect bad not_checked"
        assert flag.standard_name == "dew_point_temperature status_flag"
        assert dataset["dewpoint"].ancillary_variables == "dewpoint_qc"
        assert dataset["lat"].ancillary_variables == "gps_qc"
        by_time = qc_flags_by_time(export_env.data_dir, "dewpoint")
        assert int((flag[:] == 2).sum()) == sum(flags.count(2) for flags in by_time.values()) > 0
    report = compliance_report(path, tmp_path)
    assert (report["high_count"], report["medium_count"]) == (0, 0), report["all_priorities"]


def test_qc_with_csv_is_refused_saying_where_the_flags_are(export_env, tmp_path):
    qc_days(export_env)
    result = export_env("--from", FROM, "--to", TO, "--qc", "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 64 and b"data_dir/YYYYMMDD_qc.txt" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_netcdf_without_python3_netcdf4_says_what_to_install(export_env, tmp_path):
    without_netcdf4 = (
        "import sys; sys.modules['netCDF4'] = None  # import netCDF4 now raises ImportError\n"
        "from meso360.ctl.cli import main; main()"
    )
    config = next(tmp_path.glob("*.conf"))
    command = [sys.executable, "-c", without_netcdf4, "--config", str(config), "export"]
    args = ["--from", FROM, "--to", TO, "--format", "netcdf", "-o", str(tmp_path / "out.nc")]
    result = subprocess.run(command + args, capture_output=True, timeout=120, check=False)
    assert result.returncode == 1 and b"sudo apt install python3-netcdf4" in result.stderr
    assert not any(path.suffix in (".nc", ".partial") for path in tmp_path.iterdir())


@pytest.mark.parametrize("format_name", ["csv", "netcdf"])
def test_an_output_that_cannot_be_written_is_a_message_not_a_traceback(export_env, tmp_path, format_name):
    target = tmp_path / "no-such-directory" / "out"
    result = export_env("--from", FROM, "--to", TO, "--format", format_name, "-o", str(target))
    assert result.returncode == 1 and result.stderr.startswith(f"Error: cannot write {target}: ".encode())
    assert b"Traceback" not in result.stderr
