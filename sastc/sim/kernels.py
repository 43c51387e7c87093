"""Synaptic kernels in numpy: sum pooling, 2-D convolution (im2col + BLAS) and dense.

The integer simulator calls these with float32 or float64 arrays holding small
integers; the range analysis guarantees every partial sum stays below 2^24
(float32) or 2^53 (float64), where floating-point addition is exact, so BLAS
gives the exact integer result. ``dtype=np.int64`` runs the same code without
BLAS for the cases that bound does not cover.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sastc.ir.layers import Geometry

_CHUNK_ELEMENTS = 1 << 23  # im2col elements per block (~32 MiB in float32)


def sum_pool(x: np.ndarray, k: int) -> np.ndarray:
    """Sum over ``k x k`` windows with stride ``k`` of ``[N, C, H, W]``; edges that do not fill
    a window are dropped (as torch's pooling without padding).

    >>> sum_pool(np.arange(16).reshape(1, 1, 4, 4), 2)[0, 0].tolist()
    [[10, 18], [42, 50]]
    """
    if k == 1:
        return x
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    blocks = x[:, :, : oh * k, : ow * k].reshape(n, c, oh, k, ow, k)
    return blocks.sum(axis=(3, 5), dtype=x.dtype)


def _im2col(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kernel * kernel)


def conv2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """``y[n, o] = sum_{c,i,j} w[o, c, i, j] * x_pad[n, c, s*y + i, s*x + j]``, as ``[N, C_out, OH, OW]``.

    >>> x = np.ones((1, 1, 3, 3), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> conv2d(x, w, 1, 1)[0, 0].tolist()
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
    """
    n, c, h, w = x.shape
    out_channels, _, kernel, _ = weight.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kernel) // stride + 1
    ow = (w + 2 * padding - kernel) // stride + 1
    matrix = weight.reshape(out_channels, -1).T.astype(x.dtype, copy=False)
    per_sample = oh * ow * c * kernel * kernel
    step = max(1, _CHUNK_ELEMENTS // max(per_sample, 1))
    out = np.empty((n, oh, ow, out_channels), dtype=x.dtype)
    for start in range(0, n, step):
        block = x[start : start + step]
        out[start : start + step] = (_im2col(block, kernel, stride) @ matrix).reshape(
            block.shape[0], oh, ow, out_channels)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def dense(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``y[n, o] = sum_i w[o, i] * x[n, i]`` with ``x`` flattened C-major."""
    flat = x.reshape(x.shape[0], -1)
    return flat @ weight.reshape(weight.shape[0], -1).T.astype(flat.dtype, copy=False)


def apply_synapse(geometry: Geometry, pooled: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The layer's conv or dense on an already pooled batch ``[N, *pooled_shape]``."""
    if geometry.op == "conv":
        return conv2d(pooled, weight, geometry.stride, geometry.padding)
    return dense(pooled, weight)
