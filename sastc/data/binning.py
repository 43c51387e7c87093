"""Fixed-duration binning: events of one window into ``T`` frames, in integer arithmetic.

A live sensor cannot divide a recording into equal parts between its first and last
event (it does not know when the recording ends). It can count events into bins of
a fixed duration. A window of ``W`` microseconds starting at ``t0`` becomes ``T``
frames, bin ``b`` holding the events with

    b = floor((t - t0) * T / W),    0 <= t - t0 < W

(integers only, so ``W`` need not be a multiple of ``T``: the bins are ``W / T`` us
long, rounded per event). An event lands at channel ``p`` (0 = OFF, 1 = ON), row
``floor(y / d)`` and column ``floor(x / d)`` for the downsampling factor ``d``, and
every cell counts its events, clipped at ``clip``:

    frame[b, p, y // d, x // d] = min(count, clip)

The C runtime's streaming input mirrors this function line for line; events outside
``[t0, t0 + W)`` are not counted.

>>> from sastc.data.events import make_events
>>> events = make_events([0, 3, 3, 1], [0, 2, 2, 1], [0, 499, 500, 999], [1, 0, 0, 1])
>>> frames = bin_window(events, t0=0, window_us=1000, time_bins=2, sensor_size=(2, 4, 4),
...                     downsample=2, clip=3)
>>> frames.shape, int(frames[0, 1, 0, 0]), int(frames[0, 0, 1, 1]), int(frames[1, 0, 1, 1])
((2, 2, 2, 2), 1, 1, 1)
>>> int(frames[1, 1, 0, 0]), int(frames.sum())
(1, 4)
"""

from __future__ import annotations

import numpy as np

from sastc.data.frames import downsampled_size

Sensor = tuple[int, int, int]


def bin_indices(t: np.ndarray, t0: int, window_us: int, time_bins: int) -> np.ndarray:
    """``floor((t - t0) * T / W)`` per event as int64 (exact; no floating point)."""
    return ((np.asarray(t, dtype=np.int64) - int(t0)) * int(time_bins)) // int(window_us)


def bin_window(events: np.ndarray, t0: int, window_us: int, time_bins: int,
               sensor_size: Sensor, downsample: int, clip: int) -> np.ndarray:
    """``uint8 [T, C, H', W']`` event counts of the window ``[t0, t0 + window_us)``.

    ``sensor_size`` is ``(C, H, W)`` before downsampling; ``H' = ceil(H / d)``.
    """
    shape = (time_bins, *downsampled_size(sensor_size, downsample))
    inside = (events["t"] >= t0) & (events["t"] < int(t0) + int(window_us))
    chosen = events[inside]
    b = bin_indices(chosen["t"], t0, window_us, time_bins)
    p = chosen["p"].astype(np.int64) if shape[1] > 1 else np.zeros(len(chosen), np.int64)
    y = chosen["y"].astype(np.int64) // downsample
    x = chosen["x"].astype(np.int64) // downsample
    flat = np.ravel_multi_index((b, p, y, x), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape)))
    return np.minimum(counts, clip).astype(np.uint8).reshape(shape)
