"""The surrogate steepness ``k``: a fixed value, or ``auto``, an annealing schedule.

With a smooth forward spike ``sigma(k (u - theta))`` the network learns from exact
gradients, but a small ``k`` lets it rely on graded "half spikes" that hard spikes
do not reproduce (a transfer gap), and the ``k`` that avoids this depends on the data.
``auto`` raises ``k`` geometrically over training, from a smooth start to nearly
binary spikes, and holds it for the last quarter:

    k(e) = k0 * (k1 / k0) ** min(1, (e - 1) / (0.75 (E - 1))),   e = 1..E

Every epoch is evaluated on the validation split with hard spikes and the run keeps
the best one (``sastc.train.selection``), so the schedule offers one ``k`` per epoch
and the validation split chooses among them, at no extra gradient evaluation.
Conventional training uses ``k`` only for its backward surrogate and keeps
``CONVENTIONAL_K`` under ``auto``.

>>> [round(steepness_for_epoch("auto", e, 5), 2) for e in range(1, 6)]
[2.0, 4.64, 10.77, 25.0, 25.0]
>>> steepness_for_epoch(3.0, 7, 10)
3.0
"""

from __future__ import annotations

import math

from sastc.errors import ConfigError

AUTO = "auto"
K_START = 2.0
K_END = 25.0
RAMP_FRACTION = 0.75
CONVENTIONAL_K = 5.0


def parse_steepness(value: float | str | None) -> float | str | None:
    """A positive number, ``"auto"`` or None (the preset's); ``ConfigError`` naming ``-k``."""
    if value is None or value == AUTO:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--steepness/-k must be a positive number or 'auto'; "
                          f"got {value!r}") from exc
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"--steepness/-k must be a positive number or 'auto'; got {value!r}")
    return number


def steepness_for_epoch(steepness: float | str, epoch: int, epochs: int) -> float:
    """``k`` during ``epoch`` (1-based) of ``epochs``."""
    if steepness != AUTO:
        return float(steepness)
    ramp = max(RAMP_FRACTION * (epochs - 1), 1e-9)
    progress = min(1.0, (epoch - 1) / ramp)
    return K_START * (K_END / K_START) ** progress


def initial_steepness(steepness: float | str, mode: str) -> float:
    """The ``k`` a model is built with (``auto``: the schedule's start)."""
    if steepness != AUTO:
        return float(steepness)
    return CONVENTIONAL_K if mode == "conventional" else K_START
