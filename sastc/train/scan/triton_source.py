"""The Triton kernels of :mod:`sastc.train.scan.triton_kernel` (imported only when used).

Per neuron (one lane of a block), forward over ``t = 0 .. T-1``::

    c = alpha c + I[t];  u_pre = beta u + c;  s = f(u_pre - theta)
    u = u_pre - u_pre s   (zero)   |   u_pre - theta s   (subtract)

and backward over ``t = T-1 .. 0`` with ``a = dL/du``, ``b = dL/dc`` carried::

    sig = sigma(k (u_pre - theta)),  f' = k sig (1 - sig),  s = sig | [u_pre > theta]
    d = g f' + a ((1 - s) - u_pre f')  |  g f' + a (1 - theta f')
    dL/dI[t] = d + b,   a = beta d,   b = alpha dL/dI[t]
"""

from __future__ import annotations

from typing import Any


def build() -> tuple[Any, Any]:
    """Decorate and return ``(forward, backward)`` (``triton.jit`` reads the interpreter flag
    when it decorates, so this runs on first use, not at import)."""
    return _forward_kernel(), _backward_kernel()


def _forward_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def lif_forward(cur, spk, upre, neurons, beta, theta, k, alpha,
                    SMOOTH: tl.constexpr, SUBTRACT: tl.constexpr, CUBA: tl.constexpr,
                    WIDE: tl.constexpr, STEPS: tl.constexpr, BLOCK: tl.constexpr):
        acc = tl.float64 if WIDE else tl.float32
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < neurons
        u = tl.full([BLOCK], 0.0, acc)
        c = tl.full([BLOCK], 0.0, acc)
        for t in range(STEPS):
            at = t * neurons + offs
            x = tl.load(cur + at, mask=mask, other=0.0).to(acc)
            if CUBA:
                c = alpha * c + x
                x = c
            up = beta * u + x
            s = 1.0 / (1.0 + tl.exp(-(k * (up - theta)))) if SMOOTH else (up > theta).to(acc)
            u = up - theta * s if SUBTRACT else up - up * s
            tl.store(spk + at, s.to(spk.dtype.element_ty), mask=mask)
            tl.store(upre + at, up.to(upre.dtype.element_ty), mask=mask)

    return lif_forward


def _backward_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def lif_backward(gspk, upre, gcur, neurons, beta, theta, k, alpha,
                     SMOOTH: tl.constexpr, SUBTRACT: tl.constexpr, CUBA: tl.constexpr,
                     WIDE: tl.constexpr, STEPS: tl.constexpr, BLOCK: tl.constexpr):
        acc = tl.float64 if WIDE else tl.float32
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < neurons
        a = tl.full([BLOCK], 0.0, acc)
        b = tl.full([BLOCK], 0.0, acc)
        for i in range(STEPS):
            at = (STEPS - 1 - i) * neurons + offs
            g = tl.load(gspk + at, mask=mask, other=0.0).to(acc)
            up = tl.load(upre + at, mask=mask, other=0.0).to(acc)
            sig = 1.0 / (1.0 + tl.exp(-(k * (up - theta))))
            slope = k * sig * (1.0 - sig)
            s = sig if SMOOTH else (up > theta).to(acc)
            keep = 1.0 - theta * slope if SUBTRACT else 1.0 - s - up * slope
            d = g * slope + a * keep
            gi = d
            if CUBA:
                gi = d + b
                b = alpha * gi
            a = beta * d
            tl.store(gcur + at, gi.to(gcur.dtype.element_ty), mask=mask)

    return lif_backward
