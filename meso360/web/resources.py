"""Host and process resources from /proc and statvfs (no psutil): CPU over the interval since the last sample."""

import os
import threading
import time

MIN_SAMPLE_INTERVAL_S = 1.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _host_cpu_ticks():
    """Return (busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as file:
        fields = [int(value) for value in file.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user/nice
    return total - idle, total


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
        self._cpu = {"cpu_pct": None, "web_cpu_pct": None}

    def _sample_cpu(self):
        now = time.monotonic()
        with self._lock:
            if self._previous is not None and now - self._previous[0] < MIN_SAMPLE_INTERVAL_S:
                return self._cpu
            try:
                busy, total = _host_cpu_ticks()
                process = _process_cpu_seconds()
            except (OSError, ValueError, IndexError):
                return self._cpu
            if self._previous is not None:
                then, busy0, total0, process0 = self._previous
                if total > total0:
                    # Percent of one core: 2 busy cores = 200 %.
                    self._cpu["cpu_pct"] = round(100.0 * (busy - busy0) / (total - total0) * self.cores, 1)
                self._cpu["web_cpu_pct"] = round(100.0 * (process - process0) / (now - then), 2)
            self._previous = (now, busy, total, process)
            return self._cpu

    def snapshot(self):
        """Return the "resources" dict of /api/status; values that cannot be read are None."""
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
