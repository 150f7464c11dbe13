"""make bench (ingest): record-to-disk latency at 1 Hz, backfill throughput, CPU and memory of meso360-ingest.

Runs the real simulator and the real daemon on loopback in a temporary directory and prints a table; asserts
nothing. Latency: from the moment the simulator produces a record (its control API /wait answers) to the moment
the row is complete in the data file (the file is polled every 10 ms).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import benchlib
import requests

REPO = Path(__file__).resolve().parents[1]
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def start_sim(directory, *options):
    ports_file = directory / "sim.ports.json"
    log = open(directory / "sim.log", "wb")  # noqa: SIM115 - lives as long as the process
    python, env = benchlib.daemon_python()
    command = [python, "-m", "meso360.sim.cli", "--port", "0", "--control-port", "0"]
    process = subprocess.Popen(  # noqa: S603  argv list, no shell: this repository's simulator
        command + ["--ports-file", str(ports_file), *options], stdout=log, stderr=log, cwd=REPO, env=env
    )
    deadline = time.monotonic() + 30
    while not ports_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"simulator did not start: {(directory / 'sim.log').read_text()}")
        time.sleep(0.02)
    ports = json.loads(ports_file.read_text())
    return process, f"http://127.0.0.1:{ports['logger']}", f"http://127.0.0.1:{ports['control']}"


def start_ingest(directory, logger_url):
    config = directory / "ingest.conf"
    config.write_text(
        f"[meso360]\ndata_dir = {directory / 'data'}\nsupport_dir = {directory / 'support'}\n"
        f"state_dir = {directory / 'state'}\n[ingest]\nlogger_url = {logger_url}\npoll_interval = 1.0\n"
    )
    log = open(directory / "ingest.log", "wb")  # noqa: SIM115
    python, env = benchlib.daemon_python()
    command = [python, "-m", "meso360.ingest.daemon", "--config", str(config)]
    return subprocess.Popen(command, stdout=log, stderr=log, cwd=REPO, env=env)  # noqa: S603  argv list, no shell: this repository's daemon


def stop(process):
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_steady(directory, seconds):
    """Latency, CPU and RSS at 1 Hz: return a dict of results."""
    sim, logger_url, control = start_sim(directory, "--rate", "1", "--prefill", "10")
    daemon = start_ingest(directory, logger_url)
    produced, arrived, stop_event = {}, {}, threading.Event()

    def watch_production():
        number = requests.get(control + "/state", timeout=5).json()["newest_record"] + 1
        while not stop_event.is_set():
            try:
                answer = requests.get(control + "/wait", params={"record": number, "timeout": 5}, timeout=10).json()
            except requests.RequestException:
                return  # the simulator was stopped at the end of the run
            if answer["reached"]:
                produced[number] = time.time()
                number += 1

    def watch_file():
        offset, path = 0, None
        while not stop_event.is_set():
            files = sorted((directory / "data").glob("????????.txt")) if (directory / "data").exists() else []
            if files and files[-1] != path:
                path, offset = files[-1], 0
            if path is not None:
                with open(path, "rb") as file:
                    file.seek(offset)
                    chunk = file.read()
                end = chunk.rfind(b"\n")
                if end >= 0:
                    now = time.time()
                    for line in chunk[: end + 1].decode().splitlines():
                        fields = line.split(",")
                        if fields[0] != "sfc_wspd":
                            arrived[f"{fields[9]} {fields[10]}"] = now
                    offset += end + 1
            time.sleep(0.01)

    threads = [threading.Thread(target=watch_production, daemon=True), threading.Thread(target=watch_file, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(5)  # warm-up: the phase lock settles (not a synchronisation: a measurement window)
        cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(seconds)
        cpu_used, wall = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - wall_before
        rss = rss_mb(daemon.pid)
        stop_event.set()
        first, last = min(produced), max(produced)
        records = requests.get(control + "/records", params={"from": first, "to": last}, timeout=10).json()["records"]
    finally:
        stop_event.set()
        stop(daemon)
        stop(sim)
    latencies = []
    for record in records:
        key = f"{record['vals'][9]} {record['vals'][10]}"
        if record["no"] in produced and key in arrived and record["no"] > first + 5:
            latencies.append(arrived[key] - produced[record["no"]])
    return {
        "latency_median_s": statistics.median(latencies),
        "latency_p95_s": percentile(latencies, 0.95),
        "latency_samples": len(latencies),
        "cpu_percent": 100 * cpu_used / wall,
        "cpu_window_s": wall,
        "rss_mb": rss,
    }


def recent_rows_gps(data_dir):
    """Return [gps_date, gps_time] of each complete row in the last 4 kB of the newest data file (oldest first)."""
    files = sorted(data_dir.glob("????????.txt")) if data_dir.exists() else []
    if not files:
        return []
    with open(files[-1], "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - 4096))
        lines = file.read().decode(errors="replace").split("\n")[1:-1]  # complete lines only
    return [
        fields[9:11] for fields in (line.split(",") for line in lines) if len(fields) > 10 and fields[0] != "sfc_wspd"
    ]


def bench_backfill(directory, records_back=3600, prefill=3700):
    """Backfill of a one-hour outage: return a dict of results."""
    sim, logger_url, control = start_sim(directory, "--rate", "1", "--prefill", str(prefill))
    try:
        state = requests.get(control + "/state", timeout=5).json()
        newest = state["newest_record"]
        start_no = newest - records_back
        raw = requests.get(control + "/records", params={"from": start_no, "to": start_no}, timeout=5).json()
        gps = " ".join(raw["records"][0]["vals"][9:11])
        (directory / "state").mkdir(parents=True)
        saved = {"signature": str(state["signature"]), "last_record": start_no, "last_raw_gps": gps,
                 "last_written_gps": gps, "file": None, "file_size": 0}  # fmt: skip
        (directory / "state" / "obs.json").write_text(json.dumps(saved))
        raw = requests.get(control + "/records", params={"from": newest, "to": newest}, timeout=5).json()
        newest_gps = raw["records"][0]["vals"][9:11]
        started = time.monotonic()
        daemon = start_ingest(directory, logger_url)
        caught_up = None
        while time.monotonic() - started < 120:
            # Caught up when the newest record's row is in the data file (the state file is saved in batches; the
            # next record may already be written after it when the backfill ends).
            if newest_gps in recent_rows_gps(directory / "data"):
                caught_up = time.monotonic() - started
                break
            time.sleep(0.01)
        stop(daemon)
    finally:
        stop(sim)
    rows = sum(len(p.read_text().splitlines()) - 1 for p in (directory / "data").glob("????????.txt"))
    if caught_up is None or rows < records_back:
        raise SystemExit(f"backfill incomplete: {rows} rows written, at least {records_back} expected")
    return {"backfill_records": records_back, "backfill_s": caught_up, "backfill_rate": records_back / caught_up}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="steady 1 Hz measurement window (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meso360-bench-") as temporary:
        base = Path(temporary)
        (base / "steady").mkdir()
        (base / "backfill").mkdir()
        print(f"bench: steady 1 Hz for {args.seconds:.0f} s (plus 5 s warm-up) ...", flush=True)
        steady = bench_steady(base / "steady", args.seconds)
        print("bench: backfill of 3600 records (one hour) ...", flush=True)
        backfill = bench_backfill(base / "backfill")
    rows = [
        ("record-to-disk latency, median", f"{steady['latency_median_s']:.3f} s", "<= 0.3 s"),
        ("record-to-disk latency, p95", f"{steady['latency_p95_s']:.3f} s", ""),
        ("  (samples)", f"{steady['latency_samples']}", ""),
        ("backfill of 3600 records, until caught up", f"{backfill['backfill_s']:.2f} s", "<= 5 s"),
        ("backfill throughput (incl. start-up)", f"{backfill['backfill_rate']:.0f} records/s", ""),
        ("CPU at steady 1 Hz", f"{steady['cpu_percent']:.2f} % of a core", "<= 0.3 %"),
        ("RSS (VmRSS) at steady 1 Hz", f"{steady['rss_mb']:.1f} MB", "<= 30 MB"),
    ]
    print()
    print(f"{'meso360-ingest':<44} {'measured':>22}  target")
    for name, value, target in rows:
        print(f"{name:<44} {value:>22}  {target}")
    print(benchlib.describe(benchlib.daemon_python()[0]))


if __name__ == "__main__":
    main()
