"""The synapse ops as ONNX ops, float32 or exact on int64 (no bias: the neuron step adds it).

``g`` is the step-graph builder of :mod:`sastc.backends.onnx_graph` (``g.op``, ``g.const``);
``layer`` a ``FloatLayer`` (float ops) or a ``QLayer`` (integer ops). Sum pooling is a
depthwise convolution with a kernel of ones (exact on small integers, unlike ``AveragePool
* k^2``); a dense layer is ``Flatten`` + ``MatMul``.

Integer synapses run in float32 on small integers where the range analysis proves every
partial sum below ``2^24`` (``accumulator_bound``); a convolution whose bound is larger is
split into groups of input channels that each stay below it, and a dense layer then runs
as an int64 ``MatMul``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.errors import CompileError

INT64 = 7  # onnx.TensorProto.INT64 (importing onnx is not needed here)


def sum_pool(g: Any, x: str, geometry: Any, dtype: type = np.float32) -> str:
    """``k x k`` sum pooling with stride ``k`` (edges dropped), as a depthwise ones-convolution."""
    k, channels = geometry.pool, geometry.in_shape[0]
    if k == 1:
        return x
    ones = g.const(np.ones((channels, 1, k, k)), "pool_ones", dtype)
    return g.op("Conv", [x, ones], "pooled", group=channels, kernel_shape=[k, k], strides=[k, k])


def flat(g: Any, x: str, geometry: Any) -> str:
    """A dense layer's input as ``[B, fan_in]`` (C-major, as torch and NIR flatten)."""
    return g.op("Flatten", [x], "flat", axis=1) if len(geometry.pooled_shape) > 1 else x


def conv(g: Any, x: str, weight: str, geometry: Any) -> str:
    """``conv2d(x, W)`` without bias (the bias is added as its own step, as the simulators do)."""
    k, p, s = geometry.kernel, geometry.padding, geometry.stride
    return g.op("Conv", [x, weight], "conv", kernel_shape=[k, k], strides=[s, s],
                pads=[p, p, p, p])


def dense(g: Any, x: str, weight: np.ndarray, dtype: type) -> str:
    """``x @ W.T`` with ``W`` given as ``[out, fan_in]``."""
    matrix = g.const(np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T), "w_t", dtype)
    return g.op("MatMul", [x, matrix], "dense")


def conv_float(g: Any, layer: Any, pooled: str) -> str:
    """``W * x`` in float32."""
    return conv(g, pooled, g.const(layer.weight, "weight"), layer.geometry)


def dense_float(g: Any, layer: Any, pooled: str) -> str:
    """``W flat(x)`` in float32."""
    return dense(g, flat(g, pooled, layer.geometry), layer.weight, np.float32)


def channel_groups(weight_q: np.ndarray, max_input: int) -> list[tuple[int, int]]:
    """Input-channel ranges ``[start, stop)`` whose partial sums stay below ``2^24``.

    >>> channel_groups(np.ones((1, 3, 1, 1), np.int8), 1)
    [(0, 3)]
    >>> channel_groups(np.full((1, 3, 1, 1), 127, np.int8), 2**16)
    [(0, 2), (2, 3)]
    """
    from sastc.ir.ranges import FLOAT32_EXACT  # the IR imports this package

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


def conv_int(g: Any, layer: Any, pooled: str, max_input: int) -> str:
    """``sum W_q x`` as int64: float32 convolutions over channel groups, each exact."""
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


def dense_int(g: Any, layer: Any, pooled: str, max_input: int) -> str:
    """``W_q flat(x)`` as int64: a float32 ``MatMul`` when exact, else an int64 one."""
    from sastc.ir.ranges import FLOAT32_EXACT, accumulator_bound  # the IR imports this package

    x = flat(g, pooled, layer.geometry)
    if accumulator_bound(layer, max_input) < FLOAT32_EXACT:
        return g.op("Cast", [dense(g, x, layer.weight_q, np.float32)], "acc", to=INT64)
    return dense(g, g.op("Cast", [x], "x_int", to=INT64), layer.weight_q, np.int64)
