"""Corruption robustness: a checkpoint's accuracy under every corruption at every severity.

``sastc eval --corrupt all`` evaluates the clean split and each of the four
event-level corruptions (``sastc.data.corrupt``: dropout, noise, jitter, hot pixels)
at severities 1..5, with surrogate and hard spikes. The corrupted frames are cached
like any others, so a second checkpoint on the same data reuses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sastc.data.base import FrameSet
from sastc.data.corrupt import CORRUPTIONS, SEVERITIES
from sastc.train.eval_run import checkpoint_frames, load_model
from sastc.train.evaluate import classify
from sastc.train.model import SpikingNet

ALL = "all"


@torch.no_grad()
def accuracies(model: SpikingNet, frames: FrameSet, batch_size: int) -> dict[str, float]:
    """Surrogate and hard-spike accuracy (percent) on ``frames``."""
    model.eval()
    result = {}
    for mode in ("surrogate", "hard"):
        predicted, _ = classify(model, frames, mode, batch_size)
        result[f"{mode}_accuracy"] = 100.0 * float(np.mean(predicted == frames.labels))
    return result


def corruption_sweep(path: str, overrides: dict[str, Any], split: str = "test",
                     batch_size: int = 128, progress: bool = False) -> dict[str, Any]:
    """Clean accuracy and, per corruption kind, one entry per severity."""
    model, saved = load_model(path)
    clean = checkpoint_frames(saved, overrides, split, None, progress)
    report: dict[str, Any] = {"checkpoint": str(path), "split": split, "samples": len(clean),
                              "clean": accuracies(model, clean, batch_size), "corruptions": {}}
    for kind in CORRUPTIONS:
        report["corruptions"][kind] = [
            {"severity": severity, **accuracies(model, checkpoint_frames(
                saved, overrides, split, f"{kind}:{severity}", progress), batch_size)}
            for severity in SEVERITIES]
    report["mean_corrupted_hard_accuracy"] = float(np.mean(
        [entry["hard_accuracy"] for entries in report["corruptions"].values()
         for entry in entries]))
    return report


def corruption_lines(report: dict[str, Any]) -> list[str]:
    """A table: one row per kind, hard (surrogate) accuracy per severity."""
    clean = report["clean"]
    header = "".join(f"{f'severity {s}':>16}" for s in SEVERITIES)
    lines = [f"{report['samples']} {report['split']} samples; clean: hard "
             f"{clean['hard_accuracy']:.1f}%, surrogate {clean['surrogate_accuracy']:.1f}%",
             f"{'hard (surrogate)':<14}{header}"]
    for kind, entries in report["corruptions"].items():
        cells = "".join(f"{e['hard_accuracy']:>8.1f} ({e['surrogate_accuracy']:4.1f})"
                        for e in entries)
        lines.append(f"{kind:<14}{cells}")
    lines.append(f"mean hard accuracy over all corruptions: "
                 f"{report['mean_corrupted_hard_accuracy']:.1f}%")
    return lines
