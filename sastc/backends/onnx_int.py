"""The integer ONNX step: ``sastc.numerics`` in ONNX ops, bit-exact with ``IntegerSimulator``.

Synapses run in float32 on small integers where the range analysis proves every
partial sum below ``2^24`` (``accumulator_bound``); a convolution whose bound is
larger is split into groups of input channels that each stay below it, and a
dense layer then runs as an int64 ``MatMul``. The neuron rule of the layer's model
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

import numpy as np

from sastc.backends.onnx_export import INT64, assemble, step_metadata
from sastc.backends.onnx_graph import StepGraph, conv, dense, flat, sum_pool
from sastc.errors import CompileError
from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import FLOAT32_EXACT, accumulator_bound, max_inputs
from sastc.neurons import OnnxStep, backend_entry
from sastc.neurons.onnx_steps import floor_div, round_shift  # noqa: F401  (re-exported)


def integer_step_model(qnet: QNet, name: str = "model") -> Any:
    """One step of the compiled integer model ``qnet``."""
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])

    def layer_step(g: StepGraph, index: int, x: str, states: dict[str, str]) -> OnnxStep:
        return integer_layer(g, qnet.layers[index], x, states, bounds[index])

    g = assemble(qnet.layers, qnet.input_shape, qnet.input_clip, INT64, layer_step)
    meta = step_metadata("integer", qnet.layers, qnet.time_bins, qnet.classes, qnet.input_clip)
    return g.model(name, __doc__ or "", meta)


def channel_groups(weight_q: np.ndarray, max_input: int) -> list[tuple[int, int]]:
    """Input-channel ranges ``[start, stop)`` whose partial sums stay below ``2^24``.

    >>> channel_groups(np.ones((1, 3, 1, 1), np.int8), 1)
    [(0, 3)]
    >>> channel_groups(np.full((1, 3, 1, 1), 127, np.int8), 2**16)
    [(0, 2), (2, 3)]
    """
    per_channel = np.abs(weight_q.astype(np.int64)).sum(axis=(2, 3)) * int(max_input)
    groups, start, running = [], 0, np.zeros(per_channel.shape[0], np.int64)
    for channel in range(per_channel.shape[1]):
        cost = per_channel[:, channel]
        if int(cost.max()) >= FLOAT32_EXACT:
            raise CompileError(f"one input channel can sum to {int(cost.max())} >= 2^24; "
                               "the ONNX integer export cannot compute it exactly in float32")
        if int((running + cost).max()) >= FLOAT32_EXACT:
            groups.append((start, channel))
            start, running = channel, np.zeros_like(running)
        running = running + cost
    return [*groups, (start, per_channel.shape[1])]


def _conv_accumulator(g: StepGraph, layer: QLayer, pooled: str, max_input: int) -> str:
    partials = []
    for start, stop in channel_groups(layer.weight_q, max_input):
        part = pooled
        if (start, stop) != (0, layer.weight_q.shape[1]):
            bounds = [g.const([value], hint, np.int64)
                      for value, hint in ((start, "start"), (stop, "stop"), (1, "axis"))]
            part = g.op("Slice", [pooled, *bounds], "channels")
        weight = g.const(layer.weight_q[:, start:stop], "weight_q", np.float32)
        partials.append(g.op("Cast", [conv(g, part, weight, layer.geometry)], "acc", to=INT64))
    total = partials[0]
    for partial in partials[1:]:  # ONNX Sum takes floats only
        total = g.op("Add", [total, partial], "acc")
    return total


def _dense_accumulator(g: StepGraph, layer: QLayer, pooled: str, max_input: int) -> str:
    x = flat(g, pooled, layer.geometry)
    if accumulator_bound(layer, max_input) < FLOAT32_EXACT:
        return g.op("Cast", [dense(g, x, layer.weight_q, np.float32)], "acc", to=INT64)
    return dense(g, g.op("Cast", [x], "x_int", to=INT64), layer.weight_q, np.int64)


def accumulator(g: StepGraph, layer: QLayer, x: str, max_input: int) -> str:
    """``acc = sum_i W_q[i] * sumpool(x)[i]`` exactly, as int64."""
    pooled = sum_pool(g, x, layer.geometry)
    if layer.geometry.op == "conv":
        return _conv_accumulator(g, layer, pooled, max_input)
    return _dense_accumulator(g, layer, pooled, max_input)


def integer_layer(g: StepGraph, layer: QLayer, x: str, states: dict[str, str], max_input: int
                  ) -> OnnxStep:
    """The exact synaptic sum, then the model's integer step (``numerics.integrate`` and, for a
    spiking model, ``fire`` and the reset) on int64."""
    step = backend_entry("onnx_int", layer.neuron, "onnx", layer.name)
    return step(g, layer, accumulator(g, layer, x, max_input), states)
