"""A small builder for the one-step ONNX graphs, and the synapse ops both flavours share.

Sum pooling is a depthwise convolution with a kernel of ones (exact on small
integers, unlike ``AveragePool * k^2``); a dense layer is ``Flatten`` + ``MatMul``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.ir.layers import Geometry

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17; onnxruntime 1.14 and later read it
BATCH = "batch"


class StepGraph:
    """Collects nodes, constants, inputs and outputs; every value gets a fresh name."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: np.ndarray | float | int, hint: str, dtype: type = np.float32) -> str:
        """A constant (initializer) holding ``value`` as ``dtype``."""
        from onnx import numpy_helper

        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        """Append one node; returns the name of its (single) output."""
        output = self.fresh(hint)
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def add_input(self, name: str, elem_type: int, shape: tuple[int, ...]) -> str:
        self.inputs.append(self.helper.make_tensor_value_info(name, elem_type, [BATCH, *shape]))
        return name

    def add_output(self, name: str, value: str, elem_type: int, shape: tuple[int, ...]) -> None:
        """Expose ``value`` as graph output ``name`` (through an Identity)."""
        self.nodes.append(self.helper.make_node("Identity", [value], [name]))
        self.outputs.append(self.helper.make_tensor_value_info(name, elem_type, [BATCH, *shape]))

    def model(self, name: str, doc: str, metadata: dict[str, str]) -> Any:
        """The checked :class:`onnx.ModelProto`."""
        import onnx

        graph = self.helper.make_graph(self.nodes, name, self.inputs, self.outputs,
                                       initializer=self.initializers, doc_string=doc)
        model = self.helper.make_model(graph, producer_name="sastc",
                                       opset_imports=[self.helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        onnx.helper.set_model_props(model, metadata)
        onnx.checker.check_model(model, full_check=True)
        return model


def channel_view(values: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Per-output-channel values shaped ``[C, 1, 1]`` (conv) or ``[C]`` (dense)."""
    return np.asarray(values).reshape((-1,) + (1,) * (len(geometry.out_shape) - 1))


def sum_pool(g: StepGraph, x: str, geometry: Geometry, dtype: type = np.float32) -> str:
    """``k x k`` sum pooling with stride ``k`` (edges dropped), as a depthwise ones-convolution."""
    k, channels = geometry.pool, geometry.in_shape[0]
    if k == 1:
        return x
    ones = g.const(np.ones((channels, 1, k, k)), "pool_ones", dtype)
    return g.op("Conv", [x, ones], "pooled", group=channels, kernel_shape=[k, k], strides=[k, k])


def flat(g: StepGraph, x: str, geometry: Geometry) -> str:
    """A dense layer's input as ``[B, fan_in]`` (C-major, as torch and NIR flatten)."""
    return g.op("Flatten", [x], "flat", axis=1) if len(geometry.pooled_shape) > 1 else x


def conv(g: StepGraph, x: str, weight: str, geometry: Geometry) -> str:
    """``conv2d(x, W)`` without bias (the bias is added as its own step, as the simulators do)."""
    k, p, s = geometry.kernel, geometry.padding, geometry.stride
    return g.op("Conv", [x, weight], "conv", kernel_shape=[k, k], strides=[s, s],
                pads=[p, p, p, p])


def dense(g: StepGraph, x: str, weight: np.ndarray, dtype: type) -> str:
    """``x @ W.T`` with ``W`` given as ``[out, fan_in]``."""
    matrix = g.const(np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T), "w_t", dtype)
    return g.op("MatMul", [x, matrix], "dense")
