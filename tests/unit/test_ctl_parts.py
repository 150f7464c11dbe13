"""meso360ctl building blocks and the systemd vocabulary: show parsing, unit health, journalctl, file tails."""

import datetime as dt
import os

from meso360 import systemd_units
from meso360.ctl import control, preflight
from meso360.ctl.newest import complete_size, last_lines, newest_observation, today_or_newest
from meso360.datafile import OBS_HEADER
from meso360.systemd_units import unit_health

SHOW_OUTPUT = """Id=meso360-ingest.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
ActiveEnterTimestamp=@1749145948
NRestarts=2
WatchdogUSec=30000000
StatusText=logger OK, last record 123456 at 17:52:28Z, 0 s lag
Result=success

Id=meso360-sim.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
ActiveEnterTimestamp=
NRestarts=0
WatchdogUSec=0
StatusText=
Result=success
"""


def test_systemctl_show_blocks_become_unit_states():
    ingest, sim = systemd_units.parse_show(SHOW_OUTPUT)
    assert ingest.unit == "meso360-ingest.service"
    assert (ingest.active_state, ingest.sub_state, ingest.unit_file_state) == ("active", "running", "enabled")
    assert ingest.since == "2025-06-05T17:52:28Z"  # the one time format: ISO 8601 UTC with Z
    assert ingest.restarts == 2
    assert ingest.watchdog_seconds == 30.0
    assert ingest.status_text.startswith("logger OK")
    assert (sim.load_state, sim.since, sim.watchdog_seconds) == ("not-found", None, None)


def _unit(**changes):
    (unit,) = systemd_units.parse_show(SHOW_OUTPUT.split("\n\n")[0])
    values = unit.as_dict() | changes
    return systemd_units.UnitState(**values)


def test_unit_health_rules():
    assert unit_health(_unit(), True)[0] == "ok"
    assert unit_health(_unit(active_state="failed", result="watchdog"), True) == ("unhealthy", "failed (watchdog)")
    assert unit_health(_unit(active_state="activating", sub_state="auto-restart"), True)[0] == "unhealthy"
    assert unit_health(_unit(active_state="inactive", sub_state="dead"), True)[0] == "unhealthy"
    disabled = _unit(active_state="inactive", sub_state="dead", unit_file_state="disabled")
    assert unit_health(disabled, True)[0] == "idle"
    tunnel = _unit(unit="meso360-tunnel.service", active_state="inactive", sub_state="dead")
    assert unit_health(tunnel, configured=False) == ("idle", "tunnel not configured (skipped)")
    assert unit_health(tunnel, configured=True)[0] == "unhealthy"
    assert unit_health(_unit(load_state="not-found"), True)[0] == "not-installed"
    assert unit_health(None, True) == ("unknown", "")  # systemd did not answer


def test_a_zero_or_foreign_timestamp_is_no_time():
    for value in ("@0", "", "Thu 2025-06-05 17:52:28 UTC"):
        (unit,) = systemd_units.parse_show(f"Id=meso360-web.service\nActiveEnterTimestamp={value}\n")
        assert unit.since is None


def test_journalctl_arguments_for_one_or_all_components():
    assert control.journalctl_argv("ingest", follow=True, since="1 hour ago", lines=50, priority="warning") == [
        "journalctl", "-u", "meso360-ingest.service", "-f", "--since", "1 hour ago", "-n", "50", "-p", "warning",
    ]  # fmt: skip
    assert control.journalctl_argv() == ["journalctl", "-u", "meso360-*", "-u", "meso360.target"]
    assert systemd_units.unit_name("all") == "meso360.target"


def test_last_lines_skips_a_torn_last_line_and_reads_across_blocks(tmp_path):
    path = tmp_path / "20250605.txt"
    rows = [f"row {number:06d} " + "x" * 200 for number in range(1000)]  # ~200 kB: several 64 kB blocks
    path.write_text("\n".join(rows) + "\npartial row without newl")
    assert last_lines(path, 3) == rows[-3:]
    assert last_lines(path, 700) == rows[-700:]
    assert last_lines(path, 5000) == rows
    assert last_lines(path, 0) == []
    assert complete_size(path) == len(("\n".join(rows) + "\n").encode())


def test_newest_observation_reads_the_last_complete_row_of_the_newest_file(tmp_path):
    (tmp_path / "20250604.txt").write_text(OBS_HEADER + "\n" + "1,2,3,4,5,6,7,8,9,040625,120000,1,2,3,4,5,6\n")
    (tmp_path / "20250605.txt").write_text(
        OBS_HEADER + "\n2.5,180,20,50,21.5,10.25,50,900.5,9,050625,120000,1,2,3,4,5,6\n2.5,18"
    )
    now = dt.datetime(2025, 6, 5, 12, 0, 42, tzinfo=dt.UTC)
    observation = newest_observation(tmp_path, now)
    assert observation.gps_time == dt.datetime(2025, 6, 5, 12, 0, 0, tzinfo=dt.UTC)
    assert observation.age_seconds == 42
    assert (observation.t_fast_c, observation.dewpoint_c, observation.pressure_hpa) == (21.5, 10.25, 900.5)
    assert (observation.wind_speed_ms, observation.wind_dir_deg) == (2.5, 180.0)


def test_today_or_newest_falls_back_with_a_note(tmp_path):
    files = [tmp_path / "20250604.txt", tmp_path / "20250605.txt"]
    assert today_or_newest(files, "20250604.txt") == (files[0], None)
    path, note = today_or_newest(files, "20250606.txt")
    assert path == files[1] and "20250606.txt" in note
    assert today_or_newest([], "20250606.txt") == (None, None)


def test_data_dir_writability_follows_owner_group_and_other_mode_bits(tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    if os.geteuid() == 0:
        os.chown(directory, 4242, 4343)  # uid 0 may always write: give the directory an ordinary owner
    info = directory.stat()
    owner, group = info.st_uid, info.st_gid
    stranger, other_group = owner + 1000, group + 1000
    for mode, may_owner, may_member, may_other in (
        (0o755, True, False, False),
        (0o775, True, True, False),
        (0o757, True, False, True),
    ):
        directory.chmod(mode)
        assert preflight._may_write(directory, owner, {other_group}) is may_owner
        assert preflight._may_write(directory, stranger, {group}) is may_member
        assert preflight._may_write(directory, stranger, {other_group}) is may_other
    assert preflight._may_write(directory, 0, set()) is True


def test_check_directory_warns_when_missing_but_creatable(tmp_path):
    result = preflight.check_directory("data_dir", tmp_path / "new" / "data")
    assert result.level == "WARN" and "does not exist yet" in result.message
    (tmp_path / "file").write_text("")
    assert preflight.check_directory("data_dir", tmp_path / "file").level == "FAIL"


def test_check_fails_a_tunnel_key_the_tunnel_user_does_not_own(tmp_path, monkeypatch):
    # The package's meso360-tunnel user does not exist here: an existing system user stands in for it.
    import pwd

    from meso360 import config, users

    key = tmp_path / "tunnel_key"
    key.write_text("key")
    key.chmod(0o600)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[bastion]:22 ssh-ed25519 AAAA\n")
    loaded = config.parse(
        f"[tunnel]\nhost = bastion\nuser = mm1\nremote_port = 2201\nkey_file = {key}\nknown_hosts = {known_hosts}\n"
    )
    stand_in = next(entry for entry in pwd.getpwall() if entry.pw_uid not in (0, key.stat().st_uid))
    monkeypatch.setattr(users, "TUNNEL_USER", stand_in.pw_name)
    key_result = preflight.check_tunnel(loaded)[0]
    assert (key_result.level, key_result.fix) == ("FAIL", f"chown {stand_in.pw_name} {key}")
    assert f"{stand_in.pw_name}, the tunnel daemon's user, cannot read it" in key_result.message
    monkeypatch.setattr(users, "TUNNEL_USER", pwd.getpwuid(key.stat().st_uid).pw_name)
    assert preflight.check_tunnel(loaded)[0].level == "PASS"
