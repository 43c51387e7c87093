"""Synapse ops (:mod:`sastc.synapses`): every registered op through every backend.

* the registry: every op has every backend entry of its stage, and each backend's table
  (C layouts, NIR builders and converters, IR nodes, lowering) has a row for it;
* the numpy entries: each forward equals a brute-force sum, each fan-out equals the
  inputs' reach measured through the forward itself;
* every emitter writes a network using every op; every emitter (and the integer simulator)
  refuses a registered op it does not implement, naming the layer and listing the ops it
  runs; the float simulator runs such an op through its registry entry alone.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from sastc.backends import EMITTERS, EmitInput, get_emitter
from sastc.backends.c_codegen import C_OPS
from sastc.backends.nir_convert import CONVERTERS
from sastc.backends.nir_export import NODE_BUILDERS
from sastc.errors import CompileError, ConfigError
from sastc.ir.layers import OPS, Geometry
from sastc.ir.lower import GEOMETRIES, fuse
from sastc.ir.nodes import NODE_TYPES
from sastc.ir.quantized import check_qnet
from sastc.passes.quantize import quantize_net
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.synapses import POOL, POOL_STAGE, SYNAPSE, SYNAPSES, supporting, synapse_op
from sastc.targets import load_target, runtime_dir
from tests.neuron_cases import ARCHS, make_graph, make_qnet, random_frames

SYNAPSE_ENTRIES = ("fan_in", "weight_shape", "float_forward", "int_forward", "fanout", "c_name",
                   "onnx_float", "onnx_int", "nir_node", "ir_node")
POOL_ENTRIES = ("float_forward", "int_forward", "c_name", "onnx_float", "onnx_int", "nir_node",
                "ir_node")
GEOMETRY_CASES = [Geometry("conv", (2, 7, 6), (3, 4, 3), kernel=3, stride=2, padding=1),
                  Geometry("conv", (3, 5, 5), (2, 5, 5), kernel=3, stride=1, padding=1),
                  Geometry("dense", (2, 3, 4), (5,)), Geometry("dense", (6,), (4,))]


def _ops(stage: str) -> list[str]:
    return [name for name, op in SYNAPSES.items() if op.stage == stage]


def test_every_op_has_every_entry_of_its_stage() -> None:
    assert _ops(SYNAPSE) == list(OPS) == ["conv", "dense"]
    assert _ops(POOL_STAGE) == [POOL]
    for entry in SYNAPSE_ENTRIES:
        assert supporting(entry, SYNAPSE) == _ops(SYNAPSE), entry
    for entry in POOL_ENTRIES:
        assert supporting(entry, POOL_STAGE) == [POOL], entry


def test_every_backend_table_has_a_row_per_op() -> None:
    header = (runtime_dir() / "sastc_rt.h").read_text()
    for name, op in SYNAPSES.items():
        assert op.nir_node in NODE_BUILDERS and op.nir_node in CONVERTERS, name
        assert op.ir_node in NODE_TYPES, name
    for name in _ops(SYNAPSE):
        op = synapse_op(name)
        assert name in C_OPS and name in GEOMETRIES
        assert re.search(rf"\b{op.c_name}\s*=", header), op.c_name


def test_unknown_ops_are_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="unknown synapse op 'deconv'; registered: conv, dense, "
                                          "pool"):
        synapse_op("deconv")
    qnet = make_qnet(ARCHS["lif-zero"], "int8-fixed")
    qnet.layers[0].geometry = dataclasses.replace(qnet.layers[0].geometry, op="deconv")
    with pytest.raises(ValueError, match="unknown synapse op 'deconv'"):
        check_qnet(qnet)


# --- the numpy entries -------------------------------------------------------------------------


def _brute_force(geometry: Geometry, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``y[n, o, ...] = sum W x`` by explicit loops over the outputs."""
    if geometry.op == "dense":
        return np.einsum("oi,ni->no", weight.reshape(weight.shape[0], -1),
                         x.reshape(x.shape[0], -1))
    k, s, p = geometry.kernel, geometry.stride, geometry.padding
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    _, oh, ow = geometry.out_shape
    out = np.zeros((x.shape[0], *geometry.out_shape))
    for y in range(oh):
        for z in range(ow):
            window = padded[:, :, s * y : s * y + k, s * z : s * z + k]
            out[:, :, y, z] = np.einsum("ncij,ocij->no", window, weight)
    return out


@pytest.mark.parametrize("geometry", GEOMETRY_CASES, ids=lambda g: f"{g.op}{g.in_shape}")
def test_forwards_equal_the_brute_force_sum(geometry: Geometry) -> None:
    op = synapse_op(geometry.op)
    rng = np.random.default_rng(1)
    shape = op.weight_shape(geometry)
    assert int(np.prod(shape[1:])) == op.fan_in(geometry)
    weight = rng.integers(-7, 8, shape).astype(np.float32)
    x = rng.integers(0, 3, (4, *geometry.pooled_shape)).astype(np.float32)
    expected = _brute_force(geometry, x, weight)
    for forward in (op.float_forward, op.int_forward):
        got = forward(geometry, x, weight)
        np.testing.assert_array_equal(np.asarray(got).reshape(expected.shape), expected)


@pytest.mark.parametrize("geometry", GEOMETRY_CASES, ids=lambda g: f"{g.op}{g.in_shape}")
def test_fanout_is_what_each_input_reaches_through_the_forward(geometry: Geometry) -> None:
    """Input ``i`` alone, through weights that are 1 where non-zero, sums to its fan-out."""
    op = synapse_op(geometry.op)
    rng = np.random.default_rng(2)
    weight = rng.integers(-1, 2, op.weight_shape(geometry))  # about a third are zero
    mask = (weight != 0).astype(np.int64)
    size = int(np.prod(geometry.pooled_shape))
    one_hot = np.eye(size, dtype=np.float64).reshape(size, *geometry.pooled_shape)
    reached = op.float_forward(geometry, one_hot, mask.astype(np.float64))
    reached = np.asarray(reached).reshape(size, -1).sum(axis=1)
    np.testing.assert_array_equal(op.fanout(geometry, mask).ravel(), reached)


def test_pool_forward_sums_windows_and_drops_edges() -> None:
    geometry = Geometry("dense", (1, 5, 4), (3,), pool=2)
    x = np.arange(40).reshape(2, 1, 5, 4)
    pooled = synapse_op(POOL).int_forward(geometry, x, np.int64)
    assert pooled.shape == (2, *geometry.pooled_shape)
    expected = x[:, :, :4, :].reshape(2, 1, 2, 2, 2, 2).sum(axis=(3, 5))
    np.testing.assert_array_equal(pooled, expected)


# --- every op x every emitter -------------------------------------------------------------------


def _emit_input(profile: str | None) -> EmitInput:
    """``conv -> pool + dense -> dense readout``: every registered op."""
    graph = make_graph(ARCHS["lif-zero"])
    net = fuse(graph)
    if profile is None:
        return EmitInput(graph, net)
    numerics = load_target(profile).profile.numerics
    return EmitInput(graph, net, quantize_net(net, numerics), dict(numerics), profile)


INTEGER_ONLY = ("npz", "c-header")  # emitters that write the integer model only
EMIT_CASES = [(e, n) for e in EMITTERS for n in ("integer", "float")
              if n == "integer" or e not in INTEGER_ONLY]


def _need(emitter: str) -> None:
    pytest.importorskip({"nir": "nir", "onnx": "onnx"}.get(emitter, "numpy"))


@pytest.mark.parametrize(("emitter", "numbers"), EMIT_CASES)
def test_every_emitter_writes_every_op(emitter: str, numbers: str, tmp_path: Path) -> None:
    _need(emitter)
    model = _emit_input("int8-fixed" if numbers == "integer" else None)
    assert {ly.geometry.op for ly in model.float_net.layers} | {POOL} == set(SYNAPSES)
    assert any(ly.geometry.pool > 1 for ly in model.float_net.layers)
    written = get_emitter(emitter)(model, tmp_path)
    assert written and all(path.is_file() for path in written)


@pytest.fixture
def float_only_op(monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered copy of ``dense`` that only the float simulator (and SynOps) run."""
    dense = synapse_op("dense")
    monkeypatch.setitem(SYNAPSES, "dense2", dataclasses.replace(
        dense, name="dense2", int_forward=None, c_name=None, onnx_float=None, onnx_int=None,
        nir_node=None, ir_node=None))
    return "dense2"


def _with_op(model: EmitInput, index: int, op: str) -> EmitInput:
    layers = [model.float_net.layers] + ([model.qnet.layers] if model.qnet else [])
    for layer in (group[index] for group in layers):
        layer.geometry = dataclasses.replace(layer.geometry, op=op)
    return model


@pytest.mark.parametrize(("emitter", "numbers"), EMIT_CASES)
def test_every_emitter_refuses_an_unimplemented_op_listing_what_it_runs(
        emitter: str, numbers: str, float_only_op: str, tmp_path: Path) -> None:
    _need(emitter)
    model = _with_op(_emit_input("int8-fixed" if numbers == "integer" else None), 1,
                     float_only_op)
    layer = model.float_net.layers[1].name
    with pytest.raises(CompileError, match=rf"layer {layer!r} uses synapse op 'dense2', "
                                           r"which .* does not implement; supported: conv, dense$"):
        get_emitter(emitter)(model, tmp_path)


@pytest.mark.parametrize(("emitter", "numbers"), EMIT_CASES)
def test_every_emitter_refuses_pooling_when_the_pool_op_lacks_its_entry(
        emitter: str, numbers: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _need(emitter)
    monkeypatch.setitem(SYNAPSES, POOL, dataclasses.replace(
        synapse_op(POOL), int_forward=None, c_name=None, onnx_float=None, onnx_int=None,
        nir_node=None))
    model = _emit_input("int8-fixed" if numbers == "integer" else None)
    with pytest.raises(CompileError, match=r"uses synapse op 'pool', which .* does not "
                                           r"implement; supported: none$"):
        get_emitter(emitter)(model, tmp_path)


def test_the_simulators_run_an_op_by_its_entries_alone(float_only_op: str) -> None:
    model = _with_op(_emit_input("int8-fixed"), 1, float_only_op)
    original = _emit_input(None).float_net
    frames = random_frames(model.qnet, 3, seed=1)
    ours = FloatSimulator(model.float_net, "hard").run(frames, record=True)
    theirs = FloatSimulator(original, "hard").run(frames, record=True)
    for mine, reference in zip(ours.records, theirs.records, strict=True):
        np.testing.assert_array_equal(mine, reference)
    with pytest.raises(CompileError, match=r"the integer simulator: layer .* synapse op 'dense2'"):
        IntegerSimulator(model.qnet).run(frames)
