"""Lower a graph chain to fused layers (``[pool] [flatten] conv|affine  neuron``).

Average pooling is folded into the weights of the next synapse
(``avgpool_k(x) = sumpool_k(x) / k^2``), so every compiled layer sees integer
spike counts. A synapse that is not followed by a neuron is only allowed as
the last layer, where it becomes a leaky integrator with ``beta = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sastc.errors import GraphError
from sastc.ir.graph import Graph
from sastc.ir.layers import FloatLayer, FloatNet, Geometry, Shape
from sastc.ir.nodes import (
    NODE_TYPES,
    AvgPool2d,
    Flatten,
    Input,
    NeuronNode,
    Node,
    Output,
    SumPool2d,
)
from sastc.neurons import READOUT
from sastc.synapses import op_of_node

NEURON_TYPES = "|".join(name for name, cls in NODE_TYPES.items() if issubclass(cls, NeuronNode))
SUPPORTED_PATTERN = (f"[SumPool2d|AvgPool2d] [Flatten] (Conv2d|Affine|Linear) ({NEURON_TYPES}), "
                     "repeated, between Input and Output")
READOUT_PARAMS = {"neuron": READOUT.name, "beta": np.asarray(0.0), "threshold": None, "reset": "zero",
                  "alpha": np.asarray(0.0)}


@dataclass
class _Pending:
    """What has been seen of the layer being assembled."""

    in_shape: Shape
    pool: int = 1
    pool_scale: float = 1.0
    synapse: tuple[str, Node] | None = None
    synapse_out: Shape = ()


def fuse(graph: Graph) -> FloatNet:
    """Lower ``graph`` into a :class:`FloatNet`; unsupported wiring raises :class:`GraphError`."""
    chain = graph.chain()
    shapes = graph.shapes()
    _name0, first = chain[0]
    assert isinstance(first, Input)
    layers: list[FloatLayer] = []
    pending = _Pending(first.shape)
    for name, node in chain[1:]:
        pending = _absorb(name, node, pending, shapes, layers)
    if pending.synapse is not None:
        layers.append(_close(pending, READOUT_PARAMS))
    if not layers:
        raise GraphError(f"the graph has no synapse+neuron layer; supported: {SUPPORTED_PATTERN}")
    meta = graph.metadata
    classes = tuple(meta.get("classes") or [str(i) for i in range(int(np.prod(shapes[chain[-1][0]])))])
    return FloatNet(first.shape, layers, int(meta.get("time_bins", 1)), classes,
                    float(meta.get("steepness", 5.0)), dict(meta))


def _absorb(name: str, node: Node, pending: _Pending, shapes: dict[str, Shape],
            layers: list[FloatLayer]) -> _Pending:
    if isinstance(node, (SumPool2d, AvgPool2d)):
        _require_no_synapse(name, node, pending)
        _set_pool(name, node, pending)
    elif isinstance(node, Flatten):
        _require_no_synapse(name, node, pending)
    elif op_of_node(node.type_name) is not None:  # a synapse op (sastc.synapses)
        _require_no_synapse(name, node, pending)
        pending.synapse = (name, node)
        pending.synapse_out = shapes[name]
    elif isinstance(node, NeuronNode):
        if pending.synapse is None:
            raise GraphError(f"node {name!r} ({node.type_name}) has no Conv2d/Affine before it; "
                             f"supported: {SUPPORTED_PATTERN}")
        layers.append(_close(pending, node.layer_params(), name))
        return _Pending(shapes[name])
    elif isinstance(node, Output):
        return pending
    else:
        raise GraphError(f"node {name!r}: {node.type_name} is not supported here; "
                         f"supported: {SUPPORTED_PATTERN}")
    return pending


def _require_no_synapse(name: str, node: Node, pending: _Pending) -> None:
    if pending.synapse is not None:
        raise GraphError(f"node {name!r} ({node.type_name}) follows synapse "
                         f"{pending.synapse[0]!r} without a neuron in between; "
                         f"supported: {SUPPORTED_PATTERN}")


def _set_pool(name: str, node: SumPool2d | AvgPool2d, pending: _Pending) -> None:
    kh, kw = node.kernel_size
    if kh != kw or tuple(node.stride) != (kh, kw):
        raise GraphError(f"node {name!r}: only square pooling with stride = kernel is supported, "
                         f"got kernel {node.kernel_size}, stride {node.stride}")
    if pending.pool != 1:
        raise GraphError(f"node {name!r}: two pooling nodes in a row are not supported")
    pending.pool = kh
    pending.pool_scale = 1.0 / (kh * kw) if isinstance(node, AvgPool2d) else 1.0


def _close(pending: _Pending, params: dict, neuron_name: str | None = None) -> FloatLayer:
    """The fused layer of the pending synapse and a neuron with ``params``
    (:meth:`NeuronNode.layer_params`)."""
    syn_name, syn = pending.synapse  # type: ignore[misc]
    layer_name = neuron_name or syn_name
    out_shape = pending.synapse_out
    geometry = _geometry(syn_name, syn, pending, out_shape)
    weight = (syn.weight * pending.pool_scale).astype(np.float32)
    threshold = params["threshold"]
    decays = {key: _uniform(params[key], f"{layer_name}: {key}", f"per-neuron {what} is not "
                            f"supported; every neuron of a layer must share one {key}")
              for key, what in (("beta", "leak"), ("alpha", "current decay"))}
    theta = (np.ones(out_shape[0]) if threshold is None
             else _per_channel(threshold, out_shape, f"{layer_name}: threshold"))
    return FloatLayer(syn_name, geometry, params["neuron"], weight,
                      syn.bias.astype(np.float32).copy(), decays["beta"], theta, params["reset"],
                      decays["alpha"])


def _geometry(name: str, syn: Node, pending: _Pending, out_shape: Shape) -> Geometry:
    """The fused layer's geometry, by the rule of the op the synapse node lowers to."""
    op = op_of_node(syn.type_name)
    return GEOMETRIES[op](name, syn, pending, out_shape)  # type: ignore[index]


def _dense_geometry(name: str, syn: Node, pending: _Pending, out_shape: Shape) -> Geometry:
    return Geometry("dense", pending.in_shape, out_shape, pending.pool)


def _conv_geometry(name: str, syn: Node, pending: _Pending, out_shape: Shape) -> Geometry:
    kh, kw = syn.weight.shape[2:]
    if kh != kw or syn.stride[0] != syn.stride[1] or syn.padding[0] != syn.padding[1]:
        raise GraphError(f"node {name!r}: only square kernels, strides and paddings are supported, "
                         f"got kernel {kh}x{kw}, stride {syn.stride}, padding {syn.padding}")
    if len(pending.in_shape) != 3:
        raise GraphError(f"node {name!r}: Conv2d needs a (C, H, W) input, got {pending.in_shape}")
    return Geometry("conv", pending.in_shape, out_shape, pending.pool, int(kh), int(syn.stride[0]),
                    int(syn.padding[0]))


# each synapse op's geometry from its IR node (the op's ``ir_node``, :mod:`sastc.synapses`)
GEOMETRIES = {"conv": _conv_geometry, "dense": _dense_geometry}


def _uniform(values: np.ndarray, what: str, why: str) -> float:
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size > 1 and not np.all(flat == flat[0]):
        raise GraphError(f"{what} has {np.unique(flat).size} distinct values; {why}")
    return float(flat[0])


def _per_channel(values: np.ndarray, out_shape: Shape, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    channels = out_shape[0]
    if array.size == 1:
        return np.full(channels, float(array.ravel()[0]))
    if array.shape == (channels,):
        return array.copy()
    if array.size == int(np.prod(out_shape)):
        per_channel = array.reshape(channels, -1)
        if np.all(per_channel == per_channel[:, :1]):
            return per_channel[:, 0].copy()
    raise GraphError(f"{what}: expected one value, one per channel ({channels}) or one per neuron "
                     f"equal within each channel; got shape {array.shape}")
