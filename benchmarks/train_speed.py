"""Training speed of sastc against snnTorch and SpikingJelly, and SAST's cost per epoch.

Part 1, throughput: samples per second of one gradient evaluation (forward, backward and
an Adam step on one minibatch) of sastc's ``SpikingNet`` (its own training step: fused
LIF scan, on CPU the minibatch in cache-sized slices), of the same network written the
usual snnTorch way (per time step, ``snn.Leaky`` with reset to zero; ``snntorch_baseline``)
and in SpikingJelly's multi-step mode (``spikingjelly_baseline``), at each (T, batch) of
``--grid``, on the CPU or a CUDA device. All get the same weights and minibatches in one
process; their repeats are interleaved so that drift on the machine hits all alike.
Before timing, ``speed_equivalence.check_equivalence`` checks on one batch that they
compute the same function (hard spikes, logits, loss, gradients).

Part 2, SAST's cost per epoch: one real epoch of ``sastc.train.epoch.run_epoch`` on the
synthetic dataset with ``mode="sast"`` (the default: ascent on half of an independent
second batch; on the same batch; the papers' step, ``--ascent-fraction 1``) against
``mode="surrogate"`` (rho = 0); no evaluation is timed.

    python benchmarks/train_speed.py                # about 8 minutes on 2 idle cores
    python benchmarks/train_speed.py --quick --grid 16x32   # about a minute
    python benchmarks/train_speed.py --device cuda --skip-epochs --torch-scan
    python benchmarks/train_speed.py --threads 1 --json speed.json
    python benchmarks/train_speed.py --profile      # also the top ops of one step
    python benchmarks/train_speed.py --no-malloc-tuning  # glibc's default allocator

The CPU timings mean something only on an otherwise idle machine: how many CPUs other
processes kept busy (from ``/proc/stat``, one second before and after the run) is
printed and stored, with a warning when it was 0.2 or more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sastc.allocator import tune_allocator
from sastc.data import DATASETS, load_frames
from sastc.data.base import FrameSet
from sastc.spec import ArchSpec, parse_arch
from sastc.train.evaluate import to_time_major

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path
from snntorch_baseline import sigmoid_surrogate  # noqa: F401  (its tests use it from here)
from speed_epochs import EPOCH_CONFIGS, epoch_costs  # noqa: F401  (tests use them from here)
from speed_equivalence import check_equivalence, detached_reset_scan  # noqa: F401
from speed_models import INIT_GAIN, make_models, spikingjelly_installed  # noqa: F401
from speed_report import (
    _cpus,
    busy_cpus,
    epoch_table,
    equivalence_line,
    machine_info,
    throughput_table,
)
from speed_timing import LR, paired_ratio, rate_summary, time_models, train_step

GRID = ((16, 32), (16, 256), (64, 128))  # (T, batch) settings of the throughput table


@dataclass(frozen=True)
class Case:
    """One network of the throughput table: architecture, square input size and classes."""

    name: str
    arch: str
    size: int
    classes: int
    channels: int = 2

    def spec(self, steepness: float = 5.0) -> ArchSpec:
        return parse_arch(self.arch, (self.channels, self.size, self.size), self.classes,
                          steepness)


CASES = (
    Case("nmnist", DATASETS["nmnist"].default_arch, 34, 10),
    Case("synthetic", DATASETS["synthetic"].default_arch, 32, 12),
    Case("strided", "conv(16, 5, stride=2) conv(32, 3, stride=2) readout", 34, 10),
    Case("pool-dense", "conv(16, 5, stride=2) pool(2) dense(128) readout", 34, 10),
)


@dataclass(frozen=True)
class Settings:
    """What the run measures and how long."""

    threads: int = 2
    time_bins: int = 16
    batch_size: int = 32
    batches: int = 4  # distinct minibatches cycled through while timing
    warmup: int = 2  # untimed steps per model before its first repeat
    repeats: int = 7
    iters: int = 4  # steps per timed repeat
    epoch_samples: int = 2000  # the synthetic dataset's default train split
    epoch_repeats: int = 3
    seed: int = 0
    device: str = "cpu"
    torch_scan: bool = False  # also time sastc with the torch-op scan instead of the kernel


QUICK = Settings(repeats=3, iters=2, epoch_samples=256, epoch_repeats=2)


# --- data ---------------------------------------------------------------------------------

def synthetic_set(size: int, classes: int, count: int, time_bins: int, seed: int = 0
                  ) -> FrameSet:
    """``count`` samples of the built-in synthetic dataset at ``size x size`` (no cache)."""
    return load_frames("synthetic", "train", time_bins=time_bins, cache_dir=False,
                       progress=False, seed=seed,
                       synthetic={"n_train": count, "resolution": size, "num_classes": classes})


def make_batches(data: FrameSet, batch_size: int, count: int, seed: int = 0
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` minibatches ``(frames [T, B, C, H, W] float, labels)`` of shuffled samples."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    frames, labels = torch.from_numpy(data.frames), torch.from_numpy(data.labels)
    return [(to_time_major(frames[idx]), labels[idx])
            for idx in order[:batch_size * count].split(batch_size)]


def case_batches(case: Case, settings: Settings, nmnist_dir: str | None = None
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches for ``case``: N-MNIST if a directory is given (nmnist case), else
    synthetic recordings of the case's size and classes."""
    count = settings.batch_size * settings.batches
    if nmnist_dir and case.name == "nmnist":
        data = load_frames("nmnist", "train", data_dir=nmnist_dir, time_bins=settings.time_bins,
                           limit=count, cache_dir=False, progress=False)
    else:
        data = synthetic_set(case.size, case.classes, count, settings.time_bins, settings.seed)
    return make_batches(data, settings.batch_size, settings.batches, settings.seed)


def steps_per_repeat(settings: Settings) -> int:
    """Fewer steps per timed repeat for large ``T x batch`` (about the same work each)."""
    return max(1, settings.iters * 512 // (settings.time_bins * settings.batch_size))


def throughput(case: Case, settings: Settings, batches: list[tuple[torch.Tensor, torch.Tensor]]
               ) -> dict[str, Any]:
    """Samples/s of every model of :func:`make_models` on ``case``, and the ratios."""
    models = make_models(case.spec(), settings.seed, settings.device, settings.torch_scan)
    batches = [(f.to(settings.device), y.to(settings.device)) for f, y in batches]
    timings = time_models(models, batches, settings.warmup, settings.repeats,
                          steps_per_repeat(settings), settings.device)
    row: dict[str, Any] = {
        "case": case.name, "arch": case.arch, "input": [case.channels, case.size, case.size],
        "time_bins": settings.time_bins, "batch_size": settings.batch_size,
        "device": settings.device,
        "samples_per_s": {n: rate_summary(t.wall, settings.batch_size) for n, t in timings.items()},
        "cpu_samples_per_s": {n: rate_summary(t.cpu, settings.batch_size)
                              for n, t in timings.items()},
        "seconds_per_step": {n: t.wall for n, t in timings.items()},
        "page_faults_per_step": {n: statistics.median(t.faults) for n, t in timings.items()},
    }
    for peer in ("snntorch", "spikingjelly"):
        if peer in timings:
            row[f"ratio_vs_{peer}"] = {n: paired_ratio(t.wall, timings[peer].wall)
                                       for n, t in timings.items() if n.startswith("sastc")}
    return row


# --- profile, machine, report -------------------------------------------------------------

def profile_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], steps: int = 3,
                 rows: int = 15) -> str:
    """Top ops by self CPU time over ``steps`` training steps (after one untimed step)."""
    from torch.profiler import ProfilerActivity, profile

    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    train_step(model, optimizer, *batch)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(model, optimizer, *batch)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def positive_int(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a short epoch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--nmnist-dir", help="time the nmnist case on real N-MNIST frames "
                        "(tonic layout) instead of synthetic 34x34 recordings")
    parser.add_argument("--cases", default="nmnist,synthetic",
                        help="comma-separated throughput cases, of: "
                             + ", ".join(c.name for c in CASES))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the models train (cuda: sastc's Triton scan where Triton "
                             "is installed)")
    parser.add_argument("--grid", default=",".join(f"{t}x{b}" for t, b in GRID),
                        help="comma-separated TxBATCH settings (default %(default)s)")
    parser.add_argument("--torch-scan", action="store_true",
                        help="also time sastc with its torch-op scan instead of the fused kernel")
    parser.add_argument("--skip-epochs", action="store_true", help="throughput only")
    parser.add_argument("--epoch-repeats", type=positive_int, metavar="N",
                        help="interleaved repeats of each epoch config (default "
                             f"{Settings.epoch_repeats}; {QUICK.epoch_repeats} with --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="print the top ops of a training step of sastc and snnTorch")
    parser.add_argument("--no-malloc-tuning", dest="malloc_tuning", action="store_false",
                        help="keep glibc's default allocator settings (sastc train tunes them, "
                             "see sastc/allocator.py; the tuning applies to both libraries)")
    return parser.parse_args(argv)


def parse_grid(text: str) -> list[tuple[int, int]]:
    """``"16x32,64x128"`` -> ``[(16, 32), (64, 128)]``."""
    try:
        grid = [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]
    except ValueError:
        grid = []
    if not grid or any(len(g) != 2 or min(g) < 1 for g in grid):
        raise SystemExit(f"--grid: expected TxBATCH[,TxBATCH...], e.g. 16x32,64x128; got {text!r}")
    return grid  # type: ignore[return-value]


def throughput_part(cases: list[Case], settings: Settings, grid: list[tuple[int, int]],
                    nmnist_dir: str | None, profile: bool, report: dict[str, Any]) -> None:
    """Per case and (T, batch): check equivalence (stop if it fails), time, optionally
    profile; print the table."""
    for case in cases:
        for steps, batch in grid:
            run = replace(settings, time_bins=steps, batch_size=batch)
            batches = case_batches(case, run, nmnist_dir)
            check = check_equivalence(case.spec(), *batches[0], seed=run.seed,
                                      device=run.device)
            report["equivalence"][f"{case.name} T={steps} B={batch}"] = check
            print(equivalence_line(f"{case.name} T={steps} B={batch}", check), flush=True)
            if not check["ok"]:
                raise SystemExit(f"{case.name}: sastc and its peers disagree; not timing")
            report["throughput"].append(throughput(case, run, batches))
            if profile:
                profile_models(case, run, batches[0])
    print(f"\nsamples/s per gradient evaluation (forward, backward, Adam step), "
          f"{settings.device}, {settings.threads} threads, {settings.repeats} repeats; "
          "x peer = peer time / sastc time, paired per repeat [min-max]")
    print(throughput_table(report["throughput"]), flush=True)


def profile_models(case: Case, settings: Settings, batch: tuple[torch.Tensor, torch.Tensor]
                   ) -> None:
    models = make_models(case.spec(), settings.seed, settings.device)
    batch = (batch[0].to(settings.device), batch[1].to(settings.device))
    for name in ("sastc-surrogate", "snntorch", "spikingjelly"):
        if name in models:
            print(f"--- {case.name}, {name}: top ops of a training step")
            print(profile_step(models[name], batch))


def epoch_part(settings: Settings, report: dict[str, Any]) -> None:
    data = synthetic_set(32, 12, settings.epoch_samples, settings.time_bins, settings.seed)
    report["epochs"] = epoch_costs(data, settings.batch_size, settings.seed,
                                   settings.epoch_repeats)
    print(f"\nSAST cost per epoch: run_epoch on synthetic ({len(data)} samples, "
          f"{report['epochs']['steps']} steps, batch {settings.batch_size}, rho 0.2)")
    print(epoch_table(report["epochs"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    settings = replace(QUICK if args.quick else Settings(), threads=args.threads,
                       device=args.device, torch_scan=args.torch_scan)
    if args.epoch_repeats is not None:
        settings = replace(settings, epoch_repeats=args.epoch_repeats)
    grid = parse_grid(args.grid)
    torch.set_num_threads(settings.threads)
    malloc_tuned = tune_allocator() if args.malloc_tuning else False
    if args.malloc_tuning and not malloc_tuned:
        print("warning: --malloc-tuning: mallopt is not available here (not glibc?)")
    machine = machine_info(settings.threads)
    report: dict[str, Any] = {"machine": machine, "equivalence": {}, "throughput": [],
                              "settings": {**asdict(settings), "malloc_tuning": malloc_tuned}}
    print(f"torch {machine['torch']}, snntorch {machine['snntorch']}, {settings.threads} "
          f"threads, {machine['cpu']} ({machine['cpu_count']} CPUs); other processes busy on "
          f"{_cpus(machine['busy_cpus'])} CPUs; malloc tuning {'on' if malloc_tuned else 'off'}",
          flush=True)
    throughput_part([c for c in CASES if c.name in args.cases.split(",")], settings, grid,
                    args.nmnist_dir, args.profile, report)
    if not args.skip_epochs:
        epoch_part(settings, report)
    machine["busy_cpus_end"] = busy_cpus()
    busy = max(machine["busy_cpus"] or 0.0, machine["busy_cpus_end"] or 0.0)
    if busy >= 0.2:
        print(f"\nwarning: other processes kept {busy:.1f} CPUs busy (before: "
              f"{_cpus(machine['busy_cpus'])}, after: {_cpus(machine['busy_cpus_end'])}); "
              "the timings are noisy")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
