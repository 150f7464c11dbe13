"""python3 -m meso360.base.sync VEHICLE: pull a vehicle's data and support files through its tunnel with rsync.

Run by meso360-base-sync@VEHICLE.service (a oneshot its timer starts every minute). One SSH login, which accepts
only the vehicle's host key pinned in fleet.conf and uses the base's own key, carries two rsync passes: the growing
daily files are appended to (--append-verify), never copied again whole; the QC sidecars, which the vehicle may
rewrite whole, are copied when their size or time differs, so a rewritten one replaces the base's copy. Logs files
and bytes moved, and writes the vehicle's sync.json (for meso360ctl fleet status) and a Prometheus textfile (for the
node exporter and the SyncBehind alert).
"""

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import time

from meso360.atomic import write_atomically
from meso360.base import fleet_config, ssh_master, sync_state
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError
from meso360.logs import setup_logging

RSYNC = "/usr/bin/rsync"
SSH = "/usr/bin/ssh"
# The vehicle's rrsync -ro serves /var/lib/meso360 (meso360ctl fleet authorize): only data/ and support/ come, in two
# passes (rsync options, filter rules). Dot files are an atomic writer's temporary files: never copied.
PASSES = (
    # Observation and support files only grow: send what was added, then check the whole file (resent whole if it
    # differs). --append-verify skips a file whose copy is as long or longer, so it must not carry the sidecars.
    (
        ["--append-verify"],
        ["--exclude=.*", "--exclude=/data/*_qc.txt", "--include=/data/***", "--include=/support/***", "--exclude=*"],
    ),
    # QC sidecars (data/YYYYMMDD_qc.txt) are appended to, but rewritten whole by meso360ctl qc DAY or a restart,
    # possibly shorter or the same size: rsync's quick check (size, and the time to the nanosecond: -@-1) and its
    # delta transfer, so an appended one costs its new lines and a rewritten one replaces the copy (atomically).
    (["--modify-window=-1"], ["--exclude=.*", "--include=/data/", "--include=/data/*_qc.txt", "--exclude=*"]),
)


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


def destination(base, vehicle):
    """Return the user@host ssh logs in to: the vehicle's account on the bastion, where its tunnel ends."""
    return f"{vehicle.user}@{base.bastion_host}"


def rsync_command(base, vehicle, ssh_argv, pass_options, filters, target_dir):
    """Return the argv of one rsync pass bringing the files `filters` select into `target_dir`, over `ssh_argv`."""
    return [
        RSYNC,
        "--recursive",
        "--times",
        *pass_options,
        "--stats",
        f"--timeout={int(base.io_timeout)}",
        *filters,
        "-e",
        " ".join(_quoted(part) for part in ssh_argv),
        f"{destination(base, vehicle)}:./",
        f"{target_dir}/",
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
    """Run the rsync passes of `vehicle` into DATA_ROOT/VEHICLE/{data,support}, one login; return a SyncResult."""
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
    base = fleet.base
    try:
        with ssh_master.connection(
            ssh_command(base, vehicle, known_hosts), destination(base, vehicle), base.connect_timeout + base.io_timeout
        ) as session_ssh:
            return _run_passes(base, vehicle, session_ssh, vehicle_dir)
    except ssh_master.MasterError as error:
        return SyncResult(ok=False, error=explain_failure(error.returncode, error.stderr))


def _run_passes(base, vehicle, session_ssh, vehicle_dir):
    """Run the passes of PASSES at once over the open connection (their files are disjoint; each pass mostly waits
    for the vehicle's rrsync to start); return their SyncResult, the first pass's failure first."""
    env = dict(os.environ, LC_ALL="C")  # the --stats lines in English, numbers with "," only
    for name in ("data", "support"):  # made here, so the passes never both create one
        (vehicle_dir / name).mkdir(exist_ok=True)
    running = [
        subprocess.Popen(  # noqa: S603  fixed argv
            rsync_command(base, vehicle, session_ssh, pass_options, filters, vehicle_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for pass_options, filters in PASSES
    ]
    outputs = [(process.communicate(), process.returncode) for process in running]
    files = moved = 0
    for (stdout, stderr), returncode in outputs:
        if returncode != 0:
            return SyncResult(ok=False, error=explain_failure(returncode, stderr))
        pass_files, pass_moved = parse_stats(stdout)
        files, moved = files + pass_files, moved + pass_moved
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
