"""Bit-exact integer reference simulator of a compiled :class:`QNet` (numpy only).

Layers run one after another over all time steps at once (the network is
feed-forward, so this equals stepping layer by layer each time step): the
synapse of all ``T * B`` frames is one BLAS call, then the neuron rule of
``sastc.numerics`` scans over time. The C runtime steps the same rules per
time step; the equivalence tests compare the two bit for bit.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from sastc import numerics
from sastc.ir.quantized import QLayer, QNet
from sastc.sim.common import SimOutput, channel_view, time_major
from sastc.sim.kernels import apply_synapse, sum_pool
from sastc.sim.synops import SynOpsCounter
from sastc.threads import current as current_threads

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53


def accumulator_bound(layer: QLayer, max_input: int) -> int:
    """Largest ``|acc|`` any output can reach: ``max_c sum_i |W_q[c, i]| * max_input``."""
    return int(np.abs(layer.weight_matrix).sum(axis=1).max()) * int(max_input)


def kernel_dtype(bound: int) -> type:
    """Cheapest dtype whose arithmetic is exact for integer sums up to ``bound``."""
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


def max_inputs(input_clip: int, pools: list[int]) -> list[int]:
    """Largest input value each layer's synapse sees: spike counts after ``pool x pool`` pooling
    (the first layer sees input frames clipped at ``input_clip``).

    >>> max_inputs(1, [1, 2, 1])
    [1, 4, 1]
    """
    return [(input_clip if index == 0 else 1) * pool * pool for index, pool in enumerate(pools)]


def membrane_dtype(layer: QLayer, acc_bound: int) -> type:
    """int32 when every intermediate of the neuron rule provably fits, else int64.

    Bounds: ``|u| <= 2**(m-1)`` after saturation, so ``|u * beta_q| + half <= 2**(m-1) |beta_q|
    + half``, and ``|leaked + drive| <= 2**(m-1) |beta_q| / 2**leak_shift + 1 + acc_bound *
    2**frac_bits + max|bias_q|``.
    """
    membrane = 1 << (layer.membrane_bits - 1)
    half = (1 << (layer.leak_shift - 1)) if layer.leak_shift else 0
    product = membrane * abs(int(layer.beta_q)) + half
    bias = int(np.abs(layer.bias_q).max()) if layer.bias_q.size else 0
    total = (product >> layer.leak_shift) + 1 + (acc_bound << layer.frac_bits) + bias
    return np.int32 if max(product, total) < (1 << 31) else np.int64


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
        pooled = sum_pool(x, layer.geometry.pool, self.dtypes[index])  # exact: see max_inputs
        if synops is not None:
            synops.add(index, pooled, steps)
        acc = apply_synapse(layer.geometry, pooled, self.weights[index])
        output, trace = _scan(layer, acc.reshape(steps, -1, *layer.geometry.out_shape),
                              self.membrane_dtypes[index])
        last = index == len(self.qnet.layers) - 1
        return output, logits_of(trace) if last else np.zeros(0), trace


def _scan(layer: QLayer, acc: np.ndarray,
          dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Neuron rule of :mod:`sastc.numerics` over time, in place on ``dtype`` buffers (int32
    only where :func:`membrane_dtype` proves it exact).

    Per step: ``u = saturate(round_shift(u * beta_q, leak_shift) + (acc[t] << frac_bits)
    + bias_q)``; LIF layers then spike where ``u > theta_q`` and reset those neurons to 0.
    ``acc`` holds exact integers in any numeric dtype. Returns (next input ``[T*B, ...]``,
    per-step trace).
    """
    geometry = layer.geometry
    low, high = numerics.int_range(layer.membrane_bits)
    bias = channel_view(layer.bias_q.astype(dtype), geometry)
    # u stays in [low, high], so clipping theta to [low - 1, high] keeps every comparison
    theta = channel_view(np.clip(layer.theta_q, low - 1, high).astype(dtype), geometry)
    half = (1 << (layer.leak_shift - 1)) if layer.leak_shift else 0
    u = np.zeros(acc.shape[1:], dtype=dtype)
    drive = np.empty_like(u)
    lif = layer.neuron == "lif"
    trace = np.empty(acc.shape, dtype=bool if lif else np.int64)
    for t in range(acc.shape[0]):
        np.multiply(u, layer.beta_q, out=u)
        if half:
            u += half
            np.right_shift(u, layer.leak_shift, out=u)
        np.copyto(drive, acc[t], casting="unsafe")
        np.multiply(drive, 1 << layer.frac_bits, out=drive)
        u += drive
        u += bias
        np.clip(u, low, high, out=u)
        if lif:
            np.greater(u, theta, out=trace[t])
            np.copyto(u, 0, where=trace[t])
        else:
            trace[t] = u
    next_input = trace.reshape(-1, *geometry.out_shape).view(np.uint8) if lif \
        else trace.reshape(-1, *geometry.out_shape)
    return next_input, trace


def logits_of(trace: np.ndarray) -> np.ndarray:
    """``[B, classes]``: the trace ``[T, B, ...]`` (spikes or readout membrane) summed over T."""
    logits = trace.sum(axis=0, dtype=np.int64)
    return logits.reshape(logits.shape[0], -1)
