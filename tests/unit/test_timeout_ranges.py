"""The allowed timeouts fit the units' WatchdogSec=: a healthy daemon waiting out its timeouts is never killed."""

import configparser
from pathlib import Path

import pytest

from meso360 import config, config_schema
from meso360.errors import ConfigError

UNITS = Path(__file__).resolve().parents[2] / "units"


def watchdog_seconds(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS / unit)
    return int(parser["Service"]["WatchdogSec"])


def problems_of(text):
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "test.conf")
    return caught.value.problems


@pytest.mark.parametrize(
    ("unit", "budget"),
    [
        ("meso360-ingest.service", config_schema.INGEST_WATCHDOG),
        ("meso360-tunnel.service", config_schema.TUNNEL_WATCHDOG),
    ],
)
def test_the_longest_allowed_wait_between_two_watchdog_pings_leaves_a_margin_under_watchdogsec(unit, budget):
    assert watchdog_seconds(unit) == budget.watchdog_seconds
    longest_wait = budget.timeouts_between_pings * budget.max_timeout_seconds
    assert longest_wait + budget.margin_seconds <= budget.watchdog_seconds


def test_the_defaults_are_within_the_watchdog_ranges():
    loaded = config.parse("")
    assert loaded.ingest.request_timeout <= config_schema.INGEST_WATCHDOG.max_timeout_seconds
    assert loaded.tunnel.connect_timeout <= config_schema.TUNNEL_WATCHDOG.max_timeout_seconds


def test_a_request_timeout_the_ingest_watchdog_would_cut_short_is_refused_with_the_reason():
    (problem,) = problems_of("[ingest]\nrequest_timeout = 120\n")
    assert problem.startswith("test.conf: ingest.request_timeout = '120': must be a number of seconds")
    assert "between 0.5 and 8.0 (" in problem
    assert "WatchdogSec=30" in problem and "meso360-ingest" in problem


def test_a_connect_timeout_the_tunnel_watchdog_would_cut_short_is_refused_with_the_reason():
    (problem,) = problems_of("[tunnel]\nconnect_timeout = 120\n")
    assert problem.startswith("test.conf: tunnel.connect_timeout = '120': must be a number of seconds")
    assert "between 1.0 and 15.0 (" in problem
    assert "WatchdogSec=120" in problem and "meso360-tunnel" in problem


def test_the_largest_allowed_timeouts_are_accepted():
    loaded = config.parse("[ingest]\nrequest_timeout = 8\n[tunnel]\nconnect_timeout = 15\n")
    assert (loaded.ingest.request_timeout, loaded.tunnel.connect_timeout) == (8.0, 15.0)
