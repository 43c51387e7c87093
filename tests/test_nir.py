"""NIR export and import: round trips, snnTorch interoperability, integer metadata."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sastc.backends import EmitInput
from sastc.backends.nir_convention import DEFAULT_DT, tau_from_beta
from sastc.backends.nir_export import emit_nir
from sastc.backends.nir_import import import_nir
from sastc.backends.nir_reading import NirOptions
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.graph import Graph
from sastc.ir.lower import fuse
from sastc.ir.nodes import IF, Affine, AvgPool2d, Input
from sastc.ir.quantized import QNet
from sastc.passes.quantize import quantize_net
from sastc.sim.float_sim import FloatSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target
from tests.snntorch_models import snntorch_nets, snntorch_spikes

nir = pytest.importorskip("nir")

SENSOR = (2, 34, 34)
TIME_BINS = 16
CLASSES = [str(digit) for digit in range(10)]
MIN_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def frames(request: pytest.FixtureRequest) -> np.ndarray:
    """24 N-MNIST test recordings when a copy is available, else sparse random events."""
    try:
        data_dir = request.getfixturevalue("nmnist_dir")
        from sastc.data import load_frames

        return load_frames("nmnist", "test", data_dir=data_dir, time_bins=TIME_BINS, limit=24,
                           progress=False).frames
    except (pytest.skip.Exception, pytest.FixtureLookupError, ImportError):
        rng = np.random.default_rng(7)
        return (rng.random((24, TIME_BINS, *SENSOR)) < 0.05).astype(np.uint8)


def make_graph(arch: str, seed: int = 0) -> Graph:
    spec = parse_arch(arch, SENSOR, len(CLASSES))
    meta = {"time_bins": TIME_BINS, "classes": CLASSES, "input_clip": 1}
    return graph_from_spec(spec, random_params(spec, seed, gain=3.0), meta)


def export(graph: Graph, out_dir: Path, qnet: QNet | None = None,
           profile: dict[str, Any] | None = None) -> Path:
    return emit_nir(EmitInput(graph, fuse(graph), qnet, profile or {}, "model"), out_dir)[0]


def spike_rates(records: list[np.ndarray]) -> list[float]:
    return [float(r.mean()) for r in records if r.dtype == bool]


ARCHS = ["conv(8, 3, stride=2) pool(2) dense(32) readout",
         "conv(4, 3, stride=2, beta=1.0) conv(8, 3, beta=0.0) dense(16, threshold=0.5) "
         "readout(beta=1.0)"]


@pytest.mark.parametrize("arch", ARCHS)
def test_round_trip_gives_the_same_simulation(arch: str, tmp_path: Path,
                                              frames: np.ndarray) -> None:
    graph = make_graph(arch)
    path = export(graph, tmp_path)
    assert path.name == "model.nir"
    nir.read(path).check_types()  # nir's own reader and type check accept the file
    back = import_nir(path)
    assert list(back.nodes) == [name for name, _ in graph.chain()]
    assert back.metadata["time_bins"] == TIME_BINS and back.metadata["classes"] == CLASSES
    original, imported = fuse(graph), fuse(back)
    assert [ly.beta for ly in imported.layers] == [ly.beta for ly in original.layers]
    hard = FloatSimulator(original, "hard").run(frames, record=True)
    again = FloatSimulator(imported, "hard").run(frames, record=True)
    assert all(0.0 < rate < 1.0 for rate in spike_rates(hard.records))
    for ours, theirs in zip(hard.records, again.records, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(hard.logits, again.logits)
    soft = FloatSimulator(original, "surrogate").run(frames[:4], record=True)
    soft_again = FloatSimulator(imported, "surrogate").run(frames[:4], record=True)
    np.testing.assert_allclose(soft.logits, soft_again.logits, rtol=1e-5, atol=1e-6)


def test_exported_file_states_the_conventions(tmp_path: Path) -> None:
    graph = make_graph(ARCHS[0])
    read = nir.read(export(graph, tmp_path))
    meta = read.metadata
    assert float(meta["dt"]) == DEFAULT_DT and meta["reset_mode"] == "zero"
    assert meta["threshold_comparison"] == ">" and meta["readout"] == "mean_t(LI.v)"
    assert int(meta["time_bins"]) == TIME_BINS and int(meta["input_clip"]) == 1
    assert "sastc_version" in meta and "reset_timing" in meta
    lif = read.nodes["lif0"]
    assert lif.tau.shape == (8, 17, 17)  # per neuron, the layer's full output shape
    np.testing.assert_allclose(lif.tau, DEFAULT_DT / (1 - 0.9))
    np.testing.assert_allclose(lif.r, lif.tau / DEFAULT_DT)
    assert not lif.v_leak.any() and not lif.v_reset.any()
    assert isinstance(read.nodes["pool1"], nir.SumPool2d)
    assert read.nodes["flatten2"].output_type["output"].tolist() == [8 * 8 * 8]


def test_no_leak_is_written_as_a_finite_tau_that_reads_back_as_one() -> None:
    tau = tau_from_beta(np.array([1.0, 0.0]), DEFAULT_DT)
    assert np.all(np.isfinite(tau)) and tau[1] == DEFAULT_DT
    assert 1.0 - DEFAULT_DT / tau[0] == 1.0


def test_average_pooling_is_folded_before_export(tmp_path: Path, frames: np.ndarray) -> None:
    graph = make_graph(ARCHS[0])
    graph.nodes["pool1"] = AvgPool2d(2)
    back = import_nir(export(graph, tmp_path))
    assert back.nodes["pool1"].type_name == "SumPool2d"
    ours = FloatSimulator(fuse(graph)).run(frames[:8], record=True)
    theirs = FloatSimulator(fuse(back)).run(frames[:8], record=True)
    for a, b in zip(ours.records, theirs.records, strict=True):
        np.testing.assert_array_equal(a, b)


def test_integer_profile_exports_dequantized_parameters_and_integers(tmp_path: Path) -> None:
    graph = make_graph(ARCHS[0])
    profile = load_target("int8-fixed").profile
    qnet = quantize_net(fuse(graph), profile.numerics)
    read = nir.read(export(graph, tmp_path, qnet, dict(profile.numerics)))
    quant = read.metadata["quantization"]
    assert set(quant["layers"]) == {"conv0", "fc2", "readout"}
    assert int(quant["profile"]["weight_bits"]) == 8 and "round_shift" in quant["rule"]
    for q in qnet.layers:
        entry = quant["layers"][q.name]
        for key in ("weight_bits", "membrane_bits", "frac_bits", "beta_q", "leak_shift"):
            assert int(entry[key]) == getattr(q, key)
        np.testing.assert_array_equal(entry["weight_q"], q.weight_q)
        np.testing.assert_array_equal(entry["theta_q"], q.theta_q)
        np.testing.assert_array_equal(entry["weight_scale"], q.weight_scale)
    conv, lif, q0 = read.nodes["conv0"], read.nodes["lif0"], qnet.layers[0]
    unit = q0.weight_scale / 2**q0.frac_bits
    np.testing.assert_allclose(conv.weight, q0.weight_q * q0.weight_scale[:, None, None, None])
    np.testing.assert_allclose(conv.bias, q0.bias_q * unit)
    np.testing.assert_allclose(lif.v_threshold[:, 0, 0], q0.theta_q * unit)
    np.testing.assert_allclose(1 - DEFAULT_DT / lif.tau, q0.beta_q / 2**q0.leak_shift)
    assert read.metadata["numerics"] == "integer"


def write_nir(path: Path, nodes: dict, edges: list, metadata: dict | None = None) -> Path:
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {},
                                 type_check=False))
    return path


def test_input_gain_and_resting_potential_fold_into_the_synapse(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    weight, bias = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=5)
    dt, tau, r, v_leak = 1e-3, np.full(5, 4e-3), np.full(5, 8.0), np.full(5, 0.5)
    lif = nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=np.ones(5), v_reset=np.zeros(5))
    nodes = {"out": nir.Output(np.array([5])), "lif": lif, "in": nir.Input(np.array([4])),
             "fc": nir.Affine(weight=weight, bias=bias)}
    edges = [("lif", "out"), ("in", "fc"), ("fc", "lif")]  # any order: sorted on import
    graph = import_nir(write_nir(tmp_path / "gain.nir", nodes, edges, {"dt": dt}),
                       NirOptions(reset="zero"))
    assert list(graph.nodes) == ["in", "fc", "lif", "out"]
    gain = dt * r / tau
    np.testing.assert_allclose(graph.nodes["fc"].weight, weight * gain[:, None], rtol=1e-6)
    np.testing.assert_allclose(graph.nodes["fc"].bias, gain * bias + dt * v_leak / tau, rtol=1e-6)
    np.testing.assert_allclose(graph.nodes["lif"].beta, 1 - dt / 4e-3)
    assert "time_bins" not in graph.metadata  # left for the compile step to fill
    assert graph.metadata["nir_import"]["dt"] == dt
    assert graph.metadata["nir_import"]["from"] == {"dt": "metadata dt", "reset": "--reset"}


@pytest.mark.parametrize("r, options", [(1e4, NirOptions(reset="zero")),  # dt = 1/r implied
                                         (1.0, NirOptions("sinabs", "zero")),  # gain 1 per step
                                         (1.0, NirOptions(reset="zero", dt=1.0))])
def test_integrate_and_fire_and_linear_nodes_import(r: float, options: NirOptions,
                                                     tmp_path: Path) -> None:
    """IF: ``dv/dt = r I``, so a step of ``dt`` adds ``dt r I`` (1 here every way)."""
    nodes = {"in": nir.Input(np.array([3])), "fc": nir.Linear(weight=np.eye(3)),
             "if": nir.IF(r=np.full(3, r), v_threshold=np.full(3, 0.5)),
             "out": nir.Output(np.array([3]))}
    edges = [("in", "fc"), ("fc", "if"), ("if", "out")]
    graph = import_nir(write_nir(tmp_path / "if.nir", nodes, edges), options)
    assert isinstance(graph.nodes["if"], IF) and graph.nodes["if"].reset == "zero"
    assert fuse(graph).layers[0].neuron == "if" and fuse(graph).layers[0].beta == 1.0
    assert isinstance(graph.nodes["fc"], Affine) and not graph.nodes["fc"].bias.any()
    np.testing.assert_array_equal(graph.nodes["fc"].weight, np.eye(3))
    assert isinstance(graph.nodes["in"], Input)


# --- snnTorch: its own exporter, its own step-by-step run ---------------------------------


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_snntorch_network_imports_with_the_same_spikes(kind: str, tmp_path: Path,
                                                       frames: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    torch.set_num_threads(2)
    net = snntorch_nets(torch, snn)[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        exported = export_to_nir(net, torch.zeros(1, *SENSOR), ignore_dims=[0])
    path = tmp_path / f"snntorch_{kind}.nir"
    nir.write(path, exported)
    sample = frames[:12]
    graph = import_nir(path, NirOptions(reset="zero"))  # snnTorch writes no reset mode
    assert graph.metadata["nir_import"]["dt"] == pytest.approx(1e-4)  # implied: r = tau/dt
    ours = FloatSimulator(fuse(graph), "hard").run(sample, record=True).records
    theirs = snntorch_spikes(net, sample, torch, snn)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.shape == reference.shape
        assert 0.0 < reference.mean() < 1.0
        agreement = float((mine == reference).mean())
        assert agreement >= MIN_AGREEMENT, f"{kind}: spike agreement {agreement:.5f}"
