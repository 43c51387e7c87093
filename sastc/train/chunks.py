"""Gradient accumulation over slices of a minibatch, sized to the CPU's caches.

A time-folded network runs every layer over ``T x B`` frames at once; on a CPU, once a
layer's activations outgrow the caches (tens of MB), every elementwise pass and every
convolution streams from memory and the allocator maps fresh pages each step: at
``T = 16, B = 256`` a step ran about 1.9x slower per sample than at ``B = 32``. Splitting
the minibatch into slices of about :data:`CPU_SLICE_BYTES` of activations per layer and
summing their gradients gives the same update (the loss is a mean, so slice ``j``'s
loss is weighted by ``b_j / B``)::

    grad = sum_j (b_j / B) grad CE(slice j)  =  grad CE(batch)

up to float summation order. CUDA devices get the whole batch at once.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from sastc.spec import ArchSpec, Conv, Pool

CPU_SLICE_BYTES = 16 * 2**20  # activations of the largest layer per slice


def largest_activation(spec: ArchSpec, event_input: bool = True) -> int:
    """Elements per time step and sample of the largest activation a CPU step stores (input
    included). With ``event_input`` (sparse frames) a first convolution followed by a
    pooling is left out: it then runs as one fused layer
    (:func:`sastc.train.event_conv.event_lif`) whose current and full-size spikes never
    exist, only the pooled spikes (N-MNIST's 16 x 17 x 17 first layer, the largest by its
    shape, stores 16 x 8 x 8)."""
    shapes = spec.shapes()  # shapes[i + 1] is layers[i]'s output
    fused_first = (event_input and len(spec.layers) > 1 and isinstance(spec.layers[0], Conv)
                   and isinstance(spec.layers[1], Pool))
    return max(math.prod(shape) for index, shape in enumerate(shapes)
               if not (fused_first and index == 1))


def slice_size(spec: ArchSpec, time_bins: int, batch: int, device: torch.device | str,
               event_input: bool = True) -> int:
    """Samples per slice: the whole batch on CUDA, else as many as keep the largest layer's
    float32 activations ``[T, b, ...]`` within :data:`CPU_SLICE_BYTES`
    (:func:`largest_activation`; ``event_input``: the frames are sparse enough for the
    event-driven first layer)."""
    if torch.device(device).type != "cpu":
        return batch
    per_sample = 4 * time_bins * largest_activation(spec, event_input)
    most = max(1, min(batch, CPU_SLICE_BYTES // per_sample))
    slices = -(-batch // most)
    return -(-batch // slices)  # slices of equal size, none above ``most``


def _no_sync(model: torch.nn.Module, last: bool) -> contextlib.AbstractContextManager:
    """DistributedDataParallel averages gradients on the last slice's backward only."""
    if not last and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def _slices(frames: torch.Tensor, labels: torch.Tensor, size: int
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    yield from zip(frames.split(size, dim=1), labels.split(size), strict=True)


def accumulate(model: torch.nn.Module, frames: torch.Tensor, labels: torch.Tensor, size: int,
               keep_logits: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Cross-entropy of ``model`` on ``frames [T, B, ...]`` with its gradient accumulated
    into ``.grad`` slice by slice (``size`` samples each); returns the batch's mean loss."""
    total = torch.zeros((), device=frames.device)
    logits_parts: list[torch.Tensor] = []
    count, batch = 0, labels.shape[0]
    for part, part_labels in _slices(frames, labels, size):
        count += part_labels.shape[0]
        with _no_sync(model, count == batch):
            logits = model(part)
            loss = F.cross_entropy(logits, part_labels) * (part_labels.shape[0] / batch)
            loss.backward()
        total = total + loss.detach()
        logits_parts.append(logits.detach())
    if keep_logits is not None:
        keep_logits.append(torch.cat(logits_parts))
    return total
