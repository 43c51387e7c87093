"""Synaptic operations (SynOps) per sample, in two conventions, each named for what it is.

For one layer with (pooled) input ``x[t, i]`` of one sample, ``F_nz[i]`` the number
of non-zero weights input ``i`` reaches (true convolution border fan-out) and
``F[i]`` the number of weights it reaches:

- **``neurobench``**, exactly NeuroBench 2.3's ``SynapticOperations``: every layer
  call (one time step) binarises its input (any non-zero value counts once) and
  counts ``ops[t] = sum_i [x[t, i] != 0] * F_nz[i]``; the call's ops are
  ``Effective_ACs`` when its input is binary (every value 0 or 1) and
  ``Effective_MACs`` otherwise (a sum-pooled count of 2 makes the whole call MACs).
  ``Dense = T * sum_i F[i]``. Bias is not counted. NeuroBench decides AC or MAC per
  call on the whole batch it is given; sastc decides per sample, i.e. NeuroBench's
  count with batch size 1.
- **``event_weighted``**: ``ACs = sum_t sum_i x[t, i] * F_nz[i]``: an input count of
  ``n`` is ``n`` events, each adding its non-zero weights, which is what the
  event-driven C runtime adds. On binary inputs it equals NeuroBench's ACs.

>>> from sastc.ir.layers import Geometry
>>> g = Geometry("conv", (1, 3, 3), (1, 3, 3), kernel=3, padding=1)
>>> fanout_map(g, np.ones((1, 1, 3, 3)))[0].tolist()
[[4, 6, 4], [6, 9, 6], [4, 6, 4]]
>>> counter = SynOpsCounter(["fc"], [Geometry("dense", (2,), (1,))], [np.ones((1, 2))], 2)
>>> counter.add(0, np.array([[1, 0], [2, 1]]), steps=2)  # t=0 binary, t=1 has a count of 2
>>> counter.count_samples(1)
>>> counter.result().to_dict()["per_layer"]["fc"]
{'neurobench': {'Effective_ACs': 1.0, 'Effective_MACs': 2.0, 'Dense': 4.0}, 'event_weighted': {'ACs': 4.0}}
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from sastc.ir.layers import Geometry
from sastc.synapses import backend_entry

NEUROBENCH = "neurobench"
EVENT_WEIGHTED = "event_weighted"


def fanout_map(geometry: Geometry, weight: np.ndarray, layer: str = "?") -> np.ndarray:
    """For each (pooled) input position, the number of non-zero weights it reaches (the
    op's ``fanout`` entry, :mod:`sastc.synapses`)."""
    nonzero = (np.asarray(weight) != 0).astype(np.int64)
    return backend_entry("fanout", geometry.op, "SynOps", layer)(geometry, nonzero)


@dataclass
class SynOps:
    """Per-sample SynOps of each layer, in both conventions (see the module docstring)."""

    names: list[str]
    event_weighted: list[float]
    acs: list[float]  # NeuroBench Effective_ACs
    macs: list[float]  # NeuroBench Effective_MACs
    dense: list[float]

    @property
    def total_event_weighted(self) -> float:
        return float(sum(self.event_weighted))

    def _layer(self, i: int) -> dict[str, dict[str, float]]:
        return {NEUROBENCH: {"Effective_ACs": self.acs[i], "Effective_MACs": self.macs[i],
                             "Dense": self.dense[i]},
                EVENT_WEIGHTED: {"ACs": self.event_weighted[i]}}

    def to_dict(self) -> dict:
        totals = {NEUROBENCH: {"Effective_ACs": float(sum(self.acs)),
                               "Effective_MACs": float(sum(self.macs)),
                               "Dense": float(sum(self.dense))},
                  EVENT_WEIGHTED: {"ACs": self.total_event_weighted}}
        return {**totals, "per_layer": {name: self._layer(i) for i, name in enumerate(self.names)}}


class SynOpsCounter:
    """Accumulates both conventions over batches; ``Dense`` follows from the geometry alone."""

    def __init__(self, names: list[str], geometries: list[Geometry], weights: list[np.ndarray],
                 time_bins: int) -> None:
        self.names = names
        layers = list(zip(names, geometries, weights, strict=True))
        self.nonzero_fanout = [fanout_map(g, w, name).ravel().astype(np.float64)
                               for name, g, w in layers]
        self.all_fanout = [fanout_map(g, np.ones_like(w), name) for name, g, w in layers]
        self.time_bins = time_bins
        self.sums = np.zeros((3, len(names)))  # event-weighted, NeuroBench ACs, NeuroBench MACs
        self.samples = 0
        self._lock = threading.Lock()

    def add(self, layer: int, inputs: np.ndarray, steps: int) -> None:
        """``inputs``: the layer's (pooled) input ``[T * B, *pooled_shape]``, time-major."""
        if inputs.shape[0] % steps:
            raise ValueError(f"inputs of {inputs.shape[0]} rows are not {steps} time steps")
        x = np.asarray(inputs).reshape(inputs.shape[0], -1)
        fanout = self.nonzero_fanout[layer]
        event_weighted = float(x.sum(axis=0, dtype=np.float64) @ fanout)
        per_call = (x != 0).astype(np.float64) @ fanout  # one call = one step of one sample
        binary = ~np.any(x > 1, axis=1)  # inputs are counts: binary iff no value above 1
        acs, macs = float(per_call[binary].sum()), float(per_call[~binary].sum())
        with self._lock:  # the integer simulator counts from several threads
            self.sums[:, layer] += (event_weighted, acs, macs)

    def count_samples(self, batch: int) -> None:
        with self._lock:
            self.samples += batch

    def result(self) -> SynOps:
        per_sample = self.sums / max(self.samples, 1)
        dense = [float(self.time_bins * f.sum()) for f in self.all_fanout]
        event_weighted, acs, macs = ([float(v) for v in row] for row in per_sample)
        return SynOps(list(self.names), event_weighted, acs, macs, dense)
