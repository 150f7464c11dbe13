"""A stand-in vehicle for the base tests: a real OpenSSH sshd on 127.0.0.1 serving a data tree through rrsync -ro,
the base's own key, and a fleet.conf naming it; the sync runs as the real program (python -m meso360.base.sync)."""

import subprocess
import sys
from pathlib import Path

from sshd_fixture import Sshd, ssh_keygen

from meso360.datafile import OBS_HEADER

REPO = Path(__file__).resolve().parents[2]
RRSYNC = "/usr/bin/rrsync"
HEADER = OBS_HEADER + "\n"


def obs_rows(first_second, count):
    """Return `count` data rows of the 17-column format, one second apart from HHMMSS = first_second."""
    rows = []
    for second in range(first_second, first_second + count):
        hhmmss = f"{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"
        rows.append(f"3.1,180,20.5,55,20.6,11.2,55.1,965.2,90,301126,{hhmmss},35.18,-97.44,357,12.5,91,24.1\n")
    return "".join(rows)


def qc_lines(first_row, count, flags="0909"):
    """Return `count` lines of a QC sidecar (meso360/qc/flags.py's format) from row `first_row`, every variable's
    cell `flags`."""
    lines = []
    for row in range(first_row, first_row + count):
        second = row - 1
        stamp = f"2026-11-30T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        lines.append(",".join((str(row), stamp, "0", "0000", *[flags] * 9)) + "\n")
    return "".join(lines)


class Vehicle:
    """The vehicle's side: /var/lib/meso360 stand-in (data/, support/, state/) behind sshd + rrsync -ro."""

    def __init__(self, directory, base_public_key, user):
        self.root = Path(directory) / "var-lib-meso360"
        for name in ("data", "support", "state"):
            (self.root / name).mkdir(parents=True)
        self.sshd = Sshd(Path(directory))
        self.user = user
        # As meso360ctl fleet authorize does on a vehicle: the base's key may run a read-only rsync, nothing else.
        self.sshd.authorized_keys.write_text(f'command="{RRSYNC} -ro {self.root}",restrict {base_public_key}\n')

    def write(self, relative, text, mode="w"):
        path = self.root / relative
        with open(path, mode) as file:
            file.write(text)
        return path


class Base:
    """The base's side: its key, its fleet.conf and DATA_ROOT, in a test directory."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key_file = self.directory / "id_ed25519"
        self.public_key = ssh_keygen(self.key_file, "meso360-base@test")
        self.data_root = self.directory / "data-root"
        self.metrics_dir = self.directory / "metrics"
        self.targets_file = self.directory / "targets" / "vehicles.json"
        self.config_path = self.directory / "fleet.conf"

    def write_config(self, vehicles):
        """`vehicles`: {name: {"ssh_port", "web_port", "host_key", "user"}}."""
        lines = [
            "[base]",
            f"data_root = {self.data_root}",
            f"metrics_dir = {self.metrics_dir}",
            f"targets_file = {self.targets_file}",
            f"key_file = {self.key_file}",
            "bastion_host = 127.0.0.1",
            "connect_timeout = 5",
            "io_timeout = 20",
        ]
        for name, keys in vehicles.items():
            lines += ["", f"[vehicle {name}]", *(f"{key} = {value}" for key, value in keys.items())]
        self.config_path.write_text("\n".join(lines) + "\n")

    def sync(self, name):
        """Run the sync program for vehicle `name` as systemd would; return the CompletedProcess."""
        return subprocess.run(
            [sys.executable, "-m", "meso360.base.sync", "--fleet-config", str(self.config_path), name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def vehicle_dir(self, name):
        return self.data_root / name


def exec_start(unit_name, replacements):
    """Return the argv of a base unit's ExecStart=, with the packaged paths and ports replaced for a test."""
    text = (REPO / "units" / "base" / unit_name).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    for packaged, local in replacements.items():
        line = line.replace(packaged, local)
    return line.removeprefix("ExecStart=").split()
