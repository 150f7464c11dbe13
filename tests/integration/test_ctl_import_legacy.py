"""meso360ctl config import-legacy: a realistic legacy meso360.config.json and malformed ones.

test_data/legacy/meso360.config.json is a vehicle's legacy file with every key LEGACY.md lists (section 0),
the dead *_windows keys of its example file included. Commands run in process (click's CliRunner).
"""

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from meso360 import config as config_module
from meso360.config import example_text
from meso360.ctl.cli import cli
from meso360.web.auth import hash_password

LEGACY = Path(__file__).resolve().parents[2] / "test_data" / "legacy" / "meso360.config.json"
HASH = hash_password("rack-operator-7")
EXISTING = f"""# MM2, edited by the crew
[meso360]
vehicle = MM2
[web]
# set by meso360ctl passwd
password_hash = {HASH}
history_hours = 6
"""


def run(config_path, *arguments):
    runner = CliRunner(mix_stderr=False)  # the config on stdout, the report on stderr
    return runner.invoke(cli, ["--config", str(config_path), "config", "import-legacy", *arguments])


def write_legacy(tmp_path, document, name="meso360.config.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2) + "\n")
    return path


def test_without_write_it_prints_the_config_and_the_report_and_changes_nothing(tmp_path):
    config_path = tmp_path / "meso360.conf"
    result = run(config_path, str(LEGACY), "--vehicle", "MM2")
    assert result.exit_code == 0, result.output
    assert not config_path.exists()
    config = config_module.parse(result.stdout, "printed")  # the daemons' own validation
    assert config.general.vehicle == "MM2"
    assert config.ingest.logger_url == "http://192.168.4.6"
    assert config.web.listen == ("0.0.0.0", 8080)
    assert config.web.mdns_name == "mm2-mesoview"
    assert config.tunnel.remote_port == 2202
    assert not config.tunnel.configured  # host and key are still to be set up: no tunnel started half-configured
    assert config.general.data_dir == Path("/var/lib/meso360/data")
    assert result.stdout.startswith(example_text().splitlines()[0])  # the packaged file, keys set in it
    report = result.stderr
    for line in (
        'logger_ip = "192.168.4.6"        -> [ingest] logger_url = http://192.168.4.6',
        "http_port = 8080                 -> [web] listen = 0.0.0.0:8080",
        'mdns_hostname = "mm2-mesoview"   -> [web] mdns_name = mm2-mesoview',
        "rtun_port = 2202                 -> [tunnel] remote_port = 2202",
        "--vehicle                        -> [meso360] vehicle = MM2",
    ):
        assert f"  {line}\n" in report
    not_imported = report.partition("No equivalent in meso360.conf (not imported):\n")[2].partition("Still to do")[0]
    keys = [line.split(":")[0].strip() for line in not_imported.splitlines()]
    assert sorted(keys) == sorted(
        [
            "data_dir",
            "log_dir",
            "ingest_retry_max",
            "ingest_retry_delay",
            "mesoingest_enabled",
            "mesosync_enabled",
            "data_dir_windows",
            "log_dir_windows",
            "_path_format_note",
        ]
    )
    assert "log_dir: no log files: the daemons log to the journal" in report
    assert "mesosync_enabled: start at boot is systemd's: legacy had it off: sudo meso360ctl disable tunnel" in report
    assert (
        "sudo cp -n --preserve=timestamps " in report
        and "/data/raw/mesonet/????????.txt /var/lib/meso360/data/" in report
    )
    assert "/data/raw/mesonet_support/????????_support.txt /var/lib/meso360/support/" in report
    assert "sudo chown meso360-ingest:meso360 /var/lib/meso360/data/* /var/lib/meso360/support/*" in report
    assert "sudo meso360ctl tunnel keygen" in report and "sudo hostnamectl set-hostname mm2-mesoview" in report
    assert f"Nothing written. To set these keys in {config_path}: add --write." in report


def test_write_sets_the_keys_keeps_every_other_line_mode_and_owner_and_a_backup(tmp_path):
    config_path = tmp_path / "meso360.conf"
    config_path.write_text(EXISTING)
    os.chmod(config_path, 0o644)  # as left by an edit: others could read the hash
    owner = (os.getuid(), os.getgid())
    if os.geteuid() == 0:  # root (the packaged case, sudo): the file belongs to root:meso360; here any group
        owner = (0, 4321)
        os.chown(config_path, *owner)
    result = run(config_path, str(LEGACY), "--write")
    assert result.exit_code == 0, result.output
    text = config_path.read_text()
    for line in EXISTING.splitlines():
        assert line in text.splitlines()  # the hash, the comments, history_hours: kept as they were
    config = config_module.load(str(config_path))
    assert (config.web.password_hash, config.web.history_hours, config.general.vehicle) == (HASH, 6, "MM2")
    assert (config.web.listen, config.web.mdns_name, config.tunnel.remote_port) == (
        ("0.0.0.0", 8080),
        "mm2-mesoview",
        2202,
    )
    status = config_path.stat()
    assert stat.S_IMODE(status.st_mode) == 0o640 and (status.st_uid, status.st_gid) == owner
    backups = list(tmp_path.glob("meso360.conf.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == EXISTING
    backup_status = backups[0].stat()
    assert stat.S_IMODE(backup_status.st_mode) == 0o640 and (backup_status.st_uid, backup_status.st_gid) == owner
    assert f"Updated {config_path} (the previous version is {backups[0]})." in result.stdout
    assert "[web] listen = 0.0.0.0:8080" in result.stdout

    again = run(config_path, str(LEGACY), "--write")  # nothing new: no change, no second backup
    assert again.exit_code == 0, again.output
    assert f"{config_path} already has these values: not changed." in again.stdout
    assert len(list(tmp_path.glob("meso360.conf.*.bak"))) == 1


def test_write_creates_a_missing_config_readable_by_owner_and_group_only(tmp_path):
    config_path = tmp_path / "meso360.conf"
    result = run(config_path, str(LEGACY), "--write", "--vehicle", "MM2")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640
    assert config_module.load(str(config_path)).web.mdns_name == "mm2-mesoview"
    assert f"Created {config_path} (mode 0640)." in result.stdout


def test_a_value_the_config_already_sets_otherwise_is_replaced_only_with_force(tmp_path):
    config_path = tmp_path / "meso360.conf"
    config_path.write_text("[web]\nlisten = 0.0.0.0:9000\n[ingest]\nlogger_url = http://192.168.4.6/\n")
    before = config_path.read_text()
    printed = run(config_path, str(LEGACY))
    assert printed.exit_code == 0
    assert (
        "--write needs --force to replace them:\n  [web] listen = 0.0.0.0:9000  (import: 0.0.0.0:8080)"
        in printed.stderr
    )
    assert "logger_url" not in printed.stderr.partition("--force")[2]  # the same URL, written otherwise: no conflict

    refused = run(config_path, str(LEGACY), "--write")
    assert refused.exit_code == 1
    assert "already sets other values; nothing written (add --force to replace them):" in refused.stderr
    assert config_path.read_text() == before and not list(tmp_path.glob("*.bak"))

    forced = run(config_path, str(LEGACY), "--write", "--force")
    assert forced.exit_code == 0, forced.output
    assert config_module.load(str(config_path)).web.listen == ("0.0.0.0", 8080)


def test_missing_keys_mean_the_legacy_defaults_and_rtun_port_zero_means_no_tunnel(tmp_path):
    legacy = write_legacy(tmp_path, {"logger_ip": "fe80::6", "rtun_port": 0})
    result = run(tmp_path / "meso360.conf", str(legacy))
    assert result.exit_code == 0, result.output
    config = config_module.parse(result.stdout)
    assert config.ingest.logger_url == "http://[fe80::6]"
    assert config.web.mdns_name == "mesoview"  # legacy announced "mesoview" when mdns_hostname was not set
    assert config.tunnel.remote_port is None
    assert "legacy's default name" in result.stderr
    assert "rtun_port: 0/null: no tunnel" in result.stderr
    assert "data_dir (legacy default): ~/data/raw/mesonet" in result.stderr
    assert "vehicle: legacy had no vehicle name; set it with --vehicle NAME" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"logger_ip": "192.168.4.6",}\n', "meso360.config.json: not valid JSON: Expecting property name"),
        ("", "meso360.config.json: not valid JSON: Expecting value at line 1 column 1"),
        ('["logger_ip", "192.168.4.6"]', "not a legacy config: a JSON object {...} expected, found a list"),
        (b"\xff\xfe{}", "meso360.config.json: not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_a_legacy_config_is_refused_with_exit_78(tmp_path, text, message):
    legacy = tmp_path / "meso360.config.json"
    if isinstance(text, bytes):
        legacy.write_bytes(text)
    else:
        legacy.write_text(text)
    config_path = tmp_path / "meso360.conf"
    result = run(config_path, str(legacy), "--write")
    assert result.exit_code == 78
    assert "cannot import the legacy config (nothing written):" in result.stderr
    assert message in result.stderr
    assert not config_path.exists()


def test_every_bad_value_is_listed_at_once_and_nothing_is_written(tmp_path):
    legacy = write_legacy(
        tmp_path,
        {
            "logger_ip": "http://192.168.4.6/",
            "http_port": "eighty",
            "mdns_hostname": "m" * 64,
            "rtun_port": 70000,
            "mesoingest_enabled": "yes",
            "data_dir": 7,
        },
    )
    config_path = tmp_path / "meso360.conf"
    config_path.write_text(EXISTING)
    result = run(config_path, str(legacy), "--write")
    assert result.exit_code == 78
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    source = str(legacy)
    assert problems == [
        f'{source}: logger_ip = "http://192.168.4.6/": must be the logger\'s address, host or host:port'
        " (e.g. 192.168.4.6)",
        f'{source}: http_port = "eighty": must be a port number from 1 to 65535',
        f'{source}: mdns_hostname = "{"m" * 64}": must be a name of at most 63 bytes without control characters,'
        " e.g. mesoview",
        f"{source}: rtun_port = 70000: must be a port number from 1 to 65535, or 0/null for no tunnel"
        " (legacy ran without one)",
        f"{source}: data_dir = 7: must be a directory path",
        f'{source}: mesoingest_enabled = "yes": must be true or false',
    ]
    assert config_path.read_text() == EXISTING and not list(tmp_path.glob("*.bak"))


def test_a_missing_legacy_file_is_a_clear_error(tmp_path):
    result = run(tmp_path / "meso360.conf", str(tmp_path / "nowhere.json"))
    assert result.exit_code == 78
    assert f"{tmp_path / 'nowhere.json'}: cannot read it: No such file or directory" in result.stderr


def test_a_name_the_ini_file_would_cut_is_refused(tmp_path):
    # "MM2 #1": in meso360.conf everything after " #" is a comment, so the daemons would read "MM2".
    legacy = write_legacy(tmp_path, {"mdns_hostname": "MM2 #1"})
    result = run(tmp_path / "meso360.conf", str(legacy))
    assert result.exit_code == 78
    assert "web.mdns_name = 'MM2 #1' cannot be written in an INI file as is" in result.stderr


def test_an_existing_config_that_is_invalid_is_not_made_worse(tmp_path):
    config_path = tmp_path / "meso360.conf"
    config_path.write_text("[web]\nhistory_hours = lots\n")
    result = run(config_path, str(LEGACY), "--write")
    assert result.exit_code == 78
    assert f"the result would not be a valid {config_path}; nothing written:" in result.stderr
    assert f"{config_path}: web.history_hours = 'lots': must be a whole number between 1 and 48" in result.stderr
    assert config_path.read_text() == "[web]\nhistory_hours = lots\n"


def test_config_is_also_accepted_after_the_command(tmp_path):
    config_path = tmp_path / "vehicle.conf"
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["config", "import-legacy", str(LEGACY), "--config", str(config_path), "--write"]
    )
    assert result.exit_code == 0, result.output
    assert config_module.load(str(config_path)).tunnel.remote_port == 2202


def test_an_existing_config_that_is_not_ini_is_left_alone(tmp_path):
    config_path = tmp_path / "meso360.conf"
    config_path.write_text("[web]\nlisten = 0.0.0.0:8080\nlisten = 0.0.0.0:9000\n")
    result = run(config_path, str(LEGACY), "--write")
    assert result.exit_code == 78
    assert f"{config_path} is not a valid INI file; nothing written:" in result.stderr
    assert "option 'listen' in section 'web' already exists" in result.stderr
    assert config_path.read_text() == "[web]\nlisten = 0.0.0.0:8080\nlisten = 0.0.0.0:9000\n"
