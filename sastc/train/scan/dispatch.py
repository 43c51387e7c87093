"""Which scan runs: a fused kernel where one is available for the device, else torch ops.

``auto`` picks the Triton kernel for CUDA tensors (when Triton imports), the fused C
kernel for CPU tensors (when a C compiler built it), and the torch-op scan otherwise.
The environment variable ``SASTC_SCAN`` (``auto``, ``torch``, ``cpu-fused``, ``triton``)
overrides the choice for a whole process, e.g. to compare them.
"""

from __future__ import annotations

import os

import torch

from sastc.train.scan import cpu_kernel, triton_kernel
from sastc.train.scan.rule import ScanRule
from sastc.train.scan.torch_ops import TorchScan, forward_scan

BACKENDS = ("auto", "torch", "cpu-fused", "triton")


def chosen_backend(current: torch.Tensor, requested: str | None = None) -> str:
    """The backend that runs ``current`` for ``requested`` (None: ``$SASTC_SCAN`` or auto)."""
    name = requested or os.environ.get("SASTC_SCAN", "auto")
    if name not in BACKENDS:
        raise ValueError(f"scan backend must be one of {BACKENDS}, got {name!r}")
    if name == "cpu-fused" and cpu_kernel.takes(current) and not cpu_kernel.available():
        return "torch"  # no compiler or a failed build: logged once by cpu_kernel
    if name != "auto":
        return name
    if (current.is_cuda and triton_kernel.supports(current)
            and triton_kernel.works_on(current.device)):
        return "triton"
    if cpu_kernel.takes(current) and cpu_kernel.available():
        return "cpu-fused"
    return "torch"


def run_scan(current: torch.Tensor, rule: ScanRule, backend: str | None = None) -> torch.Tensor:
    """Spikes of ``rule``'s neurons for ``current [T, ...]``; differentiable when it needs to be."""
    name = chosen_backend(current, backend)
    needs_grad = torch.is_grad_enabled() and current.requires_grad
    if name == "torch":
        if not needs_grad:
            with torch.no_grad():
                return forward_scan(current, rule)[0]
        return TorchScan.apply(current, rule)
    if name == "triton":
        if not triton_kernel.supports(current):
            raise ValueError(f"scan backend 'triton' does not take a {current.dtype} tensor on "
                             f"{current.device} (Triton installed: "
                             f"{triton_kernel.triton_importable()})")
        if not needs_grad:
            with torch.no_grad():
                return triton_kernel.forward(current, rule)[0]
        return triton_kernel.TritonScan.apply(current, rule)
    if name == "cpu-fused":
        if not cpu_kernel.takes(current):
            raise ValueError(f"scan backend 'cpu-fused' does not take a {current.dtype} tensor "
                             f"on {current.device} (float32 or float64 on cpu)")
        if not needs_grad:
            with torch.no_grad():
                return cpu_kernel.forward(current, rule, keep_u_pre=False)[0]
        return cpu_kernel.FusedScan.apply(current, rule)
    raise ValueError(f"scan backend {name!r} is not available here")
