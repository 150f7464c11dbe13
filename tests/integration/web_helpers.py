"""Start the real meso360-web process on 127.0.0.1 port 0 for tests (also used by the browser tests).

    web = start_web(tmp_path, config_text)   # config_text: INI; [web] listen is forced to 127.0.0.1:0
    requests.get(web.url + "/api/status")
    web.stop()

`config_text` may leave out data_dir/support_dir/state_dir: they default to tmp_path/data, /support, /state.
"""

import configparser
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

START_TIMEOUT_S = 30.0


class WebProcess:
    """A running `python -m meso360.web.daemon` with .url, .port, .config_path, .data_dir, .log_path."""

    def __init__(self, process, port, config_path, data_dir, support_dir, log_path):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = config_path
        self.data_dir = data_dir
        self.support_dir = support_dir
        self.log_path = log_path

    def log(self):
        """Return what the daemon logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """SIGTERM, then kill after 10 s; return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def write_config(tmp_path, config_text="", name="web.conf"):
    """Write a config for a test web daemon under tmp_path; return (path, data_dir, support_dir)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config_text)
    for section in ("meso360", "web"):
        if not parser.has_section(section):
            parser.add_section(section)
    general = parser["meso360"]
    defaults = {"data_dir": "data", "support_dir": "support", "state_dir": "state"}
    for key, directory in defaults.items():
        if key not in general:
            general[key] = str(tmp_path / directory)
        Path(general[key]).mkdir(parents=True, exist_ok=True)
    parser["web"]["listen"] = "127.0.0.1:0"  # loopback only, a free port
    path = tmp_path / name
    with open(path, "w", encoding="utf-8") as file:
        parser.write(file)
    return path, Path(general["data_dir"]), Path(general["support_dir"])


def start_web(tmp_path, config_text="", env=None, wait_healthy=True):
    """Start meso360-web with a config built from `config_text`; return a WebProcess once /healthz answers 200.

    env: extra environment variables (e.g. PATH with a fake systemctl first, NOTIFY_SOCKET).
    """
    config_path, data_dir, support_dir = write_config(tmp_path, config_text)
    port_file = tmp_path / f"web-{time.monotonic_ns()}.port"
    log_path = tmp_path / f"{port_file.stem}.log"
    command = [sys.executable, "-m", "meso360.web.daemon", "--config", str(config_path), "--port-file", str(port_file)]
    environment = dict(os.environ, **(env or {}))
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_file.exists():
        if process.poll() is not None:
            raise AssertionError(f"meso360-web exited with {process.returncode}: {log_path.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"meso360-web wrote no port file within {START_TIMEOUT_S} s: {log_path.read_text()}")
        time.sleep(0.02)  # polling for the file with a deadline
    port = int(port_file.read_text())
    web = WebProcess(process, port, config_path, data_dir, support_dir, log_path)
    if wait_healthy:
        while True:
            try:
                if requests.get(web.url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                web.stop()
                raise AssertionError(f"meso360-web not healthy within {START_TIMEOUT_S} s: {web.log()}")
            time.sleep(0.05)  # polling /healthz with a deadline
    return web


def read_events(response, count, timeout=30.0, event_type="obs"):
    """Read SSE frames from a streaming response until `count` events of `event_type`; return their dicts."""
    events, current = [], {}
    deadline = time.monotonic() + timeout
    if not hasattr(response, "sse_lines"):
        # One line iterator per response: iter_lines buffers, so a second one would lose lines.
        response.sse_lines = response.iter_lines(chunk_size=1, decode_unicode=True)
    for line in response.sse_lines:
        if line == "":
            if current.get("event") == event_type:
                events.append(json.loads(current["data"]) | {"_id": current.get("id")})
                if len(events) >= count:
                    return events
            current = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            current[name] = value
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"got {len(events)} of {count} {event_type} events")
