"""meso360ctl fleet status: the verdict per vehicle and the table, from a report (the data come from
tests/integration/test_base_fleet_status.py, which runs real syncs and a real Prometheus)."""

from meso360.ctl.fleet_status import healthy, render


def _row(**changes):
    row = {
        "vehicle": "MM1",
        "last_sync_age_s": 42.0,
        "last_attempt_ok": True,
        "last_error": None,
        "files_behind": 0,
        "up": True,
        "obs_age_s": 1.5,
    }
    return row | changes


def test_a_vehicle_is_well_only_when_synced_within_ten_minutes_and_up():
    assert healthy(_row())
    assert not healthy(_row(last_sync_age_s=601.0))
    assert not healthy(_row(last_attempt_ok=False, last_error="vehicle unreachable", files_behind=None))
    assert not healthy(_row(up=False))
    assert not healthy(_row(up=None))
    assert not healthy(_row(last_sync_age_s=None, last_attempt_ok=None, files_behind=None))


def test_the_table_has_a_line_per_vehicle_and_says_why_a_sync_fails():
    report = {
        "prometheus": {"url": "http://127.0.0.1:9190", "reachable": True, "error": None},
        "vehicles": [
            _row(),
            _row(vehicle="MM2", last_sync_age_s=7200.0, last_attempt_ok=False, last_error="x", files_behind=None),
            _row(vehicle="MM3", last_sync_age_s=None, last_attempt_ok=None, files_behind=None, up=None, obs_age_s=None),
        ],
    }
    lines = render(report).splitlines()
    assert lines[0].split() == ["VEHICLE", "LAST", "SYNC", "FILES", "BEHIND", "PROMETHEUS", "LAST", "OBSERVATION"]
    assert lines[1].split() == ["MM1", "42", "s", "ago", "0", "up", "1", "s", "ago"]
    assert lines[2].split() == ["MM2", "2", "h", "0", "min", "ago", "(failing)", "unknown", "up", "1", "s", "ago"]
    assert lines[3].split() == ["MM3", "never", "-", "no", "target", "-"]
    assert lines[4] == "MM2: last sync failed: x"
    assert lines[5] == "Prometheus http://127.0.0.1:9190: answering"
