"""Float simulator of a lowered :class:`FloatNet` (numpy only), surrogate or hard spikes.

Per layer, the synapse gives ``I[t] = W x[t] + b`` and the layer's neuron model
(:mod:`sastc.neurons`, its ``float_scan``) runs over time, e.g. for LIF::

    u_pre[t] = beta * u[t-1] + I[t]
    s[t]     = sigmoid(k * (u_pre[t] - threshold))    (surrogate)
             = u_pre[t] > threshold                   (hard)
    u[t]     = u_pre[t] * (1 - s[t])  |  u_pre[t] - threshold * s[t]   (reset zero | subtract)

An LI readout integrates ``u[t] = beta * u[t-1] + I[t]`` and its logits are
``mean_t u[t]``; a spiking last layer's are its summed spikes. This is the same model the
torch training code runs; it lets ``sastc simulate`` and NIR imports measure float
accuracy without torch.
"""

from __future__ import annotations

import numpy as np

from sastc.ir.layers import FloatLayer, FloatNet
from sastc.neurons import backend_entry, is_spiking
from sastc.sim.common import SimOutput, channel_view, time_major
from sastc.sim.kernels import apply_pool, apply_synapse
from sastc.sim.synops import SynOpsCounter

SPIKE_MODES = ("hard", "surrogate")


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
            pooled = apply_pool(layer.geometry, x)
            if synops is not None:
                synops.add(index, pooled, steps)
            current = apply_synapse(layer.geometry, pooled, layer.weight, layer=layer.name)
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
        scan = backend_entry("float_scan", layer.neuron, "the float simulator", layer.name)
        trace = scan(layer, current, self.mode, self.net.steepness)
        spiking = is_spiking(layer.neuron)
        logits = trace.sum(axis=0) if spiking else trace.mean(axis=0)
        next_input = trace.reshape(-1, *layer.geometry.out_shape)
        if self.mode == "hard" and spiking:
            trace = trace.astype(bool)
        return next_input, logits.reshape(logits.shape[0], -1), trace
