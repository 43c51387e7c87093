"""Sharpness-aware minimisation (Foret et al. 2021) around any base optimizer.

One SAST step, from weights ``w``::

    g   = grad L(w; first F of batch_1)       first gradient evaluation (the ascent)
    e   = rho * g / ||g||_2                   ascent to the worst nearby point
    g'  = grad L(w + e; batch_2)              second evaluation, at the perturbed weights
    w  <- base_optimizer_step(w, g')          after restoring w

``F`` is ``--ascent-fraction`` (0.5 by default: ``g`` only sets a direction; 1 is the
papers' step). ``batch_2`` is an independent minibatch by default (the setting of the
SAST convergence result) or the same one. Under DistributedDataParallel both
gradients are all-reduced during backward, so every rank computes the same
``e`` and the step equals single-process SAM on the global batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sastc.errors import TrainingDiverged

Closure = Callable[[], torch.Tensor]


class SAM:
    """Perturb/restore helper; the base optimizer does the actual update."""

    def __init__(self, params: list[torch.nn.Parameter], rho: float, eps: float = 1e-12) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.rho = rho
        self.eps = eps
        self._offsets: list[torch.Tensor] = []
        self._perturbed: list[torch.nn.Parameter] = []

    @torch.no_grad()
    def grad_norm(self) -> torch.Tensor:
        """``||g||_2`` over all parameters that have a gradient."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))

    @torch.no_grad()
    def perturb(self) -> float:
        """Move to ``w + rho g / ||g||``; returns ``||g||``."""
        norm = self.grad_norm()
        scale = float(self.rho / (norm + self.eps))
        self._perturbed = [p for p in self.params if p.grad is not None]
        self._offsets = torch._foreach_mul([p.grad for p in self._perturbed], scale)
        torch._foreach_add_(self._perturbed, self._offsets)
        return float(norm)

    @torch.no_grad()
    def restore(self) -> None:
        """Undo :meth:`perturb` exactly (same offsets subtracted)."""
        if self._perturbed:
            torch._foreach_sub_(self._perturbed, self._offsets)
        self._perturbed, self._offsets = [], []


def _checked(loss: torch.Tensor, where: str) -> float:
    value = float(loss.detach())
    if not torch.isfinite(loss.detach()):
        raise TrainingDiverged(f"the loss became {value} ({where})")
    return value


def sam_step(optimizer: torch.optim.Optimizer, sam: SAM, first: Closure, second: Closure) -> float:
    """One SAST update. ``first``/``second`` compute a loss and call ``backward``.

    Returns the loss at ``w`` (first batch).
    """
    optimizer.zero_grad(set_to_none=True)
    loss = _checked(first(), "first SAM gradient")
    sam.perturb()
    optimizer.zero_grad(set_to_none=True)
    try:
        _checked(second(), "second SAM gradient, at the perturbed weights")
    finally:
        sam.restore()
    optimizer.step()
    return loss


def plain_step(optimizer: torch.optim.Optimizer, first: Closure) -> float:
    """One ordinary update (rho = 0 baselines)."""
    optimizer.zero_grad(set_to_none=True)
    loss = _checked(first(), "gradient step")
    optimizer.step()
    return loss
