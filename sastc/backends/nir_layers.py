"""Fused layers rewritten for one NIR flavour's importer, and their neuron nodes.

sastc's step is ``u = beta u + I`` with ``I = W x + b``. A flavour whose importer
scales the input by something other than 1, or cannot hold what sastc's layer
holds, gets an equivalent layer (same spikes, up to float rounding):

* **input gain** ``g`` (Norse: ``dt/tau = 1 - beta``, it ignores ``r``): the layer is
  written with ``W / g`` and ``b / g``;
* **one threshold per layer** (snnTorch, SpikingJelly): per-channel thresholds
  ``theta_c`` are folded into the weights, ``W_c / theta_c``, ``b_c / theta_c``, with
  threshold 1 (a positive scale of a reset-to-zero neuron changes no spike);
* **average pooling only** (snnTorch, SpikingJelly): ``sumpool_k = k^2 avgpool_k``,
  so the weights after the pool are written times ``k^2``;
* **no LI node** (Norse, snnTorch, SpikingJelly): the readout is a LIF with
  ``v_threshold = inf``: it never fires, so its membrane is the LI's;
* **no LIF with beta = 1** (Norse, SpikingJelly): an ``IF`` node;
* **``>=`` spike test** (Sinabs, SpikingJelly): the threshold is written one float32
  step up (:func:`~sastc.backends.nir_flavors.nudge_threshold`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sastc.backends.nir_flavors import SPEC, Flavor, nudge_threshold
from sastc.errors import CompileError
from sastc.ir.layers import FloatLayer


def flavored_layers(layers: list[FloatLayer], flavor: Flavor) -> list[FloatLayer]:
    """``layers`` with the gains, threshold scales and pooling factors ``flavor`` needs."""
    if flavor.name == SPEC:
        return list(layers)
    return [_rescaled(layer, flavor) for layer in layers]


def _rescaled(layer: FloatLayer, flavor: Flavor) -> FloatLayer:
    channels = layer.geometry.out_shape[0]
    scale = np.ones(channels) / _input_gain(layer, flavor)
    threshold = np.broadcast_to(np.asarray(layer.threshold, np.float64), (channels,))
    if flavor.uniform_threshold and np.unique(threshold).size > 1:
        scale, threshold = scale / threshold, np.ones(channels)
    pool = layer.geometry.pool ** 2 if flavor.pool == "avg" else 1
    weight = np.asarray(layer.weight, np.float64)
    weight = weight * (scale * pool).reshape((-1,) + (1,) * (weight.ndim - 1))
    bias = np.asarray(layer.bias, np.float64) * scale
    return replace(layer, weight=weight.astype(np.float32), bias=bias.astype(np.float32),
                   threshold=threshold)


def _input_gain(layer: FloatLayer, flavor: Flavor) -> float:
    """What the flavour's importer multiplies this layer's input by (1 for an IF node)."""
    if flavor.lif_gain != "tau" or _as_if(layer, flavor):
        return 1.0
    return 1.0 - float(layer.beta)


def _as_if(layer: FloatLayer, flavor: Flavor) -> bool:
    return flavor.euler_if and float(layer.beta) == 1.0


def _param_shape(layer: FloatLayer, flavor: Flavor) -> tuple[int, ...]:
    shape = tuple(layer.geometry.out_shape)
    return (shape[0],) + (1,) * (len(shape) - 1) if flavor.channel_params else shape


def _per_neuron(layer: FloatLayer, flavor: Flavor, per_channel: Any) -> np.ndarray:
    """A per-channel (or scalar) value broadcast to the flavour's parameter shape."""
    shape = _param_shape(layer, flavor)
    values = np.broadcast_to(np.asarray(per_channel), (shape[0],))
    return np.broadcast_to(values.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()


def neuron_node(layer: FloatLayer, flavor: Flavor, dt: float) -> Any:
    """The NIR neuron node of ``layer`` that ``flavor``'s importer runs as sastc does."""
    import nir

    spiking = layer.neuron == "lif"
    threshold = layer.threshold if spiking else np.inf
    threshold = nudge_threshold(_per_neuron(layer, flavor, threshold), flavor.compare, "up")
    if _as_if(layer, flavor):
        r = np.full(threshold.shape, 1.0 / dt if flavor.if_gain == "r" else 1.0)
        return nir.IF(r=r, v_threshold=threshold, v_reset=np.zeros_like(r))
    tau = _per_neuron(layer, flavor, _checked_tau(layer, flavor, dt))
    params = {"tau": tau, "r": tau / dt if flavor.lif_gain == "r" else np.ones_like(tau),
              "v_leak": np.zeros_like(tau)}
    if not spiking and flavor.has_li:
        return nir.LI(**params)
    return nir.LIF(**params, v_threshold=threshold, v_reset=np.zeros_like(tau))


def _checked_tau(layer: FloatLayer, flavor: Flavor, dt: float) -> np.ndarray:
    tau = flavor.tau(np.asarray(layer.beta, np.float64), dt)
    if flavor.name == "spikingjelly" and not np.all(tau > dt):
        raise CompileError(f"layer {layer.name!r}: beta = {float(layer.beta):g} cannot be written "
                           f"for SpikingJelly, whose LIFNode needs tau/dt > 1 (beta > 0); use "
                           "--nir-flavor spec or another flavour")
    return tau
