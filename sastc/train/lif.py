"""The LIF scan over time with a hand-written backward pass.

Forward, per time step ``t`` (reset to zero, as in the SAST papers)::

    u_pre[t] = beta * u[t-1] + I[t]
    s[t]     = f(u_pre[t] - theta)
    u[t]     = u_pre[t] * (1 - s[t])

with ``f`` the spike function of the mode:

- ``surrogate``: ``f(x) = sigmoid(k x)`` (smooth forward, exact gradient);
- ``hard``: ``f(x) = [x > 0]`` (the integer targets' comparison and reset);
- ``conventional``: hard forward, ``sigmoid(k x)``'s derivative backward.

Backward, with ``g_s[t] = dL/ds[t]``, ``a[t] = dL/du[t]`` (``a[T-1] = 0``) and
``f'(t) = k sigma(k x)(1 - sigma(k x))``::

    dL/du_pre[t] = g_s[t] f'(t) + a[t] ((1 - s[t]) - u_pre[t] f'(t))
    dL/dI[t]     = dL/du_pre[t]
    a[t-1]       = beta * dL/du_pre[t]

Autograd would store more intermediates and launch more kernels per step; the
scan keeps only ``u_pre`` and ``s`` and runs a few fused in-place ops per step.
"""

from __future__ import annotations

import torch

SPIKE_MODES = ("surrogate", "hard", "conventional")


def _forward_scan(current: torch.Tensor, beta: float, theta: float, k: float,
                  smooth: bool) -> tuple[torch.Tensor, torch.Tensor]:
    u_pre_all = torch.empty_like(current)
    spikes = torch.empty_like(current)
    u = torch.zeros_like(current[0])
    for t in range(current.shape[0]):
        u_pre, s = u_pre_all[t], spikes[t]
        torch.add(current[t], u, alpha=beta, out=u_pre)
        if smooth:
            torch.sub(u_pre, theta, out=s).mul_(k).sigmoid_()
        else:
            s.copy_(u_pre > theta)
        u = torch.addcmul(u_pre, u_pre, s, value=-1.0)
    return spikes, u_pre_all


class _LIFScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current: torch.Tensor, beta: float, theta: float, k: float,
                smooth: bool) -> torch.Tensor:
        spikes, u_pre = _forward_scan(current, beta, theta, k, smooth)
        ctx.save_for_backward(u_pre, spikes)
        ctx.constants = (beta, theta, k, smooth)
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):
        u_pre, spikes = ctx.saved_tensors
        beta, theta, k, smooth = ctx.constants
        grad_current = torch.empty_like(u_pre)
        carry = None
        for t in range(u_pre.shape[0] - 1, -1, -1):
            s = spikes[t]
            sig = s if smooth else torch.sub(u_pre[t], theta).mul_(k).sigmoid_()
            slope = torch.addcmul(sig, sig, sig, value=-1.0).mul_(k)
            grad = torch.mul(grad_spikes[t], slope, out=grad_current[t])
            if carry is not None:
                keep = torch.addcmul(torch.rsub(s, 1.0), u_pre[t], slope, value=-1.0)
                grad.addcmul_(carry, keep)
            carry = grad * beta
        return grad_current, None, None, None, None


def lif_scan(current: torch.Tensor, beta: float, theta: float, k: float,
             mode: str = "surrogate") -> torch.Tensor:
    """Spikes ``[T, ...]`` of LIF neurons driven by ``current [T, ...]`` from reset state."""
    if mode not in SPIKE_MODES:
        raise ValueError(f"spike mode must be one of {SPIKE_MODES}, got {mode!r}")
    smooth = mode == "surrogate"
    if not torch.is_grad_enabled() or not current.requires_grad:
        with torch.no_grad():
            return _forward_scan(current, beta, theta, k, smooth)[0]
    return _LIFScan.apply(current, float(beta), float(theta), float(k), smooth)


def lif_scan_reference(current: torch.Tensor, beta: float, theta: float, k: float,
                       mode: str = "surrogate") -> torch.Tensor:
    """The same scan written with plain autograd ops (for tests of the custom backward)."""
    u = torch.zeros_like(current[0])
    out = []
    for t in range(current.shape[0]):
        u_pre = beta * u + current[t]
        smooth = torch.sigmoid(k * (u_pre - theta))
        if mode == "surrogate":
            s = smooth
        else:
            hard = (u_pre > theta).to(current.dtype)
            s = smooth + (hard - smooth).detach()
        u = u_pre * (1 - s)
        out.append(s)
    return torch.stack(out)


def leaky_readout(current: torch.Tensor, beta: float) -> torch.Tensor:
    """Logits ``mean_t u[t]`` of leaky integrators ``u[t] = beta u[t-1] + I[t]``.

    Equivalent closed form without a loop: ``mean_t u[t] = sum_tau w[tau] I[tau]`` with
    ``w[tau] = (1 - beta^(T - tau)) / ((1 - beta) T)`` (``(T - tau) / T`` for ``beta = 1``).
    """
    steps = current.shape[0]
    remaining = torch.arange(steps, 0, -1, dtype=current.dtype, device=current.device)
    weights = remaining / steps if beta >= 1.0 else (1.0 - beta ** remaining) / ((1.0 - beta) * steps)
    return torch.tensordot(weights, current, dims=1)
