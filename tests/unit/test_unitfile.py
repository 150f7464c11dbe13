"""meso360.unitfile: the program of meso360-unitfile@.service (instance allow-list, systemctl call)."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from meso360 import systemd_units, unitfile
from meso360.web.systemd import _newest_run_messages

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> "{log}"
if [ -e "{fail}" ]; then echo "Failed to enable unit: Unit file meso360-sim.service does not exist." >&2; exit 1; fi
echo "Created symlink /etc/systemd/system/meso360.target.wants/$4 -> /lib/systemd/system/$4." >&2
"""


@pytest.fixture
def systemctl(tmp_path):
    """A recording `systemctl`; returns (path, argv log)."""
    log = tmp_path / "argv"
    script = tmp_path / "systemctl"
    script.write_text(FAKE_SYSTEMCTL.format(log=log, fail=tmp_path / "fail"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), log


@pytest.mark.parametrize("verb", ["enable", "disable"])
@pytest.mark.parametrize("component", ["ingest", "web", "tunnel", "sim"])
def test_the_allow_list(verb, component):
    assert unitfile.parse_instance(f"{verb}-{component}") == (verb, f"meso360-{component}.service")


@pytest.mark.parametrize(
    "instance",
    [
        "enable-ssh",
        "start-ingest",
        "enable--now-ingest",
        "enable-ingest.service",
        "enable-ingest ",
        " enable-ingest",
        "Enable-ingest",
        "enable-INGEST",
        "enable-ingest\n",
        "enable-meso360-ingest",
        "enable",
        "ingest",
        "",
        "enable-ingest-sim",
        "disable-../../ssh",
        "enable-ingest;reboot",
    ],
)
def test_anything_else_is_refused(instance):
    with pytest.raises(unitfile.InvalidInstance, match="must be one of enable-ingest"):
        unitfile.parse_instance(instance)


def test_runs_systemctl_without_now(systemctl, capsys):
    path, log = systemctl
    assert unitfile.run("disable-sim", systemctl=path) == 0
    assert log.read_text() == "--no-ask-password disable meso360-sim.service\n"
    assert "Created symlink" in capsys.readouterr().err


def test_a_refused_instance_runs_nothing(systemctl, capsys, monkeypatch):
    path, log = systemctl
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    assert unitfile.run("enable-ssh", systemctl=path) == unitfile.EX_USAGE
    assert not log.exists()
    err = capsys.readouterr().err
    assert err.startswith("<3>meso360-unitfile: refused instance 'enable-ssh'")


def test_a_failing_systemctl_exits_1_with_its_message(systemctl, tmp_path, capsys, monkeypatch):
    path, _ = systemctl
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    (tmp_path / "fail").touch()
    assert unitfile.run("enable-sim", systemctl=path) == 1
    err = capsys.readouterr().err
    assert err.startswith("meso360-unitfile: systemctl enable meso360-sim.service failed (exit 1): Failed to enable")


def test_command_line(capsys):
    assert unitfile.main(["--help"]) == 0
    assert "enable | disable" in capsys.readouterr().out
    assert unitfile.main([]) == unitfile.EX_USAGE
    assert unitfile.main(["enable-ingest", "disable-ingest"]) == unitfile.EX_USAGE
    assert unitfile.main(["enable-ssh"]) == unitfile.EX_USAGE


def test_runs_as_a_module():
    # The unit runs `python3 -I -m meso360.unitfile`; here the package may be in the build tree.
    env = {**os.environ, "PYTHONPATH": str(Path(unitfile.__file__).parents[1])}
    command = [sys.executable, "-m", "meso360.unitfile", "enable-ssh"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == unitfile.EX_USAGE and "refused instance 'enable-ssh'" in done.stderr


def test_the_web_daemon_reports_the_newest_run_only():
    lines = [
        '{"MESSAGE": "meso360-unitfile: refused instance \'enable-ssh\'", "_SYSTEMD_INVOCATION_ID": "a"}',
        "not json",
        '{"MESSAGE": "meso360-unitfile: refused   instance \'disable-ssh\'", "_SYSTEMD_INVOCATION_ID": "b"}',
        '{"MESSAGE": [1, 2], "_SYSTEMD_INVOCATION_ID": "b"}',
    ]
    assert _newest_run_messages("\n".join(lines)) == "meso360-unitfile: refused instance 'disable-ssh'"
    assert _newest_run_messages("") == ""


def _polkit_regexes():
    """The unit-name regexes of debian/meso360.polkit.rules (JavaScript literals that Python reads alike)."""
    rules = (Path(__file__).parents[2] / "debian" / "meso360.polkit.rules").read_text()
    return [re.compile(pattern) for pattern in re.findall(r"/(\^meso360[^/]*\$)/\.test\(unit\)", rules)]


def test_the_polkit_rule_grants_exactly_the_units_of_the_component_list():
    units_regex, unitfile_regex = _polkit_regexes()
    assert all(units_regex.match(unit) for unit in systemd_units.ALL_UNITS)
    assert all(unitfile_regex.match(unit) for unit in systemd_units.UNITFILE_INSTANCES)
    granted = {f"meso360-unitfile@{verb}-{name}.service" for verb in ("enable", "disable", "start", "mask")
               for name in (*systemd_units.COMPONENTS, "ssh", "journal", "unitfile")}  # fmt: skip
    assert {unit for unit in granted if unitfile_regex.match(unit)} == set(systemd_units.UNITFILE_INSTANCES)
    assert not units_regex.match("meso360-unitfile@enable-ingest.service") and not units_regex.match("ssh.service")


def test_the_vocabulary_and_the_helper_import_only_the_standard_library():
    # Under `python3 -I` no third-party path is searched: meso360.unitfile must not need one.
    package_root = str(Path(unitfile.__file__).parents[1])
    code = (
        f"import sys; sys.path.insert(0, {package_root!r}); import meso360.unitfile, meso360.systemd_units;"
        "print(sorted(name for name in sys.modules if name.split('.')[0] not in (*sys.stdlib_module_names, 'meso360')"
        " and name != '__main__'))"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
