"""fleet.conf of meso360-base: defaults, every problem reported at once, and meso360-base-apply's plan."""

from pathlib import Path

import pytest

from meso360.base import apply, fleet_config
from meso360.errors import ConfigError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvTvz3yEFIXcV0tkrI5wJ5MJq1iZs3sL0z1YfGcCqlJ"
RSA_BLOB_UNDER_ED25519 = "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"


def _vehicle(name, ssh_port, web_port, key=KEY, extra=""):
    return f"[vehicle {name}]\nssh_port = {ssh_port}\nweb_port = {web_port}\nhost_key = {key} root@mm1\n{extra}"


def test_a_fleet_of_two_with_the_base_defaults():
    fleet = fleet_config.parse(_vehicle("MM1", 2201, 8201) + "\n" + _vehicle("MM2", 2202, 8202, extra="user = crew\n"))
    assert fleet.base.data_root == Path("/var/lib/meso360-base")
    assert fleet.base.key_file == Path("/etc/meso360-base/id_ed25519")
    assert fleet.base.bastion_host == "127.0.0.1" and fleet.base.sync_interval == 60.0
    assert fleet.base.metrics_dir == Path("/var/lib/meso360-base/metrics")
    mm1, mm2 = fleet.vehicles
    assert (mm1.name, mm1.ssh_port, mm1.web_port, mm1.user) == ("MM1", 2201, 8201, "meso360-fleet")
    assert mm1.host_key == KEY, "the comment of the .pub line is dropped"
    assert mm2.user == "crew"
    assert fleet.vehicle_dir("MM2") == Path("/var/lib/meso360-base/MM2")


def test_every_problem_is_listed_at_once_with_its_section_and_key():
    text = (
        "[base]\ndata_root = relative\nsync_interval = 5\ncolour = blue\n\n"
        + _vehicle("MM1", 2201, 8201)
        + "\n"
        + _vehicle("MM2", 2201, 99999, key=RSA_BLOB_UNDER_ED25519)
        + "\n[vehicle bad name!]\nssh_port = 1\n\n[vehicle metrics]\nssh_port = 3\nweb_port = 4\nhost_key = "
        + KEY
        + "\n\n[extra]\n"
    )
    with pytest.raises(ConfigError) as raised:
        fleet_config.parse(text, "/etc/meso360-base/fleet.conf")
    problems = "\n".join(raised.value.problems)
    expected = [
        "/etc/meso360-base/fleet.conf: [base] data_root = 'relative': must be an absolute path",
        "[base] sync_interval = '5': must be a number of seconds between 30.0 and 3600.0",
        "[base] colour: unknown key",
        "[vehicle MM2] web_port = '99999': must be a whole number between 1 and 65535\n",
        "[vehicle MM2] host_key = 'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 root@mm1': must be a host public key",
        "[vehicle bad name!]: the vehicle name must be letters, digits, - or _",
        "[vehicle bad name!] web_port: required",
        "[vehicle bad name!] host_key: required",
        "[vehicle metrics]: the vehicle name must be letters, digits, - or _ (at most 32), e.g. MM1, and not metrics",
        "[extra]: unknown section (allowed: [base], [web], [vehicle NAME])",
    ]
    for line in expected:
        assert line in problems, f"missing: {line}\n{problems}"


def test_two_vehicles_cannot_share_a_tunnel_port():
    text = _vehicle("MM1", 2201, 8201) + "\n" + _vehicle("MM2", 8201, 8202)
    with pytest.raises(ConfigError) as raised:
        fleet_config.parse(text, "f")
    assert raised.value.problems == ["f: [vehicle MM2] ssh_port = 8201: already used by [vehicle MM1] web_port"]


def test_an_unknown_vehicle_is_named_with_the_known_ones():
    fleet = fleet_config.parse(_vehicle("MM1", 2201, 8201), "f")
    with pytest.raises(ConfigError, match=r"no \[vehicle MM9\] section \(vehicles: MM1\)"):
        fleet.vehicle("MM9")


def test_the_example_fleet_conf_is_valid_and_documents_every_key():
    text = fleet_config.example_text()
    assert fleet_config.parse(text).vehicles == ()
    for key in (*fleet_config.BASE_SCHEMA, *fleet_config.VEHICLE_SCHEMA):
        assert f"#{key} = " in text


def test_apply_enables_a_timer_per_vehicle_and_disables_those_of_vehicles_gone(tmp_path):
    wants = tmp_path / "timers.target.wants"
    wants.mkdir()
    for name in ("MM1", "OLD"):
        (wants / f"meso360-base-sync@{name}.timer").symlink_to("/lib/systemd/system/meso360-base-sync@.timer")
    fleet = fleet_config.parse("[base]\nsync_interval = 120\n" + _vehicle("MM1", 2201, 8201) + _vehicle("MM2", 2, 3))
    drop_in, commands = apply.plan(fleet, tmp_path)
    assert commands == [
        ["daemon-reload"],
        ["enable", "--now", "meso360-base-sync@MM1.timer", "meso360-base-sync@MM2.timer"],
        ["disable", "--now", "meso360-base-sync@OLD.timer"],
        ["try-restart", "meso360-base-web.service"],
    ]
    assert drop_in.endswith("[Timer]\nOnUnitActiveSec=\nOnUnitActiveSec=120s\n")
    apply.write_drop_in(tmp_path, drop_in)
    assert (tmp_path / "meso360-base-sync@.timer.d" / "50-fleet-sync-interval.conf").read_text() == drop_in
    apply.write_drop_in(tmp_path, apply.interval_drop_in_text(60))
    assert not (tmp_path / "meso360-base-sync@.timer.d" / "50-fleet-sync-interval.conf").exists()


def test_apply_dry_run_prints_the_plan_and_a_bad_config_exits_78(tmp_path, capsys):
    config = tmp_path / "fleet.conf"
    config.write_text(f"[base]\ntargets_file = {tmp_path}/t.json\n" + _vehicle("MM1", 2201, 8201))
    assert apply.main(["--fleet-config", str(config), "--dry-run", "--systemd-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"would write {tmp_path}/t.json (1 vehicles); sync every 60 s" in out
    assert "would run: systemctl enable --now meso360-base-sync@MM1.timer" in out
    assert "would run: systemctl try-restart meso360-base-web.service" in out, "the page learns the vehicles"
    assert not (tmp_path / "t.json").exists()
    config.write_text("[vehicle MM1]\nssh_port = x\n")
    assert apply.main(["--fleet-config", str(config), "--dry-run"]) == 78
    assert "[vehicle MM1] ssh_port = 'x': must be a whole number" in capsys.readouterr().err


def test_the_fleet_page_listens_on_loopback_by_default_and_web_keys_are_checked():
    assert fleet_config.parse("[base]\n").web.listen == ("127.0.0.1", 8090)
    with pytest.raises(ConfigError) as raised:
        fleet_config.parse("[web]\nlisten = everywhere\npoll_interval = 0.1\nprometheus_url = ftp://x\n", "fleet.conf")
    problems = "\n".join(raised.value.problems)
    assert "[web] listen = 'everywhere': must be ADDRESS:PORT" in problems
    assert "[web] poll_interval = '0.1': must be a number of seconds between 1.0 and 60.0" in problems
    assert "[web] prometheus_url = 'ftp://x': must be an http:// or https:// URL" in problems
