"""Unit tests of the /metrics pieces for base: samples left out when missing, label escaping, the file size
stat-ed at most once a second, and the tunnel.json time read back."""

from meso360.systemd_units import epoch_of_utc_iso, utc_iso
from meso360.web.vehicle_metrics import FileSize, gauge, label_value, observation_metrics


class Clock:
    """A monotonic clock the test moves by hand (the one thing here that cannot be waited for honestly)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_missing_or_non_finite_value_has_help_and_type_but_no_sample():
    for missing in (None, float("nan"), float("inf")):
        assert gauge("meso360_x_celsius", "X.", missing) == [
            "# HELP meso360_x_celsius X.",
            "# TYPE meso360_x_celsius gauge",
        ]
    assert gauge("meso360_x_celsius", "X.", 21.05)[-1] == "meso360_x_celsius 21.05"
    assert gauge("meso360_x_total", "X.", 7)[-1] == "meso360_x_total 7"


def test_observation_gauges_leave_out_only_the_missing_values():
    lines = observation_metrics({"ts": 1762300800, "t": 20.5, "td": None, "lat": -33.25, "lon": 151.0})
    samples = [line for line in lines if not line.startswith("#")]
    assert samples == [
        "meso360_obs_timestamp_seconds 1762300800",
        "meso360_obs_temperature_celsius 20.5",
        "meso360_obs_latitude_degrees -33.25",
        "meso360_obs_longitude_degrees 151.0",
    ]
    assert [line for line in observation_metrics(None) if not line.startswith("#")] == []


def test_label_values_are_escaped_for_the_text_format():
    assert label_value('MM "1"\\\nx') == 'MM \\"1\\"\\\\\\nx'


def test_the_newest_file_is_stat_ed_at_most_once_a_second(tmp_path):
    path = tmp_path / "20251105.txt"
    path.write_text("a\n")
    clock = Clock()
    sizes = FileSize(clock=clock)
    assert sizes.size_bytes(path) == 2
    path.write_text("a\nb\n")
    clock.now += 0.5
    assert sizes.size_bytes(path) == 2  # the cached size: no stat within the second
    clock.now += 0.5
    assert sizes.size_bytes(path) == 4
    newer = tmp_path / "20251106.txt"
    newer.write_text("abcdef\n")
    assert sizes.size_bytes(newer) == 7  # a new newest file is stat-ed at once
    newer.unlink()
    clock.now += 1
    assert sizes.size_bytes(newer) is None
    assert sizes.size_bytes(None) is None


def test_tunnel_json_times_read_back_to_the_second():
    assert epoch_of_utc_iso(utc_iso(1762300815.4)) == 1762300815
    assert epoch_of_utc_iso("2025-11-05T00:00:15") == 1762300815  # no zone: UTC
    assert epoch_of_utc_iso(None) is None and epoch_of_utc_iso("yesterday") is None
