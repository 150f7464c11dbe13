"""meso360-base-apply: make the base follow fleet.conf (run as root after every edit of it).

It writes the vehicles' Prometheus targets (Prometheus rereads them by itself), sets the sync timers' interval,
enables and starts meso360-base-sync@VEHICLE.timer for every vehicle of the file, and stops and disables the timer
of a vehicle no longer in it (its files stay in DATA_ROOT/VEHICLE); restarts the fleet page if it runs (it reads the
vehicle list at its start).
"""

import argparse
import subprocess
import sys
from pathlib import Path

from meso360.base import fleet_config, targets
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError
from meso360.systemd_units import SystemdUnavailable, systemctl_path

SYSTEMD_DIR = Path("/etc/systemd/system")
TIMER_TEMPLATE = "meso360-base-sync@.timer"
DEFAULT_INTERVAL_SECONDS = 60  # OnUnitActiveSec= of units/base/meso360-base-sync@.timer
INTERVAL_DROP_IN = f"{TIMER_TEMPLATE}.d/50-fleet-sync-interval.conf"
SYSTEMCTL_TIMEOUT_SECONDS = 60
FLEET_PAGE_UNIT = "meso360-base-web.service"  # reads fleet.conf once, at its start


def timer_name(vehicle_name):
    return f"meso360-base-sync@{vehicle_name}.timer"


def enabled_timers(systemd_dir):
    """Return the vehicle names whose sync timer is enabled (the symlinks `systemctl enable` made)."""
    wants = systemd_dir / "timers.target.wants"
    prefix, suffix = "meso360-base-sync@", ".timer"
    return sorted(path.name[len(prefix) : -len(suffix)] for path in wants.glob(f"{prefix}*{suffix}"))


def interval_drop_in_text(seconds):
    """Return the timer drop-in setting the interval, or None for the packaged default (no drop-in)."""
    if int(seconds) == DEFAULT_INTERVAL_SECONDS:
        return None
    return (
        "# Written by meso360-base-apply from [base] sync_interval of /etc/meso360-base/fleet.conf.\n"
        f"[Timer]\nOnUnitActiveSec=\nOnUnitActiveSec={int(seconds)}s\n"
    )


def plan(fleet, systemd_dir):
    """Return (drop-in text or None, [systemctl argument lists]) that bring systemd in line with `fleet`."""
    wanted = [vehicle.name for vehicle in fleet.vehicles]
    gone = [name for name in enabled_timers(systemd_dir) if name not in wanted]
    commands = [["daemon-reload"]]
    if wanted:
        commands.append(["enable", "--now", *(timer_name(name) for name in wanted)])
    if gone:
        commands.append(["disable", "--now", *(timer_name(name) for name in gone)])
    commands.append(["try-restart", FLEET_PAGE_UNIT])  # only if running: a stopped page stays stopped
    return interval_drop_in_text(fleet.base.sync_interval), commands


def write_drop_in(systemd_dir, text):
    path = systemd_dir / INTERVAL_DROP_IN
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_systemctl(arguments):
    """Run `systemctl ARGUMENTS`; raise SystemdUnavailable with its message if it fails."""
    command = [systemctl_path(), *arguments]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_SECONDS)  # noqa: S603  fixed argv
    except subprocess.CalledProcessError as error:
        raise SystemdUnavailable(f"systemctl {' '.join(arguments)}: {error.stderr.strip()}") from error
    except subprocess.TimeoutExpired as error:
        raise SystemdUnavailable(f"systemctl {' '.join(arguments)}: no answer in {error.timeout} s") from error


def main(argv=None):
    parser = argparse.ArgumentParser(prog="meso360-base-apply", description=__doc__.splitlines()[0])
    parser.add_argument("--fleet-config", help=f"default: ${fleet_config.ENV_VAR} or {fleet_config.DEFAULT_PATH}")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    parser.add_argument("--systemd-dir", type=Path, default=SYSTEMD_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        fleet = fleet_config.load(args.fleet_config)
    except ConfigError as error:
        print("meso360-base-apply: the fleet config is invalid:", *error.problems, sep="\n  ", file=sys.stderr)
        return EXIT_CONFIG
    drop_in, commands = plan(fleet, args.systemd_dir)
    interval = f"sync every {int(fleet.base.sync_interval)} s"
    if args.dry_run:
        print(f"would write {fleet.base.targets_file} ({len(fleet.vehicles)} vehicles); {interval}")
        print("\n".join("would run: systemctl " + " ".join(command) for command in commands))
        return EXIT_OK
    targets.write_targets(fleet)
    write_drop_in(args.systemd_dir, drop_in)
    try:
        for command in commands:
            run_systemctl(command)
    except SystemdUnavailable as error:
        print(f"meso360-base-apply: {error}", file=sys.stderr)
        return EXIT_FAILURE
    names = ", ".join(vehicle.name for vehicle in fleet.vehicles) or "none"
    print(f"{fleet.base.targets_file}: {len(fleet.vehicles)} vehicles; sync timers on for {names}; {interval}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
