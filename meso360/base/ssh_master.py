"""One SSH connection to a vehicle for a whole sync: an OpenSSH ControlMaster whose socket is in a private directory.

Every rsync pass of a sync (meso360.base.sync) runs its session over that connection, so a sync costs the vehicle's
sshd one login and one key exchange over the cellular link, whatever the number of passes. The master runs with -N:
it asks for no session itself, so the vehicle's forced command (rrsync -ro) and `restrict` apply to each pass alone.
"""

import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

from meso360.errors import Meso360Error

POLL_INTERVAL_S = 0.05
CLOSE_TIMEOUT_S = 10


class MasterError(Meso360Error):
    """The connection could not be opened: ssh's exit code and what it wrote on stderr."""

    def __init__(self, returncode, stderr):
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(stderr.strip() or f"ssh exit code {returncode}")


@contextlib.contextmanager
def connection(ssh_argv, destination, timeout_seconds):
    """Open an SSH connection to `destination` with `ssh_argv` (ssh and its options); yield the ssh argv of a session
    over it (for rsync -e); close it at the end. Raise MasterError if it is not up within `timeout_seconds`."""
    with tempfile.TemporaryDirectory(prefix="meso360-ssh-") as private:  # 0700: the socket is the login's
        control = ["-o", f"ControlPath={Path(private) / 'master'}"]
        errors_path = Path(private) / "stderr"
        with errors_path.open("wb") as errors:
            master = subprocess.Popen(  # noqa: S603  fixed argv
                [*ssh_argv, *control, "-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-N", destination],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        try:
            _wait_until_ready(master, Path(private) / "master", errors_path, timeout_seconds)
            # ControlMaster=no: a session uses the socket (and would open its own connection if it were gone).
            yield [*ssh_argv, *control, "-o", "ControlMaster=no"]
        finally:
            _close(master, [*ssh_argv, *control], destination)


def _wait_until_ready(master, socket_path, errors_path, timeout_seconds):
    """Return once the master listens on its socket (after authentication); raise MasterError if it ended first."""
    deadline = time.monotonic() + timeout_seconds
    while not socket_path.exists():
        if master.poll() is not None:
            raise MasterError(master.returncode, errors_path.read_text(errors="replace"))
        if time.monotonic() > deadline:
            raise MasterError(255, f"ssh: connection timed out: not logged in after {timeout_seconds:.0f} s")
        time.sleep(POLL_INTERVAL_S)


def _close(master, ssh_argv, destination):
    """Ask the master to end (ssh -O exit: it says goodbye to the vehicle's sshd); kill it if it does not."""
    if master.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(  # noqa: S603  fixed argv
                [*ssh_argv, "-O", "exit", destination],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CLOSE_TIMEOUT_S,
                check=False,
            )
    try:
        master.wait(timeout=CLOSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        master.kill()
        master.wait()
