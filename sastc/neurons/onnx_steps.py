"""The neuron rules as ONNX ops: one time step, float32 or int64 (the rules of
:mod:`sastc.neurons.lif` and :mod:`sastc.neurons.li`).

``g`` is the step-graph builder of :mod:`sastc.backends.onnx_graph` (``g.op``, ``g.const``);
``layer`` a ``FloatLayer`` (float steps, ``drive`` is ``I = W x + b``) or a ``QLayer``
(integer steps, ``drive`` is the exact int64 sum ``acc``); ``states`` maps ``"u"`` (and
``"c"`` for a synaptic current) to the state inputs. ONNX ``Div`` truncates toward zero and
``BitShift`` is unsigned only, so the integer ``round_shift`` floors with
``(a - Mod(a, d)) / d``, ``Mod``'s floor (``fmod=0``) remainder making it an exact division.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sastc import numerics
from sastc.neurons.model import CURRENT, MEMBRANE, OnnxStep

FLOAT, INT64 = 1, 7  # onnx.TensorProto element types (importing onnx is not needed here)


def channel_view(values: np.ndarray, layer: Any) -> np.ndarray:
    """Per-output-channel values shaped ``[C, 1, 1]`` (conv) or ``[C]`` (dense)."""
    ndim = len(layer.geometry.out_shape)
    return np.asarray(values).reshape((-1,) + (1,) * (ndim - 1))


def floor_div(g: Any, a: str, divisor: int) -> str:
    """``floor(a / divisor)`` on int64 for ``divisor > 0`` (an arithmetic right shift)."""
    d = g.const(divisor, "divisor", np.int64)
    remainder = g.op("Mod", [a, d], "remainder", fmod=0)
    return g.op("Div", [g.op("Sub", [a, remainder], "exact"), d], "floor")


def round_shift(g: Any, a: str, shift: int) -> str:
    """``numerics.round_shift``: ``floor((a + 2^(shift-1)) / 2^shift)``."""
    if shift == 0:
        return a
    half = g.const(1 << (shift - 1), "half", np.int64)
    return floor_div(g, g.op("Add", [a, half], "rounded"), 1 << shift)


# --- float32 -------------------------------------------------------------------------------


def lif_float(g: Any, layer: Any, current: str, states: Mapping[str, str]) -> OnnxStep:
    """``[c = alpha c + I]``, ``u_pre = beta u + c``, ``s = u_pre > theta``, then the reset."""
    drive, new = current, {}
    if CURRENT in states:
        decayed = g.op("Mul", [g.const(layer.alpha, "alpha"), states[CURRENT]], "c_decayed")
        drive = new[CURRENT] = g.op("Add", [decayed, current], "c_next")
    u_pre = _float_integrate(g, layer, states[MEMBRANE], drive)
    theta = g.const(channel_view(layer.threshold, layer), "theta")
    spikes = g.op("Greater", [u_pre, theta], "spikes")
    after = g.const(0.0, "zero") if layer.reset == "zero" \
        else g.op("Sub", [u_pre, theta], "u_minus_theta")
    new[MEMBRANE] = g.op("Where", [spikes, after, u_pre], "u_reset")
    spikes_f = g.op("Cast", [spikes], "spikes_f", to=FLOAT)
    return OnnxStep(spikes_f, new, spikes, spikes_f)


def li_float(g: Any, layer: Any, current: str, states: Mapping[str, str]) -> OnnxStep:
    """``u = beta u + I``: the membrane is both the output and the readout."""
    u_pre = _float_integrate(g, layer, states[MEMBRANE], current)
    return OnnxStep(u_pre, {MEMBRANE: u_pre}, None, u_pre)


def _float_integrate(g: Any, layer: Any, u: str, drive: str) -> str:
    leaked = g.op("Mul", [g.const(layer.beta, "beta"), u], "leaked")
    return g.op("Add", [leaked, drive], "u_pre")


# --- int64 ---------------------------------------------------------------------------------


def lif_int(g: Any, layer: Any, acc: str, states: Mapping[str, str]) -> OnnxStep:
    """The integer LIF/IF/CubaLIF step; the synaptic current when ``states`` has one."""
    drive, new = _int_drive(g, layer, acc), {}
    if CURRENT in states:
        drive = new[CURRENT] = _int_integrate(g, layer, states[CURRENT], layer.alpha_q, drive,
                                              "c_next")
    u_pre = _int_integrate(g, layer, states[MEMBRANE], layer.beta_q, drive, "u_pre")
    theta = g.const(channel_view(layer.theta_q, layer), "theta_q", np.int64)
    spikes = g.op("Greater", [u_pre, theta], "spikes")
    after = g.const(0, "zero", np.int64) if layer.reset == "zero" \
        else g.op("Sub", [u_pre, theta], "u_minus_theta")
    new[MEMBRANE] = g.op("Where", [spikes, after, u_pre], "u_reset")
    return OnnxStep(g.op("Cast", [spikes], "spikes_f", to=FLOAT), new, spikes,
                    g.op("Cast", [spikes], "spikes_i", to=INT64))


def li_int(g: Any, layer: Any, acc: str, states: Mapping[str, str]) -> OnnxStep:
    """The integer readout step: ``u = saturate(leak(u) + drive)``, added to the logits."""
    u_pre = _int_integrate(g, layer, states[MEMBRANE], layer.beta_q, _int_drive(g, layer, acc),
                           "u_pre")
    return OnnxStep(g.op("Cast", [u_pre], "u_pre_f", to=FLOAT), {MEMBRANE: u_pre}, None, u_pre)


def _int_drive(g: Any, layer: Any, acc: str) -> str:
    """``(acc << frac_bits) + bias_q``."""
    scaled = g.op("Mul", [acc, g.const(1 << layer.frac_bits, "frac", np.int64)], "acc_shifted")
    bias = g.const(channel_view(layer.bias_q, layer), "bias_q", np.int64)
    return g.op("Add", [scaled, bias], "drive")


def _int_integrate(g: Any, layer: Any, state: str, multiplier: int, drive: str,
                   hint: str) -> str:
    """``saturate(round_shift(state * multiplier, leak_shift) + drive, membrane_bits)``."""
    product = g.op("Mul", [state, g.const(multiplier, "decay_q", np.int64)], "decay_product")
    leaked = round_shift(g, product, layer.leak_shift)
    low, high = numerics.int_range(layer.membrane_bits)
    return g.op("Clip", [g.op("Add", [leaked, drive], "sum"), g.const(low, "low", np.int64),
                         g.const(high, "high", np.int64)], hint)
