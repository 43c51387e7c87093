"""Bit-exact integer reference simulator of a compiled :class:`QNet` (numpy only).

Layers run one after another over all time steps at once (the network is
feed-forward, so this equals stepping layer by layer each time step): the
synapse of all ``T * B`` frames is one BLAS call, then the neuron rule of
``sastc.numerics`` scans over time. The C runtime steps the same rules per
time step; the equivalence tests compare the two bit for bit.
"""

from __future__ import annotations

import numpy as np

from sastc import numerics
from sastc.ir.quantized import QLayer, QNet
from sastc.sim.common import SimOutput, channel_view, summed_over_time, time_major
from sastc.sim.kernels import apply_synapse, sum_pool
from sastc.sim.synops import SynOpsCounter

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


class IntegerSimulator:
    """Runs a :class:`QNet` on uint8 frames ``[B, T, C, H, W]``."""

    def __init__(self, qnet: QNet) -> None:
        self.qnet = qnet
        pools = [layer.geometry.pool for layer in qnet.layers]
        self.dtypes = [kernel_dtype(accumulator_bound(layer, bound))
                       for layer, bound in zip(qnet.layers, max_inputs(qnet.input_clip, pools), strict=True)]
        self.weights = [layer.weight_q.astype(dtype)
                        for layer, dtype in zip(qnet.layers, self.dtypes, strict=True)]

    def synops_counter(self) -> SynOpsCounter:
        layers = self.qnet.layers
        return SynOpsCounter([ly.name for ly in layers], [ly.geometry for ly in layers],
                             [ly.weight_q for ly in layers], self.qnet.time_bins)

    def run(self, frames: np.ndarray, record: bool = False,
            synops: SynOpsCounter | None = None) -> SimOutput:
        """Simulate a batch; optionally record per-layer spikes and count SynOps."""
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
        """Frames ``[B, T, ...]`` clipped and laid out time-major ``[T * B, ...]``."""
        return time_major(np.minimum(frames, self.qnet.input_clip).astype(np.int64))

    def layer_forward(self, index: int, x: np.ndarray, steps: int,
                      synops: SynOpsCounter | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
        """Layer ``index`` on its input ``x [T*B, *in_shape]``: (output, logits, trace)."""
        layer = self.qnet.layers[index]
        pooled = sum_pool(x, layer.geometry.pool)
        if synops is not None:
            synops.add(index, summed_over_time(pooled, steps))
        acc = apply_synapse(layer.geometry, pooled.astype(self.dtypes[index]),
                            self.weights[index]).astype(np.int64)
        return _scan(layer, acc.reshape(steps, -1, *layer.geometry.out_shape))


def _scan(layer: QLayer, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neuron rule over time; returns (next input ``[T*B, ...]``, logits, per-step trace)."""
    geometry = layer.geometry
    bias = channel_view(layer.bias_q.astype(np.int64), geometry)
    theta = channel_view(layer.theta_q.astype(np.int64), geometry)
    u = np.zeros(acc.shape[1:], dtype=np.int64)
    trace = np.empty(acc.shape, dtype=bool if layer.neuron == "lif" else np.int64)
    for t in range(acc.shape[0]):
        u_pre = numerics.integrate(u, acc[t], bias, layer.beta_q, layer.leak_shift,
                                   layer.frac_bits, layer.membrane_bits)
        if layer.neuron == "lif":
            spikes = numerics.fire(u_pre, theta)
            u = numerics.reset(u_pre, spikes)
            trace[t] = spikes
        else:
            u = u_pre
            trace[t] = u_pre
    logits = trace.sum(axis=0, dtype=np.int64)
    next_input = trace.reshape(-1, *geometry.out_shape).astype(np.uint8) if layer.neuron == "lif" \
        else trace.reshape(-1, *geometry.out_shape)
    return next_input, logits.reshape(logits.shape[0], -1), trace
