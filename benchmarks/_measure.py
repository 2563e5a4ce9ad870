"""Memory and CPU of running processes, read from ``/proc`` by pid (Linux only).

Every benchmark and the large-object tests use this one reader. The peak comes from the
kernel's own high-water mark (``VmHWM``), reset at the start of a measurement through
``/proc/<pid>/clear_refs``, so a peak between two samples is never missed; a sampling
thread also keeps the highest ``VmRSS`` it saw, for kernels that refuse the reset.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["MIB", "ProcessUsage", "Sampler", "cpu_seconds", "peak_rss", "reset_peak", "rss"]

MIB = 1024 * 1024
_CLOCK_TICKS = 100  # USER_HZ: /proc/<pid>/stat counts CPU time in these on Linux


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    raise LookupError(f"no {field} for process {pid}")


def rss(pid: int) -> int:
    """Resident memory now, in bytes."""
    return _status_bytes(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """The highest resident memory since start or the last ``reset_peak``, in bytes."""
    return _status_bytes(pid, "VmHWM")


def reset_peak(pid: int) -> bool:
    """Start a new high-water mark at the current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used, in seconds."""
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class ProcessUsage:
    """What one process used during a measurement."""

    start_rss: int
    peak_rss: int
    cpu_seconds: float

    def as_dict(self) -> dict[str, float]:
        return {
            "start_rss_mib": round(self.start_rss / MIB, 1),
            "peak_rss_mib": round(self.peak_rss / MIB, 1),
            "cpu_s": round(self.cpu_seconds, 2),
        }


class Sampler:
    """Measure named processes over a ``with`` block: start RSS, peak RSS and CPU time."""

    def __init__(self, pids: Mapping[str, int], *, interval: float = 0.05) -> None:
        self._pids = dict(pids)
        self._interval = interval
        self._seen = dict.fromkeys(self._pids, 0)
        self._start: dict[str, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.usage: dict[str, ProcessUsage] = {}

    def __enter__(self) -> Self:
        for name, pid in self._pids.items():
            reset_peak(pid)
            self._start[name] = (rss(pid), cpu_seconds(pid))
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for name, pid in self._pids.items():
            start_rss, start_cpu = self._start[name]
            try:
                peak = max(peak_rss(pid), self._seen[name])
                cpu = cpu_seconds(pid) - start_cpu
            except OSError:  # the process is gone: keep what the samples saw
                peak, cpu = self._seen[name], 0.0
            self.usage[name] = ProcessUsage(start_rss, peak, cpu)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for name, pid in self._pids.items():
                try:
                    self._seen[name] = max(self._seen[name], rss(pid))
                except OSError:
                    continue

    def report(self) -> dict[str, dict[str, float]]:
        return {name: usage.as_dict() for name, usage in self.usage.items()}
