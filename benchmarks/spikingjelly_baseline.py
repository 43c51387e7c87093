"""The SpikingJelly side of ``train_speed.py``: an :class:`~sastc.spec.ArchSpec` written the
usual SpikingJelly way, in multi-step mode.

Each synapse is a SpikingJelly layer in ``step_mode="m"`` (``layer.Conv2d``, ``layer.Linear``
and ``layer.Flatten`` fold time into the batch, as sastc does), each spiking layer a
multi-step ``neuron.LIFNode`` (SpikingJelly runs its own fused kernels for it) with
``decay_input=False``, ``v_reset=0`` and ``tau = 1 / (1 - beta)``, so that
``H[t] = V[t-1] - V[t-1] / tau + X[t] = beta V[t-1] + X[t]``, and the sigmoid surrogate
of slope ``k``. The readout is the same leaky integrator as sastc's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sastc.spec import ArchSpec, Conv, Dense, Pool, Readout
from sastc.train.lif import leaky_readout


class SeqSumPool(nn.Module):
    """sastc's pool (sum over ``k x k`` windows, stride ``k``) on ``[T, B, C, H, W]``."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        folded = x.flatten(0, 1)
        pooled = nn.functional.avg_pool2d(folded, self.kernel) * (self.kernel ** 2)
        return pooled.reshape(*x.shape[:2], *pooled.shape[1:])


def _synapse(spec_layer: Conv | Pool | Dense | Readout, in_shape: tuple[int, ...]) -> nn.Module:
    from spikingjelly.activation_based import layer

    if isinstance(spec_layer, Pool):
        return SeqSumPool(spec_layer.kernel)
    if isinstance(spec_layer, Conv):
        return layer.Conv2d(in_shape[0], spec_layer.channels, spec_layer.kernel,
                            spec_layer.stride, spec_layer.pad, bias=spec_layer.bias,
                            step_mode="m")
    return nn.Sequential(layer.Flatten(step_mode="m"),
                         layer.Linear(math.prod(in_shape), spec_layer.units,
                                      bias=spec_layer.bias, step_mode="m"))


def _neuron(spec_layer: Conv | Dense, slope: float) -> nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.LIFNode(tau=1.0 / (1.0 - spec_layer.beta), decay_input=False,
                          v_threshold=spec_layer.threshold, v_reset=0.0,
                          surrogate_function=surrogate.Sigmoid(alpha=slope),
                          detach_reset=False, step_mode="m")


class SpikingJellyNet(nn.Module):
    """The network of an :class:`ArchSpec` in SpikingJelly's multi-step mode."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        if any(layer.beta >= 1.0 or layer.beta <= 0.0 for layer in spec.layers
               if isinstance(layer, (Conv, Dense))):
            raise ValueError("SpikingJelly's LIFNode needs 0 < beta < 1 (tau > 1)")
        self.spec = spec
        shapes = spec.shapes()
        self.synapses = nn.ModuleList(_synapse(layer, shapes[i]) for i, layer in
                                      enumerate(spec.layers))
        self.neurons = nn.ModuleList(
            nn.Identity() if isinstance(layer, (Pool, Readout)) else _neuron(layer, spec.steepness)
            for layer in spec.layers)

    def forward(self, frames: torch.Tensor, record: list[torch.Tensor] | None = None
                ) -> torch.Tensor:
        """Logits ``[B, classes]`` for ``frames [T, B, ...]`` from reset state; ``record``
        gets each spiking layer's spikes ``[T, B, ...]``."""
        from spikingjelly.activation_based import functional

        functional.reset_net(self)
        x = frames
        for spec_layer, synapse, neuron in zip(self.spec.layers, self.synapses, self.neurons,
                                               strict=True):
            x = synapse(x)
            if isinstance(spec_layer, Readout):
                return leaky_readout(x, spec_layer.beta)
            if isinstance(spec_layer, Pool):
                continue
            x = neuron(x)
            if record is not None:
                record.append(x)
        raise AssertionError("an ArchSpec always ends with a readout")
