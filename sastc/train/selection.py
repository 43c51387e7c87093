"""Which epoch's weights a run keeps: the best on the validation split, with hard spikes.

Deployment runs hard spikes, so the kept checkpoint is the epoch with the highest
validation hard-spike accuracy; ties go to the smaller validation transfer gap
``|surrogate - hard|``, then to the later epoch. Without a validation split the
last epoch is kept. The test split never takes part in the choice.

>>> history = [{"epoch": 1, "val_hard_accuracy": 80.0, "val_transfer_gap": 5.0},
...            {"epoch": 2, "val_hard_accuracy": 90.0, "val_transfer_gap": 3.0},
...            {"epoch": 3, "val_hard_accuracy": 90.0, "val_transfer_gap": 1.0},
...            {"epoch": 4, "val_hard_accuracy": 85.0, "val_transfer_gap": 0.0}]
>>> best_epoch(history)
3
>>> best_epoch([{"epoch": 1}, {"epoch": 2}])
2
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from sastc.data.base import FrameSet
from sastc.train.evaluate import classify
from sastc.train.model import SpikingNet


@torch.no_grad()
def validation_metrics(model: SpikingNet, val: FrameSet, device: str | torch.device = "cpu",
                       batch_size: int = 128) -> dict[str, float]:
    """``val_surrogate_accuracy``, ``val_hard_accuracy`` (percent) and ``val_transfer_gap``."""
    model.eval()
    accuracies = {}
    for mode in ("surrogate", "hard"):
        predicted, _ = classify(model, val, mode, batch_size, device)
        accuracies[mode] = 100.0 * float(np.mean(predicted == val.labels))
    return {"val_surrogate_accuracy": accuracies["surrogate"],
            "val_hard_accuracy": accuracies["hard"],
            "val_transfer_gap": accuracies["surrogate"] - accuracies["hard"]}


def selection_key(entry: dict[str, Any]) -> tuple[float, float, int]:
    """Larger is better: validation hard accuracy, then a small gap, then a later epoch."""
    if "val_hard_accuracy" not in entry:
        return (0.0, 0.0, int(entry["epoch"]))
    return (entry["val_hard_accuracy"], -abs(entry["val_transfer_gap"]), int(entry["epoch"]))


def best_epoch(history: list[dict[str, Any]]) -> int:
    """The epoch (1-based) whose weights the run keeps."""
    return int(max(history, key=selection_key)["epoch"])


def is_new_best(entry: dict[str, Any], best: dict[str, Any] | None) -> bool:
    return best is None or selection_key(entry) > selection_key(best["metrics"])


def snapshot(model: SpikingNet, entry: dict[str, Any]) -> dict[str, Any]:
    """The weights of this epoch (on the CPU) and its metrics."""
    weights = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    return {"epoch": int(entry["epoch"]), "state_dict": weights, "metrics": copy.deepcopy(entry)}


def selection_line(best: dict[str, Any], total: int, has_val: bool) -> str:
    """Which epoch was kept and why, for the log and the run's report."""
    metrics = best["metrics"]
    if not has_val:
        return f"kept epoch {best['epoch']}/{total} (the last; no validation split)"
    return (f"kept epoch {best['epoch']}/{total}: best validation hard-spike accuracy "
            f"{metrics['val_hard_accuracy']:.1f}% (gap {metrics['val_transfer_gap']:+.1f}), "
            f"the spike function deployment runs")
