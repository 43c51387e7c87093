"""The snnTorch side of ``train_speed.py``: an :class:`~sastc.spec.ArchSpec` written the usual
snnTorch way (per time step, ``nn.Conv2d`` / sum pool / ``nn.Linear`` then ``snn.Leaky``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sastc.spec import ArchSpec, Conv, Dense, Pool, Readout
from sastc.train.model import SpikingNet

READOUT_THRESHOLD = 1e9  # a readout snn.Leaky that never fires (its spikes are unused anyway)


class SumPool(nn.Module):
    """sastc's pool: sum over ``k x k`` windows, stride ``k``."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.kernel) * (self.kernel * self.kernel)


def _synapse(layer: Conv | Pool | Dense | Readout, in_shape: tuple[int, ...]) -> nn.Module:
    if isinstance(layer, Pool):
        return SumPool(layer.kernel)
    if isinstance(layer, Conv):
        return nn.Conv2d(in_shape[0], layer.channels, layer.kernel, layer.stride, layer.pad,
                         bias=layer.bias)
    return nn.Sequential(nn.Flatten(1), nn.Linear(math.prod(in_shape), layer.units,
                                                  bias=layer.bias))


class SigmoidSurrogate(torch.autograd.Function):
    """snnTorch's ``surrogate.sigmoid``: Heaviside forward, ``k sigma(kx) (1 - sigma(kx))``
    backward, written as snnTorch's custom surrogates are but with ``torch.sigmoid``.

    snnTorch 1.0.0 computes ``k exp(-kx) / (exp(-kx) + 1)^2``, which is inf/inf = NaN for
    ``x < -88.7 / k`` (float32 overflow); the pool-dense network reaches such membranes
    at initialisation. This form is the same function without the overflow, and cheaper.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        sig = torch.sigmoid(ctx.slope * x)
        return grad * ctx.slope * sig * (1 - sig), None


def sigmoid_surrogate(slope: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``spike_grad`` for ``snn.Leaky`` (see :class:`SigmoidSurrogate`)."""
    def spike(x: torch.Tensor) -> torch.Tensor:
        return SigmoidSurrogate.apply(x, slope)

    return spike


def _neuron(layer: Conv | Pool | Dense | Readout, slope: float) -> nn.Module:
    import snntorch as snn

    if isinstance(layer, Pool):
        return nn.Identity()
    if isinstance(layer, Readout):
        return snn.Leaky(beta=layer.beta, threshold=READOUT_THRESHOLD,
                         spike_grad=sigmoid_surrogate(slope), reset_mechanism="none")
    return snn.Leaky(beta=layer.beta, threshold=layer.threshold,
                     spike_grad=sigmoid_surrogate(slope), reset_mechanism="zero")


class SnnTorchNet(nn.Module):
    """The network of an :class:`ArchSpec` written the usual snnTorch way.

    Per time step, every layer's synapse (``nn.Conv2d``, sum pool or ``nn.Linear``)
    runs on that step's ``[B, ...]`` input, then its ``snn.Leaky`` (explicit membrane
    state, ``init_hidden=False``). With ``fold_synapses`` the synapses instead run once
    over all ``T * B`` frames and only the neurons step over time (a diagnostic: it
    separates the gain of folding from that of sastc's LIF scan).
    """

    def __init__(self, spec: ArchSpec, fold_synapses: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.fold_synapses = fold_synapses
        shapes = spec.shapes()
        self.synapses = nn.ModuleList(_synapse(layer, shapes[i]) for i, layer in
                                      enumerate(spec.layers))
        self.neurons = nn.ModuleList(_neuron(layer, spec.steepness) for layer in spec.layers)

    def forward(self, frames: torch.Tensor, record: list[torch.Tensor] | None = None
                ) -> torch.Tensor:
        """Logits ``[B, classes]`` for ``frames [T, B, ...]``; ``record`` gets each spiking
        layer's spikes ``[T, B, ...]``."""
        if self.fold_synapses:
            return self._forward_folded(frames, record)
        mems = [neuron.reset_mem() if hasattr(neuron, "reset_mem") else None
                for neuron in self.neurons]
        spikes: list[list[torch.Tensor]] = [[] for _ in self.neurons]
        readout = []
        for t in range(frames.shape[0]):
            x = frames[t]
            for i, (layer, synapse, neuron) in enumerate(zip(self.spec.layers, self.synapses,
                                                             self.neurons, strict=True)):
                x = synapse(x)
                if isinstance(layer, Pool):
                    continue
                spk, mems[i] = neuron(x, mems[i])
                if isinstance(layer, Readout):
                    readout.append(mems[i])
                else:
                    x = spk
                    spikes[i].append(spk)
        if record is not None:
            record.extend(torch.stack(s) for s in spikes if s)
        return torch.stack(readout).mean(0)

    def _forward_folded(self, frames: torch.Tensor, record: list[torch.Tensor] | None
                        ) -> torch.Tensor:
        steps, x = frames.shape[0], frames
        for layer, synapse, neuron in zip(self.spec.layers, self.synapses, self.neurons,
                                          strict=True):
            current = synapse(x.flatten(0, 1))
            current = current.reshape(steps, -1, *current.shape[1:])
            if isinstance(layer, Pool):
                x = current
                continue
            mem = neuron.reset_mem()
            outputs = []
            for t in range(steps):
                spk, mem = neuron(current[t], mem)
                outputs.append(mem if isinstance(layer, Readout) else spk)
            x = torch.stack(outputs)
            if isinstance(layer, Readout):
                return x.mean(0)
            if record is not None:
                record.append(x)
        raise AssertionError("an ArchSpec always ends with a readout")


def copy_weights(source: SpikingNet, target: nn.Module) -> None:
    """Give ``target`` (a network with ``synapses`` in ``source``'s layer order and shapes:
    :class:`SnnTorchNet`, ``SpikingJellyNet``) the weights of ``source``."""
    with torch.no_grad():
        for module, synapse in zip(source.layers, target.synapses, strict=True):
            linear = synapse[1] if isinstance(synapse, nn.Sequential) else synapse
            for name, value in module.named_parameters():
                getattr(linear, name).copy_(value)
