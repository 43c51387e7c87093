"""The integer ONNX step: ``sastc.numerics`` in ONNX ops, bit-exact with ``IntegerSimulator``.

Synapses run in float32 on small integers where the range analysis proves every
partial sum below ``2^24`` (``accumulator_bound``); a convolution whose bound is
larger is split into groups of input channels that each stay below it, and a
dense layer then runs as an int64 ``MatMul`` (each op's ``onnx_int`` entry,
:mod:`sastc.synapses.onnx_ops`). The neuron rule of the layer's model
runs on int64 (:mod:`sastc.neurons.onnx_steps`), e.g. for LIF::

    leaked = floor((u * beta_q + 2^(n-1)) / 2^n)       n = leak_shift
    u_pre  = clip(leaked + acc * 2^m + bias_q, -2^(b-1), 2^(b-1) - 1)
    spike  = u_pre > theta_q;  u = spike ? 0 : u_pre   (or u_pre - theta_q: subtract)

ONNX ``Div`` truncates toward zero and ``BitShift`` is unsigned only, so the
floor division is ``(a - Mod(a, d)) / d`` with ``Mod``'s floor (``fmod=0``)
remainder, which is an exact division.
"""

from __future__ import annotations

from typing import Any

from sastc.backends.onnx_export import INT64, assemble, step_metadata
from sastc.backends.onnx_graph import StepGraph, synapse
from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import max_inputs
from sastc.neurons import OnnxStep, backend_entry
from sastc.neurons.onnx_steps import floor_div, round_shift  # noqa: F401  (re-exported)
from sastc.synapses.onnx_ops import channel_groups  # noqa: F401  (re-exported)


def integer_step_model(qnet: QNet, name: str = "model") -> Any:
    """One step of the compiled integer model ``qnet``."""
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])

    def layer_step(g: StepGraph, index: int, x: str, states: dict[str, str]) -> OnnxStep:
        return integer_layer(g, qnet.layers[index], x, states, bounds[index])

    g = assemble(qnet.layers, qnet.input_shape, qnet.input_clip, INT64, layer_step)
    meta = step_metadata("integer", qnet.layers, qnet.time_bins, qnet.classes, qnet.input_clip)
    return g.model(name, __doc__ or "", meta)


def accumulator(g: StepGraph, layer: QLayer, x: str, max_input: int) -> str:
    """``acc = sum_i W_q[i] * sumpool(x)[i]`` exactly, as int64 (the op's ``onnx_int``)."""
    return synapse(g, layer, x, "onnx_int", max_input)


def integer_layer(g: StepGraph, layer: QLayer, x: str, states: dict[str, str], max_input: int
                  ) -> OnnxStep:
    """The exact synaptic sum, then the model's integer step (``numerics.integrate`` and, for a
    spiking model, ``fire`` and the reset) on int64."""
    step = backend_entry("onnx_int", layer.neuron, "onnx", layer.name)
    return step(g, layer, accumulator(g, layer, x, max_input), states)
