"""Unit tests of the alarms: each condition and its threshold, the tracker's start/end logging, the [alarms] config
keys, the logger battery state file, the inputs read from the data files, and the web daemon's monitor."""

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import time

import pytest

from meso360 import alarm_inputs, alarms, config
from meso360.datafile import OBS_COLUMNS, OBS_HEADER
from meso360.errors import ConfigError
from meso360.logger_answers import Record
from meso360.logger_state import LoggerStateWriter, battery_volts, read_logger_state
from meso360.logs import NOTICE
from meso360.web.alarm_monitor import AlarmMonitor, RecentRows
from meso360.web.window import LiveWindow

NOW = 1_790_000_000.0
LIMITS = config.parse("").alarms


def iso(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def healthy(**changes):
    """Inputs of a healthy vehicle at NOW, with `changes`."""
    inputs = alarms.Inputs(
        now=NOW,
        data_dir="/data",
        last_row_at=NOW - 1,
        rows_without_fix=0,
        completeness_pct=100.0,
        units={c: ("active", "running") for c in ("ingest", "web", "tunnel", "sim")},
        tunnel_configured=False,
        tunnel_state=None,
        tunnel_probe_interval_s=60.0,
        boot_time=NOW - 86400,
        disk_free_pct=60.0,
        battery_v=12.9,
        battery_time="2026-09-21T12:00:00",
    )
    return dataclasses.replace(inputs, **changes)


def names(inputs, limits=LIMITS):
    return [alarm.name for alarm in alarms.evaluate(inputs, limits)]


def test_a_healthy_vehicle_has_no_alarm():
    assert names(healthy()) == []


def test_no_new_row_for_more_than_stale_s_is_the_stale_alarm_since_the_threshold_passed():
    assert names(healthy(last_row_at=NOW - 30)) == []
    (alarm,) = alarms.evaluate(healthy(last_row_at=NOW - 31), LIMITS)
    assert alarm.name == "stale"
    assert alarm.since == NOW - 1
    assert "no new row since" in alarm.message and "more than 30 s" in alarm.message
    assert "rack power" in alarm.fix


def test_no_data_file_at_all_is_the_stale_alarm():
    (alarm,) = alarms.evaluate(healthy(last_row_at=None), LIMITS)
    assert (alarm.name, alarm.title) == ("stale", "No data")


def test_gps_lost_needs_more_than_gps_lost_s_rows_without_fix():
    assert names(healthy(rows_without_fix=60)) == []
    (alarm,) = alarms.evaluate(healthy(rows_without_fix=61), LIMITS)
    assert alarm.name == "gps_lost" and "61 rows have no GPS fix" in alarm.message


@pytest.mark.parametrize(
    ("state", "alarm_title"),
    [(("failed", "failed"), "ingest failed"), (("activating", "auto-restart"), "ingest restarting")],
)
def test_a_failed_or_restarting_unit_is_its_own_alarm(state, alarm_title):
    units = healthy().units | {"ingest": state}
    (alarm,) = alarms.evaluate(healthy(units=units), LIMITS)
    assert (alarm.name, alarm.title) == ("unit_ingest", alarm_title)
    assert "meso360ctl logs ingest" in alarm.fix


def test_stopped_inactive_and_unknown_units_are_no_alarm():
    units = {"ingest": ("inactive", "dead"), "tunnel": ("activating", "start")}
    assert names(healthy(units=units)) == []


def test_a_tunnel_not_configured_never_alarms():
    assert names(healthy(tunnel_state={"state": "down", "since": iso(NOW - 9999)})) == []


def test_a_configured_tunnel_alarms_once_unverified_for_tunnel_unverified_s():
    recent = {"state": "up", "since": iso(NOW - 9999), "verified_at": iso(NOW - 300), "detail": "verified"}
    assert names(healthy(tunnel_configured=True, tunnel_state=recent)) == []
    old = recent | {"verified_at": iso(NOW - 301), "state": "down", "detail": "connection refused"}
    (alarm,) = alarms.evaluate(healthy(tunnel_configured=True, tunnel_state=old), LIMITS)
    assert alarm.name == "tunnel_unverified" and alarm.since == NOW - 1
    assert "last verified at" in alarm.message and "down: connection refused" in alarm.message


def test_a_tunnel_never_verified_counts_from_its_state_since_else_from_boot():
    never = {"state": "down", "since": iso(NOW - 200), "verified_at": None}
    assert names(healthy(tunnel_configured=True, tunnel_state=never)) == []
    assert names(healthy(tunnel_configured=True, tunnel_state=never | {"since": iso(NOW - 400)})) == [
        "tunnel_unverified"
    ]
    assert names(healthy(tunnel_configured=True, tunnel_state=None, boot_time=NOW - 100)) == []
    (alarm,) = alarms.evaluate(healthy(tunnel_configured=True, tunnel_state=None), LIMITS)
    assert "tunnel.json missing" in alarm.message


def test_disk_completeness_and_battery_alarm_under_their_thresholds():
    assert names(healthy(disk_free_pct=10.0, completeness_pct=95.0, battery_v=11.8)) == []
    low = healthy(disk_free_pct=9.9, completeness_pct=94.9, battery_v=11.79)
    assert names(low) == ["disk_low", "completeness_low", "battery_low"]
    battery = alarms.evaluate(low, LIMITS)[-1]
    assert battery.message == "logger battery 11.79 V at 2026-09-21T12:00:00 (under 11.8 V)"


def test_unknown_values_raise_no_alarm():
    assert names(healthy(disk_free_pct=None, completeness_pct=None, battery_v=None)) == []


def test_thresholds_come_from_the_config_and_zero_disables_the_percent_and_volt_alarms():
    text = "[alarms]\nstale_s = 5\ngps_lost_s = 10\nbattery_min_v = 13.5\n"
    text += "disk_free_min_pct = 0\ncompleteness_min_pct = 0\n"
    limits = config.parse(text).alarms
    inputs = healthy(last_row_at=NOW - 6, rows_without_fix=11, disk_free_pct=0.0, completeness_pct=0.0)
    assert names(inputs, limits) == ["stale", "gps_lost", "battery_low"]


def test_completeness_of_the_last_ten_minutes_counts_from_the_first_row_in_them():
    full = [NOW - 599 + i for i in range(600)]
    assert alarms.recent_completeness(full) == 100.0
    holes = [t for t in full if not 100 <= t - full[0] < 130]  # 30 s missing
    assert alarms.recent_completeness(holes) == pytest.approx(95.0)
    assert alarms.recent_completeness([NOW - 3000 + i for i in range(2000)] + [NOW - 99, NOW]) == pytest.approx(2.0)
    assert alarms.recent_completeness([NOW - 59 + i for i in range(60)]) == 100.0  # a start-up is not a hole
    assert alarms.recent_completeness([NOW - 58, NOW]) is None  # under a minute: not judged
    assert alarms.recent_completeness([None, None]) is None
    assert alarms.recent_completeness(full + [None] * 50) == 100.0  # rows without fix have no second to count


def test_the_run_of_rows_without_fix_is_the_newest_ones_only():
    assert alarms.trailing_without_fix([NOW, None, NOW + 2, None, None]) == 2
    assert alarms.trailing_without_fix([None, None]) == 2
    assert alarms.trailing_without_fix([]) == 0


def test_the_tracker_logs_each_start_once_at_warning_and_each_end_once_at_notice(caplog):
    caplog.set_level(logging.DEBUG)
    tracker = alarms.AlarmTracker(logging.getLogger("test.alarms"))
    stale = alarms.evaluate(healthy(last_row_at=NOW - 40), LIMITS)
    assert tracker.update(stale, NOW) == (["stale"], [])
    assert tracker.update(stale, NOW + 1) == ([], [])
    assert tracker.update(alarms.evaluate(healthy(last_row_at=NOW - 42, battery_v=11.0), LIMITS), NOW + 2) == (
        ["battery_low"],
        [],
    )
    (first, battery) = tracker.active()
    assert first["name"] == "stale" and first["since"] == iso(NOW - 10)  # since the threshold passed, kept
    assert battery["since"] == iso(NOW + 2)  # no since in the inputs: when it was first seen
    assert tracker.update([], NOW + 5) == ([], ["stale", "battery_low"])
    assert tracker.update([], NOW + 6) == ([], [])
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "test.alarms"]
    assert [level for level, _ in records] == [logging.WARNING, logging.WARNING, NOTICE, NOTICE]
    assert records[0][1].startswith("alarm stale started: No new data: no new row since")
    assert "Fix: Check the datalogger" in records[0][1]
    assert records[2][1] == "alarm stale ended after 15 s"


def test_an_alarm_that_comes_back_starts_again_with_a_new_since():
    tracker = alarms.AlarmTracker(logging.getLogger("test.alarms"))
    low = alarms.evaluate(healthy(battery_v=11.0), LIMITS)
    tracker.update(low, NOW)
    tracker.update([], NOW + 1)
    assert tracker.update(low, NOW + 2) == (["battery_low"], [])
    assert tracker.active()[0]["since"] == iso(NOW + 2)


# --- config ---


def problems_of(text):
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.conf")
    return caught.value.problems


def test_the_alarm_defaults():
    assert dataclasses.asdict(LIMITS) == {
        "stale_s": 30.0,
        "gps_lost_s": 60.0,
        "tunnel_unverified_s": 300.0,
        "disk_free_min_pct": 10.0,
        "completeness_min_pct": 95.0,
        "battery_min_v": 11.8,
    }


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("stale_s", "2", "a number of seconds between 5.0 and 3600.0"),
        ("gps_lost_s", "soon", "a number of seconds between 5.0 and 3600.0"),
        ("tunnel_unverified_s", "30", "a number of seconds between 60.0 and 86400.0"),
        ("disk_free_min_pct", "95", "a number between 0 and 90 (percent; 0: no alarm)"),
        ("completeness_min_pct", "101", "a number between 0 and 100 (percent; 0: no alarm)"),
        ("battery_min_v", "12 V", "a number between 0 and 16 (volts; 0: no alarm)"),
    ],
)
def test_a_bad_alarm_threshold_names_its_key_and_what_is_allowed(key, value, allowed):
    (problem,) = problems_of(f"[alarms]\n{key} = {value}\n")
    assert problem == f"test.conf: alarms.{key} = {value!r}: must be {allowed}"


def test_every_bad_alarm_key_is_listed_at_once_with_unknown_ones():
    problems = problems_of("[alarms]\nstale_s = 1\nbattery_min_v = x\nsiren = loud\n")
    assert len(problems) == 3
    assert any(p.startswith("test.conf: alarms.siren: unknown key (allowed: stale_s,") for p in problems)


def test_the_tunnel_alarm_waits_at_least_two_probes_and_never_makes_a_config_invalid():
    # A probe_interval of 600 s with the default 300 s threshold is a valid config (the tunnel daemon refused to
    # start with it when this was a config error); the alarm then waits two probes, 1200 s.
    parsed = config.parse("[tunnel]\nprobe_interval = 600\n")
    assert parsed.alarms.tunnel_unverified_s == 300 and parsed.tunnel.probe_interval == 600
    verified = {"state": "up", "since": iso(NOW - 9999), "detail": "verified"}
    slow_probes = {"tunnel_configured": True, "tunnel_probe_interval_s": 600.0}
    assert names(healthy(tunnel_state=verified | {"verified_at": iso(NOW - 1200)}, **slow_probes)) == []
    (alarm,) = alarms.evaluate(healthy(tunnel_state=verified | {"verified_at": iso(NOW - 1201)}, **slow_probes), LIMITS)
    assert alarm.name == "tunnel_unverified" and alarm.since == NOW - 1 and "more than 20 min" in alarm.message


def test_the_example_config_documents_the_alarm_keys():
    example = config.example_text()
    for key in dataclasses.asdict(LIMITS):
        assert f"\n#{key} = " in example.split("[alarms]")[1]


# --- the logger's battery voltage ---


def obs_values(battery="12.87"):
    values = ["1"] * 19
    values[17] = battery
    return values


def test_battv_is_raw_field_17_and_missing_or_bad_values_are_none():
    assert battery_volts(obs_values()) == 12.87
    assert battery_volts(obs_values("NAN")) is None
    assert battery_volts(obs_values("inf")) is None
    assert battery_volts(obs_values()[:17]) is None


def test_ingest_writes_the_newest_battery_voltage_at_most_every_five_seconds(tmp_path):
    clock = [100.0]
    writer = LoggerStateWriter(tmp_path, clock=lambda: clock[0])
    writer.note(Record(1, "2026-09-21T12:00:00", obs_values("12.80")))
    assert read_logger_state(tmp_path)["battery_v"] == 12.8
    clock[0] += 4.9
    writer.note(Record(2, "2026-09-21T12:00:01", obs_values("11.20")))
    assert read_logger_state(tmp_path)["battery_v"] == 12.8
    clock[0] += 0.2
    writer.note(Record(3, "2026-09-21T12:00:02", obs_values("11.30")))
    state = read_logger_state(tmp_path)
    assert (state["battery_v"], state["record"], state["record_time"]) == (11.3, 3, "2026-09-21T12:00:02")
    assert not list(tmp_path.glob("*.tmp"))


def test_a_malformed_logger_state_reads_as_none_or_without_a_voltage(tmp_path):
    path = tmp_path / "logger.json"
    assert read_logger_state(tmp_path) is None
    path.write_text("{not json")
    assert read_logger_state(tmp_path) is None
    path.write_text(json.dumps({"battery_v": "12.9"}))
    assert read_logger_state(tmp_path)["battery_v"] is None
    path.write_text("[1]")
    assert read_logger_state(tmp_path) is None


# --- inputs read from the files ---


def row(epoch):
    values = dict.fromkeys(OBS_COLUMNS, "1")
    if epoch is None:
        values.update(gps_date="nan", gps_time="nan")
    else:
        when = dt.datetime.fromtimestamp(epoch, dt.UTC)
        values.update(gps_date=when.strftime("%d%m%y"), gps_time=when.strftime("%H%M%S"))
    return ",".join(values[column] for column in OBS_COLUMNS)


def test_the_rows_and_the_append_time_come_from_the_newest_data_files(tmp_path):
    assert alarm_inputs.last_row_at(tmp_path) is None
    assert alarm_inputs.file_row_times(tmp_path) == []
    older, newer = tmp_path / "20260920.txt", tmp_path / "20260921.txt"
    older.write_text(OBS_HEADER + "\n" + row(NOW - 5000) + "\n")
    times = [NOW - 3, NOW - 2, None, None]
    newer.write_text(OBS_HEADER + "\n" + "\n".join(row(t) for t in times) + "\n" + row(NOW)[:20])  # a torn line
    os.utime(older, (NOW - 10, NOW - 10))
    os.utime(newer, (NOW - 20, NOW - 20))
    assert alarm_inputs.file_row_times(tmp_path) == times
    assert alarm_inputs.last_row_at(tmp_path) == NOW - 10  # yesterday's file got the last (backfilled) row


def test_disk_free_is_a_percent_of_an_existing_parent():
    free = alarm_inputs.disk_free_pct("/nonexistent/meso360/data")
    assert free is not None and 0.0 <= free <= 100.0
    assert 0 < alarm_inputs.boot_time() < time.time()


# --- the web daemon's monitor ---


def add_rows(window, times):
    window.append([(NOW if t is None else t, t is not None, [1.0] * 10) for t in times])


def test_recent_rows_follow_the_window_one_append_at_a_time():
    window = LiveWindow("v", 3600, first_id=0)
    add_rows(window, [NOW - 2, NOW - 1])
    rows = RecentRows(window, size=5)
    assert rows.update() == [NOW - 2, NOW - 1]
    add_rows(window, [None, None])
    assert rows.update() == [NOW - 2, NOW - 1, None, None]
    add_rows(window, [NOW + 3, NOW + 4])
    assert rows.update() == [NOW - 1, None, None, NOW + 3, NOW + 4]


class UnitsNow:
    """systemd as the web daemon's Systemd object reports it (no systemd runs on this machine: its answer)."""

    def __init__(self):
        self.entries = [
            {"component": c, "active": "active", "sub": "running"} for c in ("ingest", "web", "tunnel", "sim")
        ]

    def units(self):
        return self.entries


def test_the_monitor_makes_one_alarm_event_per_change_and_wakes_the_live_streams(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    conf = config.parse(f"[meso360]\ndata_dir = {data}\nstate_dir = {tmp_path}\n[alarms]\nbattery_min_v = 12.5\n")
    window = LiveWindow("v", 3600, first_id=0)
    systemd = UnitsNow()
    clock = [NOW]
    day = data / "20260921.txt"
    day.write_text(OBS_HEADER + "\n" + row(NOW) + "\n")
    os.utime(day, (NOW, NOW))
    add_rows(window, [NOW - 1, NOW])
    monitor = AlarmMonitor(conf, window, systemd, clock=lambda: clock[0])
    monitor.evaluate()
    assert monitor.active == [] and monitor.event[0] == 0

    woken, waiting = threading.Event(), threading.Event()

    def wait_as_the_live_stream():
        with window.condition:  # held until wait() frees it: the monitor's wake comes after
            waiting.set()
            if window.condition.wait(10):
                woken.set()

    waiter = threading.Thread(target=wait_as_the_live_stream)
    waiter.start()
    assert waiting.wait(5)
    systemd.entries[0] = {"component": "ingest", "active": "failed", "sub": "failed"}
    LoggerStateWriter(tmp_path).note(Record(9, "2026-09-21T12:00:00", obs_values("12.10")))
    monitor.evaluate()
    waiter.join(5)
    assert woken.is_set(), "an alarm start wakes the live stream waiting for rows"
    version, frame = monitor.event
    assert version == 1 and frame.startswith(b"event: alarm\ndata: ") and b"\nid:" not in frame
    event = json.loads(frame.decode().split("data: ", 1)[1])
    assert event["started"] == ["unit_ingest", "battery_low"] and event["ended"] == []
    assert [a["name"] for a in event["active"]] == ["unit_ingest", "battery_low"]
    assert monitor.logger["battery_v"] == 12.1

    monitor.evaluate()
    assert monitor.event[0] == 1, "no event while nothing starts or ends"
    clock[0] += 31
    monitor.evaluate()
    assert monitor.event[0] == 2 and monitor.active_names() == {"unit_ingest", "battery_low", "stale"}
    document = monitor.document()
    assert document["thresholds"]["battery_min_v"] == 12.5
    assert document["names"] == list(alarms.ALARM_NAMES)
    assert document["evaluated_at"] == iso(NOW + 31)


class BrokenUnits:
    def units(self):
        raise RuntimeError("D-Bus went away")


def test_a_failing_evaluation_is_logged_once_and_keeps_the_last_alarms(tmp_path, caplog):
    conf = config.parse(f"[meso360]\ndata_dir = {tmp_path}\nstate_dir = {tmp_path}\n")
    monitor = AlarmMonitor(conf, LiveWindow("v", 3600, first_id=0), BrokenUnits())
    caplog.set_level(logging.ERROR, logger="meso360.web.alarms")
    stop = threading.Event()
    stop.set()  # start() evaluates once in the caller, and the thread ends at once
    monitor.start(stop)
    monitor._evaluate_logged()
    assert [r.getMessage() for r in caplog.records] == ["alarm evaluation failed; retrying every 1 s"]
    assert monitor.active == [] and monitor.event[0] == 0
