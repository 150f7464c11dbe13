"""The base Prometheus's view of the fleet: the vehicles' scrape targets (file_sd JSON) and its prometheus.yml.

`python3 -m meso360.base.targets` writes the targets file from fleet.conf (Prometheus rereads it by itself);
`--prometheus-config` prints the prometheus.yml the package installs (debian/rules), which never changes with
the vehicles.
"""

import argparse
import json
import sys

from meso360.atomic import write_atomically
from meso360.base import fleet_config
from meso360.errors import EXIT_CONFIG, EXIT_OK, ConfigError

PROMETHEUS_LISTEN = "127.0.0.1:9190"  # Debian's own prometheus.service (the prometheus package) holds :9090
NODE_EXPORTER_LISTEN = "127.0.0.1:9191"  # Debian's prometheus-node-exporter.service holds :9100
ALERTMANAGER = "127.0.0.1:9093"  # Debian's prometheus-alertmanager.service
RULES_PATH = "/usr/share/meso360-base/rules/meso360.rules.yml"
SCRAPE_INTERVAL_SECONDS = 15


def targets(fleet):
    """Given a FleetConfig, return the file_sd target groups: each vehicle's web port at the bastion, labelled."""
    return [
        {"targets": [f"{fleet.base.bastion_host}:{vehicle.web_port}"], "labels": {"vehicle": vehicle.name}}
        for vehicle in fleet.vehicles
    ]


def write_targets(fleet):
    """Write the targets file of `fleet` (atomic replace: Prometheus never reads half a file); return its path."""
    path = fleet.base.targets_file
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(targets(fleet), indent=1) + "\n")
    return path


def prometheus_config(
    targets_file,
    rules_path=RULES_PATH,
    node_exporter=NODE_EXPORTER_LISTEN,
    alertmanager=ALERTMANAGER,
    interval_seconds=SCRAPE_INTERVAL_SECONDS,
):
    """Return the base Prometheus's prometheus.yml text (YAML; JSON values are YAML too)."""
    interval = f"{interval_seconds}s"
    lines = [
        "# The meso360 base Prometheus (meso360-base-prometheus.service). The vehicles come from the targets file,",
        "# which meso360-base-apply writes from /etc/meso360-base/fleet.conf; Prometheus rereads it by itself.",
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
        "rule_files:",
        f"  - {json.dumps(str(rules_path))}",
        "alerting:",
        "  alertmanagers:",
        "    - static_configs:",
        f"        - targets: [{json.dumps(alertmanager)}]",
        "scrape_configs:",
        "  # Each vehicle's /metrics through its tunnel's web port on the bastion (label vehicle=NAME).",
        "  - job_name: vehicles",
        "    file_sd_configs:",
        f"      - files: [{json.dumps(str(targets_file))}]",
        "  # The base itself: its disks and the sync textfiles (meso360-base-node-exporter.service).",
        "  - job_name: base",
        "    static_configs:",
        f"      - targets: [{json.dumps(node_exporter)}]",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m meso360.base.targets", description=__doc__.splitlines()[0])
    parser.add_argument("--fleet-config", help=f"default: ${fleet_config.ENV_VAR} or {fleet_config.DEFAULT_PATH}")
    only_config = "print the prometheus.yml reading this targets file, and nothing else"
    parser.add_argument("--prometheus-config", metavar="TARGETS_FILE", help=only_config)
    args = parser.parse_args(argv)
    if args.prometheus_config:
        sys.stdout.write(prometheus_config(args.prometheus_config))
        return EXIT_OK
    try:
        fleet = fleet_config.load(args.fleet_config)
    except ConfigError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return EXIT_CONFIG
    path = write_targets(fleet)
    print(f"{path}: {len(fleet.vehicles)} vehicles")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
