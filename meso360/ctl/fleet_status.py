"""meso360ctl fleet status (on the base): per vehicle, the last sync and files behind, and what Prometheus sees."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import click

from meso360 import USER_AGENT
from meso360.base import fleet_config, sync_state

DEFAULT_PROMETHEUS = "http://127.0.0.1:9190"  # meso360-base-prometheus.service (meso360/base/targets.py)
PROMETHEUS_TIMEOUT_SECONDS = 5
SYNC_BEHIND_SECONDS = 600  # as the SyncBehind alert (meso360/base/monitoring/meso360.rules.yml)
QUERIES = {"up": 'up{job="vehicles"}', "obs_age": 'time() - meso360_obs_timestamp_seconds{job="vehicles"}'}
EXIT_ALL_WELL = 0
EXIT_SOMETHING_WRONG = 1


class PrometheusUnavailable(Exception):
    """The base Prometheus did not answer a query usably."""


def query_prometheus(base_url, query, timeout_seconds=PROMETHEUS_TIMEOUT_SECONDS):
    """Given an instant `query`, return {vehicle: value}. Raise PrometheusUnavailable saying why."""
    return {
        sample["metric"].get("vehicle"): float(sample["value"][1])
        for sample in query_samples(base_url, query, timeout_seconds)
        if "vehicle" in sample.get("metric", {})
    }


def query_samples(base_url, query, timeout_seconds=PROMETHEUS_TIMEOUT_SECONDS):
    """Given an instant `query`, return its result list ({"metric": labels, "value": [time, "text"]} each).
    Raise PrometheusUnavailable saying why."""
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    if not url.startswith(("http://", "https://")):
        raise PrometheusUnavailable("--prometheus must be an http:// or https:// URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310  scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310  scheme checked above
            document = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise PrometheusUnavailable(f"HTTP {error.code}") from error
    except urllib.error.URLError as error:
        raise PrometheusUnavailable(str(error.reason)) from error
    except (OSError, ValueError) as error:  # a timeout while reading, an answer that is not JSON
        raise PrometheusUnavailable(str(error) or type(error).__name__) from error
    if not isinstance(document, dict) or document.get("status") != "success":
        raise PrometheusUnavailable(f"the query failed: {str(document)[:200]}")
    return document["data"]["result"]


def collect(fleet, prometheus_url, now):
    """Return {"prometheus": {"url", "reachable", "error"}, "vehicles": [row per vehicle]} for the report."""
    seen, error = {}, None
    try:
        seen = {name: query_prometheus(prometheus_url, query) for name, query in QUERIES.items()}
    except PrometheusUnavailable as problem:
        error = str(problem)
    rows = []
    for vehicle in fleet.vehicles:
        state = sync_state.read_state(fleet, vehicle.name) or {}
        last_success = state.get("last_success")
        up = seen.get("up", {}).get(vehicle.name)
        rows.append(
            {
                "vehicle": vehicle.name,
                "last_sync_age_s": None if last_success is None else round(now - last_success, 1),
                "last_attempt_ok": state.get("ok"),
                "last_error": state.get("error"),
                "files_behind": state.get("files_behind"),
                "up": None if up is None else up == 1,
                "obs_age_s": _rounded(seen.get("obs_age", {}).get(vehicle.name)),
            }
        )
    return {"prometheus": {"url": prometheus_url, "reachable": error is None, "error": error}, "vehicles": rows}


def _rounded(value):
    return None if value is None else round(value, 1)


def healthy(row):
    """A vehicle is well when its last sync worked within SYNC_BEHIND_SECONDS and Prometheus scrapes it."""
    synced = row["last_attempt_ok"] and row["last_sync_age_s"] is not None
    return bool(synced and row["last_sync_age_s"] <= SYNC_BEHIND_SECONDS and row["up"])


def _sync_text(row):
    if row["last_sync_age_s"] is None:
        return "never" if row["last_attempt_ok"] is None else "never (failing)"
    text = f"{sync_state.age_text(row['last_sync_age_s'])} ago"
    return text if row["last_attempt_ok"] else f"{text} (failing)"


def _behind_text(row):
    if row["files_behind"] is None:
        return "unknown" if row["last_attempt_ok"] is False else "-"
    return str(row["files_behind"])


def _scrape_texts(row, reachable):
    if not reachable:
        return "?", "?"
    up = {True: "up", False: "down", None: "no target"}[row["up"]]
    obs = "-" if row["obs_age_s"] is None else f"{sync_state.age_text(row['obs_age_s'])} ago"
    return up, obs


def render(report):
    """Return the report as a table and the lines that explain it."""
    reachable = report["prometheus"]["reachable"]
    table = [("VEHICLE", "LAST SYNC", "FILES BEHIND", "PROMETHEUS", "LAST OBSERVATION")]
    for row in report["vehicles"]:
        table.append((row["vehicle"], _sync_text(row), _behind_text(row), *_scrape_texts(row, reachable)))
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    if not report["vehicles"]:
        lines.append("(no [vehicle NAME] section in the fleet config)")
    lines += [
        f"{row['vehicle']}: last sync failed: {row['last_error']}" for row in report["vehicles"] if row["last_error"]
    ]
    prometheus = report["prometheus"]
    if reachable:
        lines.append(f"Prometheus {prometheus['url']}: answering")
    else:
        lines.append(
            f"Prometheus {prometheus['url']}: not reachable ({prometheus['error']}); up and last observation"
            " unknown (systemctl status meso360-base-prometheus)"
        )
    return "\n".join(lines)


@click.command("status")
@click.option(
    "--fleet-config",
    "fleet_config_path",
    metavar="PATH",
    help=f"Fleet config (default: ${fleet_config.ENV_VAR}, else {fleet_config.DEFAULT_PATH}).",
)
@click.option(
    "--prometheus",
    "prometheus_url",
    default=DEFAULT_PROMETHEUS,
    show_default=True,
    metavar="URL",
    help="The base Prometheus (meso360-base-prometheus.service).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(fleet_config_path, prometheus_url, as_json):
    """Show every vehicle of the fleet: last sync, files behind, scrape state and newest observation.

    Run on the base. Exit code 0 when every vehicle synced within 10 minutes and Prometheus scrapes it, else 1.
    """
    fleet = fleet_config.load(fleet_config_path)  # a ConfigError: exit 78 at meso360ctl's boundary
    report = collect(fleet, prometheus_url, time.time())
    click.echo(json.dumps(report, indent=1) if as_json else render(report))
    well = report["prometheus"]["reachable"] and all(healthy(row) for row in report["vehicles"])
    click.get_current_context().exit(EXIT_ALL_WELL if well else EXIT_SOMETHING_WRONG)
