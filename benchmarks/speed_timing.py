"""Timing of training steps for ``train_speed.py``: interleaved repeats, CPU and CUDA.

On CUDA every timed repeat starts and ends with ``torch.cuda.synchronize()``, so the wall
time covers the kernels, not only their launches.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sastc.allocator import tune_allocator
from sastc.train import event_conv
from sastc.train.chunks import accumulate, slice_size

LR = 2e-3  # sastc's default --lr (Adam)


def prepare_cpu_timing(threads: int, seed: int = 0) -> None:
    """Set a timing run up as ``sastc train`` runs: glibc's allocator tuned
    (:func:`sastc.allocator.tune_allocator`), ``threads`` torch threads, a fixed seed."""
    tune_allocator()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, frames: torch.Tensor,
               labels: torch.Tensor) -> torch.Tensor:
    """One gradient evaluation and update: forward, cross-entropy, backward, optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(frames), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()  # a tensor: reading its value would wait for the GPU


def sastc_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, frames: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """sastc's own update (``sastc.train.epoch``): the same gradient as :func:`train_step`,
    accumulated over cache-sized slices of the minibatch on CPU (``sastc.train.chunks``)."""
    spec = getattr(model, "model", model).spec
    size = slice_size(spec, frames.shape[0], frames.shape[1], frames.device,
                      event_conv.sparse_enough(frames))
    optimizer.zero_grad(set_to_none=True)
    loss = accumulate(model, frames, labels, size)
    optimizer.step()
    return loss


def step_for(name: str) -> Callable[..., torch.Tensor]:
    """sastc's models train with sastc's step, the peers' with the plain one."""
    return sastc_train_step if name.startswith("sastc") else train_step


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
                warmup: int, repeats: int, iters: int, device: str = "cpu") -> dict[str, Timing]:
    """Interleaved timing: every repeat runs ``iters`` steps of each model, in an order
    rotated from repeat to repeat. Each model has its own Adam optimizer."""
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=LR) for name, m in models.items()}
    names = list(models)
    for name in names:
        for i in range(warmup):
            step_for(name)(models[name], optimizers[name], *batches[i % len(batches)])
    timings = {name: Timing([], [], []) for name in names}
    step = 0
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            synchronize(device)
            wall, cpu, faults = time.perf_counter(), time.process_time(), minor_faults()
            for i in range(iters):
                step_for(name)(models[name], optimizers[name],
                               *batches[(step + i) % len(batches)])
            synchronize(device)
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
