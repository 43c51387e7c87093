"""Plots people would rather see than read: curves, accuracy vs rho, SynOps, rasters,
confusion matrices.

All functions write a PNG atomically and need only numpy and matplotlib (Agg).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sastc.atomic import write_atomic
from sastc.errors import SastcError
from sastc.report import short_name


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
    except SastcError as exc:
        raise SastcError(f"cannot write plot {path}: {exc}") from exc
    except OSError as exc:
        raise SastcError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
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


def plot_k_sweep(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Hard (solid) and surrogate (dashed) accuracy against the steepness k, one line per
    (mode, rho); ``auto`` is the rightmost point. Mean and spread over seeds."""
    swept = [r for r in rows if r.get("steepness") is not None]
    ks = list(dict.fromkeys(r["steepness"] for r in swept))
    ks.sort(key=lambda k: (isinstance(k, str), k if not isinstance(k, str) else 0))
    fig, axes = _figure(1, 6.5, 4.0)
    ax = axes[0, 0]
    for mode, rho in dict.fromkeys((r["mode"], r["rho"]) for r in swept):
        group = [r for r in swept if r["mode"] == mode and r["rho"] == rho]
        for key, style in (("hard_accuracy", "-"), ("surrogate_accuracy", "--")):
            values = [[r[key] for r in group if r["steepness"] == k] for k in ks]
            ax.errorbar(range(len(ks)), [np.mean(v) if v else np.nan for v in values],
                        yerr=[np.std(v) if v else 0 for v in values], ls=style, marker="o",
                        capsize=3, label=f"{mode} rho {rho:g}, {key.split('_')[0]}")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(xlabel="surrogate steepness k", ylabel="test accuracy (%)",
           title="Surrogate (dashed) and hard (solid) accuracy vs k")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_corruptions(reports: dict[str, Sequence[dict[str, Any]]], path: str | Path) -> Path:
    """Hard-spike accuracy against severity (0 = clean), one panel per corruption kind and
    one line per model; each model's reports (e.g. seeds) give mean and spread."""
    kinds = list(next(iter(reports.values()))[0]["corruptions"])
    fig, axes = _figure(len(kinds), 3.4, 3.2)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for label, runs in reports.items():
            curves = np.array([[r["clean"]["hard_accuracy"]] +
                               [e["hard_accuracy"] for e in r["corruptions"][kind]]
                               for r in runs])
            ax.errorbar(range(curves.shape[1]), curves.mean(0), yerr=curves.std(0),
                        marker="o", capsize=3, label=label)
        ax.set(title=kind, xlabel="severity (0: clean)", ylabel="hard-spike accuracy (%)",
               ylim=(0, 100))
    axes[0, 0].legend(fontsize=7)
    return _save(fig, path)


def plot_synops(per_layer: dict[str, dict[str, dict[str, float]]], path: str | Path) -> Path:
    """Grouped bars of event-weighted ACs per layer (``sastc.sim.synops``), one group per model
    (e.g. float-hard, int)."""
    fig, axes = _figure(1, 6.5, 4.0)
    ax = axes[0, 0]
    models = list(per_layer)
    layers = list(next(iter(per_layer.values())))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        values = [per_layer[model][layer]["event_weighted"]["ACs"] for layer in layers]
        ax.bar(np.arange(len(layers)) + i * width, values, width, label=model)
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2, layers)
    ax.set(ylabel="event-weighted ACs per sample", title="Synaptic operations per layer")
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


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the fraction of a true class predicted as each class);
    rows without samples stay 0.

    >>> row_normalised(np.array([[3, 1], [0, 0]])).tolist()
    [[0.75, 0.25], [0.0, 0.0]]
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def plot_confusion(matrix: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str],
                   path: str | Path, title: str) -> Path:
    """Heatmap of a confusion matrix (rows = true class, columns = predicted): colours are
    row-normalised, each cell shows its count (up to 30 classes), ticks are class names."""
    counts = np.asarray(matrix, dtype=np.int64)
    size = len(classes)
    side = min(max(4.0, 0.45 * size + 2.5), 16.0)
    fig, axes = _figure(1, side + 1.0, side)
    ax = axes[0, 0]
    image = ax.imshow(row_normalised(counts), cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    names = [short_name(str(name)) for name in classes]
    ax.set_xticks(np.arange(size), names, rotation=90 if size > 6 else 0)
    ax.set_yticks(np.arange(size), names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    if size <= 30:
        _annotate(ax, counts, row_normalised(counts))
    return _save(fig, path)


def _annotate(ax: Any, counts: np.ndarray, fractions: np.ndarray) -> None:
    fontsize = 9 if len(counts) <= 12 else 6
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if fractions[row, col] > 0.5 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=colour,
                fontsize=fontsize)
