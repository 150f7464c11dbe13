"""The operator password in the config: a hash that cannot work is a config error; the file's readers are narrowed."""

import stat

from click.testing import CliRunner

from meso360 import config as config_module
from meso360.ctl.cli import cli
from meso360.web import auth


def write_config(tmp_path, web_lines=""):
    path = tmp_path / "meso360.conf"
    path.write_text(f"[meso360]\ndata_dir = {tmp_path}/data\n[web]\nlisten = 127.0.0.1:0\n{web_lines}")
    return path


def test_config_validate_refuses_a_password_hash_that_no_password_matches_without_repeating_it(tmp_path):
    path = write_config(tmp_path, "password_hash = my secret password\n")
    result = CliRunner(mix_stderr=False).invoke(cli, ["--config", str(path), "config", "validate"])
    assert result.exit_code != 0
    output = result.stdout + result.stderr
    assert "web.password_hash" in output and "meso360ctl passwd" in output
    assert "my secret password" not in output
    for text in ("notahash", "scrypt$16384$8$1$!!$!!", "scrypt$3$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44):
        problems = _problems(f"[web]\npassword_hash = {text}\n")
        assert len(problems) == 1 and "web.password_hash" in problems[0], text
    assert config_module.parse(f"[web]\npassword_hash = {auth.hash_password('correct horse')}\n")
    assert config_module.parse("[web]\npassword_hash =\n").web.password_hash == ""


def _problems(text):
    try:
        config_module.parse(text)
    except config_module.ConfigError as error:
        return error.problems
    return []


def test_passwd_takes_the_read_bits_of_other_users_off_a_world_readable_config(tmp_path):
    path = write_config(tmp_path)
    path.chmod(0o644)
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["--config", str(path), "passwd", "--password-stdin"], input="correct horse\n"
    )
    assert result.exit_code == 0, result.stderr
    assert auth.verify_password("correct horse", config_module.load(str(path)).web.password_hash)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the group (meso360's daemons) still reads it
    assert "640" in result.stdout
