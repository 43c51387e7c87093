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
from sastc.train import conv_grad, event_conv
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
        x = frames
        layers = list(zip(self.spec.layers, self.layers, strict=True))
        index = 0
        while index < len(layers):
            spec_layer, module = layers[index]
            index += 1
            if isinstance(spec_layer, Pool):
                x = _sum_pool(x, spec_layer.kernel)
                continue
            if trace is not None:
                trace.synapse_inputs.append(x.detach())
            sparse = event_conv.takes(x, module) and event_conv.sparse_enough(x)
            if isinstance(spec_layer, Readout):
                return leaky_readout(_synapse(spec_layer, module, x, sparse), spec_layer.beta)
            if sparse and not x.requires_grad and usable_backend(x) == "cpu-fused":
                # the current never materialises; a pooling right after is fused in too,
                # unless the full-size spikes are traced
                pool = _pool_after(layers, index) if trace is None else 1
                x = event_conv.event_lif(x, module, self._rule(spec_layer), pool)
                index += pool > 1
            else:
                x = lif_scan(_synapse(spec_layer, module, x, sparse), spec_layer.beta,
                             spec_layer.threshold, self.spec.steepness, self.spike_mode,
                             reset=spec_layer.reset, alpha=spec_layer.alpha)
            if trace is not None:
                trace.spikes.append(x.detach())
        raise AssertionError("an ArchSpec always ends with a readout")

    def _rule(self, layer: Conv | Dense) -> ScanRule:
        return ScanRule(float(layer.beta), float(layer.threshold), float(self.spec.steepness),
                        self.spike_mode, layer.reset, float(layer.alpha))


def _sum_pool(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Sums over ``kernel x kernel`` windows (stride ``kernel``) of every frame of ``x``."""
    steps = x.shape[0]
    return _unfold(F.avg_pool2d(_fold(x), kernel) * (kernel * kernel), steps)


def _pool_after(layers: list, index: int) -> int:
    """The kernel of the pooling at ``layers[index]``, 1 if there is none."""
    if index < len(layers) and isinstance(layers[index][0], Pool):
        return layers[index][0].kernel
    return 1


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
        if conv_grad.takes(inputs, module):  # its input gradient from the C kernel
            return _unfold(conv_grad.conv2d(inputs, module), steps)
        return _unfold(module(inputs), steps)
    if x.dim() == 5 and x.permute(0, 1, 3, 4, 2).is_contiguous() and not x.is_contiguous():
        return _unfold(_dense_channels_last(_fold(x), module), steps)
    return _unfold(module(_fold(x).flatten(1)), steps)


def _dense_channels_last(x: torch.Tensor, module: nn.Linear) -> torch.Tensor:
    """``module(x.flatten(1))`` for channels-last ``x [N, C, H, W]`` without converting it:
    the input is read in its own (H, W, C) order and the weight's columns are permuted to
    match (a copy of the weight, not of the activations)."""
    _, channels, height, width = x.shape
    weight = module.weight.unflatten(1, (channels, height, width)).permute(0, 2, 3, 1)
    return F.linear(x.permute(0, 2, 3, 1).flatten(1), weight.flatten(1), module.bias)


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
