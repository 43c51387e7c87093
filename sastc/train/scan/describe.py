"""What the training log says about the scan a run uses."""

from __future__ import annotations

import torch

from sastc.train.scan.dispatch import usable_backend

DESCRIPTIONS = {"torch": "torch ops per time step", "cpu-fused": "fused C kernel",
                "triton": "fused Triton kernel"}


def describe_backend(device: torch.device | str) -> str:
    """What a float32 scan on ``device`` runs, e.g. ``"triton (fused Triton kernel)"``
    (a kernel built on first use is built here; a backend ``$SASTC_SCAN`` asks for that
    cannot run on ``device`` is a :class:`~sastc.train.scan.dispatch.ScanBackendError`)."""
    name = usable_backend(torch.zeros(1, 1, device=device))
    return f"{name} ({DESCRIPTIONS.get(name, name)})"
