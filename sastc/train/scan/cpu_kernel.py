"""The scan as one fused C loop per direction on CPU tensors, neurons split over threads.

``lif_scan.c`` (built on first use by :mod:`sastc.train.scan.cpu_build`) walks a block of
neurons through all ``T`` steps with the state in cache: the forward reads ``I`` and
writes ``s`` and ``u_pre`` (``u_pre`` only when a backward pass will need it), the backward
reads ``dL/ds``, ``u_pre`` and, for the surrogate forward, ``s``, and writes ``dL/dI``;
the equations are those of :mod:`sastc.train.scan.rule`. Hard spikes are bit-identical to
the reference scan's (its arithmetic has no fused multiply-add); sigmoids use a polynomial
``exp`` within 2 ulp of libm's, with denormal results flushed to zero. float32 and float64
tensors; the neurons are split over up to ``torch.get_num_threads()`` threads
(:mod:`sastc.train.scan.parallel`).

Without a C compiler, or if the build fails, :func:`available` is False (the reason is
logged once) and :mod:`sastc.train.scan.dispatch` runs the torch scan.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os

import torch

from sastc.train.scan import cpu_build, parallel
from sastc.train.scan.autograd import scan_function
from sastc.train.scan.layout import same_layout, time_major
from sastc.train.scan.rule import ScanRule

SUFFIXES = {torch.float32: "f32", torch.float64: "f64"}
ALIGN = 16  # neurons per range boundary: whole 64-byte lines of float32

_LOG = logging.getLogger(__name__)
_POINTER, _LONG = ctypes.c_void_p, ctypes.c_long
_RULE = [ctypes.c_double] * 4 + [ctypes.c_int] * 2  # beta, theta, k, alpha, smooth, subtract
SIGNATURES: dict[str, tuple[list, type | None]] = {  # every kernel of lif_scan.c: argtypes,
    # restype (pointers: data and the long arrays; then the range or thread count; then the rule)
    "lif_forward": ([_POINTER] * 3 + [_LONG] * 4 + _RULE, None),
    "lif_backward": ([_POINTER] * 4 + [_LONG] * 4 + _RULE, None),
    "event_conv_forward": ([_POINTER] * 7 + [_LONG] * 2, None),
    "event_conv_weight_grad": ([_POINTER] * 7 + [_LONG] * 2, None),
    "event_lif_forward": ([_POINTER] * 8 + [_LONG] * 2 + _RULE, ctypes.c_int),
    "event_lif_backward": ([_POINTER] * 9 + [_LONG] * 2 + _RULE, ctypes.c_int),
    "conv_input_grad": ([_POINTER] * 4 + [_LONG] * 2, None),
}


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels, or None (logged once) when they cannot be built here."""
    try:
        lib = cpu_build.load_library()
    except cpu_build.BuildFailed as exc:
        _LOG.warning("fused CPU scan unavailable, the torch scan runs instead: %s", exc)
        return None
    for kernel, (argtypes, restype) in SIGNATURES.items():
        for suffix in SUFFIXES.values():
            for name in parallel.entries(kernel, suffix):
                if parallel.has_entry(lib, name):
                    getattr(lib, name).argtypes = argtypes
                    getattr(lib, name).restype = restype
    return lib


def library_with(kernel: str) -> ctypes.CDLL | None:
    """:func:`library` where it exports ``kernel`` (a library built from older sources in a
    damaged cache may not), else None."""
    lib = library()
    return lib if lib is not None and parallel.has_entry(lib, f"{kernel}_f32") else None


def switched_on(variable: str) -> bool:
    """Whether the environment variable ``variable`` leaves a kernel on (unset, or anything
    but 0, off, false, no)."""
    return os.environ.get(variable, "1").strip().lower() not in ("0", "off", "false", "no")


def runs_conv(x: torch.Tensor, conv: torch.nn.Module) -> bool:
    """Whether the convolution kernels take ``conv`` on ``x``: a plain ``nn.Conv2d`` (no
    groups, dilation or padding modes) of ``x``'s float32/64 type, on a non-empty CPU
    tensor."""
    return (isinstance(conv, torch.nn.Conv2d) and x.device.type == "cpu"
            and x.dtype in SUFFIXES and conv.weight.dtype == x.dtype and x.numel() > 0
            and conv.groups == 1 and conv.dilation == (1, 1) and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple))


def available() -> bool:
    """Whether the kernels are built and loaded (builds them on the first call)."""
    return library() is not None


def takes(current: torch.Tensor) -> bool:
    """Whether the kernels can run ``current`` (a non-empty float32/64 CPU tensor)."""
    return (current.device.type == "cpu" and current.dtype in SUFFIXES
            and current.dim() >= 1 and current.numel() > 0)


def supports(current: torch.Tensor) -> bool:
    """Whether :func:`forward` runs ``current`` here: :func:`takes` it and :func:`available`."""
    return takes(current) and available()


def constants(rule: ScanRule) -> tuple[float, float, float, float, int, int]:
    """The kernels' trailing arguments: beta, theta, k, alpha, smooth, subtract."""
    return (rule.beta, rule.theta, rule.k, rule.alpha, int(rule.smooth),
            int(rule.reset == "subtract"))


def forward(current: torch.Tensor, rule: ScanRule, keep_u_pre: bool = True
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(spikes, u_pre)`` of ``current [T, ...]`` from zero state (``u_pre`` None unless
    ``keep_u_pre``); both share ``current``'s layout where it is time-major and dense."""
    current = time_major(current)
    steps, neurons = current.shape[0], current[0].numel()
    spikes = torch.empty_like(current)
    u_pre = torch.empty_like(current) if keep_u_pre else None
    pointers = (current.data_ptr(), spikes.data_ptr(), u_pre.data_ptr() if keep_u_pre else None)
    parallel.run(library(), "lif_forward", SUFFIXES[current.dtype],
                 lambda slot: (*pointers, steps, neurons), constants(rule), neurons, steps, ALIGN)
    return spikes, u_pre


def backward(grad_spikes: torch.Tensor, u_pre: torch.Tensor, spikes: torch.Tensor,
             rule: ScanRule) -> torch.Tensor:
    """``dL/dI`` (in ``u_pre``'s layout) from ``dL/ds`` and the forward's ``u_pre`` and ``s``."""
    grad_spikes = same_layout(grad_spikes, u_pre)
    steps, neurons = u_pre.shape[0], u_pre[0].numel()
    grad_current = torch.empty_like(u_pre)
    pointers = (grad_spikes.data_ptr(), u_pre.data_ptr(), spikes.data_ptr(),
                grad_current.data_ptr())
    parallel.run(library(), "lif_backward", SUFFIXES[u_pre.dtype],
                 lambda slot: (*pointers, steps, neurons), constants(rule), neurons, steps, ALIGN)
    return grad_current


FusedScan = scan_function("FusedScan", forward, backward)
