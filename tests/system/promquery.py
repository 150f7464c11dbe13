"""Inside the e2e-fleet base container: ask the base Prometheus (or Alertmanager) and print what it says.

    promquery.py query EXPR        one line per sample: "VEHICLE VALUE" (sorted; no vehicle label: "-")
    promquery.py alertmanager      one line per active alert Alertmanager holds: "ALERTNAME VEHICLE"

Run with the installed package's python3 (scripts/e2e_fleet.sh copies it into the base root).
"""

import json
import sys
import urllib.parse
import urllib.request

PROMETHEUS = "http://127.0.0.1:9190"  # meso360-base-prometheus.service
ALERTMANAGER = "http://127.0.0.1:9093"  # Debian's prometheus-alertmanager.service


def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  http on the container's loopback
        return json.load(answer)


def query(expression):
    document = get(f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
    if document.get("status") != "success":
        raise SystemExit(f"query failed: {document}")
    return sorted(
        f"{sample['metric'].get('vehicle', '-')} {sample['value'][1]}" for sample in document["data"]["result"]
    )


def alertmanager():
    alerts = get(f"{ALERTMANAGER}/api/v2/alerts?active=true")
    return sorted(f"{alert['labels'].get('alertname')} {alert['labels'].get('vehicle', '-')}" for alert in alerts)


def main(argv):
    lines = query(argv[1]) if argv[0] == "query" else alertmanager()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
