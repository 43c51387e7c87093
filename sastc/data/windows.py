"""Long recordings cut into fixed-duration windows, split by time.

A recording whose first event is at ``t_first`` and last at ``t_last`` holds
``n = floor((t_last + 1 - t_first) / W)`` whole windows ``[t_first + k W,
t_first + (k + 1) W)``; the events after the last whole window are not used. The
last ``round(F n)`` windows (at least one, and at least one left) are the test
split, the rest the training split: the cut lies on a window boundary, so no window
straddles it and every used event lies in exactly one window of one split.

>>> plan = plan_windows([(0, 9_999), (100, 5_099)], window_us=1_000, test_fraction=0.3)
>>> plan.counts, plan.test_counts
((10, 5), (3, 2))
>>> [int(s) for s in plan.split("test").starts]
[7000, 8000, 9000, 3100, 4100]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sastc.errors import ConfigError

Span = tuple[int, int]


@dataclass(frozen=True)
class WindowSplit:
    """The windows of one split: the recording (file index) and start time of each."""

    recordings: np.ndarray   # int64 [N]: index of the recording a window comes from
    starts: np.ndarray       # int64 [N]: window start in the recording's time base (us)


@dataclass(frozen=True)
class WindowPlan:
    """Every recording's windows and where its train/test cut lies."""

    spans: tuple[Span, ...]
    window_us: int
    counts: tuple[int, ...]        # whole windows per recording
    test_counts: tuple[int, ...]   # of which the last ones are test windows

    def split(self, name: str) -> WindowSplit:
        """The ``train`` or ``test`` windows, recording by recording, in time order."""
        recordings, starts = [], []
        for index, ((first, _), count, tests) in enumerate(
                zip(self.spans, self.counts, self.test_counts, strict=True)):
            ks = range(count - tests, count) if name == "test" else range(count - tests)
            recordings += [index] * len(ks)
            starts += [first + k * self.window_us for k in ks]
        return WindowSplit(np.asarray(recordings, dtype=np.int64),
                           np.asarray(starts, dtype=np.int64))


def check_test_fraction(value: float | None) -> float:
    """``--test-fraction`` in ``(0, 1)``; 0.3 when not given."""
    fraction = 0.3 if value is None else value
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
            or not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"--test-fraction must be between 0 and 1 (exclusive); got {value!r}")
    return float(fraction)


def window_us_of(window_ms: float) -> int:
    """``--window-ms`` as whole microseconds (from 1 ms to one hour)."""
    if isinstance(window_ms, bool) or not isinstance(window_ms, int | float) \
            or not 1.0 <= float(window_ms) <= 3_600_000.0:
        raise ConfigError(f"--window-ms must be between 1 and 3600000 ms; got {window_ms!r}")
    return round(float(window_ms) * 1000)


def plan_windows(spans: Sequence[Span], window_us: int, test_fraction: float,
                 names: Sequence[str] | None = None) -> WindowPlan:
    """Cut every recording (``(t_first, t_last)`` in us) into windows and split it."""
    counts, tests = [], []
    for index, (first, last) in enumerate(spans):
        count = (int(last) + 1 - int(first)) // window_us
        name = names[index] if names is not None else f"recording {index}"
        if count < 2:
            raise ConfigError(
                f"{name} lasts {(int(last) - int(first)) / 1000:.1f} ms: {count} window(s) of "
                f"{window_us / 1000:g} ms, too few to give both a training and a test window; "
                f"use a shorter --window-ms")
        counts.append(count)
        tests.append(min(max(round(test_fraction * count), 1), count - 1))
    return WindowPlan(tuple((int(a), int(b)) for a, b in spans), window_us, tuple(counts),
                      tuple(tests))


def window_events(events: np.ndarray, start: int, window_us: int) -> np.ndarray:
    """The events of ``[start, start + W)`` (``events`` sorted by t), t relative to start."""
    times = events["t"]
    low, high = np.searchsorted(times, [start, start + window_us], side="left")
    chosen = events[low:high].copy()
    chosen["t"] -= start
    return chosen
