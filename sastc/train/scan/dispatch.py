"""Which scan runs: a fused kernel where one is available for the device, else torch ops.

``auto`` picks the Triton kernel for CUDA tensors (when Triton imports), the fused C
kernel for CPU tensors (when a C compiler built it), and the torch-op scan otherwise.
The environment variable ``SASTC_SCAN`` (``auto``, ``torch``, ``cpu-fused``, ``triton``)
overrides the choice for a whole process, e.g. to compare them.
"""

from __future__ import annotations

import os

import torch

from sastc.errors import ConfigError
from sastc.train.scan import cpu_kernel, triton_kernel
from sastc.train.scan.rule import ScanRule
from sastc.train.scan.torch_ops import TorchScan, forward_scan

BACKENDS = ("auto", "torch", "cpu-fused", "triton")
ENVIRONMENT = "SASTC_SCAN"


class ScanBackendError(ConfigError, ValueError):
    """A scan backend that does not exist, or cannot run the tensor it was asked for."""


def _requested(requested: str | None) -> tuple[str, str]:
    """``(name, where it came from)``: the argument, else ``$SASTC_SCAN``, else auto."""
    if requested:
        return requested, "scan backend"
    if os.environ.get(ENVIRONMENT):
        return os.environ[ENVIRONMENT], f"{ENVIRONMENT}: scan backend"
    return "auto", "scan backend"


def chosen_backend(current: torch.Tensor, requested: str | None = None) -> str:
    """The backend that runs ``current`` for ``requested`` (None: ``$SASTC_SCAN`` or auto)."""
    name, where = _requested(requested)
    if name not in BACKENDS:
        raise ScanBackendError(f"{where} must be one of {', '.join(BACKENDS)}, got {name!r}")
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


def unusable(name: str, current: torch.Tensor) -> str | None:
    """Why backend ``name`` cannot run ``current`` (None: it can)."""
    if name == "triton" and not triton_kernel.supports(current):
        return (f"'triton' does not take a {current.dtype} tensor on {current.device} "
                f"(Triton installed: {triton_kernel.triton_importable()})")
    if name == "cpu-fused" and not cpu_kernel.takes(current):
        return (f"'cpu-fused' does not take a {current.dtype} tensor on {current.device} "
                "(float32 or float64 on cpu)")
    return None


def usable_backend(current: torch.Tensor, requested: str | None = None) -> str:
    """:func:`chosen_backend`, or a :class:`ScanBackendError` saying why it cannot run
    ``current`` (naming ``$SASTC_SCAN`` when that asked for it)."""
    name = chosen_backend(current, requested)
    reason = unusable(name, current)
    if reason is not None:
        raise ScanBackendError(f"{_requested(requested)[1]} {reason}")
    return name


def run_scan(current: torch.Tensor, rule: ScanRule, backend: str | None = None) -> torch.Tensor:
    """Spikes of ``rule``'s neurons for ``current [T, ...]``; differentiable when it needs to be."""
    name = usable_backend(current, backend)
    needs_grad = torch.is_grad_enabled() and current.requires_grad
    if name == "torch":
        if not needs_grad:
            with torch.no_grad():
                return forward_scan(current, rule)[0]
        return TorchScan.apply(current, rule)
    if name == "triton":
        if not needs_grad:
            with torch.no_grad():
                return triton_kernel.forward(current, rule)[0]
        return triton_kernel.TritonScan.apply(current, rule)
    if not needs_grad:
        with torch.no_grad():
            return cpu_kernel.forward(current, rule, keep_u_pre=False)[0]
    return cpu_kernel.FusedScan.apply(current, rule)
