"""The fleet page's snapshot: Prometheus samples per vehicle, the state order, last known positions, synced days,
and one encoding per change (meso360/base/web/snapshot.py, poller.py, broadcast.sse_frame)."""

import json

from meso360.base import fleet_config
from meso360.base.web import snapshot
from meso360.base.web.broadcast import sse_frame

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhn/zqwnZf83kDURJdpoNPuMn4HGPoksw91b3UEyOxt"
NOW = 1_800_000_000.0


def fleet(tmp_path, names=("MM1", "MM2", "MM3")):
    text = f"[base]\ndata_root = {tmp_path}\n[web]\nlisten = 127.0.0.1:8090\n"
    for number, name in enumerate(names):
        text += f"[vehicle {name}]\nssh_port = {2201 + number}\nweb_port = {8201 + number}\nhost_key = {KEY}\n"
    return fleet_config.parse(text)


def sample(metric, vehicle, value, **labels):
    return {"metric": {"__name__": metric, "job": "vehicles", "vehicle": vehicle, **labels}, "value": [NOW, str(value)]}


def samples():
    return [
        sample("up", "MM1", 1),
        sample("meso360_obs_timestamp_seconds", "MM1", NOW - 3),
        sample("meso360_obs_temperature_celsius", "MM1", 21.5),
        sample("meso360_obs_dewpoint_celsius", "MM1", "NaN"),
        sample("meso360_obs_latitude_degrees", "MM1", 35.2),
        sample("meso360_obs_longitude_degrees", "MM1", -97.4),
        sample("meso360_tunnel_up", "MM1", 1),
        sample("meso360_alarm_active", "MM1", 0, name="no_data"),
        sample("up", "MM2", 1),
        sample("meso360_obs_timestamp_seconds", "MM2", NOW - 2),
        sample("meso360_alarm_active", "MM2", 1, name="gps_fix_lost"),
        sample("meso360_alarm_active", "MM2", 1, name="disk_low"),
        sample("up", "MM3", 0),
        {"metric": {"__name__": "up", "job": "vehicles"}, "value": [NOW, "1"]},  # no vehicle label: not ours
    ]


def test_samples_become_each_vehicles_observation_alarms_and_tunnel():
    series = snapshot.series_by_vehicle(samples())
    assert series["MM1"]["obs"] == {"ts": NOW - 3, "t": 21.5, "td": None, "lat": 35.2, "lon": -97.4}
    assert series["MM1"]["alarms"] == [] and series["MM1"]["tunnel"] == {"up": True}
    assert series["MM2"]["alarms"] == ["disk_low", "gps_fix_lost"]
    assert series["MM3"]["up"] == 0 and set(series) == {"MM1", "MM2", "MM3"}


def test_the_state_is_down_then_alarm_then_stale_then_ok():
    series = snapshot.series_by_vehicle(samples())
    assert snapshot.state_of(series["MM1"], True, NOW)[0] == "ok"
    assert snapshot.state_of(series["MM1"], True, NOW + 61) == (
        "stale",
        "no new observation for more than 60 s",
    )
    assert snapshot.state_of(series["MM2"], True, NOW) == ("alarm", "alarm: disk_low, gps_fix_lost")
    assert snapshot.state_of(series["MM3"], True, NOW) == ("down", "unreachable through its tunnel")
    assert snapshot.state_of(None, True, NOW)[0] == "down"
    assert snapshot.state_of(series["MM1"], False, NOW) == ("down", "the base Prometheus does not answer")
    no_obs = dict(series["MM2"], alarms=[], obs={})
    assert snapshot.state_of(no_obs, True, NOW) == ("stale", "no observation yet")


def test_a_vehicle_gone_down_stays_on_the_map_where_it_was_last_seen(tmp_path):
    last_known = {"lat": {"MM3": 36.0}, "lon": {"MM3": -98.0}, "ts": {"MM3": NOW - 900}}
    document = snapshot.build(fleet(tmp_path), samples(), None, {}, {}, NOW, last_known)
    by_name = {vehicle["name"]: vehicle for vehicle in document["vehicles"]}
    assert by_name["MM3"]["position"] == {"lat": 36.0, "lon": -98.0, "ts": NOW - 900, "current": False}
    assert by_name["MM1"]["position"] == {"lat": 35.2, "lon": -97.4, "ts": NOW - 3, "current": True}
    assert by_name["MM2"]["position"] is None
    assert [v["state"] for v in document["vehicles"]] == ["ok", "alarm", "down"]
    assert by_name["MM2"]["web_port"] == 8202 and document["page_port"] == 8090


def test_without_prometheus_every_vehicle_is_down_and_the_sync_state_still_shows(tmp_path):
    sync = {"last_success": NOW - 30, "last_attempt": NOW - 30, "ok": True, "files_behind": 0, "error": None}
    document = snapshot.build(fleet(tmp_path), [], "Connection refused", {"MM1": sync}, {"MM1": ["20261130"]}, NOW)
    assert document["prometheus"]["reachable"] is False and document["prometheus"]["error"] == "Connection refused"
    mm1 = document["vehicles"][0]
    assert mm1["state"] == "down" and mm1["sync"] == sync and mm1["days"] == ["20261130"]
    assert document["vehicles"][1]["sync"]["last_success"] is None


def test_synced_days_are_the_day_files_newest_first(tmp_path):
    for name in ("20261128.txt", "20261130.txt", "20261129.txt", "notes.txt", "20261130_support.txt", "2026113.txt"):
        (tmp_path / name).write_text("x")
    assert snapshot.synced_days(tmp_path) == ["20261130", "20261129", "20261128"]
    assert snapshot.synced_days(tmp_path / "missing") == []


def test_the_snapshot_holds_no_clock_reading_so_an_unchanged_fleet_encodes_the_same(tmp_path):
    first = snapshot.build(fleet(tmp_path), samples(), None, {}, {}, NOW)
    later = snapshot.build(fleet(tmp_path), samples(), None, {}, {}, NOW + 30)
    assert json.dumps(first, sort_keys=True) == json.dumps(later, sort_keys=True)


def test_an_sse_frame_carries_its_id_and_the_json_on_one_data_line():
    assert sse_frame(7, b'{"a":1}') == b'id: 7\ndata: {"a":1}\n\n'


def test_the_unit_runs_the_console_script_with_room_for_every_viewer():
    import tomllib
    from pathlib import Path

    from meso360.base.web.daemon import CONNECTION_LIMIT

    repo = Path(__file__).resolve().parents[2]
    unit = (repo / "units/base/meso360-base-web.service").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in unit if "=" in line and not line.startswith("#"))
    scripts = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["meso360-base-web"] == "meso360.base.web.daemon:main"
    assert settings["ExecStart"] == "/usr/bin/meso360-base-web"
    assert settings["Type"] == "notify" and int(settings["WatchdogSec"]) >= 2 * 5
    assert int(settings["LimitNOFILE"]) >= CONNECTION_LIMIT + 100
    assert settings["User"] == "meso360-base-web" and settings["Group"] == "meso360-base"
