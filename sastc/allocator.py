"""Allocator settings for loops that allocate the same large arrays over and over (training
steps, simulator layers)."""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 1 << 30


def tune_allocator() -> bool:
    """Keep freed blocks of up to 32 MiB inside the process (glibc only).

    Time-folded layers allocate tensors of a few MiB per step. With glibc's defaults
    these are mmap-ed and returned to the kernel on every free, and touching them again
    costs page faults (measured: 10-17 ms of system time per step on the N-MNIST network,
    about a third of the step). Raising the mmap and trim thresholds keeps them in the
    heap. Returns whether the settings were applied (False on other C libraries).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
