"""Plots people would rather see than read: curves, accuracy vs rho, SynOps, rasters.

All functions write a PNG atomically and need only numpy and matplotlib (Agg).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sastc.atomic import write_atomic


def _figure(ncols: int = 1, width: float = 5.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)


def _save(fig: Any, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()

    def write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=110, format="png")

    try:
        return write_atomic(path, write)
    finally:
        plt.close(fig)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Loss and test accuracy (surrogate forward, hard spikes) per epoch."""
    fig, axes = _figure(2)
    epochs = [entry["epoch"] for entry in history]
    axes[0, 0].plot(epochs, [entry["loss"] for entry in history], marker="o")
    axes[0, 0].set(xlabel="epoch", ylabel="training loss", title="Loss")
    for key, label in (("train_accuracy", "train (forward mode)"),
                       ("surrogate_accuracy", "test, surrogate forward"),
                       ("hard_accuracy", "test, hard spikes")):
        axes[0, 1].plot(epochs, [entry[key] for entry in history], marker="o", label=label)
    axes[0, 1].set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    axes[0, 1].legend()
    return _save(fig, path)


def plot_rho_sweep(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Mean and spread over seeds of surrogate and hard accuracy against rho."""
    fig, axes = _figure(1, 6.0, 4.0)
    ax = axes[0, 0]
    rhos = sorted({row["rho"] for row in rows if row.get("mode") != "conventional"})
    for key, label in (("surrogate_accuracy", "surrogate forward"),
                       ("hard_accuracy", "hard spikes")):
        values = [[r[key] for r in rows if r["rho"] == rho and r.get("mode") != "conventional"]
                  for rho in rhos]
        ax.errorbar(rhos, [np.mean(v) for v in values], yerr=[np.std(v) for v in values],
                    marker="o", capsize=3, label=label)
    conventional = [r["hard_accuracy"] for r in rows if r.get("mode") == "conventional"]
    if conventional:
        ax.axhline(np.mean(conventional), color="gray", ls="--",
                   label="conventional (hard fwd), hard")
    ax.set(xlabel="SAM radius rho", ylabel="test accuracy (%)",
           title="Surrogate-to-hard transfer vs rho")
    ax.legend()
    return _save(fig, path)


def plot_synops(per_layer: dict[str, dict[str, dict[str, float]]], path: str | Path) -> Path:
    """Grouped bars of Effective_ACs per layer, one group per model (e.g. float-hard, int)."""
    fig, axes = _figure(1, 6.5, 4.0)
    ax = axes[0, 0]
    models = list(per_layer)
    layers = list(next(iter(per_layer.values())))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        values = [per_layer[model][layer]["Effective_ACs"] for layer in layers]
        ax.bar(np.arange(len(layers)) + i * width, values, width, label=model)
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2, layers)
    ax.set(ylabel="Effective ACs per sample", title="Synaptic operations per layer")
    ax.legend()
    return _save(fig, path)


def plot_raster(spikes: Sequence[np.ndarray], names: Sequence[str], path: str | Path,
                max_neurons: int = 400) -> Path:
    """Spike raster of one sample: ``spikes[i]`` is ``bool [T, neurons...]`` for layer ``i``."""
    fig, axes = _figure(len(spikes), 3.6, 3.6)
    for ax, layer_spikes, name in zip(axes[0], spikes, names, strict=True):
        flat = np.asarray(layer_spikes).reshape(layer_spikes.shape[0], -1)[:, :max_neurons]
        times, neurons = np.nonzero(flat)
        ax.scatter(times, neurons, s=2, marker="|")
        ax.set(xlabel="time step", ylabel="neuron", title=f"{name} ({flat.mean():.3f}/step)")
    return _save(fig, path)
