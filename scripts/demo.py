"""make demo: run the logger simulator and the daemons in the foreground, their logs prefixed by name.

Writes ./demo-data/meso360.conf (the simulator on 127.0.0.1; data, support and state under ./demo-data) and
starts every program in PROGRAMS. Ctrl-C or SIGTERM stops them all, by pid, and waits for them.
"""

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

# One entry per program, started in this order: (name, argv after the python interpreter, TCP port to wait for
# before starting the next one, or None). Add a daemon here to run it in the demo.
PROGRAMS = [
    ("sim", ["-m", "meso360.sim.cli", "--port", str(SIM_PORT), "--rate", "1", "--prefill", "600"], SIM_PORT),
    ("ingest", ["-m", "meso360.ingest.daemon", "--config", str(DEMO / "meso360.conf")], None),
    ("web", ["-m", "meso360.web.daemon", "--config", str(DEMO / "meso360.conf")], WEB_PORT),
]

CONFIG = f"""# Written by `make demo` (scripts/demo.py): the simulator on loopback, everything under ./demo-data.
[meso360]
vehicle = DEMO
data_dir = {DEMO / "data"}
support_dir = {DEMO / "support"}
state_dir = {DEMO / "state"}

[ingest]
logger_url = http://127.0.0.1:{SIM_PORT}
poll_interval = 1.0

[web]
listen = 127.0.0.1:{WEB_PORT}
"""


def stream(name, pipe, lock):
    """Copy a child's output to ours, each line prefixed with its name."""
    width = max(len(program[0]) for program in PROGRAMS)
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


def main():
    DEMO.mkdir(exist_ok=True)
    (DEMO / "meso360.conf").write_text(CONFIG)
    print(f"demo: config      {DEMO / 'meso360.conf'}")
    print(f"demo: data files  {DEMO / 'data'}/YYYYMMDD.txt, {DEMO / 'support'}/YYYYMMDD_support.txt")
    print(
        f"demo: logger      http://127.0.0.1:{SIM_PORT}/?command=DataQuery&uri=dl:Obs&format=json&mode=most-recent&p1=5"
    )
    print(f"demo: dashboard   http://127.0.0.1:{WEB_PORT}/view")
    print(f"demo: panel       http://127.0.0.1:{WEB_PORT}/ (read-only: control needs a password, see README)")
    print("demo: Ctrl-C stops everything", flush=True)
    stop = threading.Event()
    stop_on_signals(stop)  # Ctrl-C stops the demo even when it was started with SIGINT ignored
    lock = threading.Lock()
    children = []
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "MESO360_CONFIG": str(DEMO / "meso360.conf")}
    environment.pop("NOTIFY_SOCKET", None)
    try:
        for name, argv, port in PROGRAMS:
            if stop.is_set():
                break
            process = subprocess.Popen(
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
