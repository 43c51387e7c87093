"""Pieces both simulators share: batching, time-major layout, results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sastc.ir.layers import Geometry


@dataclass
class SimOutput:
    """Result of simulating one batch.

    ``logits``: ``[B, classes]``. ``records`` (when asked for): per layer, spikes
    ``bool [T, B, *out_shape]`` of spiking layers or the membrane ``[T, B, classes]``
    of an LI readout.
    """

    logits: np.ndarray
    records: list[np.ndarray] = field(default_factory=list)


def time_major(frames: np.ndarray) -> np.ndarray:
    """``[B, T, ...]`` to ``[T * B, ...]`` (time-major, as the layers run)."""
    b, t = frames.shape[:2]
    return np.ascontiguousarray(frames.swapaxes(0, 1)).reshape(t * b, *frames.shape[2:])


def channel_view(values: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Per-output-channel values shaped to broadcast against ``[B, *out_shape]``."""
    return values.reshape((-1,) + (1,) * (len(geometry.out_shape) - 1))


def batches(count: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, count, batch_size):
        yield slice(start, min(start + batch_size, count))


def predict(logits: np.ndarray) -> np.ndarray:
    """Class with the largest logit; ties go to the lowest index (as the C runtime)."""
    return np.argmax(logits, axis=1)


def summed_over_time(x: np.ndarray, time_bins: int) -> np.ndarray:
    """``[T * B, ...]`` summed over T to ``[B, ...]``."""
    return x.reshape(time_bins, -1, *x.shape[1:]).sum(axis=0)
