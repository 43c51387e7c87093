"""Fused layers: the unit the simulators, the quantizer and the emitters work on.

A fused layer is ``[sum-pool] -> [flatten] -> conv | dense -> neuron``: the
synapse of one layer (an op of :mod:`sastc.synapses`) together with the pooling of its
input, and one neuron model of
:mod:`sastc.neurons` (``lif``, ``if``, ``cuba`` or the ``li`` readout). Lowering a graph
(:func:`sastc.ir.lower.fuse`) gives a :class:`FloatNet`; quantizing that gives
a :class:`sastc.ir.quantized.QNet` with the same geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sastc.synapses import SYNAPSE, supporting, synapse_op

Shape = tuple[int, ...]
OPS = tuple(supporting("fan_in", SYNAPSE))  # the synapse ops (sastc.synapses)


@dataclass(frozen=True)
class Geometry:
    """How one layer connects: input shape (before pooling), pooling, synapse, output shape."""

    op: str
    in_shape: Shape
    out_shape: Shape
    pool: int = 1
    kernel: int = 1
    stride: int = 1
    padding: int = 0

    @property
    def pooled_shape(self) -> Shape:
        """Shape the synapse sees: the input after ``pool x pool`` sum pooling."""
        if self.pool == 1:
            return self.in_shape
        c, h, w = self.in_shape
        return (c, h // self.pool, w // self.pool)

    @property
    def fan_in(self) -> int:
        """Weights per output neuron (the op's rule, :mod:`sastc.synapses`)."""
        return synapse_op(self.op).fan_in(self)

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "in_shape": list(self.in_shape), "out_shape": list(self.out_shape),
                "pool": self.pool, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Geometry:
        return cls(data["op"], tuple(data["in_shape"]), tuple(data["out_shape"]), int(data["pool"]),
                   int(data["kernel"]), int(data["stride"]), int(data["padding"]))


@dataclass
class FloatLayer:
    """One fused layer with float parameters; ``threshold`` is per output channel.

    ``neuron`` names the model (:mod:`sastc.neurons`); ``reset`` (``zero`` or ``subtract``)
    and ``alpha`` (the synaptic current's decay, ``cuba`` only) complete its parameters.
    """

    name: str
    geometry: Geometry
    neuron: str
    weight: np.ndarray
    bias: np.ndarray
    beta: float
    threshold: np.ndarray = field(default_factory=lambda: np.ones(1))
    reset: str = "zero"
    alpha: float = 0.0

    @property
    def weight_matrix(self) -> np.ndarray:
        """Weights as ``[C_out, fan_in]``."""
        return self.weight.reshape(self.weight.shape[0], -1)


@dataclass
class FloatNet:
    """A lowered float network, ready to simulate or quantize."""

    input_shape: Shape
    layers: list[FloatLayer]
    time_bins: int
    classes: tuple[str, ...]
    steepness: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def readout(self) -> str:
        """The last layer's model: ``"li"``: logits are its (summed) membrane; a spiking model:
        its summed output spikes."""
        return self.layers[-1].neuron
