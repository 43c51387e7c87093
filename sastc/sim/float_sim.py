"""Float simulator of a lowered :class:`FloatNet` (numpy only), surrogate or hard spikes.

Per LIF layer and time step, with ``I[t]`` the synaptic input::

    u_pre[t] = beta * u[t-1] + I[t]
    s[t]     = sigmoid(k * (u_pre[t] - threshold))    (surrogate)
             = u_pre[t] > threshold                   (hard)
    u[t]     = u_pre[t] * (1 - s[t])                  (reset to zero)

An LI readout integrates ``u[t] = beta * u[t-1] + I[t]`` and its logits are
``mean_t u[t]``. This is the same model the torch training code runs; it lets
``sastc simulate`` and NIR imports measure float accuracy without torch.
"""

from __future__ import annotations

import numpy as np

from sastc.ir.layers import FloatLayer, FloatNet
from sastc.sim.common import SimOutput, channel_view, time_major
from sastc.sim.kernels import apply_synapse, sum_pool
from sastc.sim.synops import SynOpsCounter

SPIKE_MODES = ("hard", "surrogate")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class FloatSimulator:
    """Runs a :class:`FloatNet` on frames ``[B, T, C, H, W]`` in float32."""

    def __init__(self, net: FloatNet, mode: str = "hard") -> None:
        if mode not in SPIKE_MODES:
            raise ValueError(f"spike mode must be one of {SPIKE_MODES}, got {mode!r}")
        self.net = net
        self.mode = mode
        self.clip = int(net.metadata.get("input_clip", 1))

    def synops_counter(self) -> SynOpsCounter:
        layers = self.net.layers
        return SynOpsCounter([ly.name for ly in layers], [ly.geometry for ly in layers],
                             [ly.weight for ly in layers], self.net.time_bins)

    def run(self, frames: np.ndarray, record: bool = False,
            synops: SynOpsCounter | None = None) -> SimOutput:
        steps, batch = frames.shape[1], frames.shape[0]
        x = time_major(np.minimum(frames, self.clip).astype(np.float32))
        records: list[np.ndarray] = []
        logits = np.zeros(0)
        for index, layer in enumerate(self.net.layers):
            pooled = sum_pool(x, layer.geometry.pool)
            if synops is not None:
                synops.add(index, pooled, steps)
            current = apply_synapse(layer.geometry, pooled, layer.weight)
            current = current + channel_view(layer.bias, layer.geometry)
            current = current.reshape(steps, batch, *layer.geometry.out_shape)
            x, logits, trace = self._scan(layer, current)
            if record:
                records.append(trace)
        if synops is not None:
            synops.count_samples(batch)
        return SimOutput(logits, records)

    def _scan(self, layer: FloatLayer, current: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
        theta = channel_view(layer.threshold.astype(np.float32), layer.geometry)
        beta = np.float32(layer.beta)
        k = np.float32(self.net.steepness)
        u = np.zeros(current.shape[1:], dtype=np.float32)
        trace = np.empty(current.shape, dtype=np.float32)
        for t in range(current.shape[0]):
            u_pre = beta * u + current[t]
            if layer.neuron == "li":
                u = trace[t] = u_pre
                continue
            spikes = (u_pre > theta).astype(np.float32) if self.mode == "hard" \
                else sigmoid(k * (u_pre - theta))
            u = u_pre * (1.0 - spikes)
            trace[t] = spikes
        logits = trace.mean(axis=0) if layer.neuron == "li" else trace.sum(axis=0)
        next_input = trace.reshape(-1, *layer.geometry.out_shape)
        if self.mode == "hard" and layer.neuron == "lif":
            trace = trace.astype(bool)
        return next_input, logits.reshape(logits.shape[0], -1), trace
