"""Synaptic operations (SynOps), NeuroBench-compatible, per sample.

For one layer with input activity ``x[t, i]`` (spike counts after pooling):

- ``Effective_ACs = sum_t sum_i x[t, i] * fanout_nz[i]``: every input event
  times the number of non-zero weights it reaches (true convolution border
  fan-out; bias not counted). An input count of 2 (two spikes pooled into one
  position) counts as two events, which is what the event-driven runtime adds.
- ``Dense = T * sum_i fanout_all[i]``: every connection at every time step,
  zero weights included.

>>> from sastc.ir.layers import Geometry
>>> g = Geometry("conv", (1, 3, 3), (1, 3, 3), kernel=3, padding=1)
>>> fanout_map(g, np.ones((1, 1, 3, 3)))[0].tolist()
[[4, 6, 4], [6, 9, 6], [4, 6, 4]]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from sastc.ir.layers import Geometry


def fanout_map(geometry: Geometry, weight: np.ndarray) -> np.ndarray:
    """For each (pooled) input position, the number of non-zero weights it reaches."""
    nonzero = (np.asarray(weight) != 0).astype(np.int64)
    if geometry.op == "dense":
        return nonzero.reshape(nonzero.shape[0], -1).sum(axis=0).reshape(geometry.pooled_shape)
    return _conv_fanout(geometry, nonzero)


def _conv_fanout(geometry: Geometry, mask: np.ndarray) -> np.ndarray:
    c, h, w = geometry.pooled_shape
    _, oh, ow = geometry.out_shape
    s, p, k = geometry.stride, geometry.padding, geometry.kernel
    per_tap = mask.sum(axis=0)  # [C_in, k, k]: non-zero weights over output channels
    fanout = np.zeros((c, h + 2 * p, w + 2 * p), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            fanout[:, i : i + s * oh : s, j : j + s * ow : s] += per_tap[:, i, j, None, None]
    return fanout[:, p : p + h, p : p + w]


@dataclass
class SynOps:
    """Per-sample SynOps of each layer."""

    names: list[str]
    effective: list[float]
    dense: list[float]

    @property
    def total_effective(self) -> float:
        return float(sum(self.effective))

    @property
    def total_dense(self) -> float:
        return float(sum(self.dense))

    def to_dict(self) -> dict:
        layers = {name: {"Effective_ACs": eff, "Dense": den}
                  for name, eff, den in zip(self.names, self.effective, self.dense, strict=True)}
        return {"Effective_ACs": self.total_effective, "Dense": self.total_dense,
                "per_layer": layers}


class SynOpsCounter:
    """Accumulates Effective_ACs over batches; ``Dense`` follows from the geometry alone."""

    def __init__(self, names: list[str], geometries: list[Geometry], weights: list[np.ndarray],
                 time_bins: int) -> None:
        self.names = names
        self.nonzero_fanout = [fanout_map(g, w) for g, w in zip(geometries, weights, strict=True)]
        self.all_fanout = [fanout_map(g, np.ones_like(w)) for g, w in
                           zip(geometries, weights, strict=True)]
        self.time_bins = time_bins
        self.effective_sum = np.zeros(len(names))
        self.samples = 0
        self._lock = threading.Lock()

    def add(self, layer: int, pooled_input_counts: np.ndarray) -> None:
        """``pooled_input_counts``: ``[B, *pooled_shape]`` input events summed over time."""
        counts = pooled_input_counts.reshape(pooled_input_counts.shape[0], -1).astype(np.float64)
        effective = float(counts.sum(axis=0) @ self.nonzero_fanout[layer].ravel())
        with self._lock:  # the integer simulator counts from several threads
            self.effective_sum[layer] += effective

    def count_samples(self, batch: int) -> None:
        with self._lock:
            self.samples += batch

    def result(self) -> SynOps:
        per_sample = self.effective_sum / max(self.samples, 1)
        dense = [float(self.time_bins * f.sum()) for f in self.all_fanout]
        return SynOps(list(self.names), [float(v) for v in per_sample], dense)
