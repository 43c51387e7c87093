"""The torch model built from an :class:`ArchSpec`: time-folded synapses + neuron scans.

Input is ``[T, B, C, H, W]``. Each convolution or dense layer runs once over
all ``T * B`` frames (one large call instead of ``T`` small ones), then the scan of
``sastc.train.lif`` runs over time with the layer's neuron model (LIF, IF: ``beta = 1``,
CubaLIF: ``alpha``; reset to zero or by subtraction, see :mod:`sastc.neurons`). Parameter names
(``layers.<i>.weight``/``.bias``) are what ``sastc.ir.build`` reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sastc.spec import ArchSpec, Conv, Dense, Pool, Readout
from sastc.train import event_conv
from sastc.train.lif import SPIKE_MODES, leaky_readout, lif_scan
from sastc.train.scan.dispatch import usable_backend
from sastc.train.scan.rule import ScanRule


@dataclass
class Trace:
    """What a forward pass can record for evaluation: per spiking layer, spikes ``[T, B, ...]``,
    and per synaptic layer, its (pooled) input ``[T, B, ...]``."""

    spikes: list[torch.Tensor] = field(default_factory=list)
    synapse_inputs: list[torch.Tensor] = field(default_factory=list)


def _fold(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def _unfold(x: torch.Tensor, steps: int) -> torch.Tensor:
    return x.reshape(steps, x.shape[0] // steps, *x.shape[1:])


class SpikingNet(nn.Module):
    """Feed-forward spiking network; ``spike_mode`` selects surrogate, hard or conventional
    spikes."""

    def __init__(self, spec: ArchSpec, spike_mode: str = "surrogate") -> None:
        super().__init__()
        self.spec = spec
        self.spike_mode = spike_mode
        shapes = spec.shapes()
        self.layers = nn.ModuleList(_make_layer(layer, shapes[i]) for i, layer in
                                    enumerate(spec.layers))

    @property
    def spike_mode(self) -> str:
        return self._spike_mode

    @spike_mode.setter
    def spike_mode(self, mode: str) -> None:
        if mode not in SPIKE_MODES:
            raise ValueError(f"spike mode must be one of {SPIKE_MODES}, got {mode!r}")
        self._spike_mode = mode

    def forward(self, frames: torch.Tensor, trace: Trace | None = None) -> torch.Tensor:
        """Logits ``[B, classes]`` (mean readout membrane over time) for ``frames [T, B, ...]``."""
        steps = frames.shape[0]
        x = frames
        for spec_layer, module in zip(self.spec.layers, self.layers, strict=True):
            if isinstance(spec_layer, Pool):
                k = spec_layer.kernel
                x = _unfold(F.avg_pool2d(_fold(x), k) * (k * k), steps)
                continue
            if trace is not None:
                trace.synapse_inputs.append(x.detach())
            sparse = event_conv.takes(x, module) and event_conv.sparse_enough(x)
            if isinstance(spec_layer, Readout):
                return leaky_readout(_synapse(spec_layer, module, x, sparse), spec_layer.beta)
            if sparse and usable_backend(x) == "cpu-fused":  # the current never materialises
                x = event_conv.event_lif(x, module, ScanRule(
                    float(spec_layer.beta), float(spec_layer.threshold),
                    float(self.spec.steepness), self.spike_mode, spec_layer.reset,
                    float(spec_layer.alpha)))
            else:
                x = lif_scan(_synapse(spec_layer, module, x, sparse), spec_layer.beta,
                             spec_layer.threshold, self.spec.steepness, self.spike_mode,
                             reset=spec_layer.reset, alpha=spec_layer.alpha)
            if trace is not None:
                trace.spikes.append(x.detach())
        raise AssertionError("an ArchSpec always ends with a readout")


def _synapse(spec_layer: Conv | Dense | Readout, module: nn.Module, x: torch.Tensor,
             sparse: bool) -> torch.Tensor:
    """The layer's synaptic current ``[T, B, ...]`` for its input ``x [T, B, ...]``: input
    frames that are ``sparse`` through the event-driven convolution
    (:mod:`sastc.train.event_conv`), else one call over all ``T x B`` frames."""
    steps = x.shape[0]
    if isinstance(spec_layer, Conv):
        if sparse:
            return event_conv.event_conv(x, module)
        # channels-last lets oneDNN skip converting layouts around every convolution
        inputs = _fold(x).contiguous(memory_format=torch.channels_last)
    else:
        inputs = _fold(x).flatten(1)
    return _unfold(module(inputs), steps)


def _make_layer(layer: Conv | Pool | Dense | Readout, in_shape: tuple[int, ...]) -> nn.Module:
    if isinstance(layer, Pool):
        return nn.Identity()
    if isinstance(layer, Conv):
        return nn.Conv2d(in_shape[0], layer.channels, layer.kernel, layer.stride, layer.pad,
                         bias=layer.bias)
    return nn.Linear(math.prod(in_shape), layer.units, bias=layer.bias)


def init_weights(model: SpikingNet, gain: float, seed: int) -> None:
    """Uniform weights ``U(-a, a)``, ``a = gain * sqrt(3 / fan_in)``, biases zero.

    The gain sets the initial drive relative to the thresholds: with sparse binary
    inputs the default torch initialisation leaves most neurons silent.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.layers:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            bound = gain * (3.0 / fan_in) ** 0.5
            with torch.no_grad():
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
