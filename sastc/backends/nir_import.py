"""Read a NIR graph (made by sastc or another framework, e.g. snnTorch) into sastc's IR.

Only numpy and nir are used (no torch). The file must hold one feed-forward
chain ``Input -> ... -> Output`` of the node types in
:data:`~sastc.backends.nir_convert.SUPPORTED_TYPES`; nodes are ordered
topologically over the edges (a file's node order means nothing), and every
node's declared input shape is checked against its predecessor's output.

Neurons are converted as the file's flavour runs them, with the ``dt`` and reset
mode settled first (:mod:`sastc.backends.nir_reading`: options, then metadata,
then what the file implies; a graph with spiking neurons and no stated reset is
refused, and so is a subtraction sastc computes differently from the file's
framework): ``LIF``, ``IF``, ``CubaLIF`` and ``LI`` become the nodes of sastc's
models of those names, with ``beta = 1 - dt/tau`` (spec); the
input gain ``dt * r / tau`` and the drive ``dt * v_leak / tau`` are folded into
the weights and bias of the synapse before the neuron. Metadata a foreign file
lacks (``time_bins``, ``classes``, ``input_clip``, ``steepness``) is left out of
the graph for the compile step to fill from the dataset.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from sastc.backends.nir_convention import JSON_KEYS, RESTORED_KEYS, from_h5
from sastc.backends.nir_convert import Converted, convert_node, declared_shape
from sastc.backends.nir_reading import NirOptions, Reading, check_reset, resolve_reading
from sastc.errors import GraphError, InterchangeError
from sastc.ir.graph import Graph
from sastc.ir.nodes import Input, NeuronNode, Output, Shape
from sastc.synapses import op_of_node

READ_ERRORS = (OSError, KeyError, ValueError, TypeError, AssertionError, AttributeError)


def import_nir(path: str | os.PathLike[str], options: NirOptions | None = None) -> Graph:
    """The sastc :class:`Graph` of the NIR file at ``path``; ``options`` state what the file
    does not (flavour, ``dt``, reset mode)."""
    path = Path(path)
    source = str(path)
    nir_graph = read_nir(path)
    metadata = from_h5(dict(nir_graph.metadata or {}))
    reading = resolve_reading(metadata, nir_graph.nodes, options or NirOptions(), source)
    converted = {name: convert_node(name, node, reading, source)
                 for name, node in nir_graph.nodes.items()}
    order = chain_order(converted, nir_graph.edges, source)
    drop_batch_axis(converted[order[0]], nir_graph.nodes[order[-1]])
    shapes = check_shapes(order, nir_graph.nodes, converted, source)
    fold_neuron_inputs(order, converted, shapes, source)
    nodes = {name: converted[name].node for name in order}
    check_reset(nodes, reading)
    if not isinstance(nodes[order[-1]], Output):
        order.append(_unique("output", nodes))
        nodes[order[-1]] = Output(shapes[order[-2]])
    edges = list(itertools.pairwise(order))
    return Graph(nodes, edges, _graph_metadata(metadata, path, reading))


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The graph metadata of the NIR file at ``path``, as plain Python values."""
    return from_h5(dict(read_nir(Path(path)).metadata or {}))


def read_nir(path: Path) -> Any:
    """``nir.read`` without nir's type check; any failure is an :class:`InterchangeError`."""
    import nir

    if not path.is_file():
        raise InterchangeError(f"{path}: no such NIR file")
    try:
        graph = nir.read(path, type_check=False)
    except READ_ERRORS as exc:
        raise InterchangeError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc}); "
                               "expected an HDF5 file written by nir.write") from exc
    if not isinstance(graph, nir.NIRGraph):
        raise InterchangeError(f"{path}: holds a single {type(graph).__name__} node, "
                               "expected a NIRGraph")
    return graph


def _adjacency(names: list[str], edges: list[tuple[str, str]], source: str
               ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    successors: dict[str, list[str]] = {name: [] for name in names}
    predecessors: dict[str, list[str]] = {name: [] for name in names}
    for src, dst in dict.fromkeys((str(a), str(b)) for a, b in edges):
        for end in (src, dst):
            if end not in successors:
                raise GraphError(f"{source}: edge {src} -> {dst} names no node {end!r}")
        successors[src].append(dst)
        predecessors[dst].append(src)
    return successors, predecessors


def _topological(names: list[str], successors: dict[str, list[str]],
                 predecessors: dict[str, list[str]], source: str) -> list[str]:
    """Kahn's algorithm; nodes left over lie on (or behind) a cycle."""
    waiting = {name: len(predecessors[name]) for name in names}
    ready = deque(name for name in names if waiting[name] == 0)
    order: list[str] = []
    while ready:
        order.append(ready.popleft())
        for nxt in successors[order[-1]]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if len(order) < len(names):
        raise GraphError(f"{source}: the graph has a cycle through nodes "
                         f"{_on_cycles(set(names) - set(order), successors)}; sastc compiles "
                         "feed-forward chains (no recurrence)")
    return order


def _on_cycles(stuck: set[str], successors: dict[str, list[str]]) -> list[str]:
    """The nodes of ``stuck`` (left over by Kahn's algorithm) that lie on a cycle: drop, again
    and again, those with no successor left in the set."""
    while True:
        sinks = {name for name in stuck if not set(successors[name]) & stuck}
        if not sinks:
            return sorted(stuck)
        stuck -= sinks


def chain_order(converted: dict[str, Converted], edges: list[tuple[str, str]], source: str
                ) -> list[str]:
    """Node names from Input to Output; cycles, branches and stray nodes raise GraphError."""
    names = list(converted)
    successors, predecessors = _adjacency(names, edges, source)
    order = _topological(names, successors, predecessors, source)
    for name in order:
        for links, verb in ((successors, "feeds"), (predecessors, "is fed by")):
            if len(links[name]) > 1:
                raise GraphError(f"{source}: node {name!r} {verb} {len(links[name])} nodes "
                                 f"{links[name]}; sastc compiles one chain (one input and one "
                                 "output per node)")
    roots = [name for name in order if not predecessors[name]]
    inputs = [name for name in names if isinstance(converted[name].node, Input)]
    if len(inputs) != 1 or roots != inputs:
        raise GraphError(f"{source}: expected one chain starting at one Input node; Input nodes "
                         f"{inputs}, nodes without a predecessor {roots}")
    return order


def drop_batch_axis(first: Converted, last: Any) -> None:
    """nirtorch's ``extract_nir_graph`` (Norse's and Rockpool's exporters) writes the ``Input``
    and ``Output`` types with a batch axis of 1; NIR types have none. Where both have it, the
    ``Input`` loses it (``_fits`` lets the ``Output`` keep it)."""
    shape = tuple(getattr(first.node, "shape", ()))
    output = declared_shape(last, "output") or ()
    if len(shape) > 1 and shape[0] == 1 and len(output) > 1 and output[0] == 1:
        first.node = Input(shape[1:])


def _type(node: Converted) -> str:
    return node.node.type_name


def _fits(declared: Shape, actual: Shape, node: Converted) -> bool:
    """Same shape, or a flat declared input of the same size (dense layers flatten); an
    ``Output`` may declare leading axes of 1 (nirtorch's ``extract_nir_graph``, used by
    Norse's and Rockpool's exporters, writes a batch axis; Rockpool's also a time axis), and
    a neuron per-channel parameters (``[C, 1, 1]``, sastc's Sinabs flavour) that broadcast to
    its input."""
    same_size = int(np.prod(declared)) == int(np.prod(actual))
    extra = len(declared) - len(actual)  # Rockpool's exporter writes batch and time axes of 1
    batch = isinstance(node.node, Output) and extra > 0 and \
        tuple(declared) == (1,) * extra + tuple(actual)
    return (tuple(declared) == tuple(actual) or (len(declared) == 1 and same_size) or batch
            or (isinstance(node.node, NeuronNode) and _broadcasts(declared, actual)))


def _broadcasts(declared: Shape, actual: Shape) -> bool:
    try:
        return np.broadcast_shapes(tuple(declared), tuple(actual)) == tuple(actual)
    except ValueError:
        return False


def check_shapes(order: list[str], nir_nodes: dict[str, Any], converted: dict[str, Converted],
                 source: str) -> dict[str, Shape]:
    """Output shape of every node; a node that does not fit its predecessor raises GraphError."""
    shapes: dict[str, Shape] = {order[0]: converted[order[0]].node.shape}  # type: ignore[attr-defined]
    for prev, name in itertools.pairwise(order):
        node, actual = converted[name], shapes[prev]
        pair = (f"node {prev!r} ({_type(converted[prev])}) outputs shape {actual} but node "
                f"{name!r} ({_type(node)})")
        declared = declared_shape(nir_nodes[name], "input")
        if declared is not None and not _fits(declared, actual, node):
            raise GraphError(f"{source}: {pair} expects input shape {declared}")
        try:
            shapes[name] = node.node.out_shape(actual)
        except GraphError as exc:
            raise GraphError(f"{source}: {pair} cannot take it: {exc}") from exc
    return shapes


def _per_channel(values: np.ndarray, shape: Shape, what: str) -> np.ndarray:
    full = np.broadcast_to(np.asarray(values, np.float64), shape).reshape(shape[0], -1)
    if not np.all(full == full[:, :1]):
        raise InterchangeError(f"{what} differs between neurons of one channel; a convolution "
                               "can fold only one value per output channel")
    return full[:, 0]


def _folded(synapse: Any, item: Converted, shape: Shape, what: str) -> Any:
    """The synapse (a node of a synapse op, :mod:`sastc.synapses`) with ``I = g * (W x + b) +
    d`` folded in: ``W' = g W``, ``b' = g b + d``."""
    gain = _per_channel(1.0 if item.gain is None else item.gain, shape, f"{what}: input gain")
    drive = _per_channel(0.0 if item.drive is None else item.drive, shape, f"{what}: v_leak drive")
    weight = synapse.weight * gain.reshape((-1,) + (1,) * (synapse.weight.ndim - 1))
    bias = synapse.bias * gain + drive
    return dataclasses.replace(synapse, weight=weight, bias=bias)


def fold_neuron_inputs(order: list[str], converted: dict[str, Converted], shapes: dict[str, Shape],
                       source: str) -> None:
    """Fold every neuron's input gain and leak drive into the synapse just before it."""
    for prev, name in itertools.pairwise(order):
        item = converted[name]
        if not item.needs_folding:
            continue
        what = f"{source}: node {name!r} ({_type(item)})"
        synapse = converted[prev].node
        if op_of_node(synapse.type_name) is None:
            raise InterchangeError(f"{what} has an input gain dt*r/tau != 1 or v_leak != 0, "
                                   f"which needs a Conv2d/Affine/Linear just before it to fold "
                                   f"into; node {prev!r} is {_type(converted[prev])}")
        converted[prev] = Converted(_folded(synapse, item, shapes[name], what))


def _unique(base: str, taken: dict[str, Any]) -> str:
    name, index = base, 0
    while name in taken:
        index += 1
        name = f"{base}_{index}"
    return name


def _graph_metadata(metadata: dict[str, Any], path: Path, reading: Reading) -> dict[str, Any]:
    restored = {key: metadata[key] for key in RESTORED_KEYS if key in metadata}
    for key in JSON_KEYS:
        if isinstance(restored.get(key), str):
            try:
                restored[key] = json.loads(restored[key])
            except json.JSONDecodeError as exc:
                raise InterchangeError(f"{path}: metadata {key} is not valid JSON ({exc})") from exc
    restored["nir_import"] = {"file": path.name, **reading.describe(),
                              "producer": str(metadata.get("producer", "unknown"))}
    return restored
