"""Neuron models as a registry: one :class:`NeuronModel` definition per model, by name.

==========  =================================================================  ===========
name        rule (per time step; ``c = I`` where there is no synaptic current)  NIR node
==========  =================================================================  ===========
``lif``     ``u_pre = beta u + I``; spike ``u_pre > theta``; reset             ``LIF``
``if``      ``u_pre = u + I`` (``beta = 1``); spike; reset                      ``IF``
``cuba``    ``c = alpha c + I``, ``u_pre = beta u + c``; spike; reset          ``CubaLIF``
``li``      ``u = beta u + I`` (non-spiking readout)                            ``LI``
==========  =================================================================  ===========

Every spiking model resets to zero (``u = 0``) or by subtraction (``u = u_pre - theta``)
after a spike, chosen per layer. Layers name their model (``FloatLayer.neuron``,
``QLayer.neuron``); every backend looks the name up here and either runs the model's entry
for it or refuses the layer with the list of models it implements (:func:`backend_entry`).

>>> [model.name for model in NEURONS.values()]
['lif', 'if', 'cuba', 'li']
>>> supporting("c_name")
['lif', 'if', 'cuba', 'li']
>>> neuron_model("adex")
Traceback (most recent call last):
...
sastc.errors.ConfigError: unknown neuron model 'adex'; registered: lif, if, cuba, li
"""

from __future__ import annotations

from typing import Any

from sastc.neurons import li, lif, onnx_steps
from sastc.neurons.model import CURRENT, MEMBRANE, RESETS, NeuronModel, OnnxStep
from sastc.registry import Registry

__all__ = ["CURRENT", "MEMBRANE", "NEURONS", "READOUT", "RESETS", "NeuronModel", "OnnxStep",
           "backend_entry", "is_spiking", "neuron_model", "register", "supporting"]

_LIF_FAMILY = {"float_scan": lif.float_scan, "onnx_float": onnx_steps.lif_float,
               "onnx_int": onnx_steps.lif_int}

_REGISTRY: Registry[NeuronModel] = Registry("neuron model")
NEURONS: dict[str, NeuronModel] = _REGISTRY.items
register = _REGISTRY.register


register(NeuronModel(
    "lif", "u_pre = beta*u + I; s = u_pre > theta; u = 0 | u_pre - theta after a spike",
    int_scan=lif.int_scan, c_name="SASTC_NEURON_LIF", nir_node="LIF", **_LIF_FAMILY))
register(NeuronModel(
    "if", "u_pre = u + I; s = u_pre > theta; u = 0 | u_pre - theta after a spike",
    fixed_beta=1.0, int_scan=lif.int_scan, c_name="SASTC_NEURON_IF", nir_node="IF",
    **_LIF_FAMILY))
register(NeuronModel(
    "cuba", "c = alpha*c + I; u_pre = beta*u + c; s = u_pre > theta; u = 0 | u_pre - theta "
    "after a spike", has_current=True, default_alpha=0.5, int_scan=lif.cuba_int_scan,
    c_name="SASTC_NEURON_CUBA", nir_node="CubaLIF", **_LIF_FAMILY))
READOUT = register(NeuronModel(
    "li", "u = beta*u + I (no spike; logits from the membrane)", spiking=False,
    float_scan=li.float_scan, int_scan=li.int_scan, c_name="SASTC_NEURON_LI",
    onnx_float=onnx_steps.li_float, onnx_int=onnx_steps.li_int, nir_node="LI"))


def neuron_model(name: str) -> NeuronModel:
    """The registered model called ``name``; unknown names raise :class:`ConfigError`."""
    return _REGISTRY.get(name)


def is_spiking(name: str) -> bool:
    """Whether layers of model ``name`` emit spikes (every model but the readout's)."""
    return neuron_model(name).spiking


def supporting(entry: str) -> list[str]:
    """Names of the models that implement backend ``entry`` (a :class:`NeuronModel` field)."""
    return _REGISTRY.supporting(entry)


def backend_entry(entry: str, neuron: str, backend: str, layer: str) -> Any:
    """Model ``neuron``'s implementation for ``backend``, or a :class:`CompileError` naming the
    layer and listing the models ``backend`` supports."""
    return _REGISTRY.entry(entry, neuron, backend, layer)
