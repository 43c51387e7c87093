"""The synapse ops in numpy: sum pooling, 2-D convolution (blocked im2col + BLAS), dense;
their shape rules and their fan-out (what SynOps count).

The integer simulator calls the kernels with float32 or float64 arrays holding small
integers; the range analysis guarantees every partial sum stays below 2^24
(float32) or 2^53 (float64), where floating-point addition is exact, so BLAS
gives the exact integer result. ``dtype=np.int64`` runs the same code without
BLAS for the cases that bound does not cover.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # im2col elements per block (16 MiB in float32; measured best)


def sum_pool(x: np.ndarray, k: int, dtype: np.dtype | type | None = None) -> np.ndarray:
    """Sum over ``k x k`` windows with stride ``k`` of ``[N, C, H, W]``; edges that do not fill
    a window are dropped (as torch's pooling without padding). Sums are taken in ``dtype``
    (default: ``x``'s), which must hold ``k * k`` times the largest input.

    >>> sum_pool(np.arange(16).reshape(1, 1, 4, 4), 2)[0, 0].tolist()
    [[10, 18], [42, 50]]
    """
    if k == 1:
        return x if dtype is None else x.astype(dtype, copy=False)
    rows, cols = (x.shape[2] // k) * k, (x.shape[3] // k) * k
    out = x[:, :, 0:rows:k, 0:cols:k].astype(dtype or x.dtype)
    for i in range(k):
        for j in range(k):
            if i or j:
                out += x[:, :, i:rows:k, j:cols:k]
    return out


def _padded_phases(x: np.ndarray, padding: int, stride: int,
                   kernel: int) -> dict[tuple[int, int], np.ndarray]:
    """``[N, C, H, W]`` zero-padded, channel-major ``[C, N, H', W']`` and split into its
    ``stride x stride`` phases ``x[..., a::s, b::s]`` (each contiguous, so every kernel
    offset reads whole rows instead of every ``s``-th value)."""
    n, c, h, w = x.shape
    padded = np.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    padded[:, :, padding : padding + h, padding : padding + w] = x.transpose(1, 0, 2, 3)
    if stride == 1:
        return {(0, 0): padded}
    phases = min(stride, kernel)
    return {(a, b): np.ascontiguousarray(padded[:, :, a::stride, b::stride])
            for a in range(phases) for b in range(phases)}


def conv2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """``y[n, o] = sum_{c,i,j} w[o, c, i, j] * x_pad[n, c, s*y + i, s*x + j]``, as ``[N, C_out, OH, OW]``
    (a transposed view of a ``[C_out, N, OH, OW]`` array).

    im2col in offset-major order ``[(i, j, c), (n, y, x)]``, built in blocks of samples that
    stay in cache, times the ``[C_out, (i, j, c)]`` weight matrix (one BLAS call per block).

    >>> x = np.ones((1, 1, 3, 3), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> conv2d(x, w, 1, 1)[0, 0].tolist()
    [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
    """
    n, c, h, w = x.shape
    out_channels, _, kernel, _ = weight.shape
    oh = (h + 2 * padding - kernel) // stride + 1
    ow = (w + 2 * padding - kernel) // stride + 1
    phases = _padded_phases(x, padding, stride, kernel)
    matrix = weight.transpose(0, 2, 3, 1).reshape(out_channels, -1).astype(x.dtype, copy=False)
    out = np.empty((out_channels, n, oh, ow), dtype=x.dtype)
    per_sample = kernel * kernel * c * oh * ow
    step = max(1, _CHUNK_ELEMENTS // per_sample)
    buffer = np.empty(per_sample * min(step, n), dtype=x.dtype)
    for start in range(0, n, step):
        count = min(step, n - start)
        cols = buffer[: per_sample * count].reshape(kernel, kernel, c, count, oh, ow)
        for i in range(kernel):
            for j in range(kernel):
                phase = phases[(i % stride, j % stride)]
                cols[i, j] = phase[:, start : start + count, i // stride : i // stride + oh,
                                   j // stride : j // stride + ow]
        np.matmul(matrix, cols.reshape(kernel * kernel * c, count * oh * ow),
                  out=out[:, start : start + count].reshape(out_channels, -1))
    return out.transpose(1, 0, 2, 3)  # a view: consumers read it without another copy


def dense(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``y[n, o] = sum_i w[o, i] * x[n, i]`` with ``x`` flattened C-major."""
    flat = x.reshape(x.shape[0], -1)
    return flat @ weight.reshape(weight.shape[0], -1).T.astype(flat.dtype, copy=False)


# --- per-op entries (geometry: sastc.ir.layers.Geometry) -----------------------------------


def conv_fan_in(geometry: Any) -> int:
    """``C_in * k * k`` weights per output neuron."""
    return int(geometry.pooled_shape[0] * geometry.kernel * geometry.kernel)


def dense_fan_in(geometry: Any) -> int:
    """Every (pooled, flattened) input: ``C * H * W``."""
    return int(np.prod(geometry.pooled_shape))


def conv_weight_shape(geometry: Any) -> tuple[int, ...]:
    """``[C_out, C_in, k, k]``."""
    return (geometry.out_channels, geometry.pooled_shape[0], geometry.kernel, geometry.kernel)


def dense_weight_shape(geometry: Any) -> tuple[int, ...]:
    """``[C_out, fan_in]``."""
    return (geometry.out_channels, dense_fan_in(geometry))


def conv_forward(geometry: Any, pooled: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """:func:`conv2d` with the layer's stride and padding."""
    return conv2d(pooled, weight, geometry.stride, geometry.padding)


def dense_forward(geometry: Any, pooled: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """:func:`dense` (the input flattened C-H-W)."""
    return dense(pooled, weight)


def pool_forward(geometry: Any, x: np.ndarray, dtype: Any = None) -> np.ndarray:
    """:func:`sum_pool` with the layer's pooling kernel."""
    return sum_pool(x, geometry.pool, dtype)


def dense_fanout(geometry: Any, mask: np.ndarray) -> np.ndarray:
    """Each input reaches its column's non-zero weights: ``F[i] = sum_o mask[o, i]``."""
    return mask.reshape(mask.shape[0], -1).sum(axis=0).reshape(geometry.pooled_shape)


def conv_fanout(geometry: Any, mask: np.ndarray) -> np.ndarray:
    """Each input reaches the non-zero taps of the outputs whose window covers it (borders
    and strides included).

    >>> from sastc.ir.layers import Geometry
    >>> g = Geometry("conv", (1, 3, 3), (1, 3, 3), kernel=3, padding=1)
    >>> conv_fanout(g, np.ones((1, 1, 3, 3), np.int64))[0].tolist()
    [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    """
    c, h, w = geometry.pooled_shape
    _, oh, ow = geometry.out_shape
    s, p, k = geometry.stride, geometry.padding, geometry.kernel
    per_tap = mask.sum(axis=0)  # [C_in, k, k]: non-zero weights over output channels
    fanout = np.zeros((c, h + 2 * p, w + 2 * p), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            fanout[:, i : i + s * oh : s, j : j + s * ow : s] += per_tap[:, i, j, None, None]
    return fanout[:, p : p + h, p : p + w]
