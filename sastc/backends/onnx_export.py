"""The ``onnx`` emitter: one time step of the network as an ONNX graph (opset 17).

State layout (every tensor has a leading symbolic ``batch`` axis)::

    inputs   frame          uint8  [B, C, H, W]   event counts of one time bin
             state_<i>      [B, *out_shape_i]     membrane of layer i after the last step's
                                                  reset (zeros at t = 0)
             logits         [B, classes]          running sum of the readout (zeros at t = 0)
    outputs  state_<i>_next                       the new membrane (LI: u[t])
             spikes_<i>     bool [B, *out_shape_i] for every LIF layer
             logits_next    logits + this step's readout (LI membrane or output spikes)

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

import numpy as np

from sastc import __version__
from sastc.atomic import write_atomic
from sastc.backends import EmitInput
from sastc.backends.onnx_graph import StepGraph, channel_view, conv, dense, flat, sum_pool
from sastc.ir.layers import FloatLayer, FloatNet

# onnx.TensorProto element types (kept here so importing this module needs no onnx)
FLOAT, UINT8, BOOL, INT64 = 1, 2, 9, 7
META_PREFIX = "sastc."

# a layer step: (graph, layer index, input, membrane) -> (next input, new membrane, spikes, readout)
LayerStep = Callable[[StepGraph, int, str, str], tuple[str, str, str | None, str]]


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
    described = [{"name": ly.name, "neuron": ly.neuron, "out_shape": list(ly.geometry.out_shape)}
                 for ly in layers]
    values = {"format": "sastc-step", "kind": kind, "version": __version__,
              "layers": json.dumps(described), "time_bins": str(time_bins),
              "classes": json.dumps(list(classes)), "input_clip": str(input_clip),
              "readout": layers[-1].neuron}
    return {META_PREFIX + key: value for key, value in values.items()}


def assemble(layers: list[Any], input_shape: tuple[int, ...], input_clip: int, state_type: int,
             layer_step: LayerStep) -> StepGraph:
    """Inputs, the layers in order, and the outputs of the step graph."""
    g = StepGraph()
    frame = g.op("Cast", [g.add_input("frame", UINT8, input_shape)], "frame_f", to=FLOAT)
    x = g.op("Clip", [frame, g.const(0.0, "zero"), g.const(float(input_clip), "clip")], "clipped")
    readout = x
    for index, layer in enumerate(layers):
        shape = tuple(layer.geometry.out_shape)
        u = g.add_input(f"state_{index}", state_type, shape)
        x, u_next, spikes, readout = layer_step(g, index, x, u)
        g.add_output(f"state_{index}_next", u_next, state_type, shape)
        if spikes is not None:
            g.add_output(f"spikes_{index}", spikes, BOOL, shape)
    out_shape = tuple(layers[-1].geometry.out_shape)
    logits = g.add_input("logits", state_type, out_shape)
    g.add_output("logits_next", g.op("Add", [logits, readout], "logits_sum"), state_type,
                 out_shape)
    return g


def float_step_model(net: FloatNet, name: str = "model") -> Any:
    """One step of the float hard-spike model of ``net`` (float32, as ``FloatSimulator``)."""
    def layer_step(g: StepGraph, index: int, x: str, u: str) -> tuple[str, str, str | None, str]:
        return float_layer(g, net.layers[index], x, u)

    clip = int(net.metadata.get("input_clip", 1))
    g = assemble(net.layers, net.input_shape, clip, FLOAT, layer_step)
    meta = step_metadata("float", net.layers, net.time_bins, net.classes, clip)
    return g.model(name, __doc__ or "", meta)


def float_current(g: StepGraph, layer: FloatLayer, x: str) -> str:
    """``I = W * sumpool(x) + b`` in float32."""
    geometry = layer.geometry
    pooled = sum_pool(g, x, geometry)
    if geometry.op == "conv":
        synapse = conv(g, pooled, g.const(layer.weight, "weight"), geometry)
    else:
        synapse = dense(g, flat(g, pooled, geometry), layer.weight, np.float32)
    return g.op("Add", [synapse, g.const(channel_view(layer.bias, geometry), "bias")], "current")


def float_layer(g: StepGraph, layer: FloatLayer, x: str, u: str
                ) -> tuple[str, str, str | None, str]:
    """``u_pre = beta * u + I``; LIF: ``s = u_pre > theta``, ``u = s ? 0 : u_pre``."""
    current = float_current(g, layer, x)
    leaked = g.op("Mul", [g.const(layer.beta, "beta"), u], "leaked")
    u_pre = g.op("Add", [leaked, current], "u_pre")
    if layer.neuron == "li":
        return u_pre, u_pre, None, u_pre
    theta = g.const(channel_view(layer.threshold, layer.geometry), "theta")
    spikes = g.op("Greater", [u_pre, theta], "spikes")
    u_next = g.op("Where", [spikes, g.const(0.0, "zero"), u_pre], "u_reset")
    spikes_f = g.op("Cast", [spikes], "spikes_f", to=FLOAT)
    return spikes_f, u_next, spikes, spikes_f
