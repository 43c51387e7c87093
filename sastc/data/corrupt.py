"""Event-level corruptions for robustness evaluation, applied before binning.

Each kind has severities 1..5 with one parameter per level (``CorruptionKind.levels``).
Random draws depend only on ``(seed, sample index)`` and not on the severity, so a
higher severity corrupts a superset of what a lower one does (monotone in severity).

- ``dropout``: drop each event with probability ``f``.
- ``noise``: add ``round(f * n)`` events (``n``: the recording's event count), uniform
  in space, time (the recording's span) and polarity.
- ``jitter``: ``t' = clamp(t + sigma * z, t_min, t_max)``, ``z ~ N(0, 1)``,
  ``sigma = f * (t_max - t_min)``, then re-sorted by ``t``.
- ``hot_pixels``: ``k`` random pixels fire at ``HOT_PIXEL_RATE_HZ`` (Poisson) over the span.

>>> parse_corruption("dropout:3")
Corruption(kind='dropout', severity=3)
>>> str(parse_corruption("noise:2")), CORRUPTIONS["noise"].levels[1]
('noise:2', 0.25)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sastc.data.events import make_events, sort_by_time
from sastc.errors import ConfigError

SEVERITIES = (1, 2, 3, 4, 5)
CORRUPTION_STREAM = 7
HOT_PIXEL_RATE_HZ = 1000.0

Sensor = tuple[int, int, int]
CorruptFn = Callable[[np.ndarray, float, Sensor, np.random.Generator], np.ndarray]


def _dropout(events: np.ndarray, fraction: float, sensor: Sensor,
             rng: np.random.Generator) -> np.ndarray:
    """Keep events whose uniform draw is ``>= fraction``."""
    return events[rng.random(len(events)) >= fraction]


def _noise(events: np.ndarray, fraction: float, sensor: Sensor,
           rng: np.random.Generator) -> np.ndarray:
    """Add ``round(fraction * n)`` uniform events (the first of a fixed draw of the maximum)."""
    if len(events) == 0:
        return events
    most = round(max(CORRUPTIONS["noise"].levels) * len(events))
    count = round(fraction * len(events))
    t_low, t_high = int(events["t"][0]), int(events["t"][-1])
    added = make_events(rng.integers(0, sensor[2], most)[:count],
                        rng.integers(0, sensor[1], most)[:count],
                        rng.integers(t_low, t_high + 1, most)[:count],
                        (rng.random(most) < 0.5)[:count])
    return sort_by_time(np.concatenate([events, added]))


def _jitter(events: np.ndarray, fraction: float, sensor: Sensor,
            rng: np.random.Generator) -> np.ndarray:
    """Gaussian timestamp jitter with ``sigma = fraction * span``, clamped to the span."""
    if len(events) == 0:
        return events
    t_low, t_high = int(events["t"][0]), int(events["t"][-1])
    shifted = events["t"] + np.round(rng.normal(size=len(events)) * fraction * (t_high - t_low))
    jittered = events.copy()
    jittered["t"] = np.clip(shifted, t_low, t_high).astype(np.int64)
    return sort_by_time(jittered)


def _hot_pixels(events: np.ndarray, count: float, sensor: Sensor,
                rng: np.random.Generator) -> np.ndarray:
    """``count`` pixels (a prefix of a fixed random order) firing at ``HOT_PIXEL_RATE_HZ``."""
    if len(events) == 0:
        return events
    most = int(max(CORRUPTIONS["hot_pixels"].levels))
    pixels = rng.permutation(sensor[1] * sensor[2])[:most]
    t_low, t_high = int(events["t"][0]), int(events["t"][-1])
    per_pixel = rng.poisson(HOT_PIXEL_RATE_HZ * (t_high - t_low) * 1e-6, size=most)
    pixel = np.repeat(pixels, per_pixel)
    times = rng.integers(t_low, t_high + 1, len(pixel))
    polarity = rng.random(len(pixel)) < 0.5
    chosen = np.repeat(np.arange(most), per_pixel) < int(count)
    added = make_events(pixel[chosen] % sensor[2], pixel[chosen] // sensor[2], times[chosen],
                        polarity[chosen])
    return sort_by_time(np.concatenate([events, added]))


@dataclass(frozen=True)
class CorruptionKind:
    """One corruption: its parameter at severities 1..5 and the function applying it."""

    name: str
    description: str
    levels: tuple[float, float, float, float, float]
    apply: CorruptFn


CORRUPTIONS: dict[str, CorruptionKind] = {
    kind.name: kind for kind in (
        CorruptionKind("dropout", "fraction of events dropped",
                       (0.1, 0.2, 0.35, 0.5, 0.7), _dropout),
        CorruptionKind("noise", "uniform noise events added, per recorded event",
                       (0.1, 0.25, 0.5, 1.0, 2.0), _noise),
        CorruptionKind("jitter", "Gaussian timestamp jitter sigma, as a fraction of the span",
                       (0.005, 0.01, 0.02, 0.04, 0.08), _jitter),
        CorruptionKind("hot_pixels", f"pixels firing at {HOT_PIXEL_RATE_HZ:g} Hz",
                       (1, 2, 4, 8, 16), _hot_pixels),
    )
}


@dataclass(frozen=True)
class Corruption:
    """A corruption kind at one severity, e.g. ``Corruption("dropout", 3)``."""

    kind: str
    severity: int

    def __post_init__(self) -> None:
        if self.kind not in CORRUPTIONS:
            raise ConfigError(f"corruption: unknown kind {self.kind!r}; expected one of "
                              f"{', '.join(CORRUPTIONS)}")
        if isinstance(self.severity, bool) or self.severity not in SEVERITIES:
            raise ConfigError(f"corruption {self.kind}: severity must be one of "
                              f"{', '.join(map(str, SEVERITIES))}, got {self.severity!r}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.severity}"

    @property
    def parameter(self) -> float:
        """This severity's entry of the kind's parameter table."""
        return CORRUPTIONS[self.kind].levels[self.severity - 1]

    def apply(self, events: np.ndarray, sensor_size: Sensor, seed: int,
              index: int) -> np.ndarray:
        """Corrupt one recording (sorted events in ``(C, H, W)``); deterministic in
        ``(seed, index)``."""
        rng = np.random.default_rng([seed, CORRUPTION_STREAM, index])
        return CORRUPTIONS[self.kind].apply(events, self.parameter, sensor_size, rng)


def parse_corruption(text: str) -> Corruption:
    """``"kind:severity"`` (e.g. ``"dropout:3"``) as a :class:`Corruption`."""
    kind, sep, level = str(text).strip().partition(":")
    if not sep or not level.strip().isdigit():
        raise ConfigError(f"corruption {text!r}: expected KIND:SEVERITY with KIND one of "
                          f"{', '.join(CORRUPTIONS)} and SEVERITY 1..5, e.g. 'dropout:3'")
    return Corruption(kind.strip(), int(level))
