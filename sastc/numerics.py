"""Integer semantics of compiled sastc models, defined once.

The integer simulator (``sastc.sim.int_sim``), the ONNX integer export and the
portable C runtime (``targets/runtime/sastc_rt.c``) implement exactly these
rules; docs/numerics.md explains them and the equivalence tests check every
primitive over all int4 and int8 operand pairs.

One LIF time step of a compiled layer, per neuron (all integers)::

    acc     = sum_i W_q[i] * x[i]                      (exact, accumulator width)
    leaked  = round_shift(u * beta_q, leak_shift)      (u = post-reset membrane)
    u_pre   = saturate(leaked + (acc << frac_bits) + bias_q, membrane_bits)
    spike   = u_pre > theta_q                          (strict, as NIR)
    u       = 0 if spike else u_pre                    (reset "zero")
            = u_pre - theta_q if spike else u_pre      (reset "subtract")

IF is the same with ``beta_q = 2**leak_shift``. A current-based LIF (CubaLIF) first
updates its synaptic current, which then takes the place of the drive::

    c       = saturate(round_shift(c * alpha_q, leak_shift) + (acc << frac_bits) + bias_q)
    u_pre   = saturate(round_shift(u * beta_q, leak_shift) + c, membrane_bits)

A readout (LI) layer integrates without spike and reset, and its logits are
``sum_t u_pre[t]``. Which rule a layer runs is its neuron model (:mod:`sastc.neurons`).
``round_shift(x, n) = floor((x + 2**(n-1)) / 2**n)``: round half up, an arithmetic right
shift after adding half.

All functions take and return numpy integer arrays (int64 inside) so they are
safe for every value the range analysis admits.

>>> int(round_shift(np.int64(-3 * 128), 8)), int(round_shift(np.int64(3 * 128), 8))
(-1, 2)
>>> int(saturate(np.int64(300), 8)), int(saturate(np.int64(-300), 8))
(127, -128)
"""

from __future__ import annotations

import numpy as np

INT64 = np.int64


def int_range(bits: int) -> tuple[int, int]:
    """Two's-complement range of a signed ``bits``-wide integer.

    >>> int_range(8)
    (-128, 127)
    """
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """``floor((x + 2**(shift-1)) / 2**shift)``; ``shift == 0`` returns ``x``."""
    x = np.asarray(x, dtype=INT64)
    if shift == 0:
        return x
    return (x + (1 << (shift - 1))) >> shift


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to the signed ``bits``-wide range."""
    low, high = int_range(bits)
    return np.clip(np.asarray(x, dtype=INT64), low, high)


def multiply_shift(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """``round_shift(x * multiplier, shift)``: fixed-point multiply by ``multiplier / 2**shift``."""
    return round_shift(np.asarray(x, dtype=INT64) * INT64(multiplier), shift)


def leak(u: np.ndarray, beta_q: int, leak_shift: int) -> np.ndarray:
    """Membrane decay ``u * beta`` with ``beta = beta_q / 2**leak_shift``, rounded half up."""
    return multiply_shift(u, beta_q, leak_shift)


def integrate(u: np.ndarray, acc: np.ndarray, bias_q: np.ndarray, beta_q: int, leak_shift: int,
              frac_bits: int, membrane_bits: int) -> np.ndarray:
    """``u_pre = saturate(leak(u) + (acc << frac_bits) + bias_q, membrane_bits)``."""
    drive = np.asarray(acc, dtype=INT64) * INT64(1 << frac_bits) + np.asarray(bias_q, dtype=INT64)
    return saturate(leak(u, beta_q, leak_shift) + drive, membrane_bits)


def fire(u_pre: np.ndarray, theta_q: np.ndarray) -> np.ndarray:
    """Spike where ``u_pre > theta_q`` (strict comparison)."""
    return np.asarray(u_pre, dtype=INT64) > np.asarray(theta_q, dtype=INT64)


def reset(u_pre: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    """Reset to zero where a spike was emitted."""
    return np.where(spikes, INT64(0), np.asarray(u_pre, dtype=INT64))


def reset_subtract(u_pre: np.ndarray, spikes: np.ndarray, theta_q: np.ndarray) -> np.ndarray:
    """Subtract the threshold where a spike was emitted (``theta_q < u_pre`` there, so the
    result stays within the membrane).

    >>> reset_subtract(np.array([5, 2]), np.array([True, False]), np.array([3, 3])).tolist()
    [2, 2]
    """
    u_pre = np.asarray(u_pre, dtype=INT64)
    return np.where(spikes, u_pre - np.asarray(theta_q, dtype=INT64), u_pre)


def after_spike(u_pre: np.ndarray, spikes: np.ndarray, theta_q: np.ndarray,
                mode: str) -> np.ndarray:
    """The membrane after a step: :func:`reset` (``mode="zero"``) or :func:`reset_subtract`."""
    return reset(u_pre, spikes) if mode == "zero" else reset_subtract(u_pre, spikes, theta_q)


def lif_step(u: np.ndarray, acc: np.ndarray, *, bias_q: np.ndarray, theta_q: np.ndarray,
             beta_q: int, leak_shift: int, frac_bits: int, membrane_bits: int,
             reset_mode: str = "zero") -> tuple[np.ndarray, np.ndarray]:
    """One integer LIF (or IF) step; returns ``(spikes, u_post)``."""
    u_pre = integrate(u, acc, bias_q, beta_q, leak_shift, frac_bits, membrane_bits)
    spikes = fire(u_pre, theta_q)
    return spikes, after_spike(u_pre, spikes, theta_q, reset_mode)


def cuba_step(u: np.ndarray, c: np.ndarray, acc: np.ndarray, *, bias_q: np.ndarray,
              theta_q: np.ndarray, beta_q: int, alpha_q: int, leak_shift: int, frac_bits: int,
              membrane_bits: int, reset_mode: str = "zero"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One integer CubaLIF step; returns ``(spikes, u_post, c)``."""
    c = integrate(c, acc, bias_q, alpha_q, leak_shift, frac_bits, membrane_bits)
    u_pre = saturate(leak(u, beta_q, leak_shift) + c, membrane_bits)
    spikes = fire(u_pre, theta_q)
    return spikes, after_spike(u_pre, spikes, theta_q, reset_mode), c


def li_step(u: np.ndarray, acc: np.ndarray, *, bias_q: np.ndarray, beta_q: int, leak_shift: int,
            frac_bits: int, membrane_bits: int) -> np.ndarray:
    """One integer leaky-integrator (readout) step; returns the new membrane."""
    return integrate(u, acc, bias_q, beta_q, leak_shift, frac_bits, membrane_bits)


def quantize_beta(beta: float, leak_shift: int) -> int:
    """``beta`` as an integer multiplier with ``leak_shift`` fractional bits.

    >>> quantize_beta(0.9, 8), quantize_beta(1.0, 8)
    (230, 256)
    """
    return int(np.clip(np.round(beta * (1 << leak_shift)), 0, 1 << leak_shift))


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (used for weights and thresholds).

    >>> round_half_away(np.array([0.5, -0.5, 1.49, -2.5])).tolist()
    [1, -1, 1, -3]
    """
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(INT64)
