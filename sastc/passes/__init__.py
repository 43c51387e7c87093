"""Compiler passes, each small with one contract; a target's profile gives their order.

============  =============================================================
fold          graph -> fused float layers (avg-pool folded into weights)
calibrate     per-layer threshold scales on the calibration split
quantize      float layers -> integer layers (weights, bias, threshold, leak)
check         range analysis (no overflow / where saturation applies), board limits
============  =============================================================
"""

from __future__ import annotations

from collections.abc import Callable

from sastc.errors import TargetError
from sastc.passes.calibrate import calibrate_pass
from sastc.passes.check import check_pass
from sastc.passes.context import CompileContext
from sastc.passes.fold import fold_pass
from sastc.passes.quantize import quantize_pass

Pass = Callable[[CompileContext], None]

PASSES: dict[str, Pass] = {
    "fold": fold_pass,
    "calibrate": calibrate_pass,
    "quantize": quantize_pass,
    "check": check_pass,
}


def run_passes(ctx: CompileContext) -> None:
    """Run the profile's passes in order."""
    unknown = [name for name in ctx.profile.passes if name not in PASSES]
    if unknown:
        raise TargetError(f"profile {ctx.profile.name!r} names unknown passes {unknown}; "
                          f"available: {', '.join(PASSES)}")
    for name in ctx.profile.passes:
        PASSES[name](ctx)
