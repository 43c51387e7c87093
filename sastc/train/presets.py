"""Per-dataset training defaults, applied to options the user did not set.

The synthetic preset is what ``sastc train`` runs with no arguments: it must
finish in a few minutes on two CPU cores. The N-MNIST preset is the setting of
docs/benchmarks.md (k = 3 keeps a clear transfer gap for the rho-0 baseline).

Datasets without a preset tuned on their data (DVS Gesture has no copy here to tune
on; ``folder`` is whatever a user brings) train with ``-k auto``: the steepness
schedule whose epoch the validation split chooses (``sastc.train.steepness``), and
``folder`` with ``--rho auto`` (``sastc.train.search``).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "synthetic": {"epochs": 8, "batch_size": 32, "lr": 2e-3, "rho": 0.2, "steepness": 5.0,
                  "augment_shift": 0},
    "nmnist": {"epochs": 60, "batch_size": 32, "lr": 2e-3, "rho": 0.7, "steepness": 3.0,
               "augment_shift": 2},
    "dvsgesture": {"epochs": 60, "batch_size": 16, "lr": 1e-3, "rho": 0.2, "steepness": "auto",
                   "augment_shift": 2},
    "folder": {"epochs": 40, "batch_size": 16, "lr": 1e-3, "rho": "auto", "steepness": "auto",
               "augment_shift": 2},
}


def apply_preset(dataset: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every ``None`` filled from the dataset's preset."""
    preset = PRESETS.get(dataset, {})
    filled = dict(options)
    for key, value in preset.items():
        if filled.get(key) is None:
            filled[key] = value
    return filled
