"""How exactly NIR and ONNX carry a model: spike agreement on real N-MNIST recordings.

1. snnTorch -> NIR -> sastc: two snnTorch networks (dense; conv + average pooling) are
   exported with snnTorch's own NIR exporter, imported by sastc, and simulated; spikes are
   compared with snnTorch's own step-by-step run of the same network.
2. sastc -> NIR -> sastc: a trained checkpoint is exported and read back.
3. sastc -> ONNX: onnxruntime steps the float graph (against the float hard-spike
   simulator) and the INT8/INT4 graphs (against the integer simulator).

    python benchmarks/interchange_agreement.py --checkpoint runs/x/checkpoint.pt \\
        --data-dir /path/to/NMNIST

Needs the test extras (snntorch, onnxruntime) and a checkout (it uses tests/).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

from sastc.backends import EmitInput
from sastc.backends.nir_export import emit_nir
from sastc.backends.nir_import import import_nir
from sastc.backends.onnx_export import emit_onnx
from sastc.data import load_frames
from sastc.ir.lower import fuse
from sastc.passes.quantize import quantize_net
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.onnx_runner import OnnxRunner
from sastc.targets import load_target
from sastc.train.export import checkpoint_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.snntorch_models import snntorch_nets, snntorch_spikes

SENSOR = (2, 34, 34)


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


def snntorch_rows(frames: np.ndarray, work: Path) -> None:
    for kind, net in snntorch_nets(torch, snn).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            exported = export_to_nir(net, torch.zeros(1, *SENSOR), ignore_dims=[0])
        path = work / f"snntorch_{kind}.nir"
        nir.write(path, exported)
        ours = FloatSimulator(fuse(import_nir(path)), "hard").run(frames, record=True).records
        theirs = snntorch_spikes(net, frames, torch, snn)
        print(f"  snnTorch {kind:<6} -> NIR -> sastc: {agreements(ours, theirs)}")


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
        snntorch_rows(test.frames, Path(work))
        checkpoint_rows(args.checkpoint, test.frames, Path(work))


if __name__ == "__main__":
    main()
