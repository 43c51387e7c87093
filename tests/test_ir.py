"""Graph IR: lossless file round trips, chain validation, lowering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sastc.errors import CheckpointError, GraphError
from sastc.ir import Graph, fuse, load_graph, load_qnet, save_graph, save_qnet
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.nodes import LI, LIF, Affine, AvgPool2d, Conv2d, Flatten, Input, Output, SumPool2d
from sastc.passes.quantize import quantize_net
from sastc.sim import FloatSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target


def _graph(seed: int = 0) -> Graph:
    spec = parse_arch("conv(4, 3, stride=2) pool(2) dense(8) readout", (2, 12, 12), 3)
    return graph_from_spec(spec, random_params(spec, seed, gain=3.0),
                           {"time_bins": 6, "classes": ["a", "b", "c"]})


def test_graph_file_round_trip_is_bit_exact(tmp_path) -> None:
    graph = _graph()
    loaded = load_graph(save_graph(graph, tmp_path / "g.sastc.npz"))
    assert loaded.edges == graph.edges and loaded.metadata == graph.metadata
    for name, node in graph.nodes.items():
        other = loaded.nodes[name]
        assert type(other) is type(node)
        for key, value in node.params().items():
            if isinstance(value, np.ndarray):
                assert value.dtype == other.params()[key].dtype
                np.testing.assert_array_equal(value, other.params()[key])
            else:
                assert value == other.params()[key]


def test_qnet_file_round_trip_is_bit_exact(tmp_path) -> None:
    qnet = quantize_net(fuse(_graph()), load_target("int4-fixed").profile.numerics)
    loaded = load_qnet(save_qnet(qnet, tmp_path / "model.npz"))
    assert (loaded.input_shape, loaded.time_bins, loaded.classes) == (qnet.input_shape,
                                                                     qnet.time_bins, qnet.classes)
    for a, b in zip(qnet.layers, loaded.layers, strict=True):
        assert a.to_header() == b.to_header()
        for key in ("weight_q", "weight_scale", "bias_q", "theta_q"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
            assert getattr(a, key).dtype == getattr(b, key).dtype


def test_not_a_graph_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "g.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a sastc graph file"):
        load_graph(bad)
    with pytest.raises(CheckpointError, match="not a compiled sastc model"):
        load_qnet(bad)


def _chain(*nodes, extra_edges=()):
    names = [f"n{i}" for i in range(len(nodes))]
    edges = list(itertools.pairwise(names)) + list(extra_edges)
    return Graph(dict(zip(names, nodes, strict=True)), edges)


def test_cycles_branches_and_shape_mismatch_name_the_node() -> None:
    w = np.ones((3, 4), np.float32)
    looped = _chain(Input((4,)), Affine(w, None), LIF(0.9, 1.0), extra_edges=[("n2", "n1")])
    with pytest.raises(GraphError, match=r"'n1' has 2 inputs|cycle"):
        fuse(looped)
    branched = _chain(Input((4,)), Affine(w, None), LIF(0.9, 1.0), extra_edges=[("n1", "n0")])
    with pytest.raises(GraphError, match=r"Input node 'n0' must not have incoming edges|feeds 2"):
        fuse(branched)
    mismatched = _chain(Input((5,)), Affine(w, None), LIF(0.9, 1.0))
    with pytest.raises(GraphError, match="node 'n1': Affine: expects 4 inputs, got shape"):
        fuse(mismatched)


def test_unsupported_wiring_lists_the_supported_pattern() -> None:
    w = np.ones((4, 4), np.float32)
    doubled = _chain(Input((4,)), Affine(w, None), Affine(w, None), LIF(0.9, 1.0))
    with pytest.raises(GraphError, match="follows synapse 'n1' without a neuron"):
        fuse(doubled)
    with pytest.raises(GraphError, match="per-neuron leak is not supported"):
        fuse(_chain(Input((4,)), Affine(w, None), LIF(np.linspace(0.5, 0.9, 4), 1.0)))


def test_avg_pool_folds_into_next_weights_exactly() -> None:
    rng = np.random.default_rng(0)
    conv = Conv2d(rng.normal(size=(3, 2, 3, 3)) * 0.6, np.zeros(3), 1, 1)
    fc = rng.normal(size=(5, 3 * 4 * 4)).astype(np.float32)
    nodes = [Input((2, 8, 8)), conv, LIF(0.9, 1.0), None, Flatten(), Affine(fc, None), LI(0.8),
             Output((5,))]
    avg = _chain(*[AvgPool2d(2) if n is None else n for n in nodes])
    summed = _chain(*[SumPool2d(2) if n is None else n for n in nodes])
    summed.nodes["n5"] = Affine(fc / 4, None)
    frames = (rng.random((3, 5, 2, 8, 8)) < 0.3).astype(np.uint8)
    a = FloatSimulator(fuse(avg), "hard").run(frames).logits
    b = FloatSimulator(fuse(summed), "hard").run(frames).logits
    np.testing.assert_array_equal(a, b)
