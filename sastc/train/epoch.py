"""One training epoch: batches, augmentation, SAM or plain steps, progress."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sastc.data.base import FrameSet
from sastc.errors import TrainingDiverged
from sastc.progress import bar_disabled
from sastc.train import event_conv
from sastc.train.chunks import accumulate, slice_size
from sastc.train.config import TrainConfig
from sastc.train.distributed import Dist
from sastc.train.evaluate import to_time_major
from sastc.train.sam import SAM, plain_step, sam_step
from sastc.train.scan.dispatch import chosen_backend

DIVERGENCE_FACTOR = 1e6
LOSS_LIMIT = 1e12   # no cross-entropy this large means anything


def divergence_bound(reference: float) -> float:
    """The loss above which a run has diverged: ``1e6 x`` the reference loss (the first
    epoch's mean, or the first step's before there is one), at least ``1e6 x ln 2`` and at
    most ``1e12``.

    >>> divergence_bound(2.0), divergence_bound(0.0) > 6e5, divergence_bound(1e34)
    (2000000.0, True, 1000000000000.0)
    """
    return min(DIVERGENCE_FACTOR * max(reference, math.log(2)), LOSS_LIMIT)


def check_loss(loss: float, reference: float) -> None:
    """Raise :class:`TrainingDiverged` for a non-finite loss or one above the bound."""
    if not math.isfinite(loss):
        raise TrainingDiverged(f"the loss became {loss}")
    bound = divergence_bound(reference)
    if loss > bound:
        raise TrainingDiverged(f"the loss reached {loss:.3g}, above the divergence bound "
                               f"{bound:.3g} ({DIVERGENCE_FACTOR:.0e} x the first epoch's "
                               f"{reference:.3g}, at most {LOSS_LIMIT:.0e})")


@dataclass
class EpochResult:
    loss: float
    train_accuracy: float
    seconds: float
    steps: int
    grad_evals: float  # whole-minibatch units: an ascent on F of a batch counts F
    samples: int = 0  # training samples stepped (all processes)

    @property
    def samples_per_s(self) -> float:
        """Training throughput: samples stepped per second of the epoch (forward,
        backward and update; with SAST both gradient evaluations of a step)."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def batch_indices(count: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled epoch of global batches (the last partial batch is dropped when
    there is at least one full batch)."""
    order = torch.randperm(count, generator=generator)
    full = count // batch_size
    if full == 0:
        return [order]
    return list(order[: full * batch_size].split(batch_size))


def random_shift(frames: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each sample of ``[B, T, C, H, W]`` by up to ``max_shift`` pixels (zero fill)."""
    if max_shift == 0:
        return frames
    h, w = frames.shape[-2:]
    padded = F.pad(frames, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (frames.shape[0], 2), generator=generator)
    return torch.stack([padded[i, ..., dy : dy + h, dx : dx + w]
                        for i, (dy, dx) in enumerate(offsets.tolist())])


class Batches:
    """Turns index batches into ``(frames [T, B, ...], labels)`` on the right device."""

    def __init__(self, data: FrameSet, config: TrainConfig, dist: Dist,
                 generator: torch.Generator) -> None:
        self.frames = torch.from_numpy(data.frames)
        self.labels = torch.from_numpy(data.labels)
        self.config, self.dist, self.generator = config, dist, generator

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        local = self.dist.shard(indices)
        frames = random_shift(self.frames[local], self.config.augment_shift, self.generator)
        return to_time_major(frames, self.dist.device), self.labels[local].to(self.dist.device)


def _pairs(batches: list[torch.Tensor], config: TrainConfig, count: int,
           generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    if config.effective_rho == 0:
        yield from ((b, None) for b in batches)
    elif config.sam_batch == "same":
        yield from ((b, b) for b in batches)
    else:
        second = batch_indices(count, config.batch_size, generator)
        yield from zip(batches, second, strict=True)


def loss_closure(model: torch.nn.Module, frames: torch.Tensor, labels: torch.Tensor,
                 keep_logits: list[torch.Tensor] | None = None, slice_samples: int = 0):
    """A closure computing the cross-entropy of ``model`` on one batch and its gradient,
    in slices of ``slice_samples`` (0: the whole batch; see :mod:`sastc.train.chunks`)."""
    def closure() -> torch.Tensor:
        return accumulate(model, frames, labels, slice_samples or labels.shape[0], keep_logits)

    return closure


def ascent_samples(batch: int, fraction: float) -> int:
    """How many of a minibatch's ``batch`` samples SAST's first (ascent) gradient uses: the
    first ``round(fraction x batch)``, at least one.

    >>> ascent_samples(32, 1.0), ascent_samples(32, 0.5), ascent_samples(3, 0.1)
    (32, 16, 1)
    """
    return max(1, min(batch, round(fraction * batch)))


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, sam: SAM | None,
               source: Batches, first_idx: torch.Tensor, second_idx: torch.Tensor | None,
               slice_samples: int = 0, ascent_fraction: float = 1.0
               ) -> tuple[float, int, int, int]:
    """One update (SAST when ``sam`` and a second batch are given); (loss, correct, seen,
    stepped): the loss and accuracy are the first gradient's, on ``seen`` samples (with SAST
    the first :func:`ascent_samples` of the first batch), ``stepped`` the minibatch's size.
    Gradients are accumulated over slices of ``slice_samples`` (0: whole batches)."""
    x1, y1 = source.get(first_idx)
    logits: list[torch.Tensor] = []
    if second_idx is None or sam is None:
        loss = plain_step(optimizer, loss_closure(model, x1, y1, logits, slice_samples))
        return loss, int((logits[0].argmax(1) == y1).sum()), len(y1), len(y1)
    x2, y2 = (x1, y1) if second_idx is first_idx else source.get(second_idx)
    ascent = ascent_samples(len(y1), ascent_fraction)
    x1, y1 = x1[:, :ascent], y1[:ascent]  # [T, B, ...]: samples are the second axis
    loss = sam_step(optimizer, sam, loss_closure(model, x1, y1, logits, slice_samples),
                    loss_closure(model, x2, y2, slice_samples=slice_samples))
    return loss, int((logits[0].argmax(1) == y1).sum()), len(y1), len(y2)


def event_frames(data: FrameSet, samples: int = 256) -> bool:
    """Whether a CPU step runs the fused event-driven first layer on these frames: the
    kernels are built and on, the compiled scan runs, and the first ``samples`` recordings
    are sparse enough (:func:`sastc.train.event_conv.sparse_enough`). It sizes the CPU
    slices."""
    if not (event_conv.available() and chosen_backend(torch.zeros(1)) == "cpu-fused"):
        return False
    return len(data) == 0 or event_conv.sparse_enough(
        torch.from_numpy(data.frames[:samples]).transpose(0, 1))


def run_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler, sam: SAM | None, data: FrameSet,
              config: TrainConfig, dist: Dist, generator: torch.Generator,
              description: str, reference_loss: float | None = None) -> EpochResult:
    """Train one epoch; raises :class:`TrainingDiverged` on a non-finite loss or one above
    :func:`divergence_bound` of ``reference_loss`` (the first epoch's mean loss; this
    epoch's first step when None)."""
    model.train()
    start = time.perf_counter()
    source = Batches(data, config, dist, generator)
    batches = batch_indices(len(data), config.batch_size, generator)
    spec = getattr(model, "module", model).spec
    slices = slice_size(spec, data.time_bins, config.batch_size // dist.world, dist.device,
                        event_frames(data))
    losses, correct, seen, stepped = [], 0, 0, 0
    bar = tqdm(_pairs(batches, config, len(data), generator), total=len(batches), leave=False,
               position=1, desc=description, unit="batch",
               disable=bar_disabled(config.progress and dist.is_main))
    for first_idx, second_idx in bar:
        loss, hits, count, size = train_step(model, optimizer, sam, source, first_idx,
                                             second_idx, slices, config.ascent_fraction)
        reference_loss = loss if reference_loss is None else reference_loss
        check_loss(loss, reference_loss)
        scheduler.step()
        losses.append(loss)
        correct, seen, stepped = correct + hits, seen + count, stepped + size
        bar.set_postfix(loss=f"{loss:.3f}")
    steps = len(batches)
    mean_loss = dist.sum(sum(losses) / max(steps, 1)) / dist.world
    train_acc = 100.0 * dist.sum(correct) / max(dist.sum(seen), 1)
    return EpochResult(mean_loss, train_acc, time.perf_counter() - start, steps,
                       steps * config.grad_evals_per_step, int(dist.sum(stepped)))
