"""Benchmark meso360-base-web: 1 000 live viewers of the fleet stream, each getting every snapshot.

A small stand-in of Prometheus's HTTP API on 127.0.0.1 answers the page's queries for three vehicles; it changes
MM1's temperature at every poll of the page (poll_interval 3 s, the default: the most updates the page can make)
and notes when it answered each new value. The viewers are raw sockets in one selector thread of this process.
Latency: from the stand-in's answer carrying a new value to that snapshot's arrival at a viewer (the poller's
other queries, the snapshot, its encoding and the broadcast to every viewer). CPU: the daemon's threads' time on
CPU from /proc/PID/task/*/schedstat; RSS from /proc/PID/status. Prints a table, asserts nothing.
    .venv/bin/python scripts/bench_base_web.py [--seconds 60] [--viewers 1000]
"""

import argparse
import http.server
import json
import resource
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import benchlib
from bench_web import SSEClients, percentile

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhn/zqwnZf83kDURJdpoNPuMn4HGPoksw91b3UEyOxt"
VEHICLES = ("MM1", "MM2", "MM3")
POLL_INTERVAL_S = 3


class PrometheusStandIn:
    """Answers /api/v1/query like Prometheus for the page's queries; MM1's temperature is new at each poll."""

    def __init__(self):
        self.value = 0
        self.answered = {}  # value -> time.time() of the answer that first carried it
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  the http.server name
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": outer.result(query)}}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())
                if query.startswith("{"):
                    outer.answered.setdefault(outer.value, time.time())

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def result(self, query):
        now = time.time()
        if query.startswith("last_over_time"):
            return [{"metric": {"vehicle": v}, "value": [now, "35.2"]} for v in VEHICLES]
        self.value += 1  # each poll of the page sees a new temperature
        samples = []
        for vehicle in VEHICLES:
            series = {
                "up": 1,
                "meso360_obs_timestamp_seconds": now - 1,
                "meso360_obs_temperature_celsius": self.value if vehicle == "MM1" else 20.5,
                "meso360_obs_dewpoint_celsius": 15.5,
                "meso360_obs_pressure_hectopascals": 965.2,
                "meso360_obs_wind_speed_meters_per_second": 5.5,
                "meso360_obs_latitude_degrees": 35.2,
                "meso360_obs_longitude_degrees": -97.4,
                "meso360_tunnel_up": 1,
            }
            for name, value in series.items():
                labels = {"__name__": name, "job": "vehicles", "vehicle": vehicle}
                samples.append({"metric": labels, "value": [now, str(value)]})
            labels = {"__name__": "meso360_alarm_active", "job": "vehicles", "vehicle": vehicle, "name": "no_data"}
            samples.append({"metric": labels, "value": [now, "0"]})
        return samples


class Viewers(SSEClients):
    """`count` raw-socket SSE viewers of the fleet stream in one selector thread; also note each event's value."""

    def __init__(self, port, count):
        self.values = {}  # event id -> MM1 temperature it carried
        super().__init__(f"http://127.0.0.1:{port}", count, "/api/fleet/stream")

    def frame(self, index, frame, now):
        super().frame(index, frame, now)
        event_id = None
        for line in frame.split(b"\n"):
            if line.startswith(b"id: "):
                event_id = int(line[4:])
            elif line.startswith(b"data: ") and event_id is not None and event_id not in self.values:
                self.values[event_id] = json.loads(line[6:])["vehicles"][0]["obs"]["t"]


def cpu_seconds(pid):
    """Time on CPU of every thread of `pid` (schedstat's first field, ns), in seconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def status_field(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def start_daemon(directory, prometheus_url, thread_per_viewer=False):
    config = directory / "fleet.conf"
    lines = [f"[base]\ndata_root = {directory}\n[web]\nlisten = 127.0.0.1:0\nprometheus_url = {prometheus_url}\n"]
    for number, vehicle in enumerate(VEHICLES):
        lines.append(f"[vehicle {vehicle}]\nssh_port = {2201 + number}\nweb_port = {8201 + number}\nhost_key = {KEY}\n")
    config.write_text("".join(lines))
    module = "scripts.bench_threaded_fleet" if thread_per_viewer else "meso360.base.web.daemon"
    return benchlib.start_daemon(module, ["--fleet-config", str(config)], directory / "page.log")


def measure(pid, port, prometheus, args):
    rss_idle = status_field(pid, "VmRSS") / 1024
    viewers = Viewers(port, args.viewers)
    time.sleep(POLL_INTERVAL_S + 1)  # every viewer connected and got the current snapshot
    first_id = max((max(r) for r in viewers.received if r), default=0)
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    time.sleep(args.seconds)
    cpu_pct = 100 * (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    rss, threads = status_field(pid, "VmRSS") / 1024, status_field(pid, "Threads")
    last_id = max((max(r) for r in viewers.received if r), default=0)
    time.sleep(1)
    viewers.close()
    ids = range(first_id + 1, last_id + 1)
    complete = sum(1 for received in viewers.received if all(i in received for i in ids))
    latencies = [
        received[i] - prometheus.answered[viewers.values[i]]
        for received in viewers.received
        for i in ids
        if i in received and viewers.values.get(i) in prometheus.answered
    ]
    return [
        ("live viewers connected", f"{sum(1 for r in viewers.received if r)}", f"{args.viewers}"),
        (f"snapshots sent in {args.seconds} s (one per poll)", f"{len(ids)}", f"~{args.seconds // POLL_INTERVAL_S}"),
        ("viewers that got every snapshot", f"{complete}/{args.viewers}", "all"),
        ("new value at Prometheus -> all viewers: median (ms)", f"{1000 * statistics.median(latencies):.1f}", ""),
        ("new value at Prometheus -> all viewers: p95 (ms)", f"{1000 * percentile(latencies, 0.95):.1f}", "<= 100"),
        ("  ... max (ms)", f"{1000 * max(latencies):.1f}", ""),
        (f"CPU with {args.viewers} viewers (% of a core)", f"{cpu_pct:.2f}", "<= 3"),
        ("RSS before the viewers (MB)", f"{rss_idle:.1f}", ""),
        (f"RSS with {args.viewers} viewers (MB)", f"{rss:.1f}", "<= 60"),
        ("daemon threads", f"{threads}", ""),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument(
        "--thread-per-viewer",
        action="store_true",
        help="measure the design not chosen: a waitress worker thread per viewer (scripts/bench_threaded_fleet.py)",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))  # viewers and the daemon
    prometheus = PrometheusStandIn()
    with tempfile.TemporaryDirectory(prefix="bench-base-web-") as temporary:
        process, port = start_daemon(Path(temporary), prometheus.url, args.thread_per_viewer)
        try:
            results = measure(process.pid, port, prometheus, args)
        finally:
            process.terminate()
            process.wait(10)
    benchlib.print_results(results, value_width=12)


if __name__ == "__main__":
    main()
