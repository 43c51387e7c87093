"""Static range analysis of integer layers: what the passes prove, the simulators rely on and
the emitters check (numpy only; no simulator, no emitter imported).

Per layer, with ``x_max`` the largest input count a synapse sees and
``D = max_c sum_i |W_q[c, i]| * x_max * 2^frac_bits + |bias_q[c]|`` the largest drive::

    |acc| <= A = max_c sum_i |W_q[c, i]| * x_max
    |c|   <= (D + 1) * G(alpha)                     synaptic current (CubaLIF)
    |u|   <= (D' + 1) * G(beta),   D' = D or the current bound
    G(b)   = sum_{t<T} b^t                          (T for b = 1)

``+1`` covers the half-unit rounding of each leak; a reset (to zero, or subtracting a
threshold ``0 <= theta_q < u_pre``) only shrinks ``|u|``. Sums of integers below ``2^24``
(``2^53``) are exact in float32 (float64), which is what lets the simulator use BLAS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.neurons import neuron_model

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53
INT32_LIMIT = 1 << 31
UINT32_MAX = (1 << 32) - 1
SATURATION_SEARCH_STEPS = 1 << 16


def max_inputs(input_clip: int, pools: list[int]) -> list[int]:
    """Largest input value each layer's synapse sees: spike counts after ``pool x pool`` pooling
    (the first layer sees input frames clipped at ``input_clip``).

    >>> max_inputs(1, [1, 2, 1])
    [1, 4, 1]
    """
    return [(input_clip if index == 0 else 1) * pool * pool for index, pool in enumerate(pools)]


def accumulator_bound(layer: Any, max_input: int) -> int:
    """Largest ``|acc|`` any output can reach: ``max_c sum_i |W_q[c, i]| * max_input``."""
    return int(np.abs(layer.weight_matrix).sum(axis=1).max()) * int(max_input)


def kernel_dtype(bound: int) -> type:
    """Cheapest dtype whose arithmetic is exact for integer sums up to ``bound``.

    >>> kernel_dtype(1000).__name__, kernel_dtype(1 << 30).__name__
    ('float32', 'float64')
    """
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


def has_current(layer: Any) -> bool:
    """Whether ``layer``'s neuron model keeps a synaptic current (CubaLIF)."""
    return neuron_model(layer.neuron).has_current


def drive_bound(layer: Any, max_input: int) -> int:
    """``D``: the largest ``|(acc << frac_bits) + bias_q|`` of any output channel."""
    weights = np.abs(layer.weight_matrix).sum(axis=1) * int(max_input)
    bias = np.abs(np.asarray(layer.bias_q, np.int64))
    return int((weights * (1 << layer.frac_bits) + bias).max())


def decay_gain(decay: float, steps: int) -> float:
    """``sum_{t<steps} decay^t``: how much a constant drive can pile up.

    >>> decay_gain(1.0, 5), decay_gain(0.5, 2)
    (5.0, 1.5)
    """
    return float(steps) if decay >= 1.0 else (1.0 - decay ** steps) / (1.0 - decay)


def state_bound(drive: float, beta: float, steps: int, alpha: float | None = None) -> float:
    """Largest ``|u|`` in ``steps`` steps with per-step drive ``drive`` (module docstring);
    ``alpha`` (not None) puts a synaptic current with that decay in between. It bounds the
    current too: ``G(beta) >= 1``."""
    if alpha is not None:
        drive = (drive + 1.0) * decay_gain(alpha, steps)
    return (drive + 1.0) * decay_gain(beta, steps)


def layer_state_bound(layer: Any, drive: float, steps: int) -> float:
    """:func:`state_bound` for an integer layer (``beta_q``, ``alpha_q`` over ``2^leak_shift``)."""
    unit = float(1 << layer.leak_shift)
    alpha = layer.alpha_q / unit if has_current(layer) else None
    return state_bound(drive, layer.beta_q / unit, steps, alpha)


def membrane_dtype(layer: Any, acc_bound: int) -> type:
    """int32 when every intermediate of the integer neuron rule provably fits, else int64.

    Bounds: ``|u|, |c| <= 2^(m-1)`` after saturation, so ``|x * decay_q| + half <=
    2^(m-1) decay_q + half``; the sum before saturation is at most ``2^(m-1) decay_q /
    2^leak_shift + 1`` plus the drive ``acc_bound * 2^frac_bits + max|bias_q|`` (or, into the
    membrane of a CubaLIF, the saturated current ``2^(m-1)``).
    """
    membrane = 1 << (layer.membrane_bits - 1)
    half = (1 << (layer.leak_shift - 1)) if layer.leak_shift else 0
    decay = max(abs(int(layer.beta_q)), abs(int(layer.alpha_q)))
    product = membrane * decay + half
    bias = int(np.abs(layer.bias_q).max()) if layer.bias_q.size else 0
    drive = max((acc_bound << layer.frac_bits) + bias, membrane if has_current(layer) else 0)
    total = (product >> layer.leak_shift) + 1 + drive
    return np.int32 if max(product, total) < INT32_LIMIT else np.int64


def unsaturated_steps(layer: Any, max_input: int) -> int:
    """Steps after a reset during which no state can reach the membrane limit, so that the
    C runtime may skip the (identity) clamp; ``UINT32_MAX`` for ever.

    The bound follows the rule itself: ``M_0 = 0``, ``M_t = round_shift(M_{t-1} * beta_q,
    leak_shift) + D`` (with a synaptic current, ``C_t`` the same with ``alpha_q`` and
    ``M_t = round_shift(M_{t-1} beta_q) + C_t``), because ``|leak(u)| <= round_shift(|u|
    decay_q, leak_shift)`` and a reset only shrinks ``|u|``.
    """
    drive = drive_bound(layer, max_input)
    limit = (1 << (layer.membrane_bits - 1)) - 1
    current = has_current(layer)
    if not current and layer.beta_q == 1 << layer.leak_shift:  # no leak: M_t = t * D
        return UINT32_MAX if drive == 0 else min(limit // drive, UINT32_MAX - 1)
    bound = total = 0
    for step in range(SATURATION_SEARCH_STEPS):
        following_total = _leaked(total, layer.alpha_q, layer.leak_shift) + drive if current \
            else drive
        following = _leaked(bound, layer.beta_q, layer.leak_shift) + following_total
        if max(following, following_total) > limit:
            return step
        if (following, following_total) == (bound, total):
            return UINT32_MAX
        bound, total = following, following_total
    return SATURATION_SEARCH_STEPS


def _leaked(value: int, multiplier: int, shift: int) -> int:
    """``round_shift(value * multiplier, shift)`` on Python integers."""
    return (value * multiplier + ((1 << (shift - 1)) if shift else 0)) >> shift
