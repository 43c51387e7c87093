"""A small builder for the one-step ONNX graphs.

The synapse ops' ONNX ops (sum pooling, convolution, dense) are their entries in
:mod:`sastc.synapses.onnx_ops`, re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.ir.layers import Geometry
from sastc.synapses import POOL, backend_entry
from sastc.synapses.onnx_ops import conv, dense, flat, sum_pool

__all__ = ["BATCH", "IR_VERSION", "OPSET", "StepGraph", "channel_view", "conv", "dense", "flat",
           "pooled", "sum_pool", "synapse"]

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


def pooled(g: StepGraph, layer: Any, x: str, entry: str) -> str:
    """The layer's input after its pooling stage (``entry``: ``onnx_float`` or ``onnx_int``)."""
    if layer.geometry.pool == 1:
        return x
    return backend_entry(entry, POOL, "onnx", layer.name)(g, x, layer.geometry)


def synapse(g: StepGraph, layer: Any, x: str, entry: str, *extra: Any) -> str:
    """The layer's synapse op (``entry``) on its pooled input ``x`` (no bias)."""
    return backend_entry(entry, layer.geometry.op, "onnx", layer.name)(
        g, layer, pooled(g, layer, x, entry), *extra)
