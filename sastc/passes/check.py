"""``check``: static range analysis of the integer network, and board limits.

Contract: the compile fails (``CompileError`` naming the layer, the bound and
the limit) when an integer could wrap; where the profile lets the membrane
saturate, the report says exactly which layers can reach saturation. Per
layer, with ``x_max`` the largest input count::

    |acc|   <= A = max_c sum_i |W_q[c, i]| * x_max        < 2^(accumulator_bits - 1)
    |drive| <= D = A * 2^frac_bits + max |bias_q|          and D + 2^(membrane_bits-1) < 2^31
    |u|     <= (D + 1) * sum_{t<T} beta^t                  saturation-free if <= membrane limit
               (CubaLIF: D replaced by the current's bound (D + 1) * sum_{t<T} alpha^t)
    |u * beta_q| < 2^31                                    (membrane_bits - 1 + leak_shift <= 31)
    |logits| <= T * membrane limit < 2^31                  (LI readout)

It also records which simulator kernel is exact for each layer (float32 below
2^24, float64 below 2^53, else int64) and, for a board, flash and RAM use. The bounds
themselves are :mod:`sastc.ir.ranges`'.
"""

from __future__ import annotations

from typing import Any

from sastc.errors import CompileError
from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import accumulator_bound, kernel_dtype, layer_state_bound, max_inputs
from sastc.neurons import is_spiking
from sastc.passes.context import CompileContext
from sastc.targets import Board

INT32_MAX = (1 << 31) - 1


def layer_ranges(layer: QLayer, x_max: int, accumulator_bits: int, time_bins: int
                 ) -> dict[str, Any]:
    """Bounds of one layer; raises :class:`CompileError` where a value could wrap."""
    acc = accumulator_bound(layer, x_max)
    limit = (1 << (layer.membrane_bits - 1)) - 1
    where = f"layer {layer.name!r}"
    if acc > (1 << (accumulator_bits - 1)) - 1:
        raise CompileError(f"{where}: accumulator can reach {acc}, beyond {accumulator_bits} bits; "
                           "use fewer weight bits or a smaller layer")
    drive = acc * (1 << layer.frac_bits) + int(abs(layer.bias_q).max(initial=0))
    if drive + limit > INT32_MAX:
        raise CompileError(f"{where}: synaptic drive can reach {drive} (acc {acc} << "
                           f"{layer.frac_bits}), which with the membrane overflows 32 bits")
    if layer.membrane_bits - 1 + layer.leak_shift > 31 \
            or max(layer.beta_q, layer.alpha_q) > 1 << layer.leak_shift:
        raise CompileError(f"{where}: leak multiply u * beta_q needs "
                           f"{layer.membrane_bits - 1 + layer.leak_shift + 1} bits; the runtime "
                           "computes it in 32 bits (membrane_bits - 1 + leak_shift <= 31)")
    bound = layer_state_bound(layer, float(drive), time_bins)
    if not is_spiking(layer.neuron) and time_bins * limit > INT32_MAX:
        raise CompileError(f"{where}: {time_bins} steps of a {layer.membrane_bits}-bit readout "
                           "can overflow the 32-bit logits")
    return {"name": layer.name, "max_input": x_max, "accumulator_bound": acc,
            "drive_bound": drive, "membrane_bound": bound, "membrane_limit": limit,
            "can_saturate": bound > limit,
            "simulator_kernel": kernel_dtype(acc).__name__}


def memory_use(qnet: QNet) -> dict[str, int]:
    """Flash and RAM of the compiled model as the C runtime lays it out."""
    from sastc.backends.c_checks import model_memory

    return model_memory(qnet)


def check_board(usage: dict[str, int], board: Board) -> None:
    for key, limit, what in (("flash_bytes", board.flash_bytes, "flash"),
                             ("ram_bytes", board.ram_bytes, "RAM")):
        if usage[key] > limit:
            raise CompileError(f"the model needs {usage[key]:,} bytes of {what} but board "
                               f"{board.name!r} has {limit:,}; use int4 weights, a smaller "
                               "network or a larger board")


def check_pass(ctx: CompileContext) -> None:
    if ctx.qnet is None:
        ctx.report["check"] = {"integer": False}
        return
    qnet = ctx.qnet
    numerics = ctx.profile.numerics
    bits = numerics.accumulator_bits if numerics is not None else 32
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])
    ranges = [layer_ranges(layer, x_max, bits, qnet.time_bins)
              for layer, x_max in zip(qnet.layers, bounds, strict=True)]
    saturating = [r["name"] for r in ranges if r["can_saturate"]]
    if saturating and (numerics is None or numerics.overflow != "saturate"):
        raise CompileError(f"layers {saturating} can exceed the membrane range and profile "
                           f"{ctx.profile.name!r} does not allow saturation (numerics.overflow "
                           f"{getattr(numerics, 'overflow', None)!r})")
    usage = memory_use(qnet)
    if ctx.board is not None:
        check_board(usage, ctx.board)
    ctx.report["check"] = {"integer": True, "layers": ranges, "saturation": saturating,
                           "memory": usage,
                           "board": ctx.board.name if ctx.board else None}
    if saturating:
        ctx.log(f"check: membranes of {saturating} can reach saturation (bounded, see report)")
