"""How exactly NIR and ONNX carry a model: spike agreement on real N-MNIST recordings.

1. peers -> NIR -> sastc: networks built in snnTorch (dense; conv + average pooling),
   SpikingJelly, Sinabs (IAF, LIF) and Norse, exported with each framework's own NIR
   exporter, imported by sastc (with the options the file cannot carry) and simulated;
   spikes are compared with the framework's own step-by-step run of the same network.
2. sastc -> NIR -> peers: the checkpoint written in each flavour (and in the spec flavour)
   and run by each framework's own importer, against sastc's float hard-spike simulator.
3. sastc -> NIR -> sastc: the checkpoint exported and read back.
4. sastc -> ONNX: onnxruntime steps the float graph (against the float hard-spike
   simulator) and the INT8/INT4 graphs (against the integer simulator).
5. SynOps of the checkpoint per layer in both conventions, and NeuroBench's own
   SynapticOperations on the same recordings.

    python benchmarks/interchange_agreement.py --checkpoint runs/x/checkpoint.pt \\
        --data-dir /path/to/NMNIST

Needs the test and peers extras and a checkout (it uses tests/).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from sastc.backends import EmitInput
from sastc.backends.nir_export import emit_nir
from sastc.backends.nir_import import import_nir
from sastc.backends.onnx_export import emit_onnx
from sastc.data import load_frames
from sastc.ir.graph import Graph
from sastc.ir.lower import fuse
from sastc.passes.quantize import quantize_net
from sastc.report import synops_table
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.onnx_runner import OnnxRunner
from sastc.targets import load_target
from sastc.train.export import checkpoint_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.nir_peers import neurobench_synops, run_in_peer
from tests.peer_models import MODEL_PEER_NETS
from tests.peer_nets import PEER_NETS


def agreements(mine: list[np.ndarray], reference: list[np.ndarray]) -> str:
    """Spike agreement per LIF layer, and 'exact' where every value is equal."""
    cells = []
    for a, b in zip(mine, reference, strict=True):
        if a.dtype == bool:
            same = float((a == b).mean())
            cells.append("100% (every spike)" if same == 1.0 else f"{100 * same:.4f}%")
        else:
            cells.append("readout equal" if np.array_equal(a, b) else
                         f"readout max |diff| {float(np.abs(a - b).max()):.1e}")
    return ", ".join(cells)


def peer_rows(frames: np.ndarray, work: Path) -> None:
    for name, peer in {**PEER_NETS, **MODEL_PEER_NETS}.items():
        net = peer.build()
        theirs = peer.run(net, frames)
        graph = import_nir(peer.export(net, work / f"{name}.nir"), peer.options)
        imported = frames.reshape(*frames.shape[:2], -1) if peer.flat_input else frames
        ours = FloatSimulator(fuse(graph), "hard").run(imported, record=True).records
        print(f"  {name:<21} -> NIR -> sastc: {agreements(ours, theirs)}")


def flavor_rows(graph: Graph, frames: np.ndarray, work: Path) -> None:
    net = fuse(graph)
    names = [name for name, node in graph.chain() if node.type_name in ("LIF", "LI")]
    kinds = {name: layer.neuron == "lif" for name, layer in zip(names, net.layers, strict=True)}
    hard = FloatSimulator(net, "hard").run(frames, record=True).records
    for peer in ("norse", "sinabs", "snntorch", "spikingjelly"):
        for flavor in ("spec", peer):
            path = emit_nir(EmitInput(graph, net, nir_flavor=flavor), work / f"{peer}-{flavor}")[0]
            try:
                result = agreements(run_in_peer(peer, path, frames, kinds), hard)
            except Exception as exc:  # what the peer does with a file not written for it
                result = f"fails: {type(exc).__name__}: {str(exc).splitlines()[0][:70]}"
            print(f"  sastc -> NIR ({flavor:<12}) -> {peer:<12}: {result}")


def synops_rows(graph: Graph, frames: np.ndarray) -> None:
    net = fuse(graph)
    counter = FloatSimulator(net, "hard").synops_counter()
    FloatSimulator(net, "hard").run(frames, synops=counter)
    print("  " + "\n  ".join(synops_table({"float-hard": counter.result().to_dict()})))
    theirs = neurobench_synops(net, frames)
    print("  NeuroBench SynapticOperations (batch 1): "
          + ", ".join(f"{key} {value:,.2f}" for key, value in theirs.items()))


def checkpoint_rows(checkpoint: str, frames: np.ndarray, work: Path) -> None:
    graph, _ = checkpoint_graph(checkpoint)
    net = fuse(graph)
    hard = FloatSimulator(net, "hard").run(frames, record=True)
    nir_path = emit_nir(EmitInput(graph, net, None, {}, "model"), work / "nir")[0]
    back = FloatSimulator(fuse(import_nir(nir_path)), "hard").run(frames, record=True)
    print(f"  checkpoint -> NIR -> sastc:      {agreements(back.records, hard.records)}")
    onnx_float = OnnxRunner(emit_onnx(EmitInput(graph, net), work / "onnx")[0]).run(
        frames, record=True)
    print(f"  ONNX float vs float hard:        {agreements(onnx_float.records, hard.records)}")
    for name in ("int8-fixed", "int4-fixed"):
        profile = load_target(name).profile
        qnet = quantize_net(net, profile.numerics)
        model = EmitInput(graph, net, qnet, dict(profile.numerics), name)
        ours = OnnxRunner(emit_onnx(model, work / name)[0]).run(frames, record=True)
        reference = IntegerSimulator(qnet).run(frames, record=True)
        same_logits = np.array_equal(ours.logits, reference.logits)
        print(f"  ONNX {name} vs integer sim: {agreements(ours.records, reference.records)}; "
              f"logits {'equal' if same_logits else 'differ'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load_frames("nmnist", "test", data_dir=args.data_dir, time_bins=16, progress=False)
    print(f"N-MNIST test recordings: {len(test)}, 16 time bins; spike agreement per LIF layer")
    with tempfile.TemporaryDirectory() as work:
        peer_rows(test.frames, Path(work))
        graph, _ = checkpoint_graph(args.checkpoint)
        flavor_rows(graph, test.frames, Path(work))
        checkpoint_rows(args.checkpoint, test.frames, Path(work))
    print("SynOps per sample (float-hard, both conventions)")
    synops_rows(graph, test.frames)


if __name__ == "__main__":
    main()
