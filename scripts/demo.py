"""make demo: run the logger simulator and the daemons in the foreground, their logs prefixed by name.

Writes ./demo-data/meso360.conf (the simulator on 127.0.0.1; data, support and state under ./demo-data) and
starts the simulator, then every daemon in daemons(). Ctrl-C or SIGTERM stops them all, by pid, and waits for them. The
simulator keeps its state in ./demo-data/sim-state.json, so a second run goes on as the same logger (as a
real one keeps running while the vehicle computer is off) and ingest backfills what it produced meanwhile.
Options (tests: free ports, a tmp dir): --dir, --sim-port, --web-port.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from meso360.signals import stop_on_signals

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo-data"
SIM_PORT = 8081
WEB_PORT = 8080
STOP_TIMEOUT_S = 10.0
NAME_WIDTH = 6


def simulator_argv(demo, sim_port):
    """The simulator, started first; the same logger across runs (--prefill applies to the first run only)."""
    argv = ["-m", "meso360.sim.cli", "--port", str(sim_port), "--rate", "1", "--prefill", "600"]
    return argv + ["--state-file", str(demo / "sim-state.json"), "--ports-file", str(demo / "sim-ports.json")]


def daemons(demo, web_port):
    """The daemons started once the simulator listens, in this order: (name, argv after the python interpreter,
    TCP port to wait for before starting the next one, or None). Add a daemon here to run it in the demo."""
    config = str(demo / "meso360.conf")
    return [
        ("ingest", ["-m", "meso360.ingest.daemon", "--config", config], None),
        ("web", ["-m", "meso360.web.daemon", "--config", config], web_port or None),
    ]


def config_text(demo, sim_port, web_port):
    return f"""# Written by `make demo` (scripts/demo.py): the simulator on loopback, everything under {demo}.
[meso360]
vehicle = DEMO
data_dir = {demo / "data"}
support_dir = {demo / "support"}
state_dir = {demo / "state"}

[ingest]
logger_url = http://127.0.0.1:{sim_port}
poll_interval = 1.0

[web]
listen = 127.0.0.1:{web_port}
"""


def stream(name, pipe, lock):
    """Copy a child's output to ours, each line prefixed with its name."""
    width = NAME_WIDTH
    for raw in iter(pipe.readline, b""):
        with lock:
            sys.stdout.write(f"{name:>{width}} | {raw.decode(errors='replace').rstrip()}\n")
            sys.stdout.flush()


def wait_for_port(port, process, stop, timeout_s=15.0):
    """Wait until 127.0.0.1:port accepts connections (the program is up), it exits, or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None and not stop.is_set():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            stop.wait(0.1)


def wait_for_ports_file(path, process, stop, timeout_s=15.0):
    """Wait until the simulator wrote its ports file (it is listening); return {"logger", "control"} or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None and not stop.is_set():
        if path.exists():
            return json.loads(path.read_text())
        stop.wait(0.1)
    return None


def stop_all(children):
    for _name, process in children:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"demo: {name} (pid {process.pid}) did not stop in time: killing it", flush=True)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEMO, help="where config, data and state go (./demo-data)")
    parser.add_argument("--sim-port", type=int, default=SIM_PORT, help=f"logger port ({SIM_PORT}; 0: a free one)")
    parser.add_argument("--web-port", type=int, default=WEB_PORT, help=f"web port ({WEB_PORT}; 0: a free one)")
    return parser.parse_args(argv)


def start(name, argv, environment, children, lock):
    process = subprocess.Popen(  # noqa: S603  argv list, no shell: this Python, the repository's programs
        [sys.executable, *argv],
        cwd=REPO,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches only us; we stop the children by pid
    )
    children.append((name, process))
    threading.Thread(target=stream, args=(name, process.stdout, lock), daemon=True).start()
    return process


def print_urls(demo, ports, web_port):
    logger = f"http://127.0.0.1:{ports['logger']}"
    web = f"http://127.0.0.1:{web_port}" if web_port else "http://127.0.0.1:<port in web's 'listening on' line>"
    print(f"demo: config      {demo / 'meso360.conf'}")
    print(f"demo: data files  {demo / 'data'}/YYYYMMDD.txt, {demo / 'support'}/YYYYMMDD_support.txt")
    print(f"demo: logger      {logger}/?command=DataQuery&uri=dl:Obs&format=json&mode=most-recent&p1=5")
    print(f"demo: simulator   control API http://127.0.0.1:{ports['control']}/state, state {demo / 'sim-state.json'}")
    print(f"demo: dashboard   {web}/view")
    print(f"demo: panel       {web}/ (read-only: control needs a password, see README)")
    print("demo: Ctrl-C stops everything", flush=True)


def main(argv=None):
    arguments = parse_arguments(argv)
    demo, web_port = arguments.dir.resolve(), arguments.web_port
    demo.mkdir(parents=True, exist_ok=True)
    ports_file = demo / "sim-ports.json"
    ports_file.unlink(missing_ok=True)
    stop = threading.Event()
    stop_on_signals(stop)  # Ctrl-C stops the demo even when it was started with SIGINT ignored
    lock = threading.Lock()
    children = []
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "MESO360_CONFIG": str(demo / "meso360.conf")}
    environment.pop("NOTIFY_SOCKET", None)
    try:
        sim = start("sim", simulator_argv(demo, arguments.sim_port), environment, children, lock)
        ports = wait_for_ports_file(ports_file, sim, stop)
        if ports is None:
            print("demo: the simulator did not start: stopping", flush=True)
            return 0 if stop.is_set() else 1
        # Written once the simulator listens: with --sim-port 0 only then is its port known.
        (demo / "meso360.conf").write_text(config_text(demo, ports["logger"], web_port))
        print_urls(demo, ports, web_port)
        for name, argv, port in daemons(demo, web_port):
            if stop.is_set():
                break
            process = start(name, argv, environment, children, lock)
            if port is not None:
                wait_for_port(port, process, stop)
        while not stop.wait(0.5):
            ended = [(name, p.returncode) for name, p in children if p.poll() is not None]
            if ended:
                print(f"demo: {ended[0][0]} exited with code {ended[0][1]}: stopping the others", flush=True)
                break
    finally:
        stop_all(children)
        print("demo: all stopped", flush=True)
    return 0 if stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
