"""Memory layouts the fused scans take without a copy.

A fused scan walks ``T`` blocks of ``N`` neurons; the order of the neurons inside a block
does not matter as long as every block has the same one. So besides contiguous
``[T, ...]`` tensors it takes the time-major views of channels-last convolution outputs
(``[T, B, C, H, W]`` with strides ``(B H W C, H W C, 1, W C, C)``), and writes its
outputs in the same layout, which the next convolution then reads without converting.
"""

from __future__ import annotations

import torch


def time_major_dense(x: torch.Tensor) -> bool:
    """Whether ``x``'s elements are ``T`` consecutive, dense, non-overlapping blocks of
    ``x[0].numel()`` each (in any order inside a block)."""
    if x.dim() < 1 or x.numel() == 0:
        return False
    if x.shape[0] > 1 and x.stride(0) != x[0].numel():
        return False
    expected = 1
    for stride, size in sorted((s, d) for s, d in zip(x.stride()[1:], x.shape[1:], strict=True)
                               if d != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def time_major(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself where a fused scan takes its layout, else a contiguous copy."""
    return x if time_major_dense(x) else x.contiguous()


def strides_match(x: torch.Tensor, like: torch.Tensor) -> bool:
    """Whether ``x`` and ``like`` (same shape) lay out their elements alike (the strides of
    dimensions of size 1 do not matter)."""
    return all(size == 1 or a == b for size, a, b in zip(x.shape, x.stride(), like.stride(),
                                                         strict=True))


def same_layout(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` with ``like``'s layout (a copy only where it differs)."""
    return x if strides_match(x, like) else torch.empty_like(like).copy_(x)
