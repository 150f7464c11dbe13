"""The demo's supervisor: the programs `make demo` runs, their states from the real processes, their log lines,
and a local socket through which the demo's web panel shows and controls them (as systemd does when installed).

The socket (SOCKET_NAME in the demo directory, mode 0600) takes one JSON line per connection:
- {"op": "watch"}: the states now, then again on every change (and every WATCH_KEEPALIVE_S), one JSON line each:
  {"units": {component: {"active", "sub", "since", "restarts", "result", "pid"}}}
- {"op": "control", "action": "start|stop|restart|restart-all", "component": ...}: one line {"ok", "result"|"error"}
- {"lines": N, "cursor": "..."}: the log, in the protocol of meso360.journalread (the web's log view reads it as it
  reads the journal socket): the last N lines (or those after the cursor), then each new one.
"""

import collections
import datetime as dt
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time

SOCKET_NAME = "supervisor.sock"
STOP_TIMEOUT_S = 10.0
WATCH_KEEPALIVE_S = 5.0
LOG_LINES = 2000
PRIORITIES = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}
LEVEL_RE = re.compile(r"^\S+ (CRITICAL|ERROR|WARNING|INFO|DEBUG)\s")


def _utc_iso(epoch_seconds):
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Child:
    """One program of the demo: how to start it, its process, its state as systemd would name it."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv  # () -> argv after the interpreter (ports may be known only after a first start)
        self.process = None
        self.active, self.sub, self.result = "inactive", "dead", "success"
        self.since = None
        self.restarts = 0
        self.stopping = False

    def as_dict(self):
        pid = self.process.pid if self.process is not None and self.process.poll() is None else None
        return {"active": self.active, "sub": self.sub, "since": self.since, "restarts": self.restarts,
                "result": self.result, "pid": pid}  # fmt: skip


class Supervisor:
    """Start, stop and restart the demo's programs by name; note when one ends by itself; keep their log lines."""

    def __init__(self, environment, cwd, output_lock):
        self.environment = environment
        self.cwd = cwd
        self.output_lock = output_lock
        self.children = {}
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.log = collections.deque(maxlen=LOG_LINES)
        self.log_seq = 0
        self.log_added = threading.Condition()

    # ---- state --------------------------------------------------------------------------------------
    def _touch(self):
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def states(self):
        with self.lock:
            return {name: child.as_dict() for name, child in self.children.items()}

    def processes(self):
        with self.lock:
            return [(name, child.process) for name, child in self.children.items() if child.process is not None]

    # ---- log ----------------------------------------------------------------------------------------
    def note(self, name, line):
        """Print a line of `name` (a program, or "demo") in the terminal and keep it for the panel's log view."""
        with self.output_lock:
            sys.stdout.write(f"{name:>6} | {line}\n" if name != "demo" else f"demo: {line}\n")
            sys.stdout.flush()
        match = LEVEL_RE.match(line)
        record = {
            "time": _utc_iso(time.time()),
            "unit": "demo" if name == "demo" else f"meso360-{name}.service",
            "priority": PRIORITIES[match.group(1)] if match else (5 if name == "demo" else 6),
            "message": line[match.end() :].lstrip() if match else line,  # the time and level are fields of their own
        }
        with self.log_added:
            self.log_seq += 1
            record["cursor"] = f"demo;i={self.log_seq:x}"
            self.log.append(record)
            self.log_added.notify_all()

    def _copy_output(self, name, pipe):
        for raw in iter(pipe.readline, b""):
            self.note(name, raw.decode(errors="replace").rstrip())

    # ---- actions ------------------------------------------------------------------------------------
    def add(self, name, argv):
        with self.lock:
            self.children[name] = Child(name, argv)
        return self.start(name)

    def start(self, name):
        """Start the program (no-op when it runs); return its process."""
        with self.lock:
            child = self.children[name]
            if child.process is not None and child.process.poll() is None:
                return child.process
            if child.since is not None:
                child.restarts += 1
            child.process = subprocess.Popen(  # noqa: S603  argv list, no shell: this Python, the repository's programs
                [sys.executable, *child.argv()],
                cwd=self.cwd,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the demo; it stops the programs by pid
            )
            child.active, child.sub, child.result, child.since = "active", "running", "success", _utc_iso(time.time())
            child.stopping = False
            threading.Thread(target=self._copy_output, args=(name, child.process.stdout), daemon=True).start()
            self._touch()
            return child.process

    def stop(self, name):
        """Stop the program (SIGTERM, then SIGKILL after STOP_TIMEOUT_S) and wait for it."""
        with self.lock:
            child = self.children[name]
            process = child.process
            if process is None or process.poll() is not None:
                child.active, child.sub = ("failed", "failed") if child.active == "failed" else ("inactive", "dead")
                return
            child.stopping = True
            child.active, child.sub = "deactivating", "stop-sigterm"
            self._touch()
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.note("demo", f"{name} (pid {process.pid}) did not stop in time: killing it")
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        with self.lock:
            child.active, child.sub, child.since = "inactive", "dead", _utc_iso(time.time())
            self._touch()

    def restart(self, name):
        self.stop(name)
        self.start(name)

    def check(self):
        """Note every program that ended by itself: failed (exit code not 0) or inactive; return their names."""
        ended = []
        with self.lock:
            for name, child in self.children.items():
                process = child.process
                if child.stopping or process is None or child.active not in ("active", "activating"):
                    continue
                code = process.poll()
                if code is None:
                    continue
                failed = code != 0
                child.active, child.sub = ("failed", "failed") if failed else ("inactive", "dead")
                child.result = ("signal" if code < 0 else "exit-code") if failed else "success"
                child.since = _utc_iso(time.time())
                ended.append(name)
                self._touch()
        for name in ended:
            code = self.children[name].process.returncode
            self.note("demo", f"{name} exited with code {code}: restart it from the panel (or Ctrl-C and run again)")
        return ended

    def stop_all(self):
        for name in reversed(list(self.children)):
            self.stop(name)

    def control(self, action, component):
        """Run a panel action; return the text the panel shows. Raise ValueError with the reason if refused."""
        if action in ("enable", "disable"):
            raise ValueError("the demo starts its programs itself: start at boot (enable/disable) is for an installed"
                             " meso360 under systemd")  # fmt: skip
        if action == "restart-all":
            names = [name for name in self.children if name != "web"]
            for name in names:
                self.restart(name)
            self._later(lambda: self.restart("web"))
            return f"restarted {', '.join(names)}; web restarts now (reload the page in a few seconds)"
        if component not in self.children:
            raise ValueError(f"the demo does not run {component}")
        if component == "web":
            if action == "stop":
                raise ValueError("web serves this panel: stopped, nothing could start it again (Ctrl-C ends the demo)")
            # Answer first: this request is served by the web daemon about to go.
            self._later(lambda: getattr(self, action)("web"))
            return f"{action} requested: the page reconnects in a few seconds"
        getattr(self, action)(component)
        return f"{component} {action}ed" if action != "stop" else f"{component} stopped"

    def _later(self, function):
        threading.Timer(0.5, function).start()


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        supervisor = self.server.supervisor
        try:
            request = json.loads(self.rfile.readline(4096) or b"{}")
        except ValueError:
            request = {}
        if not isinstance(request, dict):
            request = {}
        try:
            if request.get("op") == "watch":
                self._watch(supervisor)
            elif request.get("op") == "control":
                self._control(supervisor, request)
            else:
                self._log(supervisor, request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the web daemon went away

    def _send(self, document):
        self.wfile.write(json.dumps(document).encode() + b"\n")
        self.wfile.flush()

    def _watch(self, supervisor):
        seen = None
        while not self.server.stopping.is_set():
            with supervisor.changed:
                if seen == supervisor.version:
                    supervisor.changed.wait(WATCH_KEEPALIVE_S)
                seen = supervisor.version
            self._send({"units": supervisor.states()})

    def _control(self, supervisor, request):
        try:
            result = supervisor.control(request.get("action"), request.get("component"))
            self._send({"ok": True, "result": result})
        except ValueError as error:
            self._send({"ok": False, "error": str(error)})

    def _log(self, supervisor, request):
        try:
            count = min(max(int(request.get("lines", 200)), 0), LOG_LINES)
        except (TypeError, ValueError):
            count = 200
        cursor = str(request.get("cursor") or "")
        after = int(cursor.rpartition("i=")[2], 16) if re.fullmatch(r"demo;i=[0-9a-f]+", cursor) else None
        with supervisor.log_added:
            records = list(supervisor.log)
            sent = supervisor.log_seq
        first = [r for r in records if int(r["cursor"][7:], 16) > after] if after is not None else records[-count:]
        self.wfile.write(b"".join(json.dumps(r).encode() + b"\n" for r in first) or b"\n")
        self.wfile.flush()
        while not self.server.stopping.is_set():
            with supervisor.log_added:
                if supervisor.log_seq == sent:
                    supervisor.log_added.wait(WATCH_KEEPALIVE_S)
                new = [r for r in supervisor.log if int(r["cursor"][7:], 16) > sent]
                sent = supervisor.log_seq
            self.wfile.write(b"".join(json.dumps(r).encode() + b"\n" for r in new) or b"\n")
            self.wfile.flush()


class SupervisorServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The supervisor's socket, readable and writable by this user alone."""

    daemon_threads = True

    def __init__(self, path, supervisor):
        if os.path.exists(path):
            os.unlink(path)  # left by a demo killed with SIGKILL
        previous = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(previous)
        self.supervisor = supervisor
        self.stopping = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.2,), name="supervisor", daemon=True).start()

    def close(self):
        self.stopping.set()
        with self.supervisor.changed:
            self.supervisor.changed.notify_all()
        self.shutdown()
        self.server_close()
        try:
            os.unlink(self.server_address)
        except OSError:
            pass
