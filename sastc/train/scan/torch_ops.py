"""The scan as a few in-place torch ops per time step, with a hand-written backward.

Runs on any device; the fused kernels (:mod:`sastc.train.scan.cpu_kernel`,
:mod:`sastc.train.scan.triton_kernel`) do the same in one pass over ``[T, N]``.
Autograd would store more intermediates and launch more kernels per step.
"""

from __future__ import annotations

import torch

from sastc.train.scan.autograd import scan_function
from sastc.train.scan.rule import ScanRule


def forward_scan(current: torch.Tensor, rule: ScanRule) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes, u_pre)``, both ``[T, ...]``, for ``current [T, ...]`` from zero state."""
    u_pre_all = torch.empty_like(current)
    spikes = torch.empty_like(current)
    u = torch.zeros_like(current[0])
    c = torch.zeros_like(current[0]) if rule.alpha else None
    for t in range(current.shape[0]):
        u_pre, s = u_pre_all[t], spikes[t]
        drive = current[t]
        if c is not None:
            drive = c.mul_(rule.alpha).add_(current[t])
        torch.add(drive, u, alpha=rule.beta, out=u_pre)
        if rule.smooth:
            torch.sub(u_pre, rule.theta, out=s).mul_(rule.k).sigmoid_()
        else:
            s.copy_(u_pre > rule.theta)
        if rule.reset == "zero":
            u = torch.addcmul(u_pre, u_pre, s, value=-1.0)
        else:
            u = torch.add(u_pre, s, alpha=-rule.theta)
    return spikes, u_pre_all


def backward_scan(grad_spikes: torch.Tensor, u_pre: torch.Tensor, spikes: torch.Tensor,
                  rule: ScanRule) -> torch.Tensor:
    """``dL/dI [T, ...]`` from ``dL/ds`` and the forward's ``u_pre`` and ``s``."""
    grad_current = torch.empty_like(u_pre)
    carry_u = carry_c = None
    for t in range(u_pre.shape[0] - 1, -1, -1):
        s = spikes[t]
        sig = s if rule.smooth else torch.sub(u_pre[t], rule.theta).mul_(rule.k).sigmoid_()
        slope = torch.addcmul(sig, sig, sig, value=-1.0).mul_(rule.k)
        grad = torch.mul(grad_spikes[t], slope, out=grad_current[t])
        if carry_u is not None:
            if rule.reset == "zero":
                keep = torch.addcmul(torch.rsub(s, 1.0), u_pre[t], slope, value=-1.0)
            else:
                keep = torch.mul(slope, -rule.theta).add_(1.0)
            grad.addcmul_(carry_u, keep)
        carry_u = grad * rule.beta
        if rule.alpha:
            if carry_c is not None:
                grad.add_(carry_c)
            carry_c = grad * rule.alpha
    return grad_current


TorchScan = scan_function(
    "TorchScan", forward_scan,
    lambda grad, u_pre, spikes, rule: backward_scan(grad.contiguous(), u_pre, spikes, rule))
