"""The autograd wrapper every scan backend shares."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sastc.train.scan.rule import ScanRule

Forward = Callable[[torch.Tensor, ScanRule], tuple[torch.Tensor, torch.Tensor]]
Backward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, ScanRule], torch.Tensor]


def scan_function(name: str, forward: Forward, backward: Backward,
                  keep_spikes: bool = True) -> type[torch.autograd.Function]:
    """A ``torch.autograd.Function`` named ``name``: ``forward(current, rule)`` returns
    ``(spikes, u_pre)``; ``backward(dL/ds, u_pre, spikes, rule)`` returns ``dL/dI``. It saves
    ``u_pre``, and the spikes unless ``keep_spikes`` is False (a backward that recomputes
    them gets None)."""

    def run_forward(ctx, current: torch.Tensor, rule: ScanRule) -> torch.Tensor:
        spikes, u_pre = forward(current, rule)
        ctx.save_for_backward(u_pre, spikes if keep_spikes else None)
        ctx.rule = rule
        return spikes

    def run_backward(ctx, grad_spikes: torch.Tensor) -> tuple[torch.Tensor, None]:
        u_pre, spikes = ctx.saved_tensors
        return backward(grad_spikes, u_pre, spikes, ctx.rule), None

    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(run_forward), "backward": staticmethod(run_backward),
        "__doc__": f"Autograd wrapper of the scan in {forward.__module__}."})
