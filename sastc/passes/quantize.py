"""Quantize a lowered float network to the integer semantics of ``sastc.numerics``.

Weights are symmetric, ``W_q = clip(round(W / s), -q, q)`` with
``q = 2^(bits-1) - 1`` and one scale ``s`` per output channel (one per tensor
for the readout, so logits of all classes share a unit). The clipping value
``s * q`` is chosen among fractions of ``max |W|`` by least squared error, not
only max-abs. Membranes, biases and thresholds of channel ``c`` are integers
in units of ``s_c / 2^m``; ``m`` (``frac_bits``) is the largest value for which
the range bound below proves no saturation:

    |u| <= (D + 1) * sum_{t<T} beta^t,   D = 2^m * max_c sum_i |W_q[c,i]| * x_max + |b_q|

(``+1`` covers the half-unit rounding of each leak; a CubaLIF's current is bounded the
same way with ``alpha`` and drives ``u`` in place of ``D``: :mod:`sastc.ir.ranges`).
Readout logits sum ``T`` membranes, so for an LI readout ``T * |u|`` must also fit 32
bits. The synaptic current's decay is ``alpha_q = round(alpha * 2^leak_shift)``, like
``beta``'s.

A channel whose weights span more than the width can hold loses its small
weights: when more than half of a channel's non-zero float weights quantize to
0, or a LIF threshold rounds to 0, the pass reports it (``warnings`` in the
report and a ``warning:`` line) with the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sastc import numerics
from sastc.errors import CompileError
from sastc.ir.layers import FloatLayer, FloatNet
from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import max_inputs, state_bound
from sastc.neurons import neuron_model
from sastc.profile import MAX_WEIGHT_BITS, Numerics

CLIP_RATIOS = np.linspace(0.3, 1.0, 71)
CLIP_SEARCH = {"mse": CLIP_RATIOS, "max": np.array([1.0])}
LOGIT_BITS = 32
ZEROED_LIMIT = 0.5   # warn when more than this share of a channel's non-zero weights become 0


def weight_levels(bits: int) -> int:
    """Largest magnitude of a symmetric ``bits``-wide weight: 127 for 8, 7 for 4.

    >>> weight_levels(16)
    Traceback (most recent call last):
    ...
    sastc.errors.CompileError: weight_bits 16 is not supported: weights are 2 to 8 bits wide
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) \
            or not 2 <= bits <= MAX_WEIGHT_BITS:
        raise CompileError(f"weight_bits {bits} is not supported: weights are 2 to "
                           f"{MAX_WEIGHT_BITS} bits wide")
    return (1 << (int(bits) - 1)) - 1


def _quantize_rows(rows: np.ndarray, scales: np.ndarray, levels: int) -> np.ndarray:
    return np.clip(numerics.round_half_away(rows / scales[:, None]), -levels, levels)


def mse_scales(rows: np.ndarray, levels: int, ratios: np.ndarray = CLIP_RATIOS) -> np.ndarray:
    """Per-row scale minimising ``||W - s * Q(W / s)||^2`` over clipping ratios of ``max |W|``.

    >>> rows = np.array([[1.0, 0.5, -0.25, 0.01]])
    >>> float(mse_scales(rows, 127)[0]) == 1.0 / 127
    True
    """
    peak = np.abs(rows).max(axis=1)
    peak = np.where(peak > 0, peak, 1.0)
    best_error = np.full(rows.shape[0], np.inf)
    best_scale = peak / levels
    for ratio in ratios[::-1]:
        scales = ratio * peak / levels
        error = ((_quantize_rows(rows, scales, levels) * scales[:, None] - rows) ** 2).sum(axis=1)
        better = error < best_error
        best_error = np.where(better, error, best_error)
        best_scale = np.where(better, scales, best_scale)
    return best_scale


def quantize_weights(layer: FloatLayer, bits: int, per_channel: bool,
                     ratios: np.ndarray = CLIP_RATIOS) -> tuple[np.ndarray, np.ndarray]:
    """``(W_q as int8 in the layer's weight shape, scale per output channel)``; ``bits`` is 2..8
    (wider weights would not fit the int8 storage)."""
    rows = layer.weight_matrix.astype(np.float64)
    if not np.all(np.isfinite(rows)):
        raise CompileError(f"layer {layer.name!r}: weights contain NaN or infinity; "
                           "the checkpoint cannot be quantized")
    levels = weight_levels(bits)
    if per_channel:
        scales = mse_scales(rows, levels, ratios)
    else:
        scales = np.full(rows.shape[0], mse_scales(rows.reshape(1, -1), levels, ratios)[0])
    w_q = _quantize_rows(rows, scales, levels).astype(np.int8)
    return w_q.reshape(layer.weight.shape), scales


def membrane_bound(drive: float, beta: float, time_bins: int) -> float:
    """Largest ``|u|`` reachable in ``time_bins`` steps with per-step drive ``drive``."""
    return state_bound(drive, beta, time_bins)


def _fixed_point(layer: FloatLayer, w_q: np.ndarray, scales: np.ndarray, theta_scale: float,
                 x_max: int, decays: tuple[int, int], num: Numerics, time_bins: int) -> dict:
    """Choose ``frac_bits`` and the integer bias and threshold for it (``decays``: ``beta_q``
    and ``alpha_q``)."""
    limit = (1 << (num.membrane_bits - 1)) - 1
    beta, alpha = (decay / (1 << num.leak_shift) for decay in decays)
    model = neuron_model(layer.neuron)
    alpha_or_none = alpha if model.has_current else None
    drive_per_unit = np.abs(w_q.reshape(w_q.shape[0], -1).astype(np.int64)).sum(axis=1) * x_max
    chosen = None
    for m in range(num.max_frac_bits, -1, -1):
        unit = scales / float(1 << m)
        bias_q = numerics.round_half_away(layer.bias / unit)
        theta_q = numerics.round_half_away(layer.threshold * theta_scale / unit)
        bound = state_bound(float((drive_per_unit * (1 << m) + np.abs(bias_q)).max()), beta,
                            time_bins, alpha_or_none)
        fits = bound <= limit and int(theta_q.max()) <= limit
        if not model.spiking:
            fits = fits and bound * time_bins < (1 << (LOGIT_BITS - 1))
        chosen = {"frac_bits": m, "bias_q": bias_q, "theta_q": theta_q, "bound": bound}
        if fits:
            return chosen | {"saturation_free": True}
    if int(chosen["theta_q"].max()) > limit:
        raise CompileError(f"layer {layer.name!r}: threshold {float(layer.threshold.max()):.4g} is "
                           f"{int(chosen['theta_q'].max())} in integer units, beyond the "
                           f"{num.membrane_bits}-bit membrane; weights are too small for it")
    return chosen | {"saturation_free": False}


def as_numerics(num: Numerics | Mapping[str, Any]) -> Numerics:
    """Typed numerics (a plain mapping is checked like a profile's ``[numerics]`` table)."""
    return num if isinstance(num, Numerics) else Numerics.from_dict(num, "given numerics")


def quantize_net(net: FloatNet, num: Numerics | Mapping[str, Any],
                 threshold_scales: Sequence[float] | None = None,
                 weight_bits: int | None = None) -> QNet:
    """Quantize every layer of ``net`` with the profile numerics ``num``."""
    num = as_numerics(num)
    bits = int(weight_bits or num.weight_bits)
    scales_per_layer = list(threshold_scales or [1.0] * len(net.layers))
    clip = int(net.metadata.get("input_clip", 1))
    bounds = max_inputs(clip, [layer.geometry.pool for layer in net.layers])
    layers = [_quantize_layer(layer, bits, num, scales_per_layer[index], bounds[index],
                              net.time_bins, is_readout=index == len(net.layers) - 1)
              for index, layer in enumerate(net.layers)]
    return QNet(net.input_shape, layers, net.time_bins, net.classes, clip,
                metadata={"steepness": net.steepness, **_plain(net.metadata)})


def _quantize_layer(layer: FloatLayer, bits: int, num: Numerics, theta_scale: float, x_max: int,
                    time_bins: int, is_readout: bool) -> QLayer:
    granularity = num.readout_granularity if is_readout else num.weight_granularity
    w_q, scales = quantize_weights(layer, bits, granularity == "per-channel",
                                   CLIP_SEARCH[num.clip_search])
    beta_q = numerics.quantize_beta(layer.beta, num.leak_shift)
    alpha_q = numerics.quantize_beta(layer.alpha, num.leak_shift)
    fixed = _fixed_point(layer, w_q, scales, theta_scale, x_max, (beta_q, alpha_q), num,
                         time_bins)
    spiking = neuron_model(layer.neuron).spiking
    theta_q = fixed["theta_q"] if spiking else np.zeros_like(fixed["theta_q"])
    return QLayer(layer.name, layer.geometry, layer.neuron, w_q, scales,
                  fixed["bias_q"].astype(np.int64), theta_q.astype(np.int64), beta_q,
                  num.leak_shift, fixed["frac_bits"], num.membrane_bits, bits, layer.reset,
                  alpha_q)


def _plain(metadata: dict) -> dict:
    """Metadata reduced to JSON-friendly values."""
    return {k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool, list, dict))
            or v is None}


def layer_summary(float_layer: FloatLayer, layer: QLayer) -> dict:
    """What quantization did to one layer, for the report."""
    rows = float_layer.weight_matrix.astype(np.float64)
    restored = layer.weight_matrix * layer.weight_scale[:, None]
    peak = np.abs(rows).max(axis=1)
    levels = weight_levels(layer.weight_bits)
    clip = np.divide(layer.weight_scale * levels, peak, out=np.ones_like(peak), where=peak > 0)
    return {"name": layer.name, "weight_bits": layer.weight_bits,
            "weight_scale_min": float(layer.weight_scale.min()),
            "weight_scale_max": float(layer.weight_scale.max()),
            "clip_ratio_mean": float(clip.mean()),
            "weight_rel_error": float(np.linalg.norm(restored - rows) / max(np.linalg.norm(rows),
                                                                           1e-30)),
            "zero_weights": float((layer.weight_q == 0).mean()),
            "frac_bits": layer.frac_bits, "neuron": layer.neuron, "reset": layer.reset,
            "beta": float_layer.beta,
            "beta_q": layer.beta_q, "beta_effective": layer.beta_q / (1 << layer.leak_shift),
            "theta_q_min": int(layer.theta_q.min()), "theta_q_max": int(layer.theta_q.max())}


def range_warnings(float_layer: FloatLayer, layer: QLayer) -> list[str]:
    """What quantization could not represent in one layer, with the numbers: channels where
    more than half of the non-zero float weights became 0, LIF thresholds rounded to 0."""
    rows = float_layer.weight_matrix.astype(np.float64)
    nonzero = rows != 0
    zeroed = (nonzero & (layer.weight_matrix == 0)).sum(axis=1)
    share = np.divide(zeroed, nonzero.sum(axis=1), out=np.zeros(len(rows)),
                      where=nonzero.any(axis=1))
    warnings = []
    for c in np.flatnonzero(share > ZEROED_LIMIT):
        kept = np.abs(rows[c][nonzero[c]])
        warnings.append(f"layer {layer.name!r} channel {c}: {zeroed[c]} of {nonzero[c].sum()} "
                        f"non-zero weights quantize to 0 at {layer.weight_bits} bits (max |w| "
                        f"{kept.max():.3g}, median |w| {np.median(kept):.3g}, scale "
                        f"{layer.weight_scale[c]:.3g}); the channel's range does not fit")
    if neuron_model(layer.neuron).spiking:
        for c in np.flatnonzero((layer.theta_q <= 0) & (float_layer.threshold > 0)):
            warnings.append(f"layer {layer.name!r} channel {c}: threshold "
                            f"{float(float_layer.threshold[c]):.3g} rounds to {layer.theta_q[c]} "
                            f"in units of {layer.weight_scale[c] / 2 ** layer.frac_bits:.3g}; "
                            "the neuron fires on any positive membrane")
    return warnings


def check_resets(net: FloatNet, num: Numerics, profile: str) -> None:
    """A profile with ``reset = "zero"`` refuses layers that reset by subtraction."""
    subtracting = [layer.name for layer in net.layers if layer.reset == "subtract"]
    if num.reset == "zero" and subtracting:
        raise CompileError(f"layers {subtracting} reset by subtraction, and profile {profile!r} "
                           "compiles reset to zero only (numerics.reset = 'zero'); use a profile "
                           "with reset = 'per-layer' or retrain with reset=zero")


def quantize_pass(ctx) -> None:
    """Contract: ``ctx.qnet`` holds the integer network of ``ctx.float_net`` for the profile;
    ``report["quantize"]["warnings"]`` lists what the integers cannot represent."""
    net = ctx.require_float_net("quantize")
    check_resets(net, ctx.profile.numerics, ctx.profile.name)
    ctx.qnet = quantize_net(net, ctx.profile.numerics, ctx.threshold_scales)
    ctx.qnet.profile = {"name": ctx.profile.name, **ctx.profile.numerics}
    pairs = list(zip(net.layers, ctx.qnet.layers, strict=True))
    warnings = [text for f, q in pairs for text in range_warnings(f, q)]
    ctx.report["quantize"] = {"layers": [layer_summary(f, q) for f, q in pairs],
                              "warnings": warnings}
    for text in warnings[:10]:
        ctx.log(f"warning: {text}")
    if len(warnings) > 10:
        ctx.log(f"warning: {len(warnings) - 10} more range warnings in the report")
