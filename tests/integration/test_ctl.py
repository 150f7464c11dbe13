"""meso360ctl end to end: gaps, config, tail and check, with a tmp config and tmp data dirs.

Commands run through click's CliRunner (in process) and as the real `meso360ctl` console script
(subprocess) where the exit code or process behaviour itself is under test. `check` talks to the
real logger simulator (meso360-sim) on loopback.
"""

import datetime as dt
import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from meso360.config import example_text, load
from meso360.ctl.cli import cli
from meso360.datafile import OBS_HEADER, SUPPORT_HEADER
from meso360.web import auth

REAL_DAY = Path(__file__).resolve().parents[2] / "test_data" / "test.txt"
MESO360CTL = str(Path(sys.executable).parent / "meso360ctl")
ROW_VALUES = "2.5,180,20,50,21.5,10.25,50,900.5,9"
ROW_POSITION = "33.19,-102.27,1021,0,85.5,28.16"


def obs_row(when):
    return f"{ROW_VALUES},{when:%d%m%y},{when:%H%M%S},{ROW_POSITION}"


def write_config(tmp_path, logger_url="http://127.0.0.1:9", extra=""):
    """Write a config with tmp data/support/state dirs; return its path."""
    for name in ("data", "support", "state"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "meso360.conf"
    path.write_text(
        f"[meso360]\ndata_dir = {tmp_path / 'data'}\nsupport_dir = {tmp_path / 'support'}\n"
        f"state_dir = {tmp_path / 'state'}\n[ingest]\nlogger_url = {logger_url}\nrequest_timeout = 3\n{extra}"
    )
    return path


def run_cli(config_path, *args):
    return CliRunner(mix_stderr=False).invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)


def run_process(config_path, *args, timeout=60):
    return subprocess.run(
        [MESO360CTL, "--config", str(config_path), *args], capture_output=True, text=True, timeout=timeout
    )


def run_process_input(config_path, stdin, *args, timeout=60):
    return subprocess.run(
        [MESO360CTL, "--config", str(config_path), *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def config_with_day(tmp_path):
    config_path = write_config(tmp_path)
    shutil.copy(REAL_DAY, tmp_path / "data" / "20250605.txt")
    return config_path


# --- gaps -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("date_text", ["20250605", "2025-06-05"])
def test_gaps_for_a_date_reports_the_legacy_numbers(config_with_day, date_text):
    result = run_cli(config_with_day, "gaps", date_text)
    assert result.exit_code == 0
    assert "File: 20250605.txt" in result.stdout
    assert "Gaps (≥2s):      178" in result.stdout
    assert "Total missing sec: 249s" in result.stdout
    assert "   1  17:53:25  17:53:27        2s" in result.stdout


def test_gaps_for_a_file_path_needs_no_config(tmp_path):
    result = run_cli(tmp_path / "no-such.conf", "gaps", str(REAL_DAY))
    assert result.exit_code == 0
    assert "File: test.txt" in result.stdout and "      2-5s:   174 gaps,     223s missing" in result.stdout


def test_gaps_all_reports_every_file(config_with_day, tmp_path):
    data = tmp_path / "data"
    (data / "20250606.txt").write_text(
        OBS_HEADER
        + "\n"
        + "\n".join(obs_row(dt.datetime(2025, 6, 6, 0, 0, s, tzinfo=dt.UTC)) for s in (0, 1, 5))
        + "\n"
    )
    result = run_cli(config_with_day, "gaps", "--all")
    assert result.exit_code == 0
    assert result.stdout.index("File: 20250605.txt") < result.stdout.index("File: 20250606.txt")
    assert "   1  00:00:01  00:00:05        4s" in result.stdout


def test_gaps_without_argument_falls_back_to_the_newest_file_with_a_note(config_with_day):
    result = run_cli(config_with_day, "gaps")
    assert result.exit_code == 0
    assert "no file for today" in result.stderr and "20250605.txt" in result.stderr
    assert "File: 20250605.txt" in result.stdout


def test_gaps_without_argument_uses_todays_file(config_with_day, tmp_path):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = tmp_path / "data" / f"{now:%Y%m%d}.txt"
    today.write_text(OBS_HEADER + "\n" + obs_row(now - dt.timedelta(seconds=9)) + "\n" + obs_row(now) + "\n")
    result = run_cli(config_with_day, "gaps")
    assert result.exit_code == 0 and result.stderr == ""
    assert f"File: {today.name}" in result.stdout and "Gaps (≥2s):      1" in result.stdout


def test_gaps_for_a_missing_date_lists_the_available_files_and_exits_1(config_with_day):
    result = run_process(config_with_day, "gaps", "2025-06-07")
    assert result.returncode == 1
    assert "20250607.txt: no such data file" in result.stderr
    assert "Available in" in result.stderr and "20250605.txt" in result.stderr


def test_gaps_all_without_files_says_so_and_exits_1(tmp_path):
    result = run_process(write_config(tmp_path), "gaps", "--all")
    assert result.returncode == 1
    assert f"No data files found in {tmp_path / 'data'}" in result.stderr


def test_gaps_json_is_machine_readable(config_with_day):
    result = run_process(config_with_day, "gaps", "20250605", "--json")
    assert result.returncode == 0
    (report,) = json.loads(result.stdout)
    assert (report["rows"], report["gap_count"], report["missing_s"], report["duplicates"]) == (21883, 178, 249, 80)


# --- config -----------------------------------------------------------------------------------------


def test_config_validate_passes_a_good_file(tmp_path):
    result = run_process(write_config(tmp_path), "config", "validate")
    assert result.returncode == 0
    assert result.stdout.startswith("PASS")


def test_config_validate_lists_every_problem_and_exits_78(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[meso360]\ndata_dir = relative/dir\ncolour = red\n[ingest]\npoll_interval = fast\n")
    result = run_process(bad, "config", "validate")
    assert result.returncode == 78
    assert "meso360.data_dir" in result.stderr
    assert "meso360.colour: unknown key" in result.stderr
    assert "ingest.poll_interval" in result.stderr


def test_any_command_with_a_broken_config_exits_78_with_every_problem(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[web]\nlisten = everywhere\nhistory_hours = 0\n")
    result = run_process(bad, "status")
    assert result.returncode == 78
    assert "web.listen" in result.stderr and "web.history_hours" in result.stderr


def test_config_show_prints_defaults_and_masks_secrets(tmp_path):
    stored = auth.hash_password("correct horse")  # a hash that is not one passwd makes is a config error
    extra = f"username = op\npassword = s3cret-logger\n[web]\npassword_hash = {stored}\n"
    result = run_cli(write_config(tmp_path, extra=extra), "config", "show")
    assert result.exit_code == 0
    assert "s3cret-logger" not in result.stdout and stored.split("$")[-1] not in result.stdout
    assert "password = ********" in result.stdout and "password_hash = ********" in result.stdout
    assert "username = op" in result.stdout
    assert "obs_table = Obs" in result.stdout and "listen = 0.0.0.0:8080" in result.stdout  # defaults


def test_config_example_prints_the_commented_example():
    result = CliRunner().invoke(cli, ["config", "example"])
    assert result.exit_code == 0
    assert result.output == example_text()


# --- tail -------------------------------------------------------------------------------------------


def test_tail_prints_the_last_rows_of_todays_file(tmp_path):
    config_path = write_config(tmp_path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = [obs_row(now - dt.timedelta(seconds=s)) for s in range(20, 0, -1)]
    (tmp_path / "data" / f"{now:%Y%m%d}.txt").write_text(OBS_HEADER + "\n" + "\n".join(rows) + "\n")
    result = run_cli(config_path, "tail", "-n", "3")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == rows[-3:]


def test_tail_support_reads_the_support_file(tmp_path):
    config_path = write_config(tmp_path)
    support = tmp_path / "support" / "20250605_support.txt"
    support.write_text(SUPPORT_HEADER + "\nfirst\nsecond\n")
    result = run_cli(config_path, "tail", "support", "-n", "1")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["second"]
    assert "no file for today" in result.stderr


def test_tail_follow_prints_appended_rows_and_stops_cleanly_on_ctrl_c(tmp_path):
    config_path = write_config(tmp_path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    path = tmp_path / "data" / f"{now:%Y%m%d}.txt"
    path.write_text(OBS_HEADER + "\n" + obs_row(now) + "\n")
    process = subprocess.Popen(
        [MESO360CTL, "--config", str(config_path), "tail", "-n", "1", "-f"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=30) == obs_row(now)
        new_row = obs_row(now + dt.timedelta(seconds=1))
        with open(path, "a") as file:
            file.write(new_row[:20])  # a half-written line must not be printed ...
            file.flush()
            file.write(new_row[20:] + "\n")  # ... only the complete one, once
        assert lines.get(timeout=30) == new_row
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in process.stderr.read()
    assert process.returncode == 0
    assert lines.empty()


# --- check ------------------------------------------------------------------------------------------


def test_check_passes_against_the_simulator(tmp_path, simulator):
    sim = simulator(tmp_path, rate=1)
    result = run_process(write_config(tmp_path, sim.url), "check")
    assert result.returncode == 0, result.stdout
    assert "PASS logger DataQuery" in result.stdout and "19 fields" in result.stdout
    assert "clock: logger vs host" in result.stdout and "clock: GPS vs logger" in result.stdout
    assert "PASS data_dir writable" in result.stdout
    assert "SKIP tunnel: not configured" in result.stdout
    assert "FAIL" not in result.stdout


def test_check_fails_on_a_logger_clock_far_off(tmp_path, simulator):
    sim = simulator(tmp_path, rate=1, start_time="2025-06-05T17:52:28Z")
    result = run_process(write_config(tmp_path, sim.url), "check")
    assert result.returncode == 1
    assert "FAIL clock: logger vs host" in result.stdout
    assert "fix: set the logger clock to UTC" in result.stdout


def test_check_warns_about_an_old_logger_without_dataquery(tmp_path, simulator):
    sim = simulator(tmp_path, rate=1, no_dataquery=True)
    result = run_process(write_config(tmp_path, sim.url), "check")
    assert result.returncode == 0, result.stdout  # WARN only: ingest falls back to NewestRecord
    assert "WARN logger DataQuery: not supported" in result.stdout and "NewestRecord" in result.stdout
    assert "WARN clock: logger vs host: ClockCheck failed" in result.stdout


def test_check_fails_when_the_logger_does_not_answer(tmp_path):
    result = run_process(write_config(tmp_path, "http://127.0.0.1:9"), "check")
    assert result.returncode == 1
    assert "FAIL logger DataQuery: http://127.0.0.1:9: connection refused" in result.stdout
    assert "fix: check the cable/network" in result.stdout


def test_check_fails_on_a_readable_tunnel_key_and_missing_known_hosts(tmp_path):
    key = tmp_path / "tunnel_key"
    key.write_text("not really a key\n")
    key.chmod(0o644)
    extra = (
        f"[tunnel]\nhost = 127.0.0.1\nuser = mm1\nremote_port = 20001\nkey_file = {key}\n"
        f"known_hosts = {tmp_path / 'known_hosts'}\n"
    )
    result = run_process(write_config(tmp_path, extra=extra), "check")
    assert result.returncode == 1
    assert "FAIL tunnel key" in result.stdout and f"chmod 600 {key}" in result.stdout
    assert "FAIL tunnel known_hosts" in result.stdout
    key.chmod(0o600)
    assert "PASS tunnel key" in run_process(write_config(tmp_path, extra=extra), "check").stdout


# --- passwd -----------------------------------------------------------------------------------------


def stored_hash(config_path):
    return load(config_path).web.password_hash


def test_passwd_prompts_twice_by_default_and_stores_a_verifiable_hash(tmp_path):
    config_path = write_config(tmp_path)
    config_path.chmod(0o640)
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["--config", str(config_path), "passwd"], input="correct horse\ncorrect horse\n"
    )
    assert result.exit_code == 0, result.stderr
    assert "New operator password" in result.stdout and "Repeat it" in result.stdout
    assert auth.verify_password("correct horse", stored_hash(config_path))
    assert config_path.stat().st_mode & 0o777 == 0o640
    assert "[ingest]\nlogger_url = http://127.0.0.1:9\n" in config_path.read_text()


def test_passwd_password_stdin_reads_one_line_without_prompting(tmp_path):
    config_path = write_config(tmp_path)
    result = run_process_input(config_path, "battery staple\r\nnot read\n", "passwd", "--password-stdin")
    assert result.returncode == 0, result.stderr
    assert "password" not in result.stderr.lower() and "Operator password set" in result.stdout
    assert auth.verify_password("battery staple", stored_hash(config_path))
    assert not auth.verify_password("not read", stored_hash(config_path))
    # No final newline is needed either; --clear removes it again.
    assert run_process_input(config_path, "second password", "passwd", "--password-stdin").returncode == 0
    assert auth.verify_password("second password", stored_hash(config_path))
    assert run_process(config_path, "passwd", "--clear").returncode == 0
    assert stored_hash(config_path) == ""


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("", ["--password-stdin"], "standard input has no password"),
        ("\nsecond line\n", ["--password-stdin"], "standard input has no password"),
        ("short\n", ["--password-stdin"], "at least 8 characters"),
        ("long enough\n", ["--password-stdin", "--clear"], "exclude each other"),
    ],
)
def test_passwd_password_stdin_refuses_bad_input_and_leaves_the_file_alone(tmp_path, stdin, args, message):
    config_path = write_config(tmp_path)
    before = config_path.read_text()
    result = run_process_input(config_path, stdin, "passwd", *args)
    assert result.returncode != 0 and message in result.stderr
    assert config_path.read_text() == before


def test_version_and_help():
    result = subprocess.run([MESO360CTL, "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("meso360ctl, version ")
    # timeout: a --help that hangs fails here (subprocess.TimeoutExpired).
    result = subprocess.run([MESO360CTL, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for command in ("status", "start", "logs", "gaps", "check", "config", "tail"):
        assert f"  {command} " in result.stdout


def test_help_and_gaps_do_not_import_the_network_or_tunnel_libraries(tmp_path):
    """meso360ctl starts fast: requests and paramiko are imported only by the commands that need them."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from meso360.ctl.cli import cli\n"
        "for args in (['--help'], ['gaps', sys.argv[1]]):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "print(sorted(m for m in ('requests', 'paramiko', 'systemd') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(REAL_DAY)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_tunnel_group_of_the_tunnel_package_is_attached():
    result = CliRunner().invoke(cli, ["tunnel", "--help"])
    assert result.exit_code == 0
    assert "keygen" in result.output and "trust" in result.output
