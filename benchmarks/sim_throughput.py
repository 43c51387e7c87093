"""Integer simulator throughput against torch float hard-spike inference, side by side.

Both run the same network on the same batch of frames in one process with the same
thread count; the ratio is (integer samples/s) / (torch samples/s). Target: >= 0.5.

    python benchmarks/sim_throughput.py                       # random N-MNIST-sized net
    python benchmarks/sim_throughput.py --checkpoint runs/x/checkpoint.pt --data-dir DIR
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sastc.allocator import tune_allocator
from sastc.ir import fuse
from sastc.ir.build import graph_from_spec, random_params
from sastc.passes.quantize import quantize_net
from sastc.sim import IntegerSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target
from sastc.train.evaluate import to_time_major
from sastc.train.model import SpikingNet

DEFAULT_ARCH = "conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout"


def random_setup(arch: str, time_bins: int, batch: int, seed: int) -> tuple[Any, Any, np.ndarray]:
    spec = parse_arch(arch, (2, 34, 34), 10)
    params = random_params(spec, seed, gain=3.0)
    graph = graph_from_spec(spec, params, {"time_bins": time_bins})
    model = SpikingNet(spec, "hard")
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    frames = (np.random.default_rng(seed).random((batch, time_bins, 2, 34, 34)) < 0.04)
    return graph, model, frames.astype(np.uint8)


def checkpoint_setup(path: str, data_dir: str | None, batch: int) -> tuple[Any, Any, np.ndarray]:
    from sastc.train.eval_run import checkpoint_frames, load_model
    from sastc.train.export import checkpoint_graph

    model, saved = load_model(path)
    graph, _ = checkpoint_graph(path)
    frames = checkpoint_frames(saved, {"data_dir": data_dir}, "test", progress=False)
    return graph, model, frames.frames[:batch]


def seconds_per_run(run: Callable[[], object], repeats: int) -> list[float]:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def measure(graph, model, frames: np.ndarray, profile: str, repeats: int) -> dict[str, Any]:
    qnet = quantize_net(fuse(graph), load_target(profile).profile.numerics)
    simulator = IntegerSimulator(qnet)
    inputs = to_time_major(frames)

    def torch_run() -> None:
        with torch.no_grad():
            model(inputs)

    int_times = seconds_per_run(lambda: simulator.run(frames), repeats)
    torch_times = seconds_per_run(torch_run, repeats)
    batch = len(frames)
    ratios = [t / i for t, i in zip(torch_times, int_times, strict=True)]
    return {"profile": profile, "batch": batch, "time_bins": int(frames.shape[1]),
            "int_samples_per_s": batch / statistics.median(int_times),
            "torch_samples_per_s": batch / statistics.median(torch_times),
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "simulator_kernels": [d.__name__ for d in simulator.dtypes]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--data-dir")
    parser.add_argument("--arch", default=DEFAULT_ARCH)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--time-bins", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tune_allocator()  # as the sastc command does; applies to torch and numpy alike
    graph, model, frames = (checkpoint_setup(args.checkpoint, args.data_dir, args.batch)
                            if args.checkpoint else
                            random_setup(args.arch, args.time_bins, args.batch, 0))
    rows = [measure(graph, model, frames, profile, args.repeats)
            for profile in ("int8-fixed", "int4-fixed")]
    print(f"torch {torch.__version__}, {args.threads} threads, batch {len(frames)}, "
          f"T={frames.shape[1]}")
    print(f"{'profile':<12}{'integer sim/s':>15}{'torch hard/s':>15}{'ratio':>8}  (min-max)")
    for row in rows:
        print(f"{row['profile']:<12}{row['int_samples_per_s']:>15.1f}"
              f"{row['torch_samples_per_s']:>15.1f}{row['ratio_median']:>8.2f}  "
              f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
