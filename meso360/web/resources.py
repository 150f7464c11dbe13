"""Host and process resources from /proc and statvfs (no psutil): CPU over the interval since the last sample."""

import os
import threading
import time

MIN_SAMPLE_INTERVAL_S = 1.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _busy_and_total(fields):
    """Given the jiffies of one /proc/stat cpu line, return (busy, total)."""
    ticks = [int(value) for value in fields[:8]]  # guest time is already counted in user/nice
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def host_cpu_ticks(stat_text):
    """Given the text of /proc/stat, return [(busy, total)] jiffies: the whole machine first, then each core."""
    lines = [line.split() for line in stat_text.splitlines() if line.startswith("cpu")]
    return [_busy_and_total(fields[1:]) for fields in lines]


def cpu_percentages(before, after):
    """Given two host_cpu_ticks samples, return (machine %, [per core %]), each 0-100 % of its CPU time.

    The machine figure is the share of all cores' time spent busy: 2 cores, one fully busy = 50 %.
    A core without ticks in the interval (offline) gives None.
    """

    def percent(first, second):
        total = second[1] - first[1]
        return round(min(100.0, max(0.0, 100.0 * (second[0] - first[0]) / total)), 1) if total > 0 else None

    cores = [percent(a, b) for a, b in zip(before[1:], after[1:], strict=False)]
    return percent(before[0], after[0]), cores


def _read_proc_stat():
    with open("/proc/stat", encoding="ascii") as file:
        return file.read()


def _process_cpu_seconds():
    with open("/proc/self/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def _meminfo():
    values = {}
    with open("/proc/meminfo", encoding="ascii") as file:
        for line in file:
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0])
    return values


def rss_mb():
    """Return this process's resident set size in MB (from /proc/self/statm)."""
    with open("/proc/self/statm", encoding="ascii") as file:
        resident_pages = int(file.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class Resources:
    """Sample CPU (host and this process), memory and the data disk. CPU is averaged over the interval
    since the previous sample, at least MIN_SAMPLE_INTERVAL_S, whoever asks and however often."""

    def __init__(self, data_dir):
        self.data_dir = str(data_dir)
        self.cores = os.cpu_count() or 1
        self._lock = threading.Lock()
        self._previous = None
        self._cpu = {"cpu_pct": None, "cpu_cores_pct": None, "web_cpu_pct": None}
        self._snapshot = (0.0, None)  # (monotonic time, the last snapshot)

    def _sample_cpu(self):
        now = time.monotonic()
        with self._lock:
            if self._previous is not None and now - self._previous[0] < MIN_SAMPLE_INTERVAL_S:
                return self._cpu
            try:
                ticks = host_cpu_ticks(_read_proc_stat())
                process = _process_cpu_seconds()
            except (OSError, ValueError, IndexError):
                return self._cpu
            if self._previous is not None:
                then, ticks0, process0 = self._previous
                machine, cores = cpu_percentages(ticks0, ticks)
                if machine is not None:
                    self._cpu["cpu_pct"], self._cpu["cpu_cores_pct"] = machine, cores
                # The web daemon's own share stays in percent of one core (a process runs on one core at a time).
                self._cpu["web_cpu_pct"] = round(100.0 * (process - process0) / (now - then), 2)
            self._previous = (now, ticks, process)
            return self._cpu

    def snapshot(self):
        """Return the "resources" dict of /api/status; values that cannot be read are None.

        Read at most once per MIN_SAMPLE_INTERVAL_S, whoever asks: the panel polls every 2 s from every
        browser, and reading /proc/meminfo, statm and statvfs cost 0.3 ms a request.
        """
        taken_at, kept = self._snapshot
        if kept is not None and time.monotonic() - taken_at < MIN_SAMPLE_INTERVAL_S:
            return kept
        result = self._read()
        self._snapshot = (time.monotonic(), result)
        return result

    def _read(self):
        result = {"cores": self.cores, **self._sample_cpu()}
        try:
            memory = _meminfo()
            available = memory.get("MemAvailable", memory.get("MemFree", 0))
            result["mem_pct"] = round(100.0 * (1 - available / memory["MemTotal"]), 1)
        except (OSError, KeyError, ValueError, ZeroDivisionError):
            result["mem_pct"] = None
        try:
            result["rss_mb"] = round(rss_mb(), 1)
        except (OSError, ValueError, IndexError):
            result["rss_mb"] = None
        try:
            disk = os.statvfs(self.data_dir)
            result["disk_pct"] = round(100.0 * (1 - disk.f_bavail / disk.f_blocks), 1) if disk.f_blocks else None
            result["disk_free_gb"] = round(disk.f_bavail * disk.f_frsize / 1e9, 2)
        except OSError:
            result["disk_pct"] = result["disk_free_gb"] = None
        return result
