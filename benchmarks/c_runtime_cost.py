"""Instructions per effective synaptic operation of the C runtime (callgrind).

For each architecture and profile: build a QNet (random weights, seeded), emit
it with the ``c-header`` emitter, compile the host harness with ``-O2``, run
``sastc_classify`` (reset + T steps + argmax) on every sample under
``valgrind --tool=callgrind --toggle-collect=sastc_classify`` and divide the
instructions counted inside it by the effective SynOps of the same samples
(``IntegerSimulator`` with ``synops_counter()``). Everything the runtime does
per sample counts: event scatter, leak/threshold of every neuron, spike packing.

    python benchmarks/c_runtime_cost.py --data-dir PATH/TO/NMNIST --samples 20
    python benchmarks/c_runtime_cost.py            # random 5% frames instead
    python benchmarks/c_runtime_cost.py --build build-int8 --data-dir PATH/TO/NMNIST  # a compiled model

Needs gcc and valgrind.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from sastc.backends import EmitInput
from sastc.backends.c_header import emit_c_header
from sastc.ir import fuse
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.quantized import QNet
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import FLAG_CLASSIFY, build_harness
from sastc.sim.int_sim import IntegerSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target

ARCHS = ("conv(16,5,stride=2) conv(32,3,stride=2) readout",
         "conv(16,5,stride=2) pool(2) conv(32,3) dense(64) readout")
PROFILES = ("int8-fixed", "int4-fixed")
INPUT_SHAPE = (2, 34, 34)
TIME_BINS = 16


def build_qnet(arch: str, profile: str, seed: int) -> tuple[QNet, EmitInput]:
    """A realistic QNet: random weights (gain 3), quantized with the profile's numerics."""
    spec = parse_arch(arch, INPUT_SHAPE, 10)
    graph = graph_from_spec(spec, random_params(spec, seed, gain=3.0),
                            {"time_bins": TIME_BINS, "classes": [str(i) for i in range(10)]})
    net = fuse(graph)
    qnet = quantize_net(net, load_target(profile).profile.numerics)
    return qnet, EmitInput(graph, net, qnet)


def load_build(build: str) -> tuple[QNet, EmitInput]:
    """The QNet and float graph of a directory written by ``sastc compile``."""
    from sastc.ir.graph import load_graph
    from sastc.ir.quantized import load_qnet

    graph = load_graph(Path(build) / "graph.sastc.npz")
    qnet = load_qnet(Path(build) / "model.npz")
    return qnet, EmitInput(graph, fuse(graph), qnet)


def load_samples(data_dir: str | None, samples: int, seed: int,
                 time_bins: int = TIME_BINS) -> tuple[np.ndarray, str]:
    """N-MNIST test frames (class-stratified) or random 5% frames; and which it is."""
    if data_dir:
        from sastc.data import load_frames

        frames = load_frames("nmnist", "test", data_dir=data_dir, time_bins=time_bins,
                             limit=samples, cache_dir=False, progress=False).frames
        return frames, f"N-MNIST test, first {samples} of the stratified order"
    rng = np.random.default_rng(seed)
    frames = (rng.random((samples, time_bins, *INPUT_SHAPE)) < 0.05).astype(np.uint8)
    return frames, f"{samples} random frames, 5% density"


def callgrind_instructions(executable: Path, frames: np.ndarray, workdir: Path) -> int:
    """Instructions executed inside sastc_classify over all samples."""
    out_file = workdir / "callgrind.out"
    header = b"SAI1" + np.array([frames.shape[0], frames.shape[1], FLAG_CLASSIFY],
                                "<u4").tobytes()
    command = ["valgrind", "--tool=callgrind", "--toggle-collect=sastc_classify",
               f"--callgrind-out-file={out_file}", str(executable)]
    subprocess.run(command, input=header + np.ascontiguousarray(frames).tobytes(),
                   capture_output=True, check=True)
    match = re.search(r"^summary:\s+(\d+)", out_file.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no summary line in {out_file}")
    return int(match.group(1))


def measure(qnet: QNet, emit_input: EmitInput, frames: np.ndarray, opt: str,
            extra_flags: tuple[str, ...] = ()) -> dict:
    """Instructions, effective SynOps and their ratio for one model on ``frames``."""
    simulator = IntegerSimulator(qnet)
    counter = simulator.synops_counter()
    simulator.run(frames, synops=counter)
    synops = counter.result().total_event_weighted * frames.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp)
        emit_c_header(emit_input, build)
        executable = build_harness(build, opt=opt, extra_flags=extra_flags)
        instructions = callgrind_instructions(executable, frames, build)
    return {"instructions": instructions, "synops": synops, "ratio": instructions / synops}


def report(name: str, row: dict, samples: int) -> None:
    print(f"{name:72s} instructions/sample {row['instructions'] / samples:12.0f} "
          f"effective SynOps/sample {row['synops'] / samples:12.0f} "
          f"instructions/SynOp {row['ratio']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="N-MNIST folder (tonic layout); omit for random frames")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opt", default="-O2")
    parser.add_argument("--cflags", default="", help="extra compiler flags, e.g. -march=x86-64-v2")
    parser.add_argument("--arch", action="append", help="architecture spec (repeatable)")
    parser.add_argument("--profile", action="append", choices=PROFILES)
    parser.add_argument("--build", action="append",
                        help="a build directory from 'sastc compile' (repeatable); replaces --arch")
    args = parser.parse_args()
    flags = tuple(args.cflags.split())
    if args.build:
        for build in args.build:
            qnet, emit_input = load_build(build)
            frames, source = load_samples(args.data_dir, args.samples, args.seed, qnet.time_bins)
            print(f"data: {source}; gcc {args.opt} {args.cflags}")
            report(build, measure(qnet, emit_input, frames, args.opt, flags), frames.shape[0])
        return
    frames, source = load_samples(args.data_dir, args.samples, args.seed)
    print(f"data: {source}; gcc {args.opt} {args.cflags}; per sample = total / {frames.shape[0]}")
    for arch in args.arch or ARCHS:
        for profile in args.profile or PROFILES:
            qnet, emit_input = build_qnet(arch, profile, args.seed)
            report(f"{profile} {arch}", measure(qnet, emit_input, frames, args.opt, flags),
                   frames.shape[0])


if __name__ == "__main__":
    main()
