"""The integer ONNX step: ``sastc.numerics`` in ONNX ops, bit-exact with ``IntegerSimulator``.

Synapses run in float32 on small integers where the range analysis proves every
partial sum below ``2^24`` (``accumulator_bound``); a convolution whose bound is
larger is split into groups of input channels that each stay below it, and a
dense layer then runs as an int64 ``MatMul``. The neuron rule runs on int64::

    leaked = floor((u * beta_q + 2^(n-1)) / 2^n)       n = leak_shift
    u_pre  = clip(leaked + acc * 2^m + bias_q, -2^(b-1), 2^(b-1) - 1)
    spike  = u_pre > theta_q;  u = spike ? 0 : u_pre

ONNX ``Div`` truncates toward zero and ``BitShift`` is unsigned only, so the
floor division is ``(a - Mod(a, d)) / d`` with ``Mod``'s floor (``fmod=0``)
remainder, which is an exact division.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc import numerics
from sastc.backends.onnx_export import FLOAT, INT64, assemble, step_metadata
from sastc.backends.onnx_graph import StepGraph, channel_view, conv, dense, flat, sum_pool
from sastc.errors import CompileError
from sastc.ir.quantized import QLayer, QNet
from sastc.sim.int_sim import FLOAT32_EXACT, accumulator_bound, max_inputs


def integer_step_model(qnet: QNet, name: str = "model") -> Any:
    """One step of the compiled integer model ``qnet``."""
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])

    def layer_step(g: StepGraph, index: int, x: str, u: str) -> tuple[str, str, str | None, str]:
        return integer_layer(g, qnet.layers[index], x, u, bounds[index])

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


def floor_div(g: StepGraph, a: str, divisor: int) -> str:
    """``floor(a / divisor)`` on int64 for ``divisor > 0`` (an arithmetic right shift)."""
    d = g.const(divisor, "divisor", np.int64)
    remainder = g.op("Mod", [a, d], "remainder", fmod=0)
    return g.op("Div", [g.op("Sub", [a, remainder], "exact"), d], "floor")


def round_shift(g: StepGraph, a: str, shift: int) -> str:
    """``numerics.round_shift``: ``floor((a + 2^(shift-1)) / 2^shift)``."""
    if shift == 0:
        return a
    half = g.const(1 << (shift - 1), "half", np.int64)
    return floor_div(g, g.op("Add", [a, half], "rounded"), 1 << shift)


def integer_layer(g: StepGraph, layer: QLayer, x: str, u: str, max_input: int
                  ) -> tuple[str, str, str | None, str]:
    """One step of ``numerics.integrate`` (+ ``fire``/``reset`` for LIF) on int64."""
    geometry = layer.geometry
    acc = accumulator(g, layer, x, max_input)
    scaled = g.op("Mul", [acc, g.const(1 << layer.frac_bits, "frac", np.int64)], "acc_shifted")
    drive = g.op("Add", [scaled, g.const(channel_view(layer.bias_q, geometry), "bias_q",
                                         np.int64)], "drive")
    leaked = round_shift(g, g.op("Mul", [u, g.const(layer.beta_q, "beta_q", np.int64)], "u_beta"),
                         layer.leak_shift)
    low, high = numerics.int_range(layer.membrane_bits)
    u_pre = g.op("Clip", [g.op("Add", [leaked, drive], "u_sum"), g.const(low, "low", np.int64),
                          g.const(high, "high", np.int64)], "u_pre")
    if layer.neuron == "li":
        return g.op("Cast", [u_pre], "u_pre_f", to=FLOAT), u_pre, None, u_pre
    theta = g.const(channel_view(layer.theta_q, geometry), "theta_q", np.int64)
    spikes = g.op("Greater", [u_pre, theta], "spikes")
    u_next = g.op("Where", [spikes, g.const(0, "zero", np.int64), u_pre], "u_reset")
    return (g.op("Cast", [spikes], "spikes_f", to=FLOAT), u_next, spikes,
            g.op("Cast", [spikes], "spikes_i", to=INT64))
