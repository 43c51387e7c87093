"""The validation split: a part of the training recordings that training never sees.

Training keeps the checkpoint that is best on it, and the compiler calibrates on it,
so neither decision looks at the test split. It is carved per class for datasets of
independent samples (a fixed shuffle, then ``round(f * n_c)`` samples of each class
``c``), and per recording for windows cut from long recordings: the last
``round(f * n_g)`` windows of each recording ``g``, a time-contiguous block, so that
no validation window overlaps a training window.

>>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
>>> train, val = carve_validation(labels, None, 0.25)
>>> sorted(labels[val].tolist()), len(train) + len(val)
([0, 1, 1], 10)
>>> groups = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
>>> train, val = carve_validation(labels, groups, 0.3)
>>> val.tolist()
[3, 8, 9]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sastc.errors import ConfigError

VAL_SHUFFLE_SEED = 1
DEFAULT_VAL_FRACTION = 0.1


def check_val_fraction(fraction: float) -> float:
    """``fraction`` in ``[0, 1)``, else ``ConfigError`` naming ``--val-fraction``."""
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) \
            or not 0.0 <= float(fraction) < 1.0:
        raise ConfigError(f"--val-fraction must be in [0, 1) (0: no validation split); "
                          f"got {fraction!r}")
    return float(fraction)


def carve_validation(labels: np.ndarray, groups: np.ndarray | None, fraction: float,
                     classes: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(train indices, validation indices)``, both sorted; see the module docstring."""
    labels = np.asarray(labels)
    if groups is None:
        val = np.concatenate([_class_part(labels, c, fraction) for c in np.unique(labels)])
    else:
        val = np.concatenate([_tail_block(np.flatnonzero(groups == g), fraction)
                              for g in np.unique(groups)])
    val = np.sort(val.astype(np.int64))
    _check_every_class(labels, val, fraction, classes)
    return np.setdiff1d(np.arange(len(labels)), val), val


def _class_part(labels: np.ndarray, label: int, fraction: float) -> np.ndarray:
    members = np.flatnonzero(labels == label)
    shuffled = np.random.default_rng(VAL_SHUFFLE_SEED + int(label)).permutation(members)
    return shuffled[:round(fraction * len(members))]


def _tail_block(members: np.ndarray, fraction: float) -> np.ndarray:
    """The last ``round(f * n)`` of one recording's windows (they are in time order)."""
    count = round(fraction * len(members))
    return members[len(members) - count:] if count else members[:0]


def _check_every_class(labels: np.ndarray, val: np.ndarray, fraction: float,
                       classes: Sequence[str] | None) -> None:
    """Every class needs samples on both sides of the cut."""
    for label in np.unique(labels):
        total = int(np.sum(labels == label))
        in_val = int(np.sum(labels[val] == label))
        if in_val == 0 or in_val == total:
            side = "validation" if in_val == 0 else "training"
            name = repr(classes[int(label)]) if classes is not None else str(int(label))
            raise ConfigError(
                f"--val-fraction {fraction:g} leaves class {name} ({total} training "
                f"samples) without {side} samples; choose a fraction that gives every class "
                f"both, or --val-fraction 0 to train without a validation split")
