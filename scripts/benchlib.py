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
