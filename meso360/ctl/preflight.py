"""The checks behind `meso360ctl check`: each returns Results (PASS/WARN/FAIL/SKIP with the fix)."""

import dataclasses
import datetime as dt
import grp
import os
import pwd
import stat
import time
from pathlib import Path

from meso360 import users
from meso360.datafile import RAW_OBS_FIELD_COUNT, clean_gps_token, parse_gps_datetime
from meso360.errors import LoggerError
from meso360.logger_answers import obs_page_values
from meso360.logger_api import LoggerClient, NotSupportedError
from meso360.systemd_units import unit_name

DAEMON_USER = users.INGEST_USER  # the directory checks are about the user that writes them
CLOCK_WARN_SECONDS = 2.0
CLOCK_FAIL_SECONDS = 60.0
# The hardened ingest unit may write only below its StateDirectory=.
UNIT_WRITABLE_ROOT = Path("/var/lib/meso360")
INSTALLED_UNIT_PATHS = tuple(
    Path(directory, unit_name("ingest")) for directory in ("/lib/systemd/system", "/etc/systemd/system")
)


@dataclasses.dataclass(frozen=True)
class Result:
    level: str  # PASS, WARN, FAIL or SKIP
    name: str
    message: str
    fix: str = ""


def _user():
    """Return (name, uid, gids) of the daemon user if it exists, else of the current user."""
    try:
        entry = pwd.getpwnam(DAEMON_USER)
        gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if DAEMON_USER in g.gr_mem}
        return entry.pw_name, entry.pw_uid, gids
    except KeyError:
        uid = os.geteuid()
        return pwd.getpwuid(uid).pw_name, uid, set(os.getgroups()) | {os.getegid()}


def _may_write(path, uid, gids):
    """True when uid/gids may create files in directory `path` (by its mode bits; root always may)."""
    if uid == 0:
        return True
    info = os.stat(path)
    if info.st_uid == uid:
        bits = stat.S_IWUSR | stat.S_IXUSR
    elif info.st_gid in gids:
        bits = stat.S_IWGRP | stat.S_IXGRP
    else:
        bits = stat.S_IWOTH | stat.S_IXOTH
    return info.st_mode & bits == bits


def check_directory(key, path):
    """Is the directory `path` (config key `key`) writable by the daemon user (or us, without one)?"""
    user, uid, gids = _user()
    name = f"{key} writable"
    if path.is_dir():
        if _may_write(path, uid, gids):
            return Result("PASS", name, f"{path} is writable by {user}")
        return Result("FAIL", name, f"{path} is not writable by {user}", f"chown {user}: {path}")
    if path.exists():
        return Result("FAIL", name, f"{path} exists but is not a directory", f"move it away and set {key} again")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if _may_write(parent, uid, gids):
        return Result("WARN", name, f"{path} does not exist yet; {user} may create it", f"mkdir -p {path}")
    return Result(
        "FAIL", name, f"{path} does not exist and {user} cannot create it", f"mkdir -p {path} && chown {user}: {path}"
    )


def check_unit_paths(config):
    """Under the hardened unit, the data directories must be below /var/lib/meso360."""
    if not any(path.exists() for path in INSTALLED_UNIT_PATHS):
        return []
    results = []
    for key in ("data_dir", "support_dir", "state_dir"):
        path = getattr(config.general, key)
        if UNIT_WRITABLE_ROOT not in (path, *path.parents):
            results.append(
                Result(
                    "WARN",
                    f"{key} location",
                    f"{path} is outside {UNIT_WRITABLE_ROOT}: the sandboxed " "meso360-ingest unit cannot write there",
                    f"keep {key} below {UNIT_WRITABLE_ROOT}",
                )
            )
    return results


def _offset_result(name, offset_seconds, what, fix):
    size = abs(offset_seconds)
    text = f"{what} differ by {offset_seconds:+.1f} s"
    if size > CLOCK_FAIL_SECONDS:
        return Result("FAIL", name, text, fix)
    if size > CLOCK_WARN_SECONDS:
        return Result("WARN", name, text, fix)
    return Result("PASS", name, text)


def _logger_time(text, truncated_half_second=False):
    """Campbell logger time "2025-06-05T17:52:28[.5]" (taken as UTC) -> aware datetime.

    With `truncated_half_second`, a time without fraction gets +0.5 s: the clock was read whole seconds
    truncated, so its mean error is half a second.
    """
    when = dt.datetime.fromisoformat(text.strip().replace(" ", "T")).replace(tzinfo=dt.UTC)
    if truncated_half_second and "." not in text:
        when += dt.timedelta(seconds=0.5)
    return when


def _check_newest_obs_record(client, ingest):
    """Return (newest good Obs record or None, Result): DataQuery, else the legacy NewestRecord page."""
    name = "logger DataQuery"
    fix_reach = f"check the cable/network to the logger and [ingest] logger_url ({ingest.logger_url})"
    try:
        page = client.data_query(ingest.obs_table, RAW_OBS_FIELD_COUNT, most_recent=1)
    except NotSupportedError as error:
        try:
            record = client.newest_record_page(ingest.obs_table, RAW_OBS_FIELD_COUNT, obs_page_values)
        except LoggerError:
            return None, Result("FAIL", name, f"{ingest.logger_url}: {error}", fix_reach)
        return record, Result(
            "WARN",
            name,
            f"not supported ({error}); the legacy NewestRecord page answers (record {record.no}): ingest falls "
            "back to it and can backfill only the last few records after an outage",
            "update the logger OS to one with the DataQuery web API",
        )
    except LoggerError as error:
        return None, Result("FAIL", name, f"{ingest.logger_url}: {error}", fix_reach)
    good = [record for record in page.records if record.problem is None]
    if not good:
        problem = page.records[0].problem if page.records else "no records in the table"
        return None, Result("FAIL", name, f"table {ingest.obs_table}: {problem}", "check the logger program")
    record = good[-1]
    message = f"{ingest.logger_url} table {ingest.obs_table}: {RAW_OBS_FIELD_COUNT} fields, newest record {record.no}"
    message += f" at {record.time}"
    return record, Result("PASS", name, message)


def check_logger(config):
    """The newest Obs record (DataQuery, 19 fields), the logger clock vs host, and GPS vs the logger clock."""
    ingest = config.ingest
    client = LoggerClient(ingest.logger_url, ingest.request_timeout, ingest.username, ingest.password)
    try:
        record, result = _check_newest_obs_record(client, ingest)
        if record is None:
            return [result]
        return [result, _logger_vs_host(client), _gps_vs_logger(record)]
    finally:
        client.close()


def _logger_vs_host(client):
    name = "clock: logger vs host"
    try:
        sent = time.time()
        logger_text = client.clock_check()
        host_now = dt.datetime.fromtimestamp((sent + time.time()) / 2, dt.UTC)  # middle of the round trip
        offset = (_logger_time(logger_text, truncated_half_second=True) - host_now).total_seconds()
    except (LoggerError, ValueError) as error:
        return Result("WARN", name, f"ClockCheck failed: {error}", "update the logger OS")
    fix = "set the logger clock to UTC (LoggerNet/Device Configurator) or fix host NTP (timedatectl)"
    return _offset_result(name, offset, "logger clock and host UTC clock", fix)


def _gps_vs_logger(record):
    name = "clock: GPS vs logger"
    gps = parse_gps_datetime(clean_gps_token(record.values[9]), clean_gps_token(record.values[10]))
    if gps is None:
        return Result("WARN", name, "the newest record has no GPS fix", "check the GPS antenna and wait for a fix")
    try:
        offset = (gps - _logger_time(record.time)).total_seconds()
    except ValueError:
        return Result("WARN", name, f"record time {record.time!r} not understood")
    return _offset_result(name, offset, "GPS time and logger record time", "sync the logger clock to GPS")


def _key_owner_problem(key):
    """Where the package's tunnel user exists, the private key must be its own (mode 0600: nobody else reads it)."""
    try:
        tunnel_uid = pwd.getpwnam(users.TUNNEL_USER).pw_uid
    except KeyError:
        return None  # no package install: the daemon runs as whoever starts it
    owner_uid = key.stat().st_uid
    if owner_uid == tunnel_uid:
        return None
    try:
        owner = pwd.getpwuid(owner_uid).pw_name
    except KeyError:
        owner = str(owner_uid)
    return f"{key} is owned by {owner}: {users.TUNNEL_USER}, the tunnel daemon's user, cannot read it"


def check_tunnel(config):
    """Key and pinned host key present, key private, when the tunnel is configured."""
    tunnel = config.tunnel
    if not tunnel.configured:
        return [Result("SKIP", "tunnel", "not configured ([tunnel] host is empty)")]
    results = []
    key = tunnel.key_file
    if not key.is_file():
        results.append(Result("FAIL", "tunnel key", f"{key} missing", "meso360ctl tunnel keygen"))
    elif key.stat().st_mode & 0o077:
        results.append(
            Result(
                "FAIL",
                "tunnel key",
                f"{key} is readable by group/others " f"(mode {stat.S_IMODE(key.stat().st_mode):04o})",
                f"chmod 600 {key}",
            )
        )
    elif (owner_problem := _key_owner_problem(key)) is not None:
        results.append(Result("FAIL", "tunnel key", owner_problem, f"chown {users.TUNNEL_USER} {key}"))
    else:
        results.append(Result("PASS", "tunnel key", f"{key} present and private"))
    known = tunnel.known_hosts
    if not known.is_file() or known.stat().st_size == 0:
        results.append(
            Result(
                "FAIL",
                "tunnel known_hosts",
                f"{known} missing or empty",
                "meso360ctl tunnel trust (then compare the fingerprint with base)",
            )
        )
    else:
        results.append(Result("PASS", "tunnel known_hosts", f"{known} present"))
    return results
