"""The sources of the alarm evaluation, read the same way by the web daemon and meso360ctl: data files, disk, boot
time, tunnel.json, logger.json and the unit states."""

import os
import time

from meso360.alarms import COMPLETENESS_WINDOW_S, Inputs, recent_completeness, trailing_without_fix
from meso360.datafile import daily_files, last_complete_lines, parse_obs_line, row_timestamp
from meso360.logger_state import read_logger_state
from meso360.systemd_units import read_tunnel_state

# Rows looked at for the GPS run and the 10-minute completeness: 10 minutes at 1 Hz, and room for rows without fix.
RECENT_ROWS = 2 * COMPLETENESS_WINDOW_S


def last_row_at(data_dir):
    """Return when the newest row was appended (the newest modification time of the two newest data files: after
    midnight, backfilled rows still go to yesterday's), or None when there is no data file."""
    times = []
    for path in daily_files(data_dir)[-2:]:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


def file_row_times(data_dir, count=RECENT_ROWS):
    """Return the GPS times (epoch s, None without fix) of the newest `count` rows of the newest data file."""
    files = daily_files(data_dir)
    if not files:
        return []
    try:
        lines = last_complete_lines(files[-1], count)[0]
    except OSError:
        return []
    times = []
    for line in lines:
        row = parse_obs_line(line)
        if row is not None:
            when = row_timestamp(row)
            times.append(None if when is None else when.timestamp())
    return times


def disk_free_pct(path):
    """Return the free space (for unprivileged users) of the disk holding `path` in percent, or None."""
    probe = str(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        disk = os.statvfs(probe)
    except OSError:
        return None
    return 100.0 * disk.f_bavail / disk.f_blocks if disk.f_blocks else None


def boot_time():
    """Return when the host booted (epoch seconds, /proc/stat btime), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as file:
            for line in file:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def gather(config, units, row_times, now=None, boot=None):
    """Given the Config, the unit states {component: (ActiveState, SubState)} and the GPS times of the newest rows
    (file_row_times, or the web daemon's live window), return the Inputs of alarms.evaluate."""
    general = config.general
    logger = read_logger_state(general.state_dir) or {}
    return Inputs(
        now=time.time() if now is None else now,
        data_dir=str(general.data_dir),
        last_row_at=last_row_at(general.data_dir),
        rows_without_fix=trailing_without_fix(row_times),
        completeness_pct=recent_completeness(row_times),
        units=units,
        tunnel_configured=config.tunnel.configured,
        tunnel_state=read_tunnel_state(general.state_dir),
        tunnel_probe_interval_s=config.tunnel.probe_interval,
        boot_time=boot_time() if boot is None else boot,
        disk_free_pct=disk_free_pct(general.data_dir),
        battery_v=logger.get("battery_v"),
        battery_time=logger.get("record_time"),
    )
