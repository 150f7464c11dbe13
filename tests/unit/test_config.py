"""Unit tests of config loading: defaults, every error listed at once, the example file."""

from pathlib import Path

import pytest

from meso360 import config
from meso360.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def problems_of(text, path="test.conf"):
    with pytest.raises(ConfigError) as caught:
        config.parse(text, path)
    return caught.value.problems


def test_an_empty_file_gives_the_documented_defaults():
    loaded = config.parse("")
    assert loaded.general.data_dir == Path("/var/lib/meso360/data")
    assert loaded.ingest.logger_url == "http://192.168.4.6"
    assert loaded.ingest.poll_interval == 1.0
    assert loaded.ingest.first_start == "today"
    assert loaded.web.listen == ("0.0.0.0", 8080)
    assert loaded.tunnel.configured is False


def test_every_problem_is_listed_at_once_with_file_key_value_and_what_is_allowed():
    problems = problems_of(
        "[ingest]\npoll_interval = fast\nlogger_url = ftp://x\nspeed = 3\n[web]\nlisten = 8080\n[extra]\nkey = 1\n"
    )
    assert len(problems) == 5
    assert "test.conf: ingest.poll_interval = 'fast': must be a number of seconds between 0.1 and 60.0" in problems
    assert any(p.startswith("test.conf: ingest.logger_url = 'ftp://x': must be an http://") for p in problems)
    assert any(p.startswith("test.conf: ingest.speed: unknown key (allowed: logger_url,") for p in problems)
    assert any(p.startswith("test.conf: web.listen = '8080': must be ADDRESS:PORT") for p in problems)
    assert any(p.startswith("test.conf: [extra]: unknown section") for p in problems)


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("meso360", "data_dir", "relative/dir", "an absolute path"),
        ("ingest", "request_timeout", "0", "between 0.5 and 8.0"),
        ("ingest", "obs_table", "Obs;drop", "a logger table name"),
        ("ingest", "first_start", "yesterday", "one of newest, today, all"),
        ("web", "history_hours", "100", "between 1 and 48"),
        ("tunnel", "port", "70000", "between 1 and 65535"),
        ("tunnel", "host", "-oProxyCommand=x", "a host name or IP address"),
    ],
)
def test_a_bad_value_names_its_key_and_what_is_allowed(section, key, value, allowed):
    (problem,) = problems_of(f"[{section}]\n{key} = {value}\n")
    assert problem.startswith(f"test.conf: {section}.{key} = {value!r}: must be ")
    assert allowed in problem


def test_a_configured_tunnel_needs_user_and_remote_port():
    problems = problems_of("[tunnel]\nhost = bastion.example.org\n")
    assert problems == [
        "test.conf: tunnel.user is empty: required when tunnel.host is set",
        "test.conf: tunnel.remote_port is empty: required when tunnel.host is set",
    ]


def test_inline_comments_are_allowed_as_in_the_architecture_document():
    loaded = config.parse("[ingest]\nlogger_url = http://127.0.0.1:8081   # the simulator\n")
    assert loaded.ingest.logger_url == "http://127.0.0.1:8081"


def test_a_missing_or_broken_file_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "missing.conf")
    broken = tmp_path / "broken.conf"
    broken.write_text("no section header\n")
    with pytest.raises(ConfigError, match=f"{broken}: not a valid INI file"):
        config.load(broken)


def test_the_path_comes_from_the_option_then_the_environment_then_etc(monkeypatch):
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    assert config.resolve_path() == "/etc/meso360/meso360.conf"
    monkeypatch.setenv(config.ENV_VAR, "/tmp/env.conf")
    assert config.resolve_path() == "/tmp/env.conf"
    assert config.resolve_path("/tmp/option.conf") == "/tmp/option.conf"


def test_the_shipped_example_documents_every_key_and_loads_as_the_defaults():
    text = (REPO / "meso360.conf.example").read_text()
    assert text == config.example_text(), "regenerate meso360.conf.example from config.example_text()"
    for section, keys in config.SCHEMA.items():
        assert f"[{section}]" in text
        for key, (default, _parse, _help) in keys.items():
            assert f"#{key} = {default}" in text
    assert config.parse(text) == config.parse("")
