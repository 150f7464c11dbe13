"""meso360-web reading files written by the REAL ingest daemon from the real simulator, compared with /records."""

import datetime as dt
import math

import requests
from ingest_helpers import IngestProcess, assert_obs_complete, expected_obs_rows, newest_on_disk, wait_until
from ingest_helpers import write_config as write_ingest_config
from web_helpers import read_events, start_web

from meso360.datafile import OBS_COLUMNS

# API key -> data file column (README "Web API": the values are t_fast, dewpoint, ... der_rh).
API_COLUMNS = {
    "t": "t_fast",
    "td": "dewpoint",
    "wspd": "sfc_wspd",
    "wdir": "sfc_wdir",
    "pressure": "pressure",
    "compass_dir": "compass_dir",
    "lat": "lat",
    "lon": "lon",
    "alt": "gps_alt",
    "rh": "der_rh",
}


def expected_point(row):
    """Given a file row the simulator's records stand for, return (fix, GPS epoch seconds or None, values)."""
    cells = dict(zip(OBS_COLUMNS, row.split(","), strict=True))
    values = {}
    for key, column in API_COLUMNS.items():
        value = float(cells[column])
        values[key] = value if math.isfinite(value) else None
    if cells["gps_date"] == "nan":
        return False, None, values
    when = dt.datetime.strptime(cells["gps_date"] + cells["gps_time"], "%d%m%y%H%M%S").replace(tzinfo=dt.UTC)
    return True, int(when.timestamp()), values


def as_seen(point):
    return point["fix"], point["ts"] if point["fix"] else None, {key: point[key] for key in API_COLUMNS}


def newest_written(sim, tmp_path):
    return newest_on_disk(sim, tmp_path / "data")  # the rows, not the state file (saved in batches)


def test_rows_of_the_real_ingest_reach_history_and_stream_with_the_simulators_values(simulator, tmp_path):
    sim = simulator(rate=20)
    ingest = IngestProcess(write_ingest_config(tmp_path, sim.url, support_table=""), tmp_path / "ingest.log")
    web = None
    try:
        wait_until(lambda: newest_written(sim, tmp_path) >= 10, 30, "ingest writing")
        web = start_web(tmp_path, "[web]\nhistory_hours = 2\n")  # same data_dir: tmp_path/data
        with requests.get(web.url + "/api/stream", stream=True, timeout=(5, 60)) as stream:
            first_live = read_events(stream, 1)[0]
            sim.fault("no_fix", count=5)
            sim.wait_for_record(sim.state()["newest_record"] + 30)
            sim.fault("outage", seconds=3)  # 60 records produced while the logger is unreachable
            outage_end = sim.wait_for_record(sim.state()["newest_record"] + 80, timeout=40)
            wait_until(lambda: newest_written(sim, tmp_path) >= outage_end, 60, "the outage backfilled")
            assert ingest.stop() == 0
            first, last = assert_obs_complete(sim, tmp_path / "data", outage_end)
            raws = [raw for raw in sim.records("Obs") if first <= raw["no"] <= last]
            expected = [expected_point(row) for row in expected_obs_rows(raws)]
            window_last_id = wait_until(
                lambda: (lambda live: live["points"] == len(expected) and live["last_id"])(
                    requests.get(web.url + "/api/status", timeout=10).json()["live"]
                ),
                20,
                "every written row in the web's window",
            )
            events = [first_live] + read_events(stream, window_last_id - first_live["id"])
        history = requests.get(web.url + "/api/history", timeout=10).json()
    finally:
        ingest.stop()
        if web is not None:
            web.stop()
    # The stream: every row from the first live one on, in file order, with contiguous ids and the simulator's values.
    assert [event["id"] for event in events] == list(range(first_live["id"], window_last_id + 1))
    assert [as_seen(event) for event in events] == expected[len(expected) - len(events) :]
    # The outage burst and the rows without fix came through the stream.
    assert sum(not fix for fix, _ts, _values in expected[len(expected) - len(events) :]) == 5
    assert [event["fix"] for event in events].count(False) == 5
    assert len(events) > 30 + 80
    assert "logger unreachable" in ingest.log()  # the outage really happened
    # The history: the window's columns hold the same rows (its body may lag the newest row by up to 30).
    points = history["points"]
    seen = [as_seen(dict(zip(points, cells, strict=True))) for cells in zip(*points.values(), strict=True)]
    assert history["last_id"] == points["id"][-1] >= window_last_id - 30
    assert seen == expected[: len(seen)]
    assert points["fix"].count(False) == 5
