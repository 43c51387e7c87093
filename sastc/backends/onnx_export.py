"""The ``onnx`` emitter: one time step of the network as an ONNX graph (opset 17).

State layout (every tensor has a leading symbolic ``batch`` axis)::

    inputs   frame          uint8  [B, C, H, W]   event counts of one time bin
             state_<i>      [B, *out_shape_i]     membrane of layer i after the last step's
                                                  reset (zeros at t = 0)
             current_<i>    [B, *out_shape_i]     synaptic current of a CubaLIF layer i
             logits         [B, classes]          running sum of the readout (zeros at t = 0)
    outputs  state_<i>_next                       the new membrane (LI: u[t])
             current_<i>_next                     the new synaptic current (CubaLIF)
             spikes_<i>     bool [B, *out_shape_i] for every spiking layer
             logits_next    logits + this step's readout (LI membrane or output spikes)

The neuron ops of each layer are its model's ``onnx_float``/``onnx_int`` entry
(:mod:`sastc.neurons.onnx_steps`); a model without one is refused naming the layer.

The caller feeds ``*_next`` back for the next bin. ``logits_next`` after the last
bin is ``sum_t readout``; the float simulator's LI logits are that sum divided by
``time_bins`` (``sastc.sim.onnx_runner`` does this). The float flavour uses float32
states and the same operation order as ``FloatSimulator``; the integer flavour
(:mod:`sastc.backends.onnx_int`) uses int64 states and reproduces
``IntegerSimulator`` exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sastc import __version__
from sastc.atomic import write_atomic
from sastc.backends import EmitInput
from sastc.backends.onnx_graph import StepGraph, channel_view, synapse
from sastc.ir.layers import FloatLayer, FloatNet
from sastc.neurons import CURRENT, MEMBRANE, OnnxStep, backend_entry, neuron_model

# onnx.TensorProto element types (kept here so importing this module needs no onnx)
FLOAT, UINT8, BOOL, INT64 = 1, 2, 9, 7
META_PREFIX = "sastc."
STATE_INPUTS = {MEMBRANE: "state", CURRENT: "current"}  # state name -> input name prefix

# a layer step: (graph, layer index, input, state inputs by state name) -> the neuron's step
LayerStep = Callable[[StepGraph, int, str, dict[str, str]], OnnxStep]


def emit_onnx(model: EmitInput, out_dir: Path) -> list[Path]:
    """Write ``<name>.onnx``: the integer step for an integer profile, else the float step."""
    import onnx

    if model.qnet is not None:
        from sastc.backends.onnx_int import integer_step_model

        onnx_model = integer_step_model(model.qnet, model.name)
    else:
        onnx_model = float_step_model(model.float_net, model.name)
    path = Path(out_dir) / f"{model.name}.onnx"
    write_atomic(path, lambda tmp: onnx.save(onnx_model, str(tmp)))
    return [path]


def step_metadata(kind: str, layers: list[Any], time_bins: int, classes: tuple[str, ...],
                  input_clip: int) -> dict[str, str]:
    """``metadata_props`` the runner reads: layer names, neurons and shapes, run parameters."""
    described = [{"name": ly.name, "neuron": ly.neuron, "out_shape": list(ly.geometry.out_shape),
                  "spiking": neuron_model(ly.neuron).spiking,
                  "states": list(state_inputs(index, ly).values())}
                 for index, ly in enumerate(layers)]
    values = {"format": "sastc-step", "kind": kind, "version": __version__,
              "layers": json.dumps(described), "time_bins": str(time_bins),
              "classes": json.dumps(list(classes)), "input_clip": str(input_clip),
              "readout": layers[-1].neuron}
    return {META_PREFIX + key: value for key, value in values.items()}


def state_inputs(index: int, layer: Any) -> dict[str, str]:
    """The state inputs of layer ``index``, by state name: ``state_<i>`` (membrane), and
    ``current_<i>`` for a model with a synaptic current."""
    return {state: f"{STATE_INPUTS[state]}_{index}" for state in neuron_model(layer.neuron).states}


def assemble(layers: list[Any], input_shape: tuple[int, ...], input_clip: int, state_type: int,
             layer_step: LayerStep) -> StepGraph:
    """Inputs, the layers in order, and the outputs of the step graph."""
    g = StepGraph()
    frame = g.op("Cast", [g.add_input("frame", UINT8, input_shape)], "frame_f", to=FLOAT)
    x = g.op("Clip", [frame, g.const(0.0, "zero"), g.const(float(input_clip), "clip")], "clipped")
    readout = x
    for index, layer in enumerate(layers):
        shape = tuple(layer.geometry.out_shape)
        names = state_inputs(index, layer)
        states = {state: g.add_input(name, state_type, shape) for state, name in names.items()}
        x, new_states, spikes, readout = layer_step(g, index, x, states)
        for state, name in names.items():
            g.add_output(f"{name}_next", new_states[state], state_type, shape)
        if spikes is not None:
            g.add_output(f"spikes_{index}", spikes, BOOL, shape)
    out_shape = tuple(layers[-1].geometry.out_shape)
    logits = g.add_input("logits", state_type, out_shape)
    g.add_output("logits_next", g.op("Add", [logits, readout], "logits_sum"), state_type,
                 out_shape)
    return g


def float_step_model(net: FloatNet, name: str = "model") -> Any:
    """One step of the float hard-spike model of ``net`` (float32, as ``FloatSimulator``)."""
    def layer_step(g: StepGraph, index: int, x: str, states: dict[str, str]) -> OnnxStep:
        return float_layer(g, net.layers[index], x, states)

    clip = int(net.metadata.get("input_clip", 1))
    g = assemble(net.layers, net.input_shape, clip, FLOAT, layer_step)
    meta = step_metadata("float", net.layers, net.time_bins, net.classes, clip)
    return g.model(name, __doc__ or "", meta)


def float_current(g: StepGraph, layer: FloatLayer, x: str) -> str:
    """``I = W * sumpool(x) + b`` in float32."""
    weighted = synapse(g, layer, x, "onnx_float")
    bias = g.const(channel_view(layer.bias, layer.geometry), "bias")
    return g.op("Add", [weighted, bias], "current")


def float_layer(g: StepGraph, layer: FloatLayer, x: str, states: dict[str, str]) -> OnnxStep:
    """The synaptic current ``I = W x + b``, then the model's float step (e.g. LIF:
    ``u_pre = beta * u + I``, ``s = u_pre > theta``, ``u = s ? 0 : u_pre``)."""
    step = backend_entry("onnx_float", layer.neuron, "onnx", layer.name)
    return step(g, layer, float_current(g, layer, x), states)
