"""What both benchmarks share: the interpreter the daemons run on.

The .deb runs the daemons on Debian's /usr/bin/python3 with Debian's python3-* packages, and that is what
`make bench` measures when it can. The venv's interpreter (the separate CPython first on PATH) may be built
without profile-guided optimisation: there the same parse code takes about 1.7 times as long, which says
nothing about the product. Without the Debian packages, the benchmarks fall back to the venv's interpreter
and say so.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT_PYTHON = "/usr/bin/python3"
PRODUCT_MODULES = "bottle, waitress, click, jeepney, paramiko, requests, sdnotify, systemd.journal"


def daemon_python():
    """Return (interpreter, environment) to run the daemons with: the product's, with this repository's code."""
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    if os.access(PRODUCT_PYTHON, os.X_OK):
        probe = subprocess.run(  # noqa: S603  argv list, no shell: a fixed interpreter
            [PRODUCT_PYTHON, "-c", f"import {PRODUCT_MODULES}"], env=environment, capture_output=True, check=False
        )
        if probe.returncode == 0:
            return PRODUCT_PYTHON, environment
    print(f"note: {PRODUCT_PYTHON} lacks the product's packages; daemons run on {sys.executable}", file=sys.stderr)
    return sys.executable, environment


def describe(python):
    """Return a line naming the interpreter the daemons ran on, for the results table."""
    version = subprocess.run(  # noqa: S603  argv list, no shell: the daemons' interpreter
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    )
    return f"daemons ran on {python} (Python {version.stdout.strip()})"


def unit_environment(unit):
    """Return {name: value} of the Environment= lines of units/UNIT (what systemd gives that daemon)."""
    lines = (REPO / "units" / unit).read_text().splitlines()
    pairs = [word.split("=", 1) for line in lines if line.startswith("Environment=") for word in line[12:].split()]
    return dict(pairs)


def start_daemon(module, arguments, log_path, timeout_s=60, unit=None):
    """Start `python -m MODULE ARGUMENTS --port-file FILE` on the daemons' interpreter (MALLOC_ARENA_MAX=2 as in
    the units; with `unit`, the Environment= of units/UNIT), its stderr into log_path; return (process, port) once
    it listens. Exit when it does not start."""
    python, env = daemon_python()
    env["MALLOC_ARENA_MAX"] = "2"
    env.update(unit_environment(unit) if unit else {})
    port_file = Path(log_path).with_suffix(".port")
    process = subprocess.Popen(  # noqa: S603  argv list, no shell: this repository's daemon
        [python, "-m", module, *arguments, "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "wb"),  # noqa: SIM115  the process keeps it
        env=env,
    )
    deadline = time.monotonic() + timeout_s
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{module} did not start: {Path(log_path).read_text()}")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def print_results(results, value_width=16):
    """Print the (measure, result, target) rows as a table, then the line naming the daemons' interpreter."""
    print()
    print(f"{'measure':58} {'result':>{value_width}}  target")
    print("-" * (74 + value_width))
    for name, value, target in results:
        print(f"{name:58} {value:>{value_width}}  {target}")
    print(describe(daemon_python()[0]))
