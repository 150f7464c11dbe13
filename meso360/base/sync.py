"""python3 -m meso360.base.sync VEHICLE: pull a vehicle's data and support files through its tunnel with rsync.

Run by meso360-base-sync@VEHICLE.service (a oneshot its timer starts every minute). One rsync over ssh, which
accepts only the vehicle's host key pinned in fleet.conf and logs in with the base's own key; growing daily files
are appended to (--append-verify), never copied again whole. Logs files and bytes moved, and writes the vehicle's
sync.json (for meso360ctl fleet status) and a Prometheus textfile (for the node exporter and the SyncBehind alert).
"""

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import time

from meso360.atomic import write_atomically
from meso360.base import fleet_config, sync_state
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError
from meso360.logs import setup_logging

RSYNC = "/usr/bin/rsync"
SSH = "/usr/bin/ssh"
# The vehicle's rrsync -ro serves /var/lib/meso360 (meso360ctl fleet authorize): only these two directories come.
SYNCED_DIRS = ("data", "support")


@dataclasses.dataclass(frozen=True)
class SyncResult:
    ok: bool
    files_transferred: int = 0
    bytes_moved: int = 0
    error: str = ""


def host_alias(vehicle):
    """The name the vehicle's pinned key is filed under: every tunnel ends on 127.0.0.1, only the port differs."""
    return f"meso360-vehicle-{vehicle.name}"


def known_hosts_text(vehicle):
    return f"{host_alias(vehicle)} {vehicle.host_key}\n"


def ssh_command(base, vehicle, known_hosts_path):
    """Return the ssh argv rsync runs (-e): pinned host key only, the base's key only, never a question."""
    return [
        SSH,
        "-F",
        "/dev/null",  # no ssh_config of the host or the user can loosen the options below
        "-p",
        str(vehicle.ssh_port),
        "-i",
        str(base.key_file),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts_path}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        f"HostKeyAlias={host_alias(vehicle)}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={int(base.connect_timeout)}",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
    ]


def rsync_command(base, vehicle, known_hosts_path, destination):
    """Return the rsync argv that brings data/ and support/ of the vehicle into `destination`."""
    filters = [f"--include=/{name}/***" for name in SYNCED_DIRS] + ["--exclude=*"]
    return [
        RSYNC,
        "--recursive",
        "--times",
        # A daily file only grows: send what was added, then check the whole file (resent whole if it differs).
        "--append-verify",
        "--stats",
        f"--timeout={int(base.io_timeout)}",
        *filters,
        "-e",
        " ".join(_quoted(part) for part in ssh_command(base, vehicle, known_hosts_path)),
        f"{vehicle.user}@{base.bastion_host}:./",
        f"{destination}/",
    ]


def _quoted(word):
    # rsync splits -e itself, honouring double quotes (not a shell): quote a word with spaces only.
    return f'"{word}"' if any(c.isspace() for c in word) else word


_STAT_LINES = {
    "files_transferred": re.compile(r"^Number of regular files transferred: ([\d,]+)", re.MULTILINE),
    "bytes_moved": re.compile(r"^Literal data: ([\d,]+) bytes", re.MULTILINE),
}


def parse_stats(text):
    """Given rsync --stats output (LC_ALL=C), return (files transferred, bytes of new data moved)."""
    found = {}
    for key, pattern in _STAT_LINES.items():
        match = pattern.search(text)
        found[key] = int(match.group(1).replace(",", "")) if match else 0
    return found["files_transferred"], found["bytes_moved"]


def explain_failure(returncode, stderr):
    """Given rsync's exit code and stderr, return one line saying what went wrong and what to do."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = "; ".join(lines[-3:]) or f"rsync exit code {returncode}"
    if "Host key verification failed" in stderr or "HOST IDENTIFICATION HAS CHANGED" in stderr:
        return (
            "refused: the vehicle's SSH host key does not match host_key in fleet.conf (nothing synced; check the"
            f" key on the vehicle with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) [{detail}]"
        )
    if "Permission denied" in stderr:
        return f"the vehicle refused the base's key (run meso360ctl fleet authorize on the vehicle) [{detail}]"
    if returncode == 255 or "Connection refused" in stderr or "timed out" in stderr:
        return f"vehicle unreachable through its tunnel [{detail}]"
    return f"rsync failed with exit code {returncode} [{detail}]"


def sync_vehicle(fleet, vehicle):
    """Run one rsync of `vehicle` into DATA_ROOT/VEHICLE/{data,support}; return a SyncResult."""
    key_file = fleet.base.key_file
    if not os.access(key_file, os.R_OK):
        # ssh would go on without it and report the vehicle's refusal: say what is really wrong.
        reason = "missing" if not key_file.exists() else "not readable by this user"
        return SyncResult(ok=False, error=f"the base's key {key_file} is {reason} (fleet.conf [base] key_file)")
    vehicle_dir = fleet.vehicle_dir(vehicle.name)
    vehicle_dir.mkdir(parents=True, exist_ok=True)
    # The pinned key, written from fleet.conf at every run: the file can never drift from the config.
    known_hosts = vehicle_dir / "known_hosts"
    write_atomically(known_hosts, known_hosts_text(vehicle))
    command = rsync_command(fleet.base, vehicle, known_hosts, vehicle_dir)
    env = dict(os.environ, LC_ALL="C")  # the --stats lines in English, numbers with "," only
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603  fixed argv
    if completed.returncode != 0:
        return SyncResult(ok=False, error=explain_failure(completed.returncode, completed.stderr))
    files, moved = parse_stats(completed.stdout)
    return SyncResult(ok=True, files_transferred=files, bytes_moved=moved)


def run(fleet, name, log, clock=time.time):
    """Sync vehicle `name` once, record the outcome; return the exit code (0 synced, 1 failed)."""
    vehicle = fleet.vehicle(name)
    started = clock()
    result = sync_vehicle(fleet, vehicle)
    state = sync_state.record(fleet, vehicle.name, result, started)
    if result.ok:
        log.info(
            "%s: synced %d files, %d bytes moved, in %.1f s; nothing behind",
            vehicle.name,
            result.files_transferred,
            result.bytes_moved,
            clock() - started,
        )
        return EXIT_OK
    since = sync_state.describe_last_success(state, clock())
    log.error("%s: sync failed: %s; files behind since the last success (%s)", vehicle.name, result.error, since)
    return EXIT_FAILURE


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m meso360.base.sync", description=__doc__.splitlines()[0])
    parser.add_argument("vehicle", help="the name of a [vehicle NAME] section of fleet.conf")
    parser.add_argument("--fleet-config", help=f"default: ${fleet_config.ENV_VAR} or {fleet_config.DEFAULT_PATH}")
    args = parser.parse_args(argv)
    log = setup_logging("meso360-base-sync")
    try:
        fleet = fleet_config.load(args.fleet_config)
        fleet.vehicle(args.vehicle)
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        return EXIT_CONFIG
    return run(fleet, args.vehicle, log)


if __name__ == "__main__":
    sys.exit(main())
