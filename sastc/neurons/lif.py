"""The LIF family in numpy: LIF, IF and current-based LIF, reset to zero or by subtraction.

Float rule per time step (the rule of :mod:`sastc.train.scan.rule`, which training runs)::

    c[t]     = alpha * c[t-1] + I[t]          (CubaLIF only; otherwise c[t] = I[t])
    u_pre[t] = beta * u[t-1] + c[t]
    s[t]     = u_pre[t] > theta               (hard)  |  sigmoid(k (u_pre[t] - theta))
    u[t]     = u_pre[t] * (1 - s[t])          (reset "zero")
             | u_pre[t] - theta * s[t]        (reset "subtract")

IF is ``beta = 1``. Integer rule (:mod:`sastc.numerics`, mirrored by the C runtime and the
ONNX integer step), with ``D = (acc << frac_bits) + bias_q``::

    c     = saturate(round_shift(c * alpha_q, leak_shift) + D)            (CubaLIF)
    u_pre = saturate(round_shift(u * beta_q, leak_shift) + (c | D))
    s     = u_pre > theta_q;   u = s ? 0 : u_pre  |  s ? u_pre - theta_q : u_pre

``theta_q >= 0``, so a subtraction after a spike gives ``0 < u < u_pre``: it never leaves
the membrane range and only shrinks ``|u|``, like the reset to zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc import numerics

SMOOTH, HARD = "surrogate", "hard"


def per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-output-channel values shaped to broadcast against ``[B, *out_shape]`` (``ndim`` axes
    of the output shape)."""
    return np.asarray(values).reshape((-1,) + (1,) * (ndim - 1))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def float_scan(layer: Any, current: np.ndarray, mode: str, k: float) -> np.ndarray:
    """Spikes ``[T, B, ...]`` (float32: 0/1 in hard mode) of ``layer``'s neurons for
    ``current [T, B, ...]`` (``I = W x + b``), from zero state."""
    theta = per_channel(layer.threshold.astype(np.float32), current.ndim - 2)
    beta, alpha, k = np.float32(layer.beta), np.float32(layer.alpha), np.float32(k)
    u = np.zeros(current.shape[1:], dtype=np.float32)
    c = np.zeros_like(u) if layer.alpha else None
    trace = np.empty(current.shape, dtype=np.float32)
    for t in range(current.shape[0]):
        drive = current[t]
        if c is not None:
            c = alpha * c + drive
            drive = c
        u_pre = beta * u + drive
        spikes = (u_pre > theta).astype(np.float32) if mode == HARD \
            else sigmoid(k * (u_pre - theta))
        u = u_pre * (1.0 - spikes) if layer.reset == "zero" else u_pre - theta * spikes
        trace[t] = spikes
    return trace


class _IntegerRule:
    """The integer constants of one layer, as ``dtype`` arrays broadcasting over ``[B, ...]``."""

    def __init__(self, layer: Any, ndim: int, dtype: type) -> None:
        self.low, self.high = numerics.int_range(layer.membrane_bits)
        self.bias = per_channel(layer.bias_q.astype(dtype), ndim)
        # u stays in [low, high]: theta clipped to [low - 1, high] decides every comparison
        # alike, and a neuron that spikes has theta_q < u_pre <= high, so it subtracts theta_q
        self.theta = per_channel(np.clip(layer.theta_q, self.low - 1, self.high).astype(dtype),
                                 ndim)
        self.shift = layer.leak_shift
        self.half = (1 << (self.shift - 1)) if self.shift else 0
        self.scale = 1 << layer.frac_bits

    def leak(self, x: np.ndarray, multiplier: int) -> None:
        """``x = round_shift(x * multiplier, leak_shift)`` in place."""
        np.multiply(x, multiplier, out=x)
        if self.half:
            x += self.half
            np.right_shift(x, self.shift, out=x)

    def drive(self, acc: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = (acc << frac_bits) + bias_q`` (``acc`` exact integers in any dtype)."""
        np.copyto(out, acc, casting="unsafe")
        np.multiply(out, self.scale, out=out)
        out += self.bias
        return out


def int_scan(layer: Any, acc: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """Spikes ``bool [T, B, ...]`` of the integer LIF/IF rule (module docstring) for the exact
    synaptic sums ``acc [T, B, ...]``, in place on ``dtype`` buffers (int32 only where
    :func:`sastc.ir.ranges.membrane_dtype` proves it exact)."""
    return _int_scan(layer, acc, dtype, current=False)


def cuba_int_scan(layer: Any, acc: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """:func:`int_scan` with the saturating synaptic current ``c`` of a CubaLIF layer."""
    return _int_scan(layer, acc, dtype, current=True)


def _int_scan(layer: Any, acc: np.ndarray, dtype: type, current: bool) -> np.ndarray:
    rule = _IntegerRule(layer, acc.ndim - 2, dtype)
    u = np.zeros(acc.shape[1:], dtype=dtype)
    drive = np.empty_like(u)
    c = np.zeros_like(u) if current else None
    trace = np.empty(acc.shape, dtype=bool)
    for t in range(acc.shape[0]):
        rule.drive(acc[t], drive)
        if c is not None:
            rule.leak(c, layer.alpha_q)
            c += drive
            np.clip(c, rule.low, rule.high, out=c)
            np.copyto(drive, c)
        rule.leak(u, layer.beta_q)
        u += drive
        np.clip(u, rule.low, rule.high, out=u)
        np.greater(u, rule.theta, out=trace[t])
        if layer.reset == "zero":
            np.copyto(u, 0, where=trace[t])
        else:
            np.subtract(u, rule.theta, out=u, where=trace[t])
    return trace
