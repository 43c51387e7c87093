"""Build a graph from an architecture spec and its parameter arrays.

Parameter names follow the torch model's ``state_dict``: ``layers.<i>.weight``
and ``layers.<i>.bias`` for layer ``i`` of the spec. Node names are
``conv<i>``/``<neuron><i>``, ``pool<i>``, ``flatten<i>``/``fc<i>``/``<neuron><i>`` and
``readout``/``li`` between ``input`` and ``output``, ``<neuron>`` being the layer's
model (``lif0``, ``if0``, ``cuba0``); its node is the model's (``LIF``, ``IF``,
``CubaLIF``) with the parameters of the spec layer that the node takes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from sastc.errors import CheckpointError
from sastc.ir.graph import Graph
from sastc.ir.nodes import (
    LI,
    NEURON_NODES,
    Affine,
    Conv2d,
    Flatten,
    Input,
    Node,
    Output,
    SumPool2d,
)
from sastc.spec import ArchSpec, Conv, Dense, Pool, Readout


def _param(params: Mapping[str, np.ndarray], key: str, shape: tuple[int, ...] | None = None
           ) -> np.ndarray:
    if key not in params:
        raise CheckpointError(f"parameter {key!r} is missing from the checkpoint's weights")
    value = np.asarray(params[key], dtype=np.float32)
    if shape is not None and value.shape != shape:
        raise CheckpointError(f"parameter {key!r} has shape {value.shape}, the spec needs {shape}")
    return value


def _bias(params: Mapping[str, np.ndarray], key: str, size: int) -> np.ndarray:
    return _param(params, key, (size,)) if key in params else np.zeros(size, np.float32)


def _layer_nodes(index: int, layer: Any, in_shape: tuple[int, ...],
                 params: Mapping[str, np.ndarray]) -> list[tuple[str, Node]]:
    prefix = f"layers.{index}"
    if isinstance(layer, Pool):
        return [(f"pool{index}", SumPool2d(layer.kernel, layer.kernel))]
    if isinstance(layer, Conv):
        weight = _param(params, f"{prefix}.weight",
                        (layer.channels, in_shape[0], layer.kernel, layer.kernel))
        conv = Conv2d(weight, _bias(params, f"{prefix}.bias", layer.channels), layer.stride,
                      layer.pad)
        return [(f"conv{index}", conv), _neuron(index, layer)]
    nodes: list[tuple[str, Node]] = []
    if len(in_shape) > 1:
        nodes.append((f"flatten{index}", Flatten()))
    fan_in = int(np.prod(in_shape))
    weight = _param(params, f"{prefix}.weight", (layer.units, fan_in))
    affine = Affine(weight, _bias(params, f"{prefix}.bias", layer.units))
    if isinstance(layer, Dense):
        return [*nodes, (f"fc{index}", affine), _neuron(index, layer)]
    assert isinstance(layer, Readout)
    return [*nodes, ("readout", affine), ("li", LI(layer.beta))]


def _neuron(index: int, layer: Conv | Dense) -> tuple[str, Node]:
    """The named neuron node of a spiking spec layer."""
    node_type = NEURON_NODES[layer.neuron]
    params = {f.name: getattr(layer, f.name) for f in dataclasses.fields(node_type)}
    return f"{layer.neuron}{index}", node_type(**params)


def graph_from_spec(spec: ArchSpec, params: Mapping[str, np.ndarray],
                    metadata: dict[str, Any] | None = None) -> Graph:
    """The graph of ``spec`` with weights ``params`` (numpy arrays keyed as the state dict)."""
    shapes = spec.shapes()
    named: list[tuple[str, Node]] = [("input", Input(spec.input_shape))]
    for index, layer in enumerate(spec.layers):
        named += _layer_nodes(index, layer, shapes[index], params)
    named.append(("output", Output(shapes[-1])))
    nodes = dict(named)
    edges = [(a[0], b[0]) for a, b in itertools.pairwise(named)]
    meta = {"steepness": spec.steepness, "spec": spec.to_dict(), **(metadata or {})}
    return Graph(nodes, edges, meta)


def random_params(spec: ArchSpec, seed: int = 0, gain: float = 1.0) -> dict[str, np.ndarray]:
    """Random weights for ``spec`` (uniform, scaled by ``gain / sqrt(fan_in)``)."""
    rng = np.random.default_rng(seed)
    shapes = spec.shapes()
    params: dict[str, np.ndarray] = {}
    for index, layer in enumerate(spec.layers):
        if isinstance(layer, Pool):
            continue
        in_shape = shapes[index]
        if isinstance(layer, Conv):
            shape: tuple[int, ...] = (layer.channels, in_shape[0], layer.kernel, layer.kernel)
        else:
            shape = (layer.units, int(np.prod(in_shape)))
        fan_in = int(np.prod(shape[1:]))
        bound = gain * np.sqrt(3.0 / fan_in)
        params[f"layers.{index}.weight"] = rng.uniform(-bound, bound, shape).astype(np.float32)
        params[f"layers.{index}.bias"] = rng.uniform(-0.1, 0.1, shape[0]).astype(np.float32)
    return params
