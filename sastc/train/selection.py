"""Which epoch's weights a run keeps: the best on the validation split, with hard spikes.

Deployment runs hard spikes, so the kept checkpoint is the epoch with the highest
validation hard-spike accuracy, averaged over that epoch and the two before it:

    score(e) = mean(val_hard[max(1, e - 2) .. e])

A validation split of a few dozen samples moves by a few points from one epoch to the
next by chance; the trailing mean keeps one lucky epoch from being chosen over a
stretch of good ones. Ties go to the smaller validation transfer gap
``|surrogate - hard|`` of the epoch itself, then to the later epoch. Without a
validation split the last epoch is kept. The test split never takes part.

>>> history = [{"epoch": 1, "val_hard_accuracy": 80.0, "val_transfer_gap": 5.0},
...            {"epoch": 2, "val_hard_accuracy": 85.0, "val_transfer_gap": 3.0},
...            {"epoch": 3, "val_hard_accuracy": 70.0, "val_transfer_gap": 1.0},
...            {"epoch": 4, "val_hard_accuracy": 90.0, "val_transfer_gap": 0.0},
...            {"epoch": 5, "val_hard_accuracy": 90.0, "val_transfer_gap": 2.0}]
>>> with_scores(history)[-1]["val_hard_score"], best_epoch(history)
(83.33333333333333, 5)
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


SMOOTHING = 3


def validation_score(history: list[dict[str, Any]]) -> float:
    """The trailing mean of validation hard accuracy ending at the last entry."""
    recent = [entry["val_hard_accuracy"] for entry in history[-SMOOTHING:]]
    return float(np.mean(recent))


def with_scores(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` with ``val_hard_score`` on every entry that has validation metrics."""
    return [{**entry, "val_hard_score": validation_score(history[:i + 1])}
            if "val_hard_accuracy" in entry else entry for i, entry in enumerate(history)]


def selection_key(entry: dict[str, Any]) -> tuple[float, float, int]:
    """Larger is better: the validation score, then a small gap, then a later epoch."""
    if "val_hard_score" not in entry:
        return (0.0, 0.0, int(entry["epoch"]))
    return (entry["val_hard_score"], -abs(entry["val_transfer_gap"]), int(entry["epoch"]))


def best_epoch(history: list[dict[str, Any]]) -> int:
    """The epoch (1-based) whose weights the run keeps."""
    return int(max(with_scores(history), key=selection_key)["epoch"])


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
            f"{metrics['val_hard_accuracy']:.1f}% (mean of the last {SMOOTHING} epochs "
            f"{metrics['val_hard_score']:.1f}%, gap {metrics['val_transfer_gap']:+.1f}), the "
            f"spike function deployment runs")
