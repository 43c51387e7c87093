"""One training epoch: batches, augmentation, SAM or plain steps, progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from sastc.data.base import FrameSet
from sastc.progress import bar_disabled
from sastc.train.config import TrainConfig
from sastc.train.distributed import Dist
from sastc.train.evaluate import to_time_major
from sastc.train.sam import SAM, plain_step, sam_step


@dataclass
class EpochResult:
    loss: float
    train_accuracy: float
    seconds: float
    steps: int
    grad_evals: int


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


def run_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler, sam: SAM | None, data: FrameSet,
              config: TrainConfig, dist: Dist, generator: torch.Generator,
              description: str) -> EpochResult:
    """Train one epoch; raises :class:`TrainingDiverged` on a non-finite loss."""
    model.train()
    start = time.perf_counter()
    source = Batches(data, config, dist, generator)
    batches = batch_indices(len(data), config.batch_size, generator)
    losses, correct, seen = [], 0, 0
    bar = tqdm(_pairs(batches, config, len(data), generator), total=len(batches), leave=False,
               position=1,
               desc=description, disable=bar_disabled(config.progress and dist.is_main),
               unit="batch")
    for first_idx, second_idx in bar:
        x1, y1 = source.get(first_idx)
        logits_holder: list[torch.Tensor] = []

        def first(x1=x1, y1=y1, holder=logits_holder) -> torch.Tensor:
            logits = model(x1)
            holder.append(logits.detach())
            loss = F.cross_entropy(logits, y1)
            loss.backward()
            return loss

        if second_idx is None or sam is None:
            loss = plain_step(optimizer, first)
        else:
            x2, y2 = (x1, y1) if second_idx is first_idx else source.get(second_idx)

            def second(x2=x2, y2=y2) -> torch.Tensor:
                loss = F.cross_entropy(model(x2), y2)
                loss.backward()
                return loss

            loss = sam_step(optimizer, sam, first, second)
        scheduler.step()
        losses.append(loss)
        correct += int((logits_holder[0].argmax(1) == y1).sum())
        seen += len(y1)
        bar.set_postfix(loss=f"{loss:.3f}")
    steps = len(batches)
    mean_loss = dist.sum(sum(losses) / max(steps, 1)) / dist.world
    train_acc = 100.0 * dist.sum(correct) / max(dist.sum(seen), 1)
    return EpochResult(mean_loss, train_acc, time.perf_counter() - start, steps,
                       steps * config.grad_evals_per_step)
