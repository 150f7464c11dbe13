"""Benchmark meso360-web: 100 SSE clients on a full live window, status latency, history and day downsampling.

Today and yesterday hold a full day of rows each (today's padded before the live window), as at the end of
a day; the day history is timed cold (a past day never requested), warm (yesterday, today) and cached.

Today's QC sidecar follows its rows as ingest's QC thread keeps it, with a t_fast spike (a QC mark sent to every
client) every --qc-spike-every rows. Runs the real daemon on 127.0.0.1 (port 0) over files in a temporary
directory; prints a table, asserts nothing.
    .venv/bin/python scripts/bench_web.py [--seconds 60] [--clients 100] [--live-only | --range-only | --day-only]
        [--qc-spike-every 10]
"""

import argparse
import datetime as dt
import gzip
import http.client
import json
import os
import random
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib
import requests

from meso360 import config as meso360_config
from meso360.qc.sidecar import QcStream

ROOT = Path(__file__).resolve().parent.parent
TEST_ROWS = [line.rstrip("\n").split(",") for line in open(ROOT / "test_data/test.txt").readlines()[1:]]
HEADER = open(ROOT / "test_data/test.txt").readline()
PAST_DAYS = ("20251105", "20251106", "20251107", "20251108", "20251109")  # full days, each requested cold once


def row_at(index, when):
    row = list(TEST_ROWS[index % len(TEST_ROWS)])
    row[9], row[10] = when.strftime("%d%m%y"), when.strftime("%H%M%S")
    return ",".join(row) + "\n"


def write_rows(path, start, count):
    with open(path, "a", encoding="utf-8") as file:
        if file.tell() == 0:
            file.write(HEADER)
        file.writelines(row_at(i, start + dt.timedelta(seconds=i)) for i in range(count))


def start_daemon(directory):
    config = directory / "web.conf"
    config.write_text(
        f"[meso360]\ndata_dir = {directory}/data\nsupport_dir = {directory}/support\nstate_dir = {directory}/state\n"
        "[web]\nlisten = 127.0.0.1:0\nhistory_hours = 2\n"
    )
    process, port = benchlib.start_daemon(
        "meso360.web.daemon", ["--config", str(config)], directory / "web.log", unit="meso360-web.service"
    )
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}"
    while requests.get(url + "/healthz", timeout=5).status_code != 200:
        time.sleep(0.05)
    while b"day history of today and yesterday warmed" not in (directory / "web.log").read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"meso360-web did not warm the day history: {(directory / 'web.log').read_text()}")
        time.sleep(0.05)  # the CPU measured below is the SSE clients', not the warm-up's
    return process, url


def process_cpu_seconds(pid):
    """Return the CPU time of the process's threads, in seconds, to the nanosecond (schedstat).

    /proc/PID/stat's utime and stime are sampled at each clock tick (10 ms) here: a hundred threads that each
    run 0.1 ms a second are charged by chance, and the same minute measured 0.4 to 1.5 %. The threads of the
    web daemon live as long as it does, so the sum over them is its CPU time.
    """
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    if total_ns:
        return total_ns / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # no schedstat in this kernel
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class SSEClients:
    """`count` raw-socket SSE clients served by one selector thread; records when each id arrived."""

    def __init__(self, url, count, path="/api/stream"):
        host, port = url.removeprefix("http://").split(":")
        self.selector = selectors.DefaultSelector()
        self.received = [dict() for _ in range(count)]
        self.buffers = [b""] * count
        self.qc_events = [0] * count  # `qc` events (QC marks) received
        for index in range(count):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, index)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.2):
                data = key.fileobj.recv(65536)
                now = time.time()
                index = key.data
                buffer = self.buffers[index] + data
                *frames, buffer = buffer.split(b"\n\n")
                self.buffers[index] = buffer
                for frame in frames:
                    self.frame(index, frame, now)

    def frame(self, index, frame, now):
        """Note when client `index` received the id of this SSE frame."""
        if b"event: qc\n" in frame:
            self.qc_events[index] += 1
        for line in frame.split(b"\n"):
            if line.startswith(b"id: "):
                self.received[index][int(line[4:])] = now

    def close(self):
        self.stop.set()
        self.thread.join()
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def status_probe(url, seconds):
    """Poll /api/status for `seconds` with a lean keep-alive client (the server's latency, as a browser's fetch),
    10 times a second at random phases (about 200 samples: the p95 is not the second worst of 40, and the rows'
    SSE fan-out is met as often as it happens), and every 0.5 s with requests (whose own Python work adds about
    2 ms here); print both lists (s)."""
    host, port = url.removeprefix("http://").split(":")
    lean = http.client.HTTPConnection(host, int(port), timeout=10)
    session = requests.Session()
    lean_times, requests_times = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        lean.request("GET", "/api/status")
        answer = lean.getresponse()
        answer.read()
        lean_times.append(time.perf_counter() - began)
        if answer.status != 200:
            raise SystemExit(f"/api/status answered {answer.status}")
        time.sleep(random.uniform(0.05, 0.15))  # noqa: S311  spreading samples, not cryptography
        if len(lean_times) % 5 == 0:
            began = time.perf_counter()
            session.get(url + "/api/status", timeout=10).raise_for_status()
            requests_times.append(time.perf_counter() - began)
    print(json.dumps([lean_times, requests_times]))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")


def main():
    if sys.argv[1:2] == ["--status-probe"]:  # the status poller's own process (run_bench starts it)
        return status_probe(sys.argv[2], float(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--live-only", action="store_true", help="only the live part (SSE clients, live history)")
    parser.add_argument(
        "--qc-spike-every", type=int, default=10, help="a t_fast spike (a QC mark) every N appended rows, 0: none"
    )
    parser.add_argument("--range-only", action="store_true", help="measure only the 24 h range across two files")
    parser.add_argument(
        "--day-only", action="store_true", help="measure only the day history (past days, yesterday, today)"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-web-") as temporary:
        directory = Path(temporary)
        for name in ("data", "support", "state"):
            (directory / name).mkdir()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        start = now - dt.timedelta(seconds=7300)
        today = directory / "data" / f"{now:%Y%m%d}.txt"
        midnight = dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)
        yesterday = midnight - dt.timedelta(days=1)
        # Yesterday whole; today: rows before the live window (several a second) up to a full day, then the
        # live window full (2 h at 1 Hz), rows up to now (split over the two files across midnight).
        write_rows(directory / "data" / f"{yesterday:%Y%m%d}.txt", yesterday, 86400)
        if start.date() == now.date():
            padding = 86400 - 7300
            with open(today, "a", encoding="utf-8") as file:
                file.write(HEADER)
                span = (start - midnight).total_seconds()
                file.writelines(
                    row_at(i, midnight + dt.timedelta(seconds=int(i * span / padding))) for i in range(padding)
                )
            write_rows(today, start, 7300)
        else:
            write_rows(today, midnight, int((now - midnight).total_seconds()))
            print(
                f"note: the live window reaches back past midnight UTC: today's file holds {now - midnight} of rows, "
                "not a full day; run the bench later in the day for the end-of-day case",
                file=sys.stderr,
            )
        for day in () if args.live_only else PAST_DAYS:
            first = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC)
            write_rows(directory / "data" / f"{day}.txt", first, 86400)
        qc_stream = QcStream(today, meso360_config.parse("").qc)  # as ingest's QC thread: today's sidecar
        qc_stream.update()
        process, url = start_daemon(directory)
        try:
            if not args.range_only:
                if not args.day_only:
                    results += run_bench(url, process.pid, today, args, now, qc_stream)
                if not args.live_only:
                    results += day_history_bench(url, process.pid, now)
            if not args.live_only and not args.day_only:
                results += range_history_bench(url, now)
        finally:
            process.terminate()
            process.wait(10)
    benchlib.print_results(results)


def run_bench(url, pid, today, args, start_time, qc_stream):
    results = []
    session = requests.Session()
    window_points = len(session.get(url + "/api/history", timeout=10).json()["points"]["id"])
    clients = SSEClients(url, args.clients)
    time.sleep(1.0)  # let every client connect (the rows counted below are appended after this)
    metrics = session.get(url + "/metrics", timeout=10).text
    connected = re.search(r"^meso360_sse_clients (\d+)", metrics, re.MULTILINE).group(1)
    appended = {}  # row index -> append wall time
    cpu_before, wall_before = process_cpu_seconds(pid), time.monotonic()

    # CPU is measured over the first 2/3 with only the SSE clients; /api/status is polled in the last third, from
    # a process of its own (as the panel's browser is): in this one the 100 SSE clients' thread holds the GIL
    # whenever rows arrive, and a poller here would time its own wait for it.
    probe = None
    cpu_phase = max(1, args.seconds * 2 // 3)
    cpu_pct = None
    when = start_time
    for index in range(args.seconds):
        if index == cpu_phase:
            cpu_pct = 100.0 * (process_cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
            probe = subprocess.Popen(  # noqa: S603  this script itself, with the bench's own arguments
                [sys.executable, __file__, "--status-probe", url, str(args.seconds - cpu_phase - 1)],
                stdout=subprocess.PIPE,
                text=True,
            )
        when += dt.timedelta(seconds=1)
        line = row_at(index, when)
        if args.qc_spike_every and index % args.qc_spike_every == args.qc_spike_every - 1:
            cells = line.split(",")
            cells[4] = f"{float(cells[4]) + 15:.2f}"  # t_fast: a step the QC flags suspect, marked on the chart
            line = ",".join(cells)
        with open(today, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            appended[index] = time.time()
        time.sleep(0.3)
        qc_stream.update()  # the sidecar follows the row, as ingest's QC thread writes it (within its 2 s)
        time.sleep(0.7)
    probed, _ = probe.communicate(timeout=60)
    status_times, requests_times = json.loads(probed)
    rss = process_rss_mb(pid)
    time.sleep(0.5)
    clients.close()
    complete = sum(1 for received in clients.received if len(received) == args.seconds)
    latencies = []
    for received in clients.received:
        for offset, (_event_id, arrived) in enumerate(sorted(received.items())):
            if offset in appended:
                latencies.append(arrived - appended[offset])
    results += [
        ("live window (points)", f"{window_points}", "7200"),
        ("SSE clients connected", connected, f"{args.clients}"),
        (f"clients that got all {args.seconds} rows", f"{complete}/{args.clients}", "all"),
        ("append -> SSE event latency median (ms)", f"{1000 * statistics.median(latencies):.1f}", ""),
        ("append -> SSE event latency p95 (ms)", f"{1000 * percentile(latencies, 0.95):.1f}", "<= 150"),
        (f"web CPU, {args.clients} SSE clients, 1 row/s (% of a core)", f"{cpu_pct:.2f}", "<= 1.5"),
        ("web RSS (MB)", f"{rss:.1f}", "<= 40"),
        (
            "QC mark events a client got (fewest) / spikes appended",
            f"{min(clients.qc_events)}/{args.seconds // args.qc_spike_every if args.qc_spike_every else 0}",
            "",
        ),
        ("/api/status latency p50 (ms)", f"{1000 * statistics.median(status_times):.1f}", ""),
        (
            f"/api/status latency p95 (ms), {len(status_times)} requests",
            f"{1000 * percentile(status_times, 0.95):.1f}",
            "<= 3",
        ),
        (
            "  ... through requests, its client work included: p50 (ms)",
            f"{1000 * statistics.median(requests_times):.1f}",
            "",
        ),
        (
            "  ... through requests, its client work included: p95 (ms)",
            f"{1000 * percentile(requests_times, 0.95):.1f}",
            "",
        ),
    ]
    # Live-window history: warm (body reused) and cold (first request after a new row: body built anew).
    warm = []
    for _ in range(30):
        began = time.perf_counter()
        answer = session.get(url + "/api/history", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
        body = answer.raw.read()
        warm.append(time.perf_counter() - began)
    cold = []
    last_id = json.loads(gzip.decompress(body))["last_id"]
    for index in range(20):
        with open(today, "a", encoding="utf-8") as file:
            file.write(row_at(index, start_time + dt.timedelta(seconds=args.seconds + 1 + index)))
        time.sleep(0.3)  # the reader polls every 50 ms
        began = time.perf_counter()
        answer = session.get(url + "/api/history", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
        cold_body = answer.raw.read()
        cold.append(time.perf_counter() - began)
        newer = json.loads(gzip.decompress(cold_body))["last_id"]
        assert newer > last_id, "the history body did not include the new row"  # noqa: S101  a benchmark's sanity check, never run with -O
        last_id = newer
    idle = []  # as the cold requests, 0.3 s after the last one, but no new row: the body is reused
    for _ in range(20):
        time.sleep(0.3)
        began = time.perf_counter()
        session.get(url + "/api/history", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10).raw.read()
        idle.append(time.perf_counter() - began)
    results += [
        ("2 h history, gzip, body reused: median (ms)", f"{1000 * statistics.median(warm):.1f}", "<= 5"),
        ("  ... 0.3 s after the last request, no new row: median (ms)", f"{1000 * statistics.median(idle):.1f}", ""),
        ("2 h history, gzip, after a new row (cold): median (ms)", f"{1000 * statistics.median(cold):.1f}", "<= 5"),
        ("2 h history, gzip, after a new row (cold): max of 20 (ms)", f"{1000 * max(cold):.1f}", ""),
        ("2 h history size on the wire (kB)", f"{len(body) / 1000:.0f}", "<= 150"),
    ]
    return results


def timed_get(session, url):
    began = time.perf_counter()
    answer = session.get(url, timeout=60)
    answer.raise_for_status()
    return 1000 * (time.perf_counter() - began), answer.json()


def day_history_bench(url, pid, now):
    """Time /api/history/<day>?points=2000: past days cold, one again cached; yesterday and today warmed."""
    session = requests.Session()
    yesterday = now - dt.timedelta(days=1)
    rss_before = process_rss_mb(pid)
    colds = []
    for day in PAST_DAYS:  # each requested once: never read before
        cold, document = timed_get(session, url + f"/api/history/{day}?points=2000")
        colds.append(cold)
    again, _ = timed_get(session, url + f"/api/history/{PAST_DAYS[0]}?points=2000")
    warm_yesterday, yesterday_document = timed_get(session, url + f"/api/history/{yesterday:%Y%m%d}?points=2000")
    # Today's file grew by the rows of the SSE and history phases: its answer is made anew from the kept columns.
    warm_today, today_document = timed_get(session, url + f"/api/history/{now:%Y%m%d}?points=2000")
    rss = process_rss_mb(pid)
    return [
        (
            f"past day ({document['total_rows']} rows) -> {len(document['points']['ts'])} points, cold: median (ms)",
            f"{statistics.median(colds):.0f}",
            "<= 300",
        ),
        (f"  ... max of {len(colds)} never-read days (ms)", f"{max(colds):.0f}", ""),
        ("past day, unchanged file again (cached) (ms)", f"{again:.1f}", ""),
        (f"yesterday ({yesterday_document['total_rows']} rows), warmed (ms)", f"{warm_yesterday:.1f}", "<= 300"),
        (f"today ({today_document['total_rows']} rows, grown since), warm (ms)", f"{warm_today:.0f}", "<= 300"),
        ("web RSS before the day history requests (MB)", f"{rss_before:.1f}", ""),
        ("web RSS after the day history requests (MB)", f"{rss:.1f}", "<= 40"),
    ]


def range_history_bench(url, now):
    """Time /api/range?points=2000 over 24 h across two files: never-asked ranges (cold) over two full past days
    at 1 Hz, shifted an hour each, then one again (cached); and the last 24 h up to now (yesterday and today)."""
    session = requests.Session()
    noon = dt.datetime.strptime(PAST_DAYS[0], "%Y%m%d").replace(tzinfo=dt.UTC) + dt.timedelta(hours=12)
    colds = []
    for hour in range(5):
        start = noon + dt.timedelta(hours=hour)
        params = f"from={start:%Y-%m-%dT%H:%M:%SZ}&to={start + dt.timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}&points=2000"
        cold, document = timed_get(session, url + "/api/range?" + params)
        colds.append(cold)
    cached = [timed_get(session, url + "/api/range?" + params)[0] for _ in range(20)]
    last = f"from={now - dt.timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}&to={now:%Y-%m-%dT%H:%M:%SZ}&points=2000"
    last_cold, last_document = timed_get(session, url + "/api/range?" + last)
    last_cached = statistics.median(timed_get(session, url + "/api/range?" + last)[0] for _ in range(20))
    return [
        (
            f"24 h range across two files ({document['total_rows']} rows -> {len(document['points']['ts'])} points):"
            " cold ms / cached ms (medians)",
            f"{statistics.median(colds):.0f} / {statistics.median(cached):.1f}",
            "<= 400 / <= 5",
        ),
        (f"  ... max of {len(colds)} never-asked ranges (ms)", f"{max(colds):.0f}", ""),
        (
            f"last 24 h up to now ({last_document['total_rows']} rows: yesterday, today padded): cold ms / cached ms",
            f"{last_cold:.0f} / {last_cached:.1f}",
            "",
        ),
    ]


if __name__ == "__main__":
    main()
