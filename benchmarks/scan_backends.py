"""The LIF scan's CPU backends side by side: the torch-op scan and the fused C kernel.

Part 1, the scan alone, on each spiking layer of the N-MNIST network at T = 16, batch 32
(``[16, 32, 16, 17, 17]``, ``[16, 32, 32, 8, 8]``, ``[16, 32, 64]``): forward (keeping
``u_pre``, as in training) and backward, surrogate and conventional spikes.
Part 2, one training step of ``SpikingNet`` on that network (forward, cross-entropy,
backward, Adam), with ``SASTC_SCAN=torch`` and ``SASTC_SCAN=cpu-fused``.

Before timing, the hard spikes of every layer are compared on one batch between the
two backends and the autograd reference (``lif_scan_reference``): the counts of
differing spikes are printed. The repeats of the two backends are interleaved, so that
load from other programs hits both alike; the tables give medians and the median of the
per-repeat time ratios (torch / fused) with its range.

    python benchmarks/scan_backends.py                      # synthetic 34x34 recordings
    python benchmarks/scan_backends.py --nmnist-dir PATH    # real N-MNIST frames
    python benchmarks/scan_backends.py --threads 1 --repeats 21 --json scan.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F

import sastc.train.model as sastc_model
from sastc.allocator import tune_allocator
from sastc.data import DATASETS, load_frames
from sastc.spec import ArchSpec, Conv, Dense, parse_arch
from sastc.train.evaluate import to_time_major
from sastc.train.lif import lif_scan_reference
from sastc.train.model import SpikingNet, Trace, init_weights
from sastc.train.scan import cpu_kernel
from sastc.train.scan.rule import ScanRule
from sastc.train.scan.torch_ops import backward_scan, forward_scan

BACKENDS = ("torch", "cpu-fused")
MODES = ("surrogate", "conventional")


def nmnist_spec() -> ArchSpec:
    return parse_arch(DATASETS["nmnist"].default_arch, (2, 34, 34), 10, 5.0)


def frames_batch(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch ``(frames [T, B, 2, 34, 34], labels)``: N-MNIST or synthetic recordings."""
    common = {"time_bins": args.time_bins, "cache_dir": False, "progress": False}
    if args.nmnist_dir:
        data = load_frames("nmnist", "train", data_dir=args.nmnist_dir, limit=args.batch,
                           **common)
    else:
        data = load_frames("synthetic", "train", synthetic={"n_train": args.batch,
                                                             "resolution": 34,
                                                             "num_classes": 10}, **common)
    return to_time_major(data.frames[:args.batch]), torch.from_numpy(data.labels[:args.batch])


def spiking_shapes(spec: ArchSpec, steps: int, batch: int) -> list[tuple[int, ...]]:
    """``[T, B, ...]`` of each spiking layer's input current."""
    shapes = spec.shapes()
    return [(steps, batch, *shapes[i + 1]) for i, layer in enumerate(spec.layers)
            if isinstance(layer, (Conv, Dense))]


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each run per repeat; one untimed call each first, the order rotating."""
    names = list(runs)
    for name in names:
        runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def compare(times: dict[str, list[float]]) -> dict[str, float]:
    """Median milliseconds of both, and the median, min and max of torch / fused per repeat."""
    ratios = [a / b for a, b in zip(times["torch"], times["cpu-fused"], strict=True)]
    return {"torch_ms": 1000 * statistics.median(times["torch"]),
            "fused_ms": 1000 * statistics.median(times["cpu-fused"]),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios)}


def scan_rows(spec: ArchSpec, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 1: forward and backward of each layer and mode, torch against fused."""
    rows = []
    for shape in spiking_shapes(spec, args.time_bins, args.batch):
        current, grad = torch.randn(shape) * 0.6, torch.randn(shape)
        for mode in MODES:
            rule = ScanRule(0.9, 1.0, spec.steepness, mode)
            for part, runs in (("forward", _forward_runs(current, rule)),
                               ("backward", _backward_runs(current, grad, rule))):
                rows.append({"shape": list(shape), "mode": mode, "part": part,
                             **compare(interleaved(runs, args.repeats))})
    return rows


def _forward_runs(current: torch.Tensor, rule: ScanRule) -> dict[str, Callable[[], object]]:
    return {"torch": lambda: forward_scan(current, rule),
            "cpu-fused": lambda: cpu_kernel.forward(current, rule)}


def _backward_runs(current: torch.Tensor, grad: torch.Tensor, rule: ScanRule
                   ) -> dict[str, Callable[[], object]]:
    spikes, u_pre = forward_scan(current, rule)
    return {"torch": lambda: backward_scan(grad, u_pre, spikes, rule),
            "cpu-fused": lambda: cpu_kernel.backward(grad, u_pre, spikes, rule)}


@contextlib.contextmanager
def scan_backend(name: str) -> Iterator[None]:
    """``SASTC_SCAN=name`` for the block (the scan reads it on every call)."""
    with mock.patch.dict(os.environ, {"SASTC_SCAN": name}):
        yield


def step_rows(spec: ArchSpec, batch: tuple[torch.Tensor, torch.Tensor],
              args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 2: one training step per repeat, each mode, torch against fused scans."""
    rows = []
    for mode in MODES:
        runs = {}
        for backend in BACKENDS:
            model = SpikingNet(spec, mode)
            init_weights(model, 2.0, args.seed)
            optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
            runs[backend] = lambda m=model, o=optimizer, b=backend: _train_step(m, o, batch, b)
        rows.append({"mode": mode, **compare(interleaved(runs, args.repeats))})
    return rows


def _train_step(model: SpikingNet, optimizer: torch.optim.Optimizer,
                batch: tuple[torch.Tensor, torch.Tensor], backend: str) -> None:
    with scan_backend(backend):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(batch[0]), batch[1]).backward()
        optimizer.step()


def hard_spike_differences(spec: ArchSpec, frames: torch.Tensor, seed: int) -> dict[str, int]:
    """Differing hard spikes (all layers) of each backend against the reference scan."""
    model = SpikingNet(spec, "hard")
    init_weights(model, 2.0, seed)
    spikes = {}
    with torch.no_grad():
        for name in (*BACKENDS, "reference"):
            trace = Trace()
            if name == "reference":
                with mock.patch.object(sastc_model, "lif_scan", lif_scan_reference):
                    model(frames, trace)
            else:
                with scan_backend(name):
                    model(frames, trace)
            spikes[name] = trace.spikes
    ref = spikes["reference"]
    counts = {name: sum(int((a != b).sum()) for a, b in zip(spikes[name], ref, strict=True))
              for name in BACKENDS}
    return {**counts, "spikes": sum(s.numel() for s in ref)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats (default 15)")
    parser.add_argument("--time-bins", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nmnist-dir", help="real N-MNIST frames (tonic layout) for part 2")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    return parser.parse_args(argv)


def print_tables(report: dict[str, Any]) -> None:
    print("part 1: scan alone (ms, median; x = torch / fused, median of repeats [range])")
    for r in report["scan"]:
        print(f"  {r['shape']!s:<22} {r['mode']:<13} {r['part']:<9} torch {r['torch_ms']:7.2f}"
              f"  fused {r['fused_ms']:7.2f}  x{r['ratio']:.2f} [{r['ratio_min']:.2f}-"
              f"{r['ratio_max']:.2f}]")
    print("part 2: training step of SpikingNet (ms, median)")
    for r in report["step"]:
        print(f"  {r['mode']:<13} torch {r['torch_ms']:7.1f}  fused {r['fused_ms']:7.1f}  "
              f"x{r['ratio']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    tune_allocator()
    if not cpu_kernel.available():
        raise SystemExit("the fused CPU scan is not available here (see the log line above)")
    spec, batch = nmnist_spec(), frames_batch(args)
    differences = hard_spike_differences(spec, batch[0], args.seed)
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.2f}; hard spikes differing from the reference scan: "
          f"torch {differences['torch']}, fused {differences['cpu-fused']} "
          f"of {differences['spikes']}", flush=True)
    report = {"settings": vars(args), "hard_spike_differences": differences,
              "scan": scan_rows(spec, args), "step": step_rows(spec, batch, args),
              "load_average_end": os.getloadavg()[0]}
    print_tables(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
