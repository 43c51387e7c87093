"""Training speed of sastc against snnTorch on the same network, and SAST's cost per epoch.

Part 1, throughput: samples per second of one gradient evaluation (forward,
backward and an Adam step on one minibatch) of sastc's ``SpikingNet`` and of the
same network written the usual snnTorch way (per time step: ``nn.Conv2d`` /
``nn.Linear`` on that step's ``[B, ...]`` frame, then ``snn.Leaky`` with reset to
zero and a sigmoid surrogate; readout ``nn.Linear`` into ``snn.Leaky`` without
reset, logits = mean membrane over time). Both get the same weights (copied from
sastc), the same minibatches, T, batch size and thread count, in one process;
their repeats are interleaved so that drift on the machine hits both alike.

Before timing, equivalence is checked on one batch (see :func:`check_equivalence`):
hard mode must give identical spikes and the same logits as snnTorch; sastc's
``conventional`` mode (hard forward, sigmoid-surrogate backward, the same function
snnTorch trains) must give the same loss, and its gradients must match an
autograd reference, while snnTorch's gradients must match that reference with the
reset detached (snnTorch detaches the reset, sastc differentiates through it).

Part 2, SAST's cost per epoch: one real epoch of ``sastc.train.epoch.run_epoch``
on the synthetic dataset with ``mode="sast"`` (second batch independent, and the
same batch) against ``mode="surrogate"`` (rho = 0); no evaluation is timed.

    python benchmarks/train_speed.py                # about 2 minutes on 2 idle cores
    python benchmarks/train_speed.py --quick        # under a minute
    python benchmarks/train_speed.py --threads 1 --json speed.json
    python benchmarks/train_speed.py --profile      # also the top ops of one step
    python benchmarks/train_speed.py --no-malloc-tuning  # glibc's default allocator

The timings mean something only on an otherwise idle machine: how many CPUs other
processes kept busy (from ``/proc/stat``, one second before and after the run) is
printed and stored, with a warning when it was 0.2 or more.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

import sastc.train.model as sastc_model
from sastc.allocator import tune_allocator
from sastc.data import DATASETS, load_frames
from sastc.data.base import FrameSet
from sastc.spec import ArchSpec, parse_arch
from sastc.train.config import TrainConfig
from sastc.train.data_setup import TrainingData
from sastc.train.distributed import Dist
from sastc.train.epoch import run_epoch
from sastc.train.evaluate import to_time_major
from sastc.train.lif import lif_scan_reference
from sastc.train.model import SpikingNet, Trace, init_weights
from sastc.train.run import new_run
from sastc.train.sam import SAM

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path
from snntorch_baseline import (
    SnnTorchNet,
    copy_weights,
    sigmoid_surrogate,  # noqa: F401  (part of this script's interface: its tests use it)
)

INIT_GAIN = 2.0  # sastc's default --init-gain
LR = 2e-3  # sastc's default --lr (Adam)


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


QUICK = Settings(repeats=3, iters=2, epoch_samples=256, epoch_repeats=2)


def make_models(spec: ArchSpec, seed: int) -> dict[str, nn.Module]:
    """sastc in its two training modes and snnTorch (step-wise and folded), same weights."""
    torch.manual_seed(seed)
    models: dict[str, nn.Module] = {}
    for mode in ("conventional", "surrogate"):
        model = SpikingNet(spec, mode)
        init_weights(model, INIT_GAIN, seed)
        models[f"sastc-{mode}"] = model
    for name, fold in (("snntorch", False), ("snntorch-folded", True)):
        model = SnnTorchNet(spec, fold_synapses=fold)
        copy_weights(models["sastc-conventional"], model)
        models[name] = model
    return models


# --- equivalence --------------------------------------------------------------------------

def detached_reset_scan(current: torch.Tensor, beta: float, theta: float, k: float,
                        mode: str = "conventional") -> torch.Tensor:
    """sastc's LIF rule in plain autograd with the reset detached, as snnTorch does it:
    hard forward, ``k sigma (1 - sigma)`` backward through the spike output only
    (``mode`` is accepted for ``lif_scan``'s signature and ignored)."""
    u = torch.zeros_like(current[0])
    out = []
    for t in range(current.shape[0]):
        u_pre = beta * u + current[t]
        smooth = torch.sigmoid(k * (u_pre - theta))
        hard = (u_pre > theta).to(current.dtype)
        s = smooth + (hard - smooth).detach()
        u = u_pre * (1 - hard)
        out.append(s)
    return torch.stack(out)


@contextlib.contextmanager
def sastc_scan(fn: Callable[..., torch.Tensor]) -> Iterator[None]:
    """Run ``SpikingNet`` with ``fn`` in place of ``lif_scan`` (same signature)."""
    with mock.patch.object(sastc_model, "lif_scan", fn):
        yield


def _loss_and_grads(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    logits = model(frames)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    return logits.detach(), loss.detach(), grads


def _grad_rel_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Largest ``||a - b|| / ||b||`` over the parameters."""
    return max(float((x - y).norm() / y.norm().clamp_min(1e-30)) for x, y in
               zip(a, b, strict=True))


def check_equivalence(spec: ArchSpec, frames: torch.Tensor, labels: torch.Tensor,
                      seed: int = 0) -> dict[str, Any]:
    """Compare sastc and snnTorch on one batch (same weights); ``ok`` says all checks passed.

    hard: sastc ``hard`` mode vs snnTorch forward (both Heaviside): spikes of every
    layer identical, logits equal up to float rounding (sastc's readout is a closed
    form, snnTorch's a loop). conventional: sastc ``conventional`` mode vs snnTorch
    with :func:`sigmoid_surrogate` of slope ``k``: same logits and loss; gradients of sastc's
    hand-written backward vs ``lif_scan_reference`` (autograd, same function), of
    snnTorch vs :func:`detached_reset_scan` (autograd, reset detached), and, for
    information, sastc vs snnTorch directly (they differ by the reset's gradient).
    """
    models = make_models(spec, seed)
    sastc_net, snn_net = models["sastc-conventional"], models["snntorch"]
    result = {**_hard_checks(sastc_net, snn_net, frames),
              **_gradient_checks(sastc_net, snn_net, frames, labels)}
    scale = max(result["logits_max_abs"], 1.0)
    result["ok"] = (result["hard_spike_mismatches"] == 0
                    and result["hard_logits_max_abs_diff"] <= 1e-5 * scale
                    and result["conventional_logits_max_abs_diff"] <= 1e-5 * scale
                    and result["conventional_loss_abs_diff"]
                    <= 1e-5 * max(result["conventional_loss"], 1.0)
                    and result["grad_rel_diff_sastc_vs_autograd_reference"] <= 1e-4
                    and result["grad_rel_diff_snntorch_vs_detached_reset_reference"] <= 1e-4)
    return result


def _hard_checks(sastc_net: nn.Module, snn_net: nn.Module, frames: torch.Tensor
                 ) -> dict[str, Any]:
    """Hard-spike forward of both: spike rates, spike mismatches, logit difference."""
    with torch.no_grad():
        sastc_net.spike_mode = "hard"
        trace, record = Trace(), []
        hard_logits = sastc_net(frames, trace)
        snn_logits = snn_net(frames, record)
        sastc_net.spike_mode = "conventional"
    return {"spikes_total": sum(s.numel() for s in record),
            "spike_rate": [round(float(s.mean()), 4) for s in record],
            "hard_spike_mismatches": sum(int((a != b).sum()) for a, b in
                                         zip(trace.spikes, record, strict=True)),
            "hard_logits_max_abs_diff": float((hard_logits - snn_logits).abs().max()),
            "logits_max_abs": float(snn_logits.abs().max())}


def _gradient_checks(sastc_net: nn.Module, snn_net: nn.Module, frames: torch.Tensor,
                     labels: torch.Tensor) -> dict[str, Any]:
    """Conventional-mode logits, loss and gradients of both against autograd references."""
    s_logits, s_loss, s_grads = _loss_and_grads(sastc_net, frames, labels)
    n_logits, n_loss, n_grads = _loss_and_grads(snn_net, frames, labels)
    with sastc_scan(lif_scan_reference):
        _, _, ref_grads = _loss_and_grads(sastc_net, frames, labels)
    with sastc_scan(detached_reset_scan):
        _, _, det_grads = _loss_and_grads(sastc_net, frames, labels)
    return {"conventional_logits_max_abs_diff": float((s_logits - n_logits).abs().max()),
            "conventional_loss": float(s_loss),
            "conventional_loss_abs_diff": abs(float(s_loss - n_loss)),
            "grad_rel_diff_sastc_vs_autograd_reference": _grad_rel_diff(s_grads, ref_grads),
            "grad_rel_diff_snntorch_vs_detached_reset_reference": _grad_rel_diff(n_grads,
                                                                                 det_grads),
            "grad_rel_diff_sastc_vs_snntorch": _grad_rel_diff(s_grads, n_grads)}


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


# --- timing -------------------------------------------------------------------------------

def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, frames: torch.Tensor,
               labels: torch.Tensor) -> float:
    """One gradient evaluation and update: forward, cross-entropy, backward, optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(frames), labels)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@dataclass
class Timing:
    """Per step, for each timed repeat: wall-clock and process CPU seconds, and minor page
    faults (memory the allocator handed back to the OS and touches again)."""

    wall: list[float]
    cpu: list[float]
    faults: list[float]


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_models(models: dict[str, nn.Module], batches: list[tuple[torch.Tensor, torch.Tensor]],
                warmup: int, repeats: int, iters: int) -> dict[str, Timing]:
    """Interleaved timing: every repeat runs ``iters`` steps of each model, in an order
    rotated from repeat to repeat. Each model has its own Adam optimizer."""
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=LR) for name, m in models.items()}
    names = list(models)
    for name in names:
        for i in range(warmup):
            train_step(models[name], optimizers[name], *batches[i % len(batches)])
    timings = {name: Timing([], [], []) for name in names}
    step = 0
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            wall, cpu, faults = time.perf_counter(), time.process_time(), minor_faults()
            for i in range(iters):
                train_step(models[name], optimizers[name], *batches[(step + i) % len(batches)])
            timings[name].wall.append((time.perf_counter() - wall) / iters)
            timings[name].cpu.append((time.process_time() - cpu) / iters)
            timings[name].faults.append((minor_faults() - faults) / iters)
        step += iters
    return timings


def rate_summary(seconds: list[float], batch_size: int) -> dict[str, float]:
    """Samples per second: median over repeats, and the slowest and fastest repeat."""
    rates = [batch_size / s for s in seconds]
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def paired_ratio(fast: list[float], slow: list[float]) -> dict[str, float]:
    """``slow / fast`` time per step, paired by repeat: median, min, max."""
    ratios = [s / f for f, s in zip(fast, slow, strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def throughput(case: Case, settings: Settings, batches: list[tuple[torch.Tensor, torch.Tensor]]
               ) -> dict[str, Any]:
    """Samples/s of every model of :func:`make_models` on ``case``, and the ratios."""
    models = make_models(case.spec(), settings.seed)
    timings = time_models(models, batches, settings.warmup, settings.repeats, settings.iters)
    snn = timings["snntorch"]
    return {
        "case": case.name, "arch": case.arch,
        "input": [case.channels, case.size, case.size],
        "samples_per_s": {n: rate_summary(t.wall, settings.batch_size) for n, t in timings.items()},
        "cpu_samples_per_s": {n: rate_summary(t.cpu, settings.batch_size)
                              for n, t in timings.items()},
        "ratio_vs_snntorch": {n: paired_ratio(t.wall, snn.wall) for n, t in timings.items()
                              if n != "snntorch"},
        "seconds_per_step": {n: t.wall for n, t in timings.items()},
        "page_faults_per_step": {n: statistics.median(t.faults) for n, t in timings.items()},
    }


# --- SAST cost per epoch ------------------------------------------------------------------

EPOCH_CONFIGS = {
    "surrogate (rho=0)": {"mode": "surrogate"},
    "sast independent": {"mode": "sast", "sam_batch": "independent"},
    "sast same": {"mode": "sast", "sam_batch": "same"},
}


def epoch_seconds(config: TrainConfig, data: FrameSet) -> float:
    """Wall time of one ``run_epoch`` (fresh model, optimizer and schedule from the seed)."""
    training = TrainingData("synthetic", data, None, data, {})
    run = new_run(config, training, max(len(data) // config.batch_size, 1))
    sam = SAM(list(run.model.parameters()), config.effective_rho) if config.effective_rho else None
    result = run_epoch(run.model, run.optimizer, run.scheduler, sam, data, config, Dist(),
                       run.generator, "benchmark")
    return result.seconds


def epoch_costs(data: FrameSet, settings: Settings, arch: str | None = None,
                configs: dict[str, dict[str, Any]] = EPOCH_CONFIGS) -> dict[str, Any]:
    """Median epoch seconds per config over interleaved repeats (after one untimed epoch),
    and the ratio to the first config (rho = 0), also paired per repeat. The other
    options are sastc's defaults (Adam, lr 2e-3, cosine schedule, rho 0.2)."""
    base = TrainConfig(dataset="synthetic", arch=arch, epochs=1, batch_size=settings.batch_size,
                       seed=settings.seed, progress=False)
    names = list(configs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    epoch_seconds(replace(base, **configs[names[0]]), data)  # warm-up
    for repeat in range(settings.epoch_repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            seconds[name].append(epoch_seconds(replace(base, **configs[name]), data))
    reference = seconds[names[0]]
    return {
        "samples": len(data), "steps": len(data) // settings.batch_size,
        "seconds": {n: {"median": statistics.median(s), "min": min(s), "max": max(s), "all": s}
                    for n, s in seconds.items()},
        "ratio_vs_rho0": {n: statistics.median(seconds[n]) / statistics.median(reference)
                          for n in names[1:]},
        "paired_ratio_vs_rho0": {n: paired_ratio(reference, seconds[n]) for n in names[1:]},
    }


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


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_ticks() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat``; None where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_cpus(seconds: float = 1.0) -> float | None:
    """How many CPUs other processes kept busy during ``seconds`` (this one sleeps)."""
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def machine_info(threads: int) -> dict[str, Any]:
    import snntorch

    return {"torch": torch.__version__, "snntorch": snntorch.__version__,
            "python": platform.python_version(), "threads": threads,
            "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "busy_cpus": busy_cpus()}


def _cpus(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


MODEL_LABELS = {"sastc-conventional": "sastc conventional", "sastc-surrogate": "sastc surrogate",
                "snntorch": "snnTorch", "snntorch-folded": "snnTorch folded"}


def throughput_table(rows: list[dict[str, Any]]) -> str:
    """One line per case and model: samples/s (wall: median [slowest-fastest repeat]; CPU
    time: median), the time ratio to snnTorch (paired median [min-max]; best/best) and the
    median minor page faults per step."""
    lines = [f"{'case':<11} {'input':<8} {'model':<19} {'samples/s':>22} {'cpu-time':>9}  "
             f"{'x snnTorch':>22} {'best/best':>9} {'faults/step':>11}"]
    for row in rows:
        shape = "x".join(str(d) for d in row["input"])
        best_snn = max(row["samples_per_s"]["snntorch"]["max"], 1e-12)
        for name, label in MODEL_LABELS.items():
            rate, cpu = row["samples_per_s"][name], row["cpu_samples_per_s"][name]
            ratio = row["ratio_vs_snntorch"].get(name)
            paired = (f"{ratio['median']:.2f}x [{ratio['min']:.2f}-{ratio['max']:.2f}]"
                      if ratio else "")
            best = f"{rate['max'] / best_snn:.2f}x" if ratio else ""
            lines.append(f"{row['case']:<11} {shape:<8} {label:<19} "
                         f"{rate['median']:7.1f} [{rate['min']:5.0f}-{rate['max']:5.0f}] "
                         f"{cpu['median']:9.1f}  {paired:>22} {best:>9} "
                         f"{row['page_faults_per_step'][name]:11.0f}")
            row, shape = {**row, "case": ""}, ""
    return "\n".join(lines)


def epoch_table(costs: dict[str, Any]) -> str:
    lines = [f"{'config':<20} {'seconds/epoch':>26} {'ratio vs rho=0':>16}"]
    for name, s in costs["seconds"].items():
        ratio = costs["ratio_vs_rho0"].get(name, 1.0)
        lines.append(f"{name:<20} {s['median']:9.2f} [{s['min']:.2f}-{s['max']:.2f}]"
                     f"{'':>5} {ratio:15.2f}x")
    return "\n".join(lines)


def equivalence_line(case: str, check: dict[str, Any]) -> str:
    return (f"{case:<11} {'ok' if check['ok'] else 'FAILED'}: hard spikes mismatched "
            f"{check['hard_spike_mismatches']}/{check['spikes_total']} "
            f"(rates {check['spike_rate']}), |dlogits| hard "
            f"{check['hard_logits_max_abs_diff']:.1e} conv. "
            f"{check['conventional_logits_max_abs_diff']:.1e}, |dloss| "
            f"{check['conventional_loss_abs_diff']:.1e}; grad rel diff: sastc vs autograd ref "
            f"{check['grad_rel_diff_sastc_vs_autograd_reference']:.1e}, snnTorch vs "
            f"detached-reset ref {check['grad_rel_diff_snntorch_vs_detached_reset_reference']:.1e}"
            f", sastc vs snnTorch {check['grad_rel_diff_sastc_vs_snntorch']:.1e}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a short epoch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--nmnist-dir", help="time the nmnist case on real N-MNIST frames "
                        "(tonic layout) instead of synthetic 34x34 recordings")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES),
                        help="comma-separated throughput cases")
    parser.add_argument("--skip-epochs", action="store_true", help="throughput only")
    parser.add_argument("--profile", action="store_true",
                        help="print the top ops of a training step of sastc and snnTorch")
    parser.add_argument("--no-malloc-tuning", dest="malloc_tuning", action="store_false",
                        help="keep glibc's default allocator settings (sastc train tunes them, "
                             "see sastc/allocator.py; the tuning applies to both libraries)")
    return parser.parse_args(argv)


def throughput_part(cases: list[Case], settings: Settings, nmnist_dir: str | None,
                    profile: bool, report: dict[str, Any]) -> None:
    """Per case: check equivalence (stop if it fails), time, optionally profile; print."""
    for case in cases:
        batches = case_batches(case, settings, nmnist_dir)
        check = check_equivalence(case.spec(), *batches[0], seed=settings.seed)
        report["equivalence"][case.name] = check
        print(equivalence_line(case.name, check), flush=True)
        if not check["ok"]:
            raise SystemExit(f"{case.name}: sastc and snnTorch disagree; not timing")
        report["throughput"].append(throughput(case, settings, batches))
        if profile:
            for name in ("sastc-conventional", "snntorch"):
                print(f"--- {case.name}, {name}: top ops of a training step")
                print(profile_step(make_models(case.spec(), settings.seed)[name], batches[0]))
    print(f"\nsamples/s per gradient evaluation (forward, backward, Adam step), "
          f"T={settings.time_bins}, batch {settings.batch_size}, {settings.threads} threads, "
          f"{settings.repeats} repeats of {settings.iters} steps; x snnTorch = snnTorch time / "
          "model time, paired per repeat; best/best = fastest repeats")
    print(throughput_table(report["throughput"]), flush=True)


def epoch_part(settings: Settings, report: dict[str, Any]) -> None:
    data = synthetic_set(32, 12, settings.epoch_samples, settings.time_bins, settings.seed)
    report["epochs"] = epoch_costs(data, settings)
    print(f"\nSAST cost per epoch: run_epoch on synthetic ({len(data)} samples, "
          f"{report['epochs']['steps']} steps, batch {settings.batch_size}, rho 0.2)")
    print(epoch_table(report["epochs"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    settings = replace(QUICK if args.quick else Settings(), threads=args.threads)
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
    throughput_part([c for c in CASES if c.name in args.cases.split(",")], settings,
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
