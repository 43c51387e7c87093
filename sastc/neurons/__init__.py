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

from sastc.errors import CompileError, ConfigError
from sastc.neurons import li, lif, onnx_steps
from sastc.neurons.model import CURRENT, MEMBRANE, RESETS, NeuronModel, OnnxStep

__all__ = ["CURRENT", "MEMBRANE", "NEURONS", "READOUT", "RESETS", "NeuronModel", "OnnxStep",
           "backend_entry", "is_spiking", "neuron_model", "register", "supporting"]

_LIF_FAMILY = {"float_scan": lif.float_scan, "onnx_float": onnx_steps.lif_float,
               "onnx_int": onnx_steps.lif_int}

NEURONS: dict[str, NeuronModel] = {}


def register(model: NeuronModel) -> NeuronModel:
    """Add ``model`` to :data:`NEURONS` (its name must be new)."""
    if model.name in NEURONS:
        raise ValueError(f"neuron model {model.name!r} is already registered")
    NEURONS[model.name] = model
    return model


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
    model = NEURONS.get(name)
    if model is None:
        raise ConfigError(f"unknown neuron model {name!r}; registered: {', '.join(NEURONS)}")
    return model


def is_spiking(name: str) -> bool:
    """Whether layers of model ``name`` emit spikes (every model but the readout's)."""
    return neuron_model(name).spiking


def supporting(entry: str) -> list[str]:
    """Names of the models that implement backend ``entry`` (a :class:`NeuronModel` field)."""
    return [name for name, model in NEURONS.items() if getattr(model, entry) is not None]


def backend_entry(entry: str, neuron: str, backend: str, layer: str) -> Any:
    """Model ``neuron``'s implementation for ``backend``, or a :class:`CompileError` naming the
    layer and listing the models ``backend`` supports."""
    value = getattr(neuron_model(neuron), entry)
    if value is None:
        raise CompileError(f"{backend}: layer {layer!r} uses neuron model {neuron!r}, which "
                           f"{backend} does not implement; supported: "
                           f"{', '.join(supporting(entry))}")
    return value
