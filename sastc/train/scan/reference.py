"""The scan written with plain autograd ops: the definition the fast scans are tested against."""

from __future__ import annotations

import torch

from sastc.train.scan.rule import ScanRule


def reference_scan(current: torch.Tensor, rule: ScanRule) -> torch.Tensor:
    """Spikes ``[T, ...]`` of :class:`ScanRule` neurons, autograd through every op."""
    u = torch.zeros_like(current[0])
    c = torch.zeros_like(current[0])
    out = []
    for t in range(current.shape[0]):
        c = rule.alpha * c + current[t]
        u_pre = rule.beta * u + c
        smooth = torch.sigmoid(rule.k * (u_pre - rule.theta))
        if rule.smooth:
            s = smooth
        else:
            hard = (u_pre > rule.theta).to(current.dtype)
            s = smooth + (hard - smooth).detach()
        u = u_pre * (1 - s) if rule.reset == "zero" else u_pre - rule.theta * s
        out.append(s)
    return torch.stack(out)
