"""What the CPUs this process may use are doing: how many there are, how many others keep busy.

Busy cores are sampled from ``/proc/stat`` (Linux): over a window of wall time ``w``,

    busy = sum_c (non-idle_c / total_c) - own_cpu / w

summed over the CPUs ``c`` of this process's affinity, where ``own_cpu`` is this
process's CPU time in the window (all its threads), so only other processes count.
Where ``/proc/stat`` is missing the machine counts as idle.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
MIN_WINDOW_S = 0.1
IDLE_FIELDS = (3, 4)  # idle, iowait
TIME_FIELDS = 8  # user nice system idle iowait irq softirq steal (guest is inside user)

Jiffies = dict[int, tuple[int, int]]


def affinity() -> set[int]:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def cgroup_cores(path: Path | None = None) -> int | None:
    """Cores a cgroup v2 CPU quota allows (``cpu.max``: ``quota period`` or ``max``), or None.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "cpu.max"; _ = f.write_text("150000 100000")
    >>> cgroup_cores(f), cgroup_cores(f.with_name("absent"))
    (2, None)
    """
    try:
        quota, period = (path or CGROUP_CPU_MAX).read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def usable_cores() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota."""
    cores = len(affinity())
    quota = cgroup_cores()
    return max(1, min(cores, quota) if quota else cores)


def parse_stat(text: str, cpus: set[int]) -> Jiffies:
    """``{cpu: (non-idle, total)}`` jiffies of the ``cpuN`` lines of ``/proc/stat`` in ``cpus``.

    >>> parse_stat("cpu  9 0 9 9 0 0 0 0\\ncpu0 4 0 1 5 2 0 0 0 0 0\\ncpu1 1 1 1 1 1 1 1 1", {0})
    {0: (5, 12)}
    """
    result: Jiffies = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [int(v) for v in fields[:TIME_FIELDS]]
        total = sum(values)
        result[int(name[3:])] = (total - sum(values[i] for i in IDLE_FIELDS), total)
    return result


def busy_fraction_sum(before: Jiffies, after: Jiffies) -> float:
    """``sum_c non-idle_c / total_c`` over the CPUs both samples have (cores busy, any process).

    >>> busy_fraction_sum({0: (0, 0), 1: (0, 0)}, {0: (10, 10), 1: (5, 10)})
    1.5
    """
    busy = 0.0
    for cpu, (active, total) in after.items():
        if cpu in before and total > before[cpu][1]:
            busy += (active - before[cpu][0]) / (total - before[cpu][1])
    return busy


def _read_stat(cpus: set[int]) -> Jiffies:
    try:
        return parse_stat(PROC_STAT.read_text(), cpus)
    except OSError:
        return {}


@dataclass(frozen=True)
class Sample:
    """One reading: wall clock, this process's CPU time (seconds) and the CPUs' jiffies."""

    wall: float
    own: float
    stat: Jiffies


def sample(cpus: set[int]) -> Sample:
    return Sample(time.monotonic(), time.process_time(), _read_stat(cpus))


def others_busy(before: Sample, after: Sample) -> float:
    """Cores other processes kept busy between two samples (fractional, >= 0; 0 without
    ``/proc/stat``).

    >>> a = Sample(0.0, 0.0, {0: (0, 100), 1: (0, 100)})
    >>> others_busy(a, Sample(1.0, 1.0, {0: (100, 200), 1: (100, 200)}))  # we used one core
    1.0
    """
    wall = after.wall - before.wall
    if not before.stat or not after.stat or wall <= 0:
        return 0.0
    return max(0.0, busy_fraction_sum(before.stat, after.stat) - (after.own - before.own) / wall)


class LoadProbe:
    """Samples the cores from construction until :meth:`busy_cores` (at least ``MIN_WINDOW_S``)."""

    def __init__(self) -> None:
        self.cpus = affinity()
        self.start = sample(self.cpus)

    def busy_cores(self) -> float:
        """Cores other processes kept busy during the window (fractional, >= 0)."""
        remaining = MIN_WINDOW_S - (time.monotonic() - self.start.wall)
        if remaining > 0:
            time.sleep(remaining)
        return others_busy(self.start, sample(self.cpus))
