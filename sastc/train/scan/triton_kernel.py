"""The scan as two Triton kernels (forward, backward), each one pass over all ``T`` steps.

One program owns a block of neurons and walks through time with the state in registers,
so a layer costs two kernel launches instead of a few per time step; the forward stores
``s`` and ``u_pre``, the backward reads ``dL/ds`` and ``u_pre`` and recomputes the spike
(the rule and its gradient are in :mod:`sastc.train.scan.rule`). Arithmetic is in float32
(float64 for float64 tensors). Triton is optional: without it, or for tensors it does not
take, :mod:`sastc.train.scan.dispatch` runs the torch scan. With ``TRITON_INTERPRET=1``
set before the first call, the kernels run on CPU tensors through Triton's interpreter
(how the tests check them on machines without a GPU).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from typing import Any

import torch

from sastc.train.scan.autograd import scan_function
from sastc.train.scan.layout import same_layout, time_major
from sastc.train.scan.rule import ScanRule
from sastc.train.scan.torch_ops import forward_scan

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
MAX_ELEMENTS = 2**31 - 1  # 32-bit offsets in the kernels

_LOG = logging.getLogger(__name__)


def triton_importable() -> bool:
    """Whether Triton is installed (no import, so no CUDA initialisation)."""
    return importlib.util.find_spec("triton") is not None


def interpreted() -> bool:
    """Whether Triton runs kernels through its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def supports(current: torch.Tensor) -> bool:
    """Whether the Triton kernels take ``current`` (device, dtype, size)."""
    on_device = current.is_cuda or (interpreted() and current.device.type == "cpu")
    return (on_device and current.dtype in DTYPES and current.dim() >= 1
            and 0 < current.numel() <= MAX_ELEMENTS and triton_importable())


@functools.cache
def _kernels(interpret: bool) -> tuple[Any, Any]:
    """Compile-on-first-use ``(forward, backward)`` kernels (separately for the interpreter)."""
    del interpret  # part of the cache key: triton.jit reads TRITON_INTERPRET when decorating
    from sastc.train.scan import triton_source

    return triton_source.build()


def _launch_shape(neurons: int) -> tuple[int, int]:
    """``(BLOCK, num_warps)``: small blocks for small layers, so every SM gets work."""
    block = 128
    while block < 1024 and neurons >= block * 2 * 264:
        block *= 2
    return block, max(1, block // 256)


def forward(current: torch.Tensor, rule: ScanRule) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes, u_pre)`` of ``current [T, ...]`` from zero state, in ``current``'s layout
    where :func:`~sastc.train.scan.layout.time_major` takes it."""
    current = time_major(current)
    steps, neurons = current.shape[0], current[0].numel()
    spikes, u_pre = torch.empty_like(current), torch.empty_like(current)
    block, warps = _launch_shape(neurons)
    fwd, _ = _kernels(interpreted())
    fwd[(triton_cdiv(neurons, block),)](
        current, spikes, u_pre, neurons, rule.beta, rule.theta, rule.k, rule.alpha,
        SMOOTH=rule.smooth, SUBTRACT=rule.reset == "subtract", CUBA=rule.alpha != 0.0,
        WIDE=current.dtype == torch.float64, STEPS=steps, BLOCK=block, num_warps=warps)
    return spikes, u_pre


def backward(grad_spikes: torch.Tensor, u_pre: torch.Tensor, rule: ScanRule) -> torch.Tensor:
    """``dL/dI`` from ``dL/ds`` and the forward's ``u_pre``."""
    grad_spikes = same_layout(grad_spikes, u_pre)
    steps, neurons = u_pre.shape[0], u_pre[0].numel()
    grad_current = torch.empty_like(u_pre)
    block, warps = _launch_shape(neurons)
    _, bwd = _kernels(interpreted())
    bwd[(triton_cdiv(neurons, block),)](
        grad_spikes, u_pre, grad_current, neurons, rule.beta, rule.theta, rule.k,
        rule.alpha, SMOOTH=rule.smooth, SUBTRACT=rule.reset == "subtract",
        CUBA=rule.alpha != 0.0, WIDE=u_pre.dtype == torch.float64, STEPS=steps, BLOCK=block,
        num_warps=warps)
    return grad_current


@functools.cache
def works_on(device: torch.device) -> bool:
    """Whether the compiled kernels build and run on ``device``: checked once, on a small
    input against the torch scan. A failure is logged, and ``auto`` runs the torch scan."""
    try:
        current = torch.linspace(-1.0, 3.0, 2 * 300, device=device).reshape(2, 300)
        rule = ScanRule(0.9, 1.0, 5.0, "conventional")
        spikes, u_pre = forward(current, rule)
        expected, expected_u_pre = forward_scan(current, rule)
        grad = backward(torch.ones_like(current), u_pre, rule)
        ok = (torch.equal(spikes, expected) and torch.allclose(u_pre, expected_u_pre)
              and bool(torch.isfinite(grad).all()))
    except Exception as exc:  # any build or launch failure: the torch scan still works
        _LOG.warning("the Triton LIF scan does not run on %s (%s: %s); using the torch scan",
                     device, type(exc).__name__, exc)
        return False
    if not ok:
        _LOG.warning("the Triton LIF scan disagrees with the torch scan on %s; using the "
                     "torch scan", device)
    return ok


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


TritonScan = scan_function(
    "TritonScan", forward, lambda grad, u_pre, _spikes, rule: backward(grad, u_pre, rule),
    keep_spikes=False)
