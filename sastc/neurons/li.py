"""The non-spiking leaky integrator (LI) of a readout layer, in numpy.

Float: ``u[t] = beta * u[t-1] + I[t]``, logits ``mean_t u[t]``. Integer::

    u = saturate(round_shift(u * beta_q, leak_shift) + (acc << frac_bits) + bias_q)

with logits ``sum_t u`` (the C runtime's int32 logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.neurons.lif import _IntegerRule


def float_scan(layer: Any, current: np.ndarray, mode: str, k: float) -> np.ndarray:
    """Membranes ``[T, B, ...]`` (float32) for ``current [T, B, ...]`` from zero state; ``mode``
    and ``k`` do not apply (there is no spike)."""
    beta = np.float32(layer.beta)
    u = np.zeros(current.shape[1:], dtype=np.float32)
    trace = np.empty(current.shape, dtype=np.float32)
    for t in range(current.shape[0]):
        u = trace[t] = beta * u + current[t]
    return trace


def int_scan(layer: Any, acc: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """Membranes ``int64 [T, B, ...]`` of the integer rule for the exact sums ``acc``."""
    rule = _IntegerRule(layer, acc.ndim - 2, dtype)
    u = np.zeros(acc.shape[1:], dtype=dtype)
    drive = np.empty_like(u)
    trace = np.empty(acc.shape, dtype=np.int64)
    for t in range(acc.shape[0]):
        rule.leak(u, layer.beta_q)
        u += rule.drive(acc[t], drive)
        np.clip(u, rule.low, rule.high, out=u)
        trace[t] = u
    return trace
