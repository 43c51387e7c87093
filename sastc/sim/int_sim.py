"""Bit-exact integer reference simulator of a compiled :class:`QNet` (numpy only).

Layers run one after another over all time steps at once (the network is
feed-forward, so this equals stepping layer by layer each time step): the
synapse of all ``T * B`` frames is one BLAS call, then the integer rule of the
layer's neuron model (:mod:`sastc.neurons`, ``sastc.numerics``) scans over time.
The C runtime steps the same rules per time step; the equivalence tests compare
the two bit for bit. Which kernels are exact comes from :mod:`sastc.ir.ranges`.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import (  # noqa: F401  (FLOAT32_EXACT, max_inputs: re-exported)
    FLOAT32_EXACT,
    accumulator_bound,
    kernel_dtype,
    max_inputs,
    membrane_dtype,
)
from sastc.neurons import backend_entry, is_spiking
from sastc.sim.common import SimOutput, time_major
from sastc.sim.kernels import apply_pool, apply_synapse
from sastc.sim.synops import SynOpsCounter
from sastc.threads import current as current_threads


def default_threads() -> int:
    """Worker threads: what the command chose (``--threads`` or :mod:`sastc.threads`'s
    policy: free cores, at most 4), else that policy on the current load."""
    return current_threads("simulate")


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def split_batch(count: int, threads: int, min_part: int = 8) -> list[slice]:
    """At most ``threads`` contiguous parts of at least ``min_part`` samples each.

    >>> split_batch(100, 2)
    [slice(0, 50, None), slice(50, 100, None)]
    >>> split_batch(10, 4)
    [slice(0, 10, None)]
    """
    parts = max(1, min(threads, count // min_part))
    bounds = [round(i * count / parts) for i in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


class IntegerSimulator:
    """Runs a :class:`QNet` on uint8 frames ``[B, T, C, H, W]``."""

    def __init__(self, qnet: QNet, threads: int | None = None) -> None:
        self.qnet = qnet
        self.threads = threads or default_threads()
        pools = [layer.geometry.pool for layer in qnet.layers]
        bounds = [accumulator_bound(layer, bound)
                  for layer, bound in zip(qnet.layers, max_inputs(qnet.input_clip, pools), strict=True)]
        self.dtypes = [kernel_dtype(bound) for bound in bounds]
        self.membrane_dtypes = [membrane_dtype(layer, bound)
                                for layer, bound in zip(qnet.layers, bounds, strict=True)]
        self.weights = [layer.weight_q.astype(dtype)
                        for layer, dtype in zip(qnet.layers, self.dtypes, strict=True)]

    def synops_counter(self) -> SynOpsCounter:
        layers = self.qnet.layers
        return SynOpsCounter([ly.name for ly in layers], [ly.geometry for ly in layers],
                             [ly.weight_q for ly in layers], self.qnet.time_bins)

    def run(self, frames: np.ndarray, record: bool = False,
            synops: SynOpsCounter | None = None) -> SimOutput:
        """Simulate a batch; optionally record per-layer spikes and count SynOps.

        The batch is split over ``self.threads`` threads (numpy releases the GIL in its
        loops); samples are independent, so the result does not depend on the split.
        """
        parts = split_batch(len(frames), self.threads)
        if len(parts) == 1:
            return self._run_part(frames, record, synops)
        # one BLAS thread per worker: nested BLAS threads oversubscribe the cores
        with _blas_controller().limit(limits=1, user_api="blas"), \
                ThreadPoolExecutor(len(parts)) as pool:
            outputs = list(pool.map(lambda part: self._run_part(frames[part], record, synops),
                                    parts))
        logits = np.concatenate([out.logits for out in outputs])
        records = [np.concatenate(layer_records, axis=1)
                   for layer_records in zip(*(out.records for out in outputs), strict=True)]
        return SimOutput(logits, records)

    def _run_part(self, frames: np.ndarray, record: bool,
                  synops: SynOpsCounter | None) -> SimOutput:
        steps = frames.shape[1]
        x = self.input_of(frames)
        records: list[np.ndarray] = []
        logits = np.zeros(0)
        for index in range(len(self.qnet.layers)):
            x, logits, trace = self.layer_forward(index, x, steps, synops)
            if record:
                records.append(trace)
        if synops is not None:
            synops.count_samples(frames.shape[0])
        return SimOutput(logits, records)

    def input_of(self, frames: np.ndarray) -> np.ndarray:
        """Frames ``[B, T, ...]`` clipped to ``[0, input_clip]`` and laid out time-major
        ``[T * B, ...]`` (uint8 when the clip fits, as spikes are)."""
        clip = self.qnet.input_clip
        dtype = np.uint8 if clip <= np.iinfo(np.uint8).max else np.int64
        return time_major(np.clip(frames, 0, clip).astype(dtype, copy=False))

    def layer_forward(self, index: int, x: np.ndarray, steps: int,
                      synops: SynOpsCounter | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
        """Layer ``index`` on its input ``x [T*B, *in_shape]``: (output, logits, trace);
        logits only for the last layer (an empty array before it)."""
        layer = self.qnet.layers[index]
        pooled = apply_pool(layer.geometry, x, self.dtypes[index], integer=True)  # exact: max_inputs
        if synops is not None:
            synops.add(index, pooled, steps)
        acc = apply_synapse(layer.geometry, pooled, self.weights[index], True, layer.name)
        output, trace = _scan(layer, acc.reshape(steps, -1, *layer.geometry.out_shape),
                              self.membrane_dtypes[index])
        last = index == len(self.qnet.layers) - 1
        return output, logits_of(trace) if last else np.zeros(0), trace


def _scan(layer: QLayer, acc: np.ndarray,
          dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """The integer rule of the layer's neuron model over time (its ``int_scan``), in place on
    ``dtype`` buffers (int32 only where :func:`membrane_dtype` proves it exact). ``acc`` holds
    exact integers in any numeric dtype. Returns (next input ``[T*B, ...]``, per-step trace:
    bool spikes, or the int64 membrane of a readout)."""
    scan = backend_entry("int_scan", layer.neuron, "the integer simulator", layer.name)
    trace = scan(layer, acc, dtype)
    next_input = trace.reshape(-1, *layer.geometry.out_shape)
    return (next_input.view(np.uint8) if is_spiking(layer.neuron) else next_input), trace


def logits_of(trace: np.ndarray) -> np.ndarray:
    """``[B, classes]``: the trace ``[T, B, ...]`` (spikes or readout membrane) summed over T."""
    logits = trace.sum(axis=0, dtype=np.int64)
    return logits.reshape(logits.shape[0], -1)
