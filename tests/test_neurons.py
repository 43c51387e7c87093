"""Neuron models (:mod:`sastc.neurons`): every registered model through every backend.

* the registry: every model has an IR node, and every emitter either runs a model or
  refuses it naming the layer and listing the models it runs;
* integer semantics: the simulator's scans equal :mod:`sastc.numerics` step by step;
* equivalence: random int8 and int4 networks of every model and reset, integer simulator ==
  C runtime == ONNX integer step, every layer at every step;
* float: the numpy simulator equals the torch model; NIR (spec flavour) round-trips;
* compatibility: files from before neuron models (no model, reset or current) read as
  LIF with reset to zero.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from sastc import numerics
from sastc.backends import EMITTERS, EmitInput, get_emitter
from sastc.errors import CompileError, ConfigError
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.lower import fuse
from sastc.ir.nodes import NEURON_NODES
from sastc.ir.npzfile import load_npz, save_npz
from sastc.ir.quantized import QNET_FORMAT, QNET_VERSION, load_qnet, save_qnet
from sastc.neurons import NEURONS, NeuronModel, lif, supporting
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import compile_runtime
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import _scan
from sastc.spec import ArchSpec, parse_arch
from sastc.targets import load_target
from tests.neuron_cases import (
    ARCHS,
    SENSOR,
    assert_three_agree,
    make_graph,
    make_qnet,
    random_frames,
    spiking_readout,
)
from tests.toolchains import require_tool


@pytest.fixture(scope="module")
def runtime_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tool("gcc", "the C runtime tests need a host C compiler")
    pytest.importorskip("onnxruntime")
    return compile_runtime(tmp_path_factory.mktemp("c-runtime"))


def test_every_model_has_an_ir_node_and_every_backend() -> None:
    assert set(NEURON_NODES) == set(NEURONS)
    for entry in ("float_scan", "int_scan", "c_name", "onnx_float", "onnx_int", "nir_node"):
        assert supporting(entry) == list(NEURONS), entry


# --- the integer rule ----------------------------------------------------------------------


def _reference_trace(layer, acc: np.ndarray) -> np.ndarray:
    """The layer's integer rule with the ``sastc.numerics`` step functions, step by step."""
    shape = (-1,) + (1,) * (acc.ndim - 3)
    params = {"bias_q": layer.bias_q.reshape(shape), "theta_q": layer.theta_q.reshape(shape),
              "beta_q": layer.beta_q, "leak_shift": layer.leak_shift,
              "frac_bits": layer.frac_bits, "membrane_bits": layer.membrane_bits,
              "reset_mode": layer.reset}
    u = c = np.zeros(acc.shape[1:], np.int64)
    spikes = []
    for t in range(acc.shape[0]):
        step = acc[t].astype(np.int64)
        if layer.neuron == "cuba":
            s, u, c = numerics.cuba_step(u, c, step, alpha_q=layer.alpha_q, **params)
        else:
            s, u = numerics.lif_step(u, step, **params)
        spikes.append(s)
    return np.stack(spikes)


@pytest.mark.parametrize("case", ["lif-subtract", "if-subtract", "cuba-zero", "cuba-subtract"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_scans_equal_the_numerics_rules(case: str, dtype: type) -> None:
    """Saturating drives (12-bit membranes) and thresholds inside the range."""
    layer = make_qnet(ARCHS[case], "int8-fixed").layers[0]
    rng = np.random.default_rng(3)
    theta = rng.integers(1 << 7, 1 << 10, layer.theta_q.shape)
    layer = dataclasses.replace(layer, membrane_bits=12, frac_bits=3, theta_q=theta)
    acc = rng.integers(-400, 400, (12, 3, *layer.geometry.out_shape)).astype(np.float32)
    expected = _reference_trace(layer, acc)
    np.testing.assert_array_equal(_scan(layer, acc, dtype)[1], expected)
    assert 0.05 < expected.mean() < 0.95


# --- integer simulator == C runtime == ONNX --------------------------------------------------


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
@pytest.mark.parametrize("case", list(ARCHS))
def test_every_model_is_bit_exact_in_c_and_onnx(case: str, profile: str, tmp_path: Path,
                                                runtime_objects: list[Path]) -> None:
    qnet = make_qnet(ARCHS[case], profile, seed=len(case))
    run = assert_three_agree(qnet, random_frames(qnet, 3, seed=1), tmp_path, runtime_objects)
    for record in run.records[:-1]:
        assert 0.0 < record.mean() < 1.0  # spikes and silence in every spiking layer


@pytest.mark.parametrize("neuron, reset", [("cuba", "subtract"), ("if", "subtract"),
                                           ("lif", "subtract"), ("cuba", "zero")])
def test_spiking_readouts_are_bit_exact(neuron: str, reset: str, tmp_path: Path,
                                        runtime_objects: list[Path]) -> None:
    qnet = spiking_readout(make_qnet(ARCHS["mixed"], "int8-fixed"), neuron, reset)
    run = assert_three_agree(qnet, random_frames(qnet, 3, seed=2), tmp_path, runtime_objects)
    assert run.logits.sum() > 0


# --- every model x every emitter -------------------------------------------------------------


def _emit_input(arch: str, profile: str | None) -> EmitInput:
    graph = make_graph(arch)
    net = fuse(graph)
    if profile is None:
        return EmitInput(graph, net)
    numerics_ = load_target(profile).profile.numerics
    return EmitInput(graph, net, quantize_net(net, numerics_), dict(numerics_), profile)


@pytest.mark.parametrize("emitter", EMITTERS)
@pytest.mark.parametrize("case", ["lif-subtract", "if-zero", "cuba-subtract"])
def test_every_emitter_writes_every_model(emitter: str, case: str, tmp_path: Path) -> None:
    pytest.importorskip({"nir": "nir", "onnx": "onnx"}.get(emitter, "numpy"))
    profile = None if emitter == "nir" and case == "if-zero" else "int8-fixed"
    written = get_emitter(emitter)(_emit_input(ARCHS[case], profile), tmp_path)
    assert written and all(path.is_file() for path in written)


@pytest.fixture
def unimplemented_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered model that only the float simulator runs."""
    monkeypatch.setitem(NEURONS, "adex", NeuronModel("adex", "for the test",
                                                     float_scan=lif.float_scan))
    return "adex"


INTEGER_ONLY = ("npz", "c-header")  # emitters that write the integer model only


@pytest.mark.parametrize(("emitter", "numbers"),
                         [(e, n) for e in EMITTERS for n in ("integer", "float")
                          if n == "integer" or e not in INTEGER_ONLY])
def test_every_emitter_refuses_an_unimplemented_model_listing_what_it_runs(
        emitter: str, numbers: str, unimplemented_model: str, tmp_path: Path) -> None:
    pytest.importorskip({"nir": "nir", "onnx": "onnx"}.get(emitter, "numpy"))
    model = _emit_input(ARCHS["lif-zero"], "int8-fixed" if numbers == "integer" else None)
    model.float_net.layers[0].neuron = unimplemented_model
    if model.qnet is not None:
        model.qnet.layers[0].neuron = unimplemented_model
    layer = model.float_net.layers[0].name
    with pytest.raises(CompileError, match=rf"layer {layer!r} uses neuron model 'adex'.*"
                                           r"supported: lif, if, cuba, li"):
        get_emitter(emitter)(model, tmp_path)


# --- float: torch, the numpy simulator, NIR --------------------------------------------------


@pytest.mark.parametrize("mode", ["hard", "surrogate"])
@pytest.mark.parametrize("case", ["lif-subtract", "if-subtract", "cuba-zero", "mixed"])
def test_numpy_float_sim_matches_the_torch_model(case: str, mode: str) -> None:
    torch = pytest.importorskip("torch")
    from sastc.train.model import SpikingNet

    spec = parse_arch(ARCHS[case], SENSOR, 5, steepness=4.0)
    params = random_params(spec, 0, gain=3.0)
    model = SpikingNet(spec, mode)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    frames = (np.random.default_rng(0).random((4, 10, *SENSOR)) < 0.15).astype(np.uint8)
    with torch.no_grad():
        expected = model(torch.from_numpy(frames).permute(1, 0, 2, 3, 4).float()).numpy()
    net = fuse(graph_from_spec(spec, params, {"time_bins": 10}))
    out = FloatSimulator(net, mode).run(frames, record=True)
    np.testing.assert_allclose(out.logits, expected, rtol=1e-4, atol=1e-4)
    assert all(0.01 < record.mean() < 0.9 for record in out.records[:-1])


@pytest.mark.parametrize("profile", [None, "int8-fixed"])
@pytest.mark.parametrize("case", ["lif-subtract", "if-subtract", "cuba-subtract", "mixed"])
def test_nir_round_trip_keeps_models_resets_and_spikes(case: str, profile: str | None,
                                                       tmp_path: Path) -> None:
    pytest.importorskip("nir")
    from sastc.backends.nir_export import dequantized_net, emit_nir
    from sastc.backends.nir_import import import_nir

    model = _emit_input(ARCHS[case], profile)
    net = model.float_net if model.qnet is None else dequantized_net(model.qnet, model.float_net)
    back = fuse(import_nir(emit_nir(model, tmp_path)[0]))
    kept = ("name", "neuron", "reset")
    assert [[getattr(ly, k) for k in kept] for ly in back.layers] == \
        [[getattr(ly, k) for k in kept] for ly in net.layers]
    decays = [d for ly in net.layers for d in (ly.beta, ly.alpha)]  # via tau = dt / (1 - d)
    assert [d for ly in back.layers for d in (ly.beta, ly.alpha)] == pytest.approx(decays,
                                                                                   abs=1e-12)
    frames = random_frames(make_qnet(ARCHS[case], "int8-fixed"), 4, seed=5)
    ours = FloatSimulator(net, "hard").run(frames, record=True)
    again = FloatSimulator(back, "hard").run(frames, record=True)
    for mine, theirs in zip(ours.records[:-1], again.records[:-1], strict=True):
        np.testing.assert_array_equal(mine, theirs)


# --- the spec language and old files ------------------------------------------------------------


def test_spec_chooses_models_per_layer_and_reads_back() -> None:
    spec = parse_arch("conv(8, 3, neuron=if, reset=subtract) dense(16, neuron=cuba) "
                      "dense(12, beta=0.5) readout", SENSOR, 5)
    conv, cuba, plain, _ = spec.layers
    assert (conv.neuron, conv.reset, conv.beta) == ("if", "subtract", 1.0)
    assert (cuba.neuron, cuba.alpha, cuba.beta) == ("cuba", 0.5, 0.9)
    assert (plain.neuron, plain.reset, plain.alpha) == ("lif", "zero", 0.0)
    assert spec.describe() == ("conv(8, 3, neuron=if, reset=subtract) dense(16, neuron=cuba) "
                               "dense(12, beta=0.5) readout")
    assert ArchSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("arch, message", [
    ("dense(8, neuron=adex)", "unknown neuron model 'adex'; registered: lif, if, cuba, li"),
    ("dense(8, neuron=li)", "neuron 'li' does not spike"),
    ("dense(8, neuron=if, beta=0.9)", "beta is fixed to 1 for if neurons"),
    ("dense(8, alpha=0.5)", "alpha (synaptic current decay) applies to neurons with a current"),
    ("dense(8, neuron=cuba, alpha=1.5)", "alpha must be in [0, 1], got 1.5"),
    ("dense(8, reset=soft)", "reset must be one of zero, subtract, got 'soft'"),
])
def test_spec_errors_name_the_layer_and_the_models(arch: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"layer 0 \(dense\): " + _literal(message)):
        parse_arch(arch, SENSOR, 5)


def _literal(text: str) -> str:
    import re

    return re.escape(text)


def test_old_specs_and_compiled_models_read_as_lif_reset_to_zero(tmp_path: Path) -> None:
    spec = parse_arch("conv(8, 3) dense(16, beta=0.5) readout", SENSOR, 5)
    old = spec.to_dict()
    for layer in old["layers"]:
        for key in ("neuron", "reset", "alpha"):
            layer.pop(key, None)
    assert ArchSpec.from_dict(old) == spec
    path = save_qnet(make_qnet(ARCHS["lif-zero"], "int8-fixed"), tmp_path / "new.npz")
    header, arrays = load_npz(path, QNET_FORMAT, "test")
    for layer in header["layers"]:
        del layer["reset"], layer["alpha_q"]
    save_npz(tmp_path / "old.npz", QNET_FORMAT, QNET_VERSION, json.loads(json.dumps(header)),
             arrays)
    layers = load_qnet(tmp_path / "old.npz").layers
    assert {(ly.neuron, ly.reset, ly.alpha_q) for ly in layers[:-1]} == {("lif", "zero", 0)}


def test_a_profile_compiling_reset_to_zero_refuses_subtracting_layers() -> None:
    from sastc.passes.quantize import check_resets
    from sastc.profile import EXAMPLE, Numerics

    net = fuse(make_graph(ARCHS["lif-subtract"]))
    with pytest.raises(CompileError, match=r"layers \['conv0', 'fc2'\] reset by subtraction.*"
                                           r"numerics.reset = 'zero'"):
        check_resets(net, Numerics.from_dict({**EXAMPLE, "reset": "zero"}, "zero-only"),
                     "zero-only")
    check_resets(net, Numerics.from_dict({**EXAMPLE, "reset": "per-layer"}, "any"), "any")


@pytest.mark.parametrize("flavor", ["norse", "sinabs", "snntorch", "spikingjelly", "rockpool"])
def test_peer_flavours_refuse_what_their_importer_does_not_run_as_sastc(flavor: str,
                                                                        tmp_path: Path) -> None:
    pytest.importorskip("nir")
    from sastc.backends.nir_export import emit_nir

    model = _emit_input(ARCHS["cuba-subtract"], None)
    model.nir_flavor = flavor
    with pytest.raises(CompileError, match=rf"nir: .*layer 'conv0' \(cuba, reset subtract\)|"
                                           rf"the {flavor} flavour only reads"):
        emit_nir(model, tmp_path)


@pytest.mark.parametrize("case", ["lif-subtract", "if-subtract", "cuba-zero", "mixed"])
def test_float_onnx_step_equals_the_float_simulator(case: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from sastc.backends.onnx_export import emit_onnx
    from sastc.sim.onnx_runner import OnnxRunner

    model = _emit_input(ARCHS[case], None)
    frames = random_frames(make_qnet(ARCHS[case], "int8-fixed"), 4, seed=7)
    ours = FloatSimulator(model.float_net, "hard").run(frames, record=True)
    theirs = OnnxRunner(emit_onnx(model, tmp_path)[0]).run(frames, record=True)
    for mine, other in zip(ours.records[:-1], theirs.records[:-1], strict=True):
        np.testing.assert_array_equal(mine, other)
    np.testing.assert_allclose(theirs.logits, ours.logits, rtol=1e-5, atol=1e-5)
