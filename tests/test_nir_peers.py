"""NIR with the peer frameworks, on real N-MNIST recordings, spike for spike, both ways:

* sastc -> NIR flavour -> each peer's own importer (Norse, Sinabs, snnTorch, SpikingJelly)
  runs to the spikes of sastc's float hard-spike simulator (exactly), and back into sastc;
* each peer's own exporter -> sastc: what sastc's neuron models express (LIF and IF with
  either reset, CubaLIF) compiles to int8-fixed with the float import reproducing the
  peer's own run exactly; what they cannot (snnTorch's subtraction after the leak and its
  Synaptic reset, a file that does not say its reset or framework) is refused naming the node;
* SynOps in NeuroBench's convention equal NeuroBench's own ``SynapticOperations``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from sastc.backends import EmitInput
from sastc.backends.nir_export import emit_nir
from sastc.backends.nir_import import import_nir
from sastc.backends.nir_reading import NirOptions
from sastc.compile import CompileOptions, compile_model
from sastc.errors import CompileError, ConfigError, InterchangeError
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.graph import Graph
from sastc.ir.layers import FloatNet
from sastc.ir.lower import fuse
from sastc.ir.nodes import LIF
from sastc.sim.float_sim import FloatSimulator
from sastc.spec import parse_arch
from tests.nir_peers import neurobench_synops, run_in_peer
from tests.peer_models import MODEL_PEER_NETS
from tests.peer_nets import PEER_NETS
from tests.peer_refused import REFUSED

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the peers' own
nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")

SENSOR = (2, 34, 34)
TIME_BINS = 16
# recordings per check (the Sinabs networks are built for this batch size);
# SASTC_PEER_SAMPLES=100 repeats the checks on the 100 recordings docs/interchange.md quotes
SAMPLES = int(os.environ.get("SASTC_PEER_SAMPLES", "6"))
CLASSES = [str(digit) for digit in range(10)]
# a leak-free first layer (IF where LIF cannot say beta = 1), pooling, a readout that decays
ARCH = "conv(8, 3, stride=2, beta=1.0) pool(2) dense(32, beta=0.9) readout(beta=0.8)"
PEERS = {"norse": "norse.torch", "sinabs": "sinabs", "snntorch": "snntorch",
         "spikingjelly": "spikingjelly.activation_based.nir_exchange"}


@pytest.fixture(scope="module")
def frames(nmnist_dir: Path) -> np.ndarray:
    from sastc.data import load_frames

    torch.set_num_threads(2)
    return load_frames("nmnist", "test", data_dir=nmnist_dir, time_bins=TIME_BINS,
                       limit=SAMPLES, progress=False).frames


def sastc_graph(resets: tuple[str, str] = ("zero", "zero")) -> Graph:
    """:data:`ARCH` with random weights, per-channel thresholds on the first layer and the
    spiking layers' ``resets``."""
    arch = ARCH.replace("beta=0.9", f"beta=0.9, reset={resets[1]}")
    spec = parse_arch(arch, SENSOR, len(CLASSES))
    graph = graph_from_spec(spec, random_params(spec, 0, gain=3.0),
                            {"time_bins": TIME_BINS, "classes": CLASSES, "input_clip": 1})
    graph.nodes["lif0"] = LIF(1.0, np.linspace(0.6, 1.4, 8), resets[0])
    return graph


def neuron_kinds(net: FloatNet, graph: Graph) -> dict[str, bool]:
    """Neuron node name -> whether it spikes, in layer order."""
    names = [name for name, node in graph.chain() if node.type_name in ("LIF", "LI")]
    return {name: layer.neuron == "lif" for name, layer in zip(names, net.layers, strict=True)}


def assert_same_records(theirs: list[np.ndarray], ours: list[np.ndarray]) -> None:
    for mine, reference in zip(theirs, ours, strict=True):
        assert mine.shape == reference.shape
        if reference.dtype == bool:
            assert 0.0 < reference.mean() < 1.0
            np.testing.assert_array_equal(mine, reference)
        else:  # readout membranes: the same up to float32 summation order
            np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("flavor", list(PEERS))
def test_sastc_flavor_runs_in_the_peer_to_the_same_spikes(flavor: str, tmp_path: Path,
                                                          frames: np.ndarray) -> None:
    pytest.importorskip(PEERS[flavor])
    graph = sastc_graph()
    net = fuse(graph)
    path = emit_nir(EmitInput(graph, net, nir_flavor=flavor), tmp_path)[0]
    ours = FloatSimulator(net, "hard").run(frames, record=True).records
    assert_same_records(run_in_peer(flavor, path, frames, neuron_kinds(net, graph)), ours)
    back = import_nir(path)  # the file says its flavour, dt and reset: no options needed
    assert back.metadata["nir_import"]["flavor"] == flavor
    again = FloatSimulator(fuse(back), "hard").run(frames, record=True).records
    assert_same_records(again, ours)


# the peers whose importer (+ the fix-up the file's flavor_note names) subtracts as sastc does;
# snnTorch's importer builds every LIF with reset_mechanism="zero", Norse has no subtraction
@pytest.mark.parametrize("resets", [("subtract", "subtract"), ("zero", "subtract")])
@pytest.mark.parametrize("flavor", ["sinabs", "spikingjelly"])
def test_subtract_reset_runs_in_the_peer_to_the_same_spikes(flavor: str, resets: tuple[str, str],
                                                            tmp_path: Path,
                                                            frames: np.ndarray) -> None:
    pytest.importorskip(PEERS[flavor])
    graph = sastc_graph(resets)
    net = fuse(graph)
    assert [layer.reset for layer in net.layers[:2]] == list(resets)
    path = emit_nir(EmitInput(graph, net, nir_flavor=flavor), tmp_path)[0]
    note = nir.read(path, type_check=False).metadata["flavor_note"]
    subtracting = ", ".join(name for name, reset in zip(("lif0", "lif2"), resets, strict=True)
                            if reset == "subtract")
    assert f"reset subtract ({subtracting}): set" in note  # what the runner sets, by node
    ours = FloatSimulator(net, "hard").run(frames, record=True).records
    zero = FloatSimulator(fuse(sastc_graph()), "hard").run(frames, record=True).records
    assert not np.array_equal(zero[1], ours[1])  # the subtraction changes the spikes
    assert_same_records(run_in_peer(flavor, path, frames, neuron_kinds(net, graph)), ours)
    again = FloatSimulator(fuse(import_nir(path)), "hard").run(frames, record=True).records
    assert_same_records(again, ours)


@pytest.mark.parametrize("flavor", ["snntorch", "norse"])
def test_subtract_reset_is_refused_where_the_peer_cannot_run_it(flavor: str,
                                                                tmp_path: Path) -> None:
    graph = sastc_graph(("zero", "subtract"))
    with pytest.raises(CompileError, match=rf"layer 'fc2' \(lif, reset subtract\).*{flavor}.*"
                                           r"reset zero \(.*(reset_mechanism='zero'|never by)"):
        emit_nir(EmitInput(graph, fuse(graph), nir_flavor=flavor), tmp_path)


@pytest.mark.parametrize("name", list(PEER_NETS) + list(MODEL_PEER_NETS))
def test_peer_export_compiles_with_the_peers_own_spikes(name: str, tmp_path: Path,
                                                        frames: np.ndarray,
                                                        nmnist_dir: Path) -> None:
    pytest.importorskip(name.split("-")[0])
    peer = {**PEER_NETS, **MODEL_PEER_NETS}[name]
    net = peer.build()
    theirs = peer.run(net, frames)
    path = peer.export(net, tmp_path / f"{name}.nir")
    imported = frames.reshape(*frames.shape[:2], -1) if peer.flat_input else frames
    ours = FloatSimulator(fuse(import_nir(path, peer.options)), "hard").run(imported, record=True)
    assert [r.shape for r in ours.records] == [r.shape for r in theirs]
    assert_same_records(ours.records, theirs)
    options = CompileOptions("int8-fixed", str(tmp_path / "build"),
                             {"dataset": "nmnist", "data_dir": str(nmnist_dir),
                              "time_bins": TIME_BINS}, calibrate=False, verify=False,
                             progress=False, nir_source=vars(peer.options))
    report = compile_model(path, options, log=lambda _line: None)
    assert {"model.h", "model.npz"} <= set(report["files"])
    assert report["nir_source"]["reset"] == peer.options.reset


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_sastc_cannot_express_is_refused_naming_it(name: str, tmp_path: Path) -> None:
    package, export, options, fragments = REFUSED[name]
    pytest.importorskip(package)
    path = export(tmp_path / f"{name}.nir")
    pattern = "".join(f"(?=.*{re.escape(fragment)})" for fragment in fragments)
    with pytest.raises(InterchangeError, match=re.compile(pattern, re.DOTALL)):
        import_nir(path, options)


def test_options_that_contradict_the_file_or_are_missing(tmp_path: Path) -> None:
    graph = sastc_graph()
    path = emit_nir(EmitInput(graph, fuse(graph), nir_flavor="norse"), tmp_path)[0]
    with pytest.raises(ConfigError, match="--reset subtract contradicts the reset 'zero'"):
        import_nir(path, NirOptions(reset="subtract"))
    with pytest.raises(ConfigError, match=r"--dt 0.0001 contradicts the dt 0.001"):
        import_nir(path, NirOptions(dt=1e-4))
    foreign = tmp_path / "foreign.nir"
    nir.write(foreign, nir.NIRGraph.from_list(
        nir.Input(np.array([3])), nir.Affine(weight=np.eye(3), bias=np.zeros(3)),
        nir.LIF(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3),
                v_reset=np.zeros(3)), nir.Output(np.array([3]))))
    with pytest.raises(InterchangeError, match=r"needs the time step dt.*--source-flavor.*--dt"):
        import_nir(foreign, NirOptions(reset="zero"))
    read = import_nir(foreign, NirOptions(reset="zero", dt=1e-4))
    lif = next(node for node in read.nodes.values() if isinstance(node, LIF))
    assert float(lif.beta) == pytest.approx(0.9)  # beta = 1 - dt/tau
    assert read.metadata["nir_import"]["from"] == {"reset": "--reset", "dt": "--dt"}
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"--reset, --dt apply to \.nir sources only"):
        compile_model(checkpoint, CompileOptions(out_dir=str(tmp_path / "b"),
                                                 nir_source={"reset": "zero", "dt": 1e-3}))


# --- SynOps: NeuroBench's own SynapticOperations on an equivalent torch model ---------------


def test_synops_in_neurobench_convention_equal_neurobench(frames: np.ndarray) -> None:
    pytest.importorskip("neurobench")
    pytest.importorskip("snntorch")
    graph = sastc_graph()
    net = fuse(graph)
    simulator = FloatSimulator(net, "hard")
    counter = simulator.synops_counter()
    simulator.run(frames, synops=counter)
    ours = counter.result().to_dict()
    assert ours["neurobench"] == pytest.approx(neurobench_synops(net, frames), rel=1e-12)
    pooled = ours["per_layer"]["fc2"]  # after sum pooling: counts of 2..4 are events, not ACs
    assert pooled["neurobench"]["Effective_MACs"] > 0
    assert pooled["event_weighted"]["ACs"] > pooled["neurobench"]["Effective_MACs"]
    first = ours["per_layer"]["conv0"]  # binary input: both conventions agree
    assert first["event_weighted"]["ACs"] == first["neurobench"]["Effective_ACs"] > 0
