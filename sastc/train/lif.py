"""The LIF scan over time, as the torch model calls it, and the leaky readout.

:func:`lif_scan` computes the rule of :mod:`sastc.train.scan.rule` (LIF with reset to
zero or by subtraction, IF for ``beta = 1``, current-based LIF for ``alpha > 0``) in
surrogate, hard or conventional spike mode, with the fastest scan for the tensor's
device (:mod:`sastc.train.scan.dispatch`); :func:`lif_scan_reference` is the same function
in plain autograd.
"""

from __future__ import annotations

import torch

from sastc.train.scan.dispatch import run_scan
from sastc.train.scan.reference import reference_scan
from sastc.train.scan.rule import RESETS, SPIKE_MODES, ScanRule

__all__ = ["RESETS", "SPIKE_MODES", "leaky_readout", "lif_scan", "lif_scan_reference"]


def lif_scan(current: torch.Tensor, beta: float, theta: float, k: float,
             mode: str = "surrogate", reset: str = "zero", alpha: float = 0.0,
             backend: str | None = None) -> torch.Tensor:
    """Spikes ``[T, ...]`` of LIF neurons driven by ``current [T, ...]`` from zero state.

    ``backend`` (``torch``, ``cpu-fused``, ``triton``) overrides the automatic choice.
    """
    rule = ScanRule(float(beta), float(theta), float(k), mode, reset, float(alpha))
    return run_scan(current, rule, backend)


def lif_scan_reference(current: torch.Tensor, beta: float, theta: float, k: float,
                       mode: str = "surrogate", reset: str = "zero",
                       alpha: float = 0.0) -> torch.Tensor:
    """The same scan written with plain autograd ops (for tests of the fast scans)."""
    return reference_scan(current, ScanRule(float(beta), float(theta), float(k), mode, reset,
                                            float(alpha)))


def leaky_readout(current: torch.Tensor, beta: float) -> torch.Tensor:
    """Logits ``mean_t u[t]`` of leaky integrators ``u[t] = beta u[t-1] + I[t]``.

    Equivalent closed form without a loop: ``mean_t u[t] = sum_tau w[tau] I[tau]`` with
    ``w[tau] = (1 - beta^(T - tau)) / ((1 - beta) T)`` (``(T - tau) / T`` for ``beta = 1``).
    """
    steps = current.shape[0]
    remaining = torch.arange(steps, 0, -1, dtype=current.dtype, device=current.device)
    weights = remaining / steps if beta >= 1.0 else (1.0 - beta ** remaining) / ((1.0 - beta) * steps)
    return torch.tensordot(weights, current, dims=1)
