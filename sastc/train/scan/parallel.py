"""Running a compiled CPU kernel over ``[0, n)`` on several threads.

Every kernel of ``lif_scan.c`` takes a range ``[n0, n1)`` of its work (neurons, frames).
Where the library was built with OpenMP on the runtime torch itself uses
(:mod:`sastc.train.scan.cpu_build`), the kernel's ``_par`` entry splits the range over
threads of torch's own team, which are awake right after the convolution before it. Else
the ranges run in a small thread pool (ctypes releases the GIL), the first in the calling
thread. Either way a thread is started only per :data:`MIN_PER_THREAD` elements of work.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

MIN_PER_THREAD = 1 << 18  # elements of work per extra thread: a hand-off costs ~0.1 ms

_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    """The helper threads: one fewer than torch's thread count (the caller is the other);
    a new pool after ``fork`` or when that count changes."""
    global _pool
    workers = max(1, torch.get_num_threads() - 1)
    if _pool is None or _pool[:2] != (os.getpid(), workers):
        _pool = (os.getpid(), workers, ThreadPoolExecutor(workers, "sastc-kernel"))
    return _pool[2]


def ranges(items: int, work_per_item: int, align: int = 1) -> list[tuple[int, int]]:
    """``[n0, n1)`` ranges of whole ``align`` blocks, one per thread worth starting (the
    split ``thread_range`` in ``lif_scan.c`` makes for the same count)."""
    blocks = -(-items // align)
    parts = max(1, min(torch.get_num_threads(), blocks, items * work_per_item // MIN_PER_THREAD))
    bounds = [min(items, -(-i * blocks // parts) * align) for i in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def has_entry(library: ctypes.CDLL, name: str) -> bool:
    """Whether ``library`` exports ``name``."""
    try:
        getattr(library, name)
    except AttributeError:
        return False
    return True


def entries(kernel: str, suffix: str) -> tuple[str, str]:
    """The exported names of ``kernel`` for one type: ranged, and OpenMP (``_par``)."""
    return f"{kernel}_{suffix}", f"{kernel}_par_{suffix}"


def run(library: ctypes.CDLL, kernel: str, suffix: str, arguments: Callable[[int], Sequence],
        after: Sequence, items: int, work_per_item: int, align: int = 1) -> list:
    """``<kernel>_<suffix>(*arguments(slot), n0, n1, *after)`` for every range of
    :func:`ranges`; ``slot`` numbers the ranges (0 .. parts - 1) for kernels that give each
    its own output. With an OpenMP build, one call of
    ``<kernel>_par_<suffix>(*arguments(0), parts, align, *after)`` instead (the kernel finds
    a thread's slot from its number in the team). Returns what the calls returned."""
    ranged, team = entries(kernel, suffix)
    parts = ranges(items, work_per_item, align)
    if len(parts) > 1 and has_entry(library, team):
        return [getattr(library, team)(*arguments(0), len(parts), align, *after)]
    function = getattr(library, ranged)
    futures = [_executor().submit(function, *arguments(slot), *bounds, *after)
               for slot, bounds in enumerate(parts[1:], start=1)]
    first = function(*arguments(0), *parts[0], *after)
    return [first] + [future.result() for future in futures]
