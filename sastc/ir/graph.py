"""The graph: named nodes, directed edges and metadata, with a lossless file format.

A ``.sastc.npz`` file holds every array parameter under ``<node>/<field>`` and a
JSON header with the rest (``sastc.ir.npzfile``); :func:`load_graph` after
:func:`save_graph` gives back equal arrays, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sastc.errors import GraphError
from sastc.ir.nodes import Input, Node, Output, Shape, node_from_dict
from sastc.ir.npzfile import load_npz, save_npz

GRAPH_FORMAT = "sastc-graph"
GRAPH_VERSION = 1


@dataclass
class Graph:
    """A spiking network as nodes and edges; sastc's own IR (NIR is an export format)."""

    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edges = [(str(a), str(b)) for a, b in self.edges]
        for src, dst in self.edges:
            for end in (src, dst):
                if end not in self.nodes:
                    raise GraphError(f"edge {src} -> {dst}: no node named {end!r}")

    def chain(self) -> list[tuple[str, Node]]:
        """Nodes from Input to Output in order; the graph must be one simple chain."""
        successors: dict[str, list[str]] = {name: [] for name in self.nodes}
        predecessors: dict[str, list[str]] = {name: [] for name in self.nodes}
        for src, dst in self.edges:
            successors[src].append(dst)
            predecessors[dst].append(src)
        start = self._single_input(predecessors)
        order = [start]
        while successors[order[-1]]:
            following = successors[order[-1]]
            if len(following) != 1:
                raise GraphError(f"node {order[-1]!r} feeds {len(following)} nodes {following}; "
                                 "sastc compiles feed-forward chains (one successor per node)")
            nxt = following[0]
            if nxt in order:
                raise GraphError(f"the graph has a cycle through node {nxt!r}; "
                                 "sastc compiles feed-forward chains without recurrence")
            if len(predecessors[nxt]) != 1:
                raise GraphError(f"node {nxt!r} has {len(predecessors[nxt])} inputs; "
                                 "only one input per node is supported")
            order.append(nxt)
        unreached = sorted(set(self.nodes) - set(order))
        if unreached:
            raise GraphError(f"nodes {unreached} are not on the path from the input; "
                             "the graph must be one chain from Input to Output")
        return [(name, self.nodes[name]) for name in order]

    def _single_input(self, predecessors: dict[str, list[str]]) -> str:
        inputs = [name for name, node in self.nodes.items() if isinstance(node, Input)]
        if len(inputs) != 1:
            raise GraphError(f"the graph needs exactly one Input node, found {len(inputs)}")
        if predecessors[inputs[0]]:
            raise GraphError(f"the Input node {inputs[0]!r} must not have incoming edges")
        return inputs[0]

    def shapes(self) -> dict[str, Shape]:
        """Output shape of every node, checking each node against its input."""
        shapes: dict[str, Shape] = {}
        current: Shape = ()
        for name, node in self.chain():
            if isinstance(node, Input):
                current = node.shape
            else:
                try:
                    current = node.out_shape(current)
                except GraphError as exc:
                    raise GraphError(f"node {name!r}: {exc}") from exc
            if isinstance(node, Output) and node.shape and int(np.prod(node.shape)) != int(
                    np.prod(current)):
                raise GraphError(f"node {name!r}: Output shape {node.shape} does not match "
                                 f"its input {current}")
            shapes[name] = current
        return shapes

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": {name: node.to_dict() for name, node in self.nodes.items()},
                "edges": [list(edge) for edge in self.edges], "metadata": self.metadata}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        nodes = {}
        for name, node_data in data["nodes"].items():
            try:
                nodes[name] = node_from_dict(node_data)
            except GraphError as exc:
                raise GraphError(f"node {name!r}: {exc}") from exc
        return cls(nodes, [tuple(e) for e in data["edges"]], dict(data.get("metadata", {})))


def _split_arrays(graph: Graph) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    header = graph.to_dict()
    arrays: dict[str, np.ndarray] = {}
    for name, params in header["nodes"].items():
        for key, value in params.items():
            if isinstance(value, np.ndarray):
                ref = f"{name}/{key}"
                arrays[ref] = value
                params[key] = {"__array__": ref}
            elif isinstance(value, tuple):
                params[key] = list(value)
    return header, arrays


def save_graph(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` (npz) atomically."""
    header, arrays = _split_arrays(graph)
    return save_npz(path, GRAPH_FORMAT, GRAPH_VERSION, header, arrays)


def load_graph(path: str | Path) -> Graph:
    """Read a graph written by :func:`save_graph`."""
    header, arrays = load_npz(path, GRAPH_FORMAT, "a sastc graph file")
    for params in header["nodes"].values():
        for key, value in params.items():
            if isinstance(value, dict) and "__array__" in value:
                params[key] = arrays[value["__array__"]]
    return Graph.from_dict(header)
