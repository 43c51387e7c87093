"""What a neuron model is: its parameters and their checks, and its step in every backend.

A :class:`NeuronModel` is data: a name, the rule it computes, which parameters it takes,
and one entry per backend (``None`` where a backend does not implement it, which makes
that backend refuse the model with the list of models it does implement):

==============  ==================================================================
``float_scan``  numpy, float32: the float simulator's scan over time (surrogate/hard)
``int_scan``    numpy, integers: the integer simulator's scan (``sastc.numerics``)
``c_name``      the C runtime's ``SASTC_NEURON_*`` constant (``targets/runtime``)
``onnx_float``  the ONNX ops of one float step (:mod:`sastc.neurons.onnx_steps`)
``onnx_int``    the ONNX ops of one integer step
``nir_node``    the NIR node type it is written as and read from
==============  ==================================================================

Training needs no entry: the torch model runs every spiking model through
:func:`sastc.train.lif.lif_scan` with the layer's ``beta``, ``reset`` and ``alpha``.

Scan signatures (``layer`` is a fused layer: ``FloatLayer`` or ``QLayer``)::

    float_scan(layer, current [T, B, *out], mode, k) -> trace [T, B, *out] float32
    int_scan(layer, acc [T, B, *out], dtype)        -> trace (bool spikes | int64 membrane)
    onnx_*(g, layer, drive, states) -> OnnxStep(output, next_states, spikes, readout)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

RESETS = ("zero", "subtract")
MEMBRANE = "u"
CURRENT = "c"


class OnnxStep(NamedTuple):
    """What one neuron step adds to an ONNX step graph (tensor names)."""

    output: str                 # the next layer's input (float spikes, or the membrane)
    states: dict[str, str]      # state name ("u", "c") -> its new value
    spikes: str | None          # bool spikes of a spiking layer
    readout: str                # what the logits add when this layer is the last


FloatScan = Callable[[Any, np.ndarray, str, float], np.ndarray]
IntScan = Callable[[Any, np.ndarray, type], np.ndarray]
OnnxStepFn = Callable[[Any, Any, str, Mapping[str, str]], OnnxStep]


@dataclass(frozen=True)
class NeuronModel:
    """One neuron model (see the module docstring for the backend entries)."""

    name: str
    rule: str                              # the discrete rule, for docs and error messages
    spiking: bool = True
    default_beta: float = 0.9
    fixed_beta: float | None = None        # IF: the leak is not a parameter (beta = 1)
    has_current: bool = False              # CubaLIF: a synaptic current with decay alpha
    default_alpha: float = 0.0
    float_scan: FloatScan | None = None
    int_scan: IntScan | None = None
    c_name: str | None = None
    onnx_float: OnnxStepFn | None = None
    onnx_int: OnnxStepFn | None = None
    nir_node: str | None = None

    @property
    def resets(self) -> tuple[str, ...]:
        """Resets the model takes (a readout has none: ``zero`` stands for "not used")."""
        return RESETS if self.spiking else ("zero",)

    @property
    def states(self) -> tuple[str, ...]:
        """Per-neuron state variables: the membrane, and the synaptic current if any."""
        return (MEMBRANE, CURRENT) if self.has_current else (MEMBRANE,)

    @property
    def beta_default(self) -> float:
        """``beta`` when a spec leaves it out."""
        return self.default_beta if self.fixed_beta is None else self.fixed_beta

    def problems(self, beta: float, alpha: float, threshold: Any, reset: str) -> list[str]:
        """What is wrong with these parameters for this model (empty if nothing)."""
        found = _decay_problems("beta", beta)
        if self.fixed_beta is not None and beta != self.fixed_beta:
            found.append(f"beta is fixed to {self.fixed_beta:g} for {self.name} neurons "
                         f"(they do not leak), got {beta}; leave beta out")
        found += _decay_problems("alpha", alpha)
        if not self.has_current and alpha != 0.0:
            found.append(f"alpha (synaptic current decay) applies to neurons with a current "
                         f"(cuba) only, got alpha={alpha} for {self.name}")
        if reset not in self.resets:
            found.append(f"reset must be one of {', '.join(self.resets)}, got {reset!r}")
        if self.spiking and threshold is not None:
            values = np.asarray(threshold, np.float64)
            if not np.all(np.isfinite(values) & (values > 0)):
                found.append(f"threshold must be a positive number, got {threshold}")
        return found


def _decay_problems(name: str, value: float) -> list[str]:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value)
            and 0.0 <= value <= 1.0):
        return [f"{name} must be in [0, 1], got {value}"]
    return []
