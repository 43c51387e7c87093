"""Synapse ops as a registry: one :class:`SynapseOp` definition per op, by name.

==========  ========================================================  ==========  =========
name        rule                                                      stage       NIR node
==========  ========================================================  ==========  =========
``conv``    ``y[o] = sum_{c,i,j} W[o,c,i,j] x_pad[c, s*y+i, s*x+j]``  synapse     ``Conv2d``
``dense``   ``y[o] = sum_i W[o,i] flat(x)[i]`` (flattened C-H-W)       synapse     ``Affine``
``pool``    ``y = sum over k x k windows, stride k`` (edges dropped)  pool        ``SumPool2d``
==========  ========================================================  ==========  =========

A fused layer's geometry names its synapse op (``Geometry.op``) and its pooling kernel
(``Geometry.pool``, the ``pool`` stage; 1 is none). Every backend looks the op up here and
either runs its entry or refuses the layer with the list of ops it implements
(:func:`backend_entry`), as :mod:`sastc.neurons` does for neuron models.

>>> list(SYNAPSES)
['conv', 'dense', 'pool']
>>> supporting("c_name")
['conv', 'dense', 'pool']
>>> synapse_op("deconv")
Traceback (most recent call last):
...
sastc.errors.ConfigError: unknown synapse op 'deconv'; registered: conv, dense, pool
"""

from __future__ import annotations

from typing import Any

from sastc.registry import Registry
from sastc.synapses import kernels, onnx_ops
from sastc.synapses.model import POOL_STAGE, SYNAPSE, SynapseOp

__all__ = ["POOL", "POOL_STAGE", "SYNAPSE", "SYNAPSES", "SynapseOp", "backend_entry", "op_of_node",
           "register", "supporting", "synapse_op"]

_REGISTRY: Registry[SynapseOp] = Registry("synapse op", group=lambda op: op.stage)
SYNAPSES: dict[str, SynapseOp] = _REGISTRY.items
POOL = "pool"
register = _REGISTRY.register


register(SynapseOp(
    "conv", "y[o] = sum_{c,i,j} W[o,c,i,j] * x_pad[c, s*y+i, s*x+j] (2-D convolution)",
    fan_in=kernels.conv_fan_in, weight_shape=kernels.conv_weight_shape,
    float_forward=kernels.conv_forward, int_forward=kernels.conv_forward,
    fanout=kernels.conv_fanout, c_name="SASTC_OP_CONV", onnx_float=onnx_ops.conv_float,
    onnx_int=onnx_ops.conv_int, nir_node="Conv2d", ir_node="Conv2d"))
register(SynapseOp(
    "dense", "y[o] = sum_i W[o,i] * flat(x)[i] (fully connected, flattened C-H-W)",
    flat_input=True,    fan_in=kernels.dense_fan_in, weight_shape=kernels.dense_weight_shape,
    float_forward=kernels.dense_forward, int_forward=kernels.dense_forward,
    fanout=kernels.dense_fanout, c_name="SASTC_OP_DENSE", onnx_float=onnx_ops.dense_float,
    onnx_int=onnx_ops.dense_int, nir_node="Affine", ir_node="Affine"))
register(SynapseOp(
    POOL, "y = sum of x over k x k windows with stride k (edges dropped)", stage=POOL_STAGE,
    float_forward=kernels.pool_forward, int_forward=kernels.pool_forward, c_name="pool",
    onnx_float=onnx_ops.sum_pool, onnx_int=onnx_ops.sum_pool, nir_node="SumPool2d",
    ir_node="SumPool2d"))


def synapse_op(name: str) -> SynapseOp:
    """The registered op called ``name``; unknown names raise :class:`ConfigError`."""
    return _REGISTRY.get(name)


def supporting(entry: str, stage: str | None = None) -> list[str]:
    """Names of the ops (of ``stage``, if given) that implement backend ``entry``."""
    return _REGISTRY.supporting(entry, stage)


def backend_entry(entry: str, op: str, backend: str, layer: str) -> Any:
    """Op ``op``'s implementation for ``backend``, or a :class:`CompileError` naming the layer
    and listing the ops of its stage that ``backend`` supports."""
    return _REGISTRY.entry(entry, op, backend, layer)


def op_of_node(type_name: str, stage: str = SYNAPSE) -> str | None:
    """The op of ``stage`` that IR node type ``type_name`` lowers to (``None``: not one)."""
    return next((op.name for op in SYNAPSES.values()
                 if op.ir_node == type_name and op.stage == stage), None)
