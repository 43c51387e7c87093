"""Evaluate a checkpoint on the data it was trained on (or on other data)."""

from __future__ import annotations

from typing import Any

import torch

from sastc.atomic import ensure_writable_file
from sastc.data.base import FrameSet
from sastc.data.recorded import load_recorded_frames, merge_data_options
from sastc.resources import check_evaluation
from sastc.train.checkpoint import checkpoint_spec, load_checkpoint, require_finite
from sastc.train.evaluate import evaluate
from sastc.train.model import SpikingNet


def load_model(path: str) -> tuple[SpikingNet, dict[str, Any]]:
    """The trained model of a checkpoint and the checkpoint itself."""
    saved = load_checkpoint(path)
    require_finite(saved, path)
    model = SpikingNet(checkpoint_spec(saved), "hard")
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved


def checkpoint_frames(saved: dict[str, Any], overrides: dict[str, Any], split: str,
                      corrupt: str | None = None, progress: bool = True) -> FrameSet:
    """Frames of ``split`` from the checkpoint's dataset, CLI ``overrides`` taking precedence."""
    data = merge_data_options(saved["dataset"], overrides)
    return load_recorded_frames(data, split, progress=progress, corruption=corrupt)


def evaluate_checkpoint(path: str, overrides: dict[str, Any], split: str = "test",
                        corrupt: str | None = None, batch_size: int = 128,
                        confusion_plot: str | None = None) -> dict[str, Any]:
    """The report of :func:`evaluate` with per-class results; ``confusion_plot``: also draw
    the hard-spike confusion matrix to this PNG."""
    if confusion_plot:
        ensure_writable_file(confusion_plot, "--confusion")
    model, saved = load_model(path)
    check_evaluation(checkpoint_spec(saved), merge_data_options(saved["dataset"], overrides),
                     split, batch_size, f"checkpoint {path}")  # shapes and memory, up front
    frames = checkpoint_frames(saved, overrides, split, corrupt)
    with torch.no_grad():
        report = evaluate(model, frames, batch_size=batch_size, per_class=True)
    report.update(checkpoint=str(path), dataset=frames.dataset, split=split,
                  corruption=corrupt)
    if confusion_plot:
        from sastc.plots import plot_confusion

        title = f"{frames.dataset}/{split}" + (f" ({corrupt})" if corrupt else "")
        plot_confusion(report["confusion"], report["classes"], confusion_plot,
                       f"{title}: hard spikes")
    return report
