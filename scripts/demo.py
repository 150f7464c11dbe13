"""make demo: run the logger simulator and the daemons in the foreground, their logs prefixed by name.

Writes ./demo-data/meso360.conf (the simulator on 127.0.0.1; data, support and state under ./demo-data; a new
control-panel password each run, printed at start) and starts the simulator, then every daemon in daemons().
The demo supervises them as systemd does on the vehicle (demo_supervisor.py): the web panel shows their states
and logs and its Start/Stop/Restart act on these processes. A program that ends by itself is shown failed and
can be restarted from the panel; the demo ends when web does. Ctrl-C or SIGTERM stops them all, by pid, and waits
for them. The simulator keeps its state in ./demo-data/sim-state.json, so a second run goes on as the same logger
(as a real one keeps running while the vehicle computer is off) and ingest backfills what it produced meanwhile.
Options (tests: free ports, a tmp dir): --dir, --sim-port, --web-port.
"""

import argparse
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from demo_supervisor import SOCKET_NAME, Supervisor, SupervisorServer

from meso360.signals import stop_on_signals
from meso360.web.auth import hash_password
from meso360.web.demo_units import SUPERVISOR_ENV

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo-data"
SIM_PORT = 8081
WEB_PORT = 8080


def simulator_argv(demo, sim_port):
    """The simulator, started first; the same logger across runs (--prefill applies to the first run only)."""
    argv = ["-m", "meso360.sim.cli", "--port", str(sim_port), "--rate", "1", "--prefill", "600"]
    return argv + ["--state-file", str(demo / "sim-state.json"), "--ports-file", str(demo / "sim-ports.json")]


def daemons(demo):
    """The daemons started once the simulator listens, in this order: (name, argv after the python interpreter,
    file the program writes its TCP port to once it listens, to wait for before the next one, or None).
    Add a daemon here to run it in the demo."""
    config = str(demo / "meso360.conf")
    return [
        ("ingest", ["-m", "meso360.ingest.daemon", "--config", config], None),
        ("web", ["-m", "meso360.web.daemon", "--config", config, "--port-file", str(demo / "web-port")],
         demo / "web-port"),
    ]  # fmt: skip


def config_text(demo, sim_port, web_port, password):
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
# The control-panel password, new each run (printed at start).
password_hash = {hash_password(password)}
"""


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEMO, help="where config, data and state go (./demo-data)")
    parser.add_argument("--sim-port", type=int, default=SIM_PORT, help=f"logger port ({SIM_PORT}; 0: a free one)")
    parser.add_argument("--web-port", type=int, default=WEB_PORT, help=f"web port ({WEB_PORT}; 0: a free one)")
    return parser.parse_args(argv)


def wait_for_file(path, process, stop, timeout_s=15.0):
    """Wait until the program wrote `path` (it listens); return its text, or None (it exited, stop, deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None and not stop.is_set():
        if path.exists():  # written atomically by the program
            return path.read_text()
        stop.wait(0.1)
    return None


def print_urls(demo, ports, web_port, password):
    logger = f"http://127.0.0.1:{ports['logger']}"
    web = f"http://127.0.0.1:{web_port}"
    print(f"demo: config      {demo / 'meso360.conf'}")
    print(f"demo: data files  {demo / 'data'}/YYYYMMDD.txt, {demo / 'support'}/YYYYMMDD_support.txt")
    print(f"demo: logger      {logger}/?command=DataQuery&uri=dl:Obs&format=json&mode=most-recent&p1=5")
    print(f"demo: simulator   control API http://127.0.0.1:{ports['control']}/state, state {demo / 'sim-state.json'}")
    print(f"demo: dashboard   {web}/view")
    print(f"demo: panel       {web}/  control password: {password}  (new each run)")
    print("demo: the panel's Start/Stop/Restart act on the demo's programs; Ctrl-C stops everything", flush=True)


def start_programs(demo, arguments, supervisor, stop, password):
    """Start the simulator, write the config, start the daemons; return True when all are up."""
    ports_file = demo / "sim-ports.json"
    ports_file.unlink(missing_ok=True)
    # Ports chosen freely (0) at the first start are kept for restarts from the panel.
    ports = {"logger": arguments.sim_port, "control": 0}

    def simulator():
        return simulator_argv(demo, ports["logger"]) + ["--control-port", str(ports["control"])]

    sim = supervisor.add("sim", simulator)
    text = wait_for_file(ports_file, sim, stop)
    if text is None:
        supervisor.note("demo", "the simulator did not start: stopping")
        return False
    ports.update(json.loads(text))
    web_port = arguments.web_port
    # Written once the simulator listens: with --sim-port 0 only then is its port known.
    (demo / "meso360.conf").write_text(config_text(demo, ports["logger"], web_port, password))
    for name, argv, port_file in daemons(demo):
        if stop.is_set():
            return False
        if port_file is not None:
            port_file.unlink(missing_ok=True)
        process = supervisor.add(name, lambda argv=argv: argv)
        if port_file is not None:
            text = wait_for_file(port_file, process, stop, timeout_s=60.0)
            if text is None:
                supervisor.note("demo", f"{name} did not start: stopping")
                return False
            if name == "web" and not web_port:
                web_port = int(text)  # the web restarted from the panel binds the same port
                (demo / "meso360.conf").write_text(config_text(demo, ports["logger"], web_port, password))
    print_urls(demo, ports, web_port, password)
    return True


def main(argv=None):
    arguments = parse_arguments(argv)
    demo = arguments.dir.resolve()
    demo.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    stop_on_signals(stop)  # Ctrl-C stops the demo even when it was started with SIGINT ignored
    password = secrets.token_urlsafe(9)
    socket_path = demo / SOCKET_NAME
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "MESO360_CONFIG": str(demo / "meso360.conf")}
    environment[SUPERVISOR_ENV] = str(socket_path)  # the web daemon shows and controls the demo's programs
    environment.pop("NOTIFY_SOCKET", None)
    supervisor = Supervisor(environment, REPO, threading.Lock())
    server = SupervisorServer(socket_path, supervisor)
    try:
        if not start_programs(demo, arguments, supervisor, stop, password):
            return 0 if stop.is_set() else 1
        while not stop.wait(0.5):
            if "web" in supervisor.check():
                supervisor.note("demo", "web ended: the panel is gone; stopping the others")
                break
    finally:
        server.close()
        supervisor.stop_all()
        print("demo: all stopped", flush=True)
    return 0 if stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
