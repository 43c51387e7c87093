"""Fused layers rewritten for one NIR flavour's importer, and their neuron nodes.

sastc's step is ``u = beta u + I`` with ``I = W x + b``. A flavour whose importer
scales the input by something other than 1, or cannot hold what sastc's layer
holds, gets an equivalent layer (same spikes, up to float rounding):

* **input gain** ``g`` (Norse: ``dt/tau = 1 - beta``, it ignores ``r``): the layer is
  written with ``W / g`` and ``b / g``;
* **one threshold per layer** (snnTorch, SpikingJelly): per-channel thresholds
  ``theta_c`` are folded into the weights, ``W_c / theta_c``, ``b_c / theta_c``, with
  threshold 1 (a positive scale of the membrane changes no spike: a reset to zero stays
  zero, and subtracting threshold 1 from ``u / theta_c`` is subtracting ``theta_c`` from ``u``);
* **average pooling only** (snnTorch, SpikingJelly): ``sumpool_k = k^2 avgpool_k``,
  so the weights after the pool are written times ``k^2``;
* **no LI node** (Norse, snnTorch, SpikingJelly): the readout is a LIF with
  ``v_threshold = inf``: it never fires, so its membrane is the LI's;
* **no LIF with beta = 1** (Norse, SpikingJelly): an ``IF`` node;
* **neuron models**: each flavour writes the models and resets it lists (its importer
  was measured to run them as sastc does); other layers are refused naming the flavour;
* **``>=`` spike test** (Sinabs, SpikingJelly): the threshold is written one float32
  step up (:func:`~sastc.backends.nir_flavors.nudge_threshold`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from sastc.backends.nir_flavors import SPEC, Flavor, nudge_threshold
from sastc.errors import CompileError
from sastc.ir.layers import FloatLayer
from sastc.neurons import backend_entry, is_spiking


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
    """The NIR neuron node of ``layer`` that ``flavor``'s importer runs as sastc does: the node
    type the layer's model names (``nir_node``), built by :data:`NODE_BUILDERS`."""
    node_type = backend_entry("nir_node", layer.neuron, "nir", layer.name)
    _check_flavor(layer, flavor)
    return NODE_BUILDERS[node_type](layer, flavor, dt)


def _check_flavor(layer: FloatLayer, flavor: Flavor) -> None:
    reset_ok = layer.reset in flavor.resets or not is_spiking(layer.neuron)
    if layer.neuron in flavor.models and reset_ok:
        return
    if not flavor.models:
        raise CompileError(f"nir: the {flavor.name} flavour only reads {flavor.peer}'s files; "
                           "sastc writes none for its importer")
    raise CompileError(f"nir: layer {layer.name!r} ({layer.neuron}, reset {layer.reset}) cannot be "
                       f"written for {flavor.peer} so that its importer runs it as sastc does; "
                       f"the {flavor.name} flavour writes neuron models "
                       f"{', '.join(flavor.models)} with reset {' or '.join(flavor.resets)}"
                       + (f" ({flavor.reset_note})" if layer.reset not in flavor.resets
                          and flavor.reset_note else "")
                       + "; the spec flavour writes every model")


def _threshold(layer: FloatLayer, flavor: Flavor) -> np.ndarray:
    """Per neuron, for the flavour's spike test; infinite (never fires) for a readout."""
    value = layer.threshold if is_spiking(layer.neuron) else np.inf
    return nudge_threshold(_per_neuron(layer, flavor, value), flavor.compare, "up")


def _leaky_params(layer: FloatLayer, flavor: Flavor, dt: float) -> dict[str, np.ndarray]:
    tau = _per_neuron(layer, flavor, _checked_tau(layer, flavor, dt))
    return {"tau": tau, "r": tau / dt if flavor.lif_gain == "r" else np.ones_like(tau),
            "v_leak": np.zeros_like(tau)}


def _if_of(threshold: np.ndarray, flavor: Flavor, dt: float) -> Any:
    import nir

    r = np.full(threshold.shape, 1.0 / dt if flavor.if_gain == "r" else 1.0)
    return nir.IF(r=r, v_threshold=threshold, v_reset=np.zeros_like(r))


def _lif(layer: FloatLayer, flavor: Flavor, dt: float) -> Any:
    """``LIF``; ``IF`` where the flavour cannot write ``beta = 1`` as a LIF."""
    import nir

    threshold = _threshold(layer, flavor)
    if _as_if(layer, flavor):
        return _if_of(threshold, flavor, dt)
    params = _leaky_params(layer, flavor, dt)
    return nir.LIF(**params, v_threshold=threshold, v_reset=np.zeros_like(params["tau"]))


def _if(layer: FloatLayer, flavor: Flavor, dt: float) -> Any:
    """``IF`` (gain ``dt * r = 1`` in the spec); a LIF with ``beta = 1`` where the flavour's
    importer reads that better."""
    if flavor.name == SPEC or flavor.euler_if:
        return _if_of(_threshold(layer, flavor), flavor, dt)
    return _lif(layer, flavor, dt)


def _li(layer: FloatLayer, flavor: Flavor, dt: float) -> Any:
    """``LI``, or a LIF that never fires where the flavour's importer has no ``LI``."""
    import nir

    return nir.LI(**_leaky_params(layer, flavor, dt)) if flavor.has_li else _lif(layer, flavor, dt)


def _cuba(layer: FloatLayer, flavor: Flavor, dt: float) -> Any:
    """``CubaLIF`` with unit gains: ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``,
    ``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt`` (snnTorch's ``Synaptic`` convention)."""
    import nir

    tau_syn = _per_neuron(layer, flavor, flavor.tau(np.asarray(layer.alpha, np.float64), dt))
    params = _leaky_params(layer, flavor, dt)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=params["tau"], r=params["r"],
                       v_leak=params["v_leak"], v_threshold=_threshold(layer, flavor),
                       v_reset=np.zeros_like(tau_syn), w_in=tau_syn / dt)


NODE_BUILDERS: dict[str, Callable[[FloatLayer, Flavor, float], Any]] = {
    "LIF": _lif, "IF": _if, "CubaLIF": _cuba, "LI": _li}


def _checked_tau(layer: FloatLayer, flavor: Flavor, dt: float) -> np.ndarray:
    tau = flavor.tau(np.asarray(layer.beta, np.float64), dt)
    if flavor.name == "spikingjelly" and not np.all(tau > dt):
        raise CompileError(f"layer {layer.name!r}: beta = {float(layer.beta):g} cannot be written "
                           f"for SpikingJelly, whose LIFNode needs tau/dt > 1 (beta > 0); use "
                           "--nir-flavor spec or another flavour")
    return tau
