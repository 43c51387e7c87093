"""The ``nir`` emitter: the lowered network as a NIR graph (``<name>.nir``, nir 1.0.8).

Every fused layer becomes ``[SumPool2d] [Flatten] Conv2d|Affine  neuron`` between
``Input`` and ``Output``, the neuron node being its model's (``LIF``, ``IF``,
``CubaLIF``, ``LI``); average pooling was folded into the weights by lowering, so it
is written as sum pooling. Neuron parameters are arrays of the layer's full output
shape with ``tau = dt / (1 - beta)``, ``r = tau / dt``, ``v_leak = 0``,
``v_reset = 0`` (a ``CubaLIF`` also ``tau_syn = dt / (1 - alpha)``, ``w_in =
tau_syn / dt``; see :mod:`sastc.backends.nir_convention`); the graph metadata states
the discrete semantics and, since NIR has no field for it, each spiking node's reset
(``reset_modes``; ``reset_mode`` when they all agree). For an integer profile the
parameters are the dequantized values (what the integers mean in real units)
and ``metadata["quantization"]`` holds the integers and widths themselves.

``EmitInput.nir_flavor`` other than ``"spec"`` writes the graph so that one peer
framework's own NIR importer runs it as sastc does
(:mod:`sastc.backends.nir_flavors`, :mod:`sastc.backends.nir_layers`); the
metadata then names the flavour and what its importer needs done by hand.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sastc import __version__
from sastc.atomic import write_atomic
from sastc.backends import EmitInput
from sastc.backends.nir_convention import DEFAULT_DT, SEMANTICS, readout_text, to_h5
from sastc.backends.nir_flavors import SPEC, Flavor, get_flavor
from sastc.backends.nir_layers import flavored_layers, neuron_node
from sastc.ir.graph import Graph
from sastc.ir.layers import FloatLayer, FloatNet
from sastc.ir.quantized import QNet
from sastc.neurons import NEURONS, is_spiking
from sastc.synapses import POOL, SYNAPSES, synapse_op
from sastc.synapses import backend_entry as synapse_entry

ROLE_OF_NODE = {"AvgPool2d": "pool", "Flatten": "flatten",
                **{op.nir_node: op.stage for op in SYNAPSES.values() if op.nir_node},
                **{model.nir_node: "neuron" for model in NEURONS.values() if model.nir_node}}
INTEGER_RULE = ("[cuba: c = saturate(round_shift(c*alpha_q, leak_shift) + D, membrane_bits)]; "
                "u_pre = saturate(round_shift(u*beta_q, leak_shift) + (c | D), membrane_bits) with "
                "D = (acc << frac_bits) + bias_q; spike = u_pre > theta_q; after a spike u = 0 "
                "(reset zero) or u_pre - theta_q (subtract); LI logits = sum_t u_pre; real value "
                "of channel c = integer * weight_scale[c] / 2**frac_bits")


def emit_nir(model: EmitInput, out_dir: Path) -> list[Path]:
    """Write ``<name>.nir``: the float model, or the dequantized integer model."""
    import nir

    flavor = get_flavor(model.nir_flavor)
    net = model.float_net if model.qnet is None else dequantized_net(model.qnet, model.float_net)
    names = layer_node_names(model.graph, net)
    nodes, edges = nir_nodes(net, names, _end_names(model.graph), flavor)
    metadata = graph_metadata(model, net, names, flavor)
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata,
                         type_check=_type_checks(net, flavor))
    path = Path(out_dir) / f"{model.name}.nir"
    write_atomic(path, lambda tmp: nir.write(tmp, graph))
    return [path]


def _type_checks(net: FloatNet, flavor: Flavor) -> bool:
    """False where neuron parameters are per channel (``[C, 1, 1]``), which nir's type
    inference rejects after a convolution: such a file needs ``nir.read(type_check=False)``."""
    return not (flavor.channel_params and any(len(ly.geometry.out_shape) > 1 for ly in net.layers))


def dequantized_net(qnet: QNet, float_net: FloatNet) -> FloatNet:
    """The real-valued parameters the integers of ``qnet`` stand for.

    ``w = w_q * s_c``; ``bias = b_q * s_c / 2**m``; ``threshold = theta_q * s_c / 2**m``;
    ``beta = beta_q / 2**leak_shift``, ``alpha = alpha_q / 2**leak_shift``.
    """
    layers = []
    for q in qnet.layers:
        scale = np.asarray(q.weight_scale, np.float64)
        unit = scale / float(1 << q.frac_bits)
        weight = q.weight_q.astype(np.float64) * scale.reshape((-1,) + (1,) * (q.weight_q.ndim - 1))
        decay = float(1 << q.leak_shift)
        layers.append(FloatLayer(q.name, q.geometry, q.neuron, weight, q.bias_q * unit,
                                 q.beta_q / decay, q.theta_q * unit, q.reset, q.alpha_q / decay))
    return FloatNet(qnet.input_shape, layers, qnet.time_bins, qnet.classes, float_net.steepness,
                    {**float_net.metadata, "input_clip": qnet.input_clip})


def layer_node_names(graph: Graph, net: FloatNet) -> list[dict[str, str]]:
    """Per fused layer, the graph's node names by role (pool, flatten, synapse, neuron)."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for name, node in graph.chain()[1:]:
        role = ROLE_OF_NODE.get(node.type_name)
        if role is not None:
            current[role] = name
        if role == "neuron":
            groups.append(current)
            current = {}
    if current.get("synapse"):
        groups.append(current)
    defaults = [_default_names(layer) for layer in net.layers]
    if [g.get("synapse") for g in groups] != [layer.name for layer in net.layers]:
        return defaults
    return [default | group for default, group in zip(defaults, groups, strict=True)]


def _default_names(layer: FloatLayer) -> dict[str, str]:
    return {"pool": f"{layer.name}_pool", "flatten": f"{layer.name}_flatten",
            "synapse": layer.name, "neuron": f"{layer.name}_{layer.neuron}"}


def _end_names(graph: Graph) -> tuple[str, str]:
    chain = graph.chain()
    last_name, last = chain[-1]
    return chain[0][0], last_name if last.type_name == "Output" else "output"


def nir_nodes(net: FloatNet, names: list[dict[str, str]], ends: tuple[str, str],
              flavor: Flavor | None = None) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """NIR nodes and edges of the chain ``Input -> layers -> Output`` for ``flavor``."""
    import nir

    flavor = flavor or get_flavor(SPEC)
    ordered: list[tuple[str, Any]] = [(ends[0], nir.Input(input_type=np.array(net.input_shape)))]
    layers = flavored_layers(net.layers, flavor)
    for layer, layer_names in zip(layers, names, strict=True):
        ordered += [(layer_names[role], build(layer, flavor))
                    for role, build in _layer_parts(layer)]
    ordered.append((ends[1], nir.Output(output_type=np.array(net.layers[-1].geometry.out_shape))))
    edges = [(a, b) for (a, _), (b, _) in itertools.pairwise(ordered)]
    return dict(ordered), edges


Builder = Callable[[FloatLayer, Flavor], Any]


def _layer_parts(layer: FloatLayer) -> list[tuple[str, Builder]]:
    geometry = layer.geometry
    parts: list[tuple[str, Builder]] = []
    if geometry.pool > 1:
        parts.append(("pool", _node_builder(POOL, layer)))
    if synapse_op(geometry.op).flat_input and len(geometry.pooled_shape) > 1:
        parts.append(("flatten", _flatten))
    return [*parts, ("synapse", _node_builder(geometry.op, layer)), ("neuron", _neuron)]


def _node_builder(op: str, layer: FloatLayer) -> Builder:
    """The builder of op ``op``'s NIR node (its ``nir_node``), or a refusal listing the ops
    written to NIR."""
    return NODE_BUILDERS[synapse_entry("nir_node", op, "nir", layer.name)]


def _pool(layer: FloatLayer, flavor: Flavor) -> Any:
    """Sum pooling, or average pooling (``k^2`` already folded into the next weights)."""
    import nir

    k = np.array([layer.geometry.pool] * 2)
    node = nir.AvgPool2d if flavor.pool == "avg" else nir.SumPool2d
    return node(kernel_size=k, stride=k.copy(), padding=np.zeros(2, dtype=int))


def _flatten(layer: FloatLayer, flavor: Flavor) -> Any:
    import nir

    return nir.Flatten(input_type={"input": np.array(layer.geometry.pooled_shape)},
                       start_dim=_flatten_start(layer, flavor), end_dim=-1)


def _flatten_start(layer: FloatLayer, flavor: Flavor) -> int:
    """0 (NIR has no batch axis), or ``-ndim`` where an importer hands 0 to torch unshifted."""
    return -len(layer.geometry.pooled_shape) if flavor.batch_safe_flatten else 0


def _conv(layer: FloatLayer, flavor: Flavor) -> Any:
    import nir

    g = layer.geometry
    return nir.Conv2d(input_shape=tuple(g.pooled_shape[1:]), weight=np.asarray(layer.weight),
                      stride=(g.stride, g.stride), padding=(g.padding, g.padding),
                      dilation=(1, 1), groups=1, bias=np.asarray(layer.bias))


def _affine(layer: FloatLayer, flavor: Flavor) -> Any:
    import nir

    return nir.Affine(weight=np.asarray(layer.weight_matrix), bias=np.asarray(layer.bias))


def _neuron(layer: FloatLayer, flavor: Flavor) -> Any:
    return neuron_node(layer, flavor, flavor.dt or DEFAULT_DT)


# the synapse ops' NIR nodes (sastc.synapses: nir_node), one builder each
NODE_BUILDERS: dict[str, Builder] = {"Conv2d": _conv, "Affine": _affine, "SumPool2d": _pool}


def graph_metadata(model: EmitInput, net: FloatNet, names: list[dict[str, str]],
                   flavor: Flavor | None = None) -> dict[str, Any]:
    """Graph-level metadata: the discrete semantics, run parameters and quantization (the
    integers only in the spec flavour, whose node parameters are their dequantized values)."""
    flavor = flavor or get_flavor(SPEC)
    resets = reset_metadata(net, names)
    meta: dict[str, Any] = {**SEMANTICS, **flavor_metadata(flavor, json.loads(resets["reset_modes"])),
                            "sastc_version": __version__, **resets,
                            "readout": readout_text(net.readout), "time_bins": int(net.time_bins),
                            "classes": json.dumps(list(net.classes)),
                            "input_clip": int(net.metadata.get("input_clip", 1)),
                            "steepness": float(net.steepness),
                            "numerics": "float32" if model.qnet is None else "integer"}
    if model.graph.metadata.get("spec"):
        meta["spec"] = json.dumps(model.graph.metadata["spec"])
    if model.qnet is not None and flavor.name == SPEC:
        meta["quantization"] = quantization_metadata(model.qnet, model.profile, names)
    return to_h5(meta)


def reset_metadata(net: FloatNet, names: list[dict[str, str]]) -> dict[str, Any]:
    """``reset_modes``: JSON of spiking neuron node -> reset; ``reset_mode``: the one they share,
    or ``per-node``."""
    modes = {layer_names["neuron"]: layer.reset
             for layer, layer_names in zip(net.layers, names, strict=True)
             if is_spiking(layer.neuron)}
    shared = set(modes.values())
    return {"reset_mode": shared.pop() if len(shared) == 1 else "per-node" if shared else "zero",
            "reset_modes": json.dumps(modes)}


def flavor_metadata(flavor: Flavor, modes: dict[str, str] | None = None) -> dict[str, Any]:
    """``dt``, the flavour and, for a peer's flavour, what its importer needs done by hand
    (on the spiking nodes ``modes``: name -> reset)."""
    meta: dict[str, Any] = {"dt": flavor.dt or DEFAULT_DT, "nir_flavor": flavor.name}
    if flavor.name != SPEC:
        meta["threshold_comparison"] = flavor.compare
        notes = [f"written for {flavor.peer}; v_threshold is written for its "
                 f"'{flavor.compare}' spike test", flavor.after_import,
                 *_reset_fixes(flavor, modes or {})]
        meta["flavor_note"] = "; ".join(note for note in notes if note)
    return meta


def _reset_fixes(flavor: Flavor, modes: dict[str, str]) -> list[str]:
    """Per reset, the nodes that reset so and what to set on them after the peer's importer."""
    fixes = []
    for reset in sorted(set(modes.values())):
        if flavor.reset_fix(reset):
            nodes = ", ".join(name for name, mode in modes.items() if mode == reset)
            fixes.append(f"reset {reset} ({nodes}): set {flavor.reset_fix(reset)}")
    return fixes


def quantization_metadata(qnet: QNet, profile: dict[str, Any], names: list[dict[str, str]]
                          ) -> dict[str, Any]:
    """The deployed integers per layer (keyed by synapse node name) and the profile."""
    layers = {}
    for q, layer_names in zip(qnet.layers, names, strict=True):
        layers[layer_names["synapse"]] = {
            "neuron_node": layer_names["neuron"], "neuron": q.neuron, "reset": q.reset,
            "weight_bits": q.weight_bits, "membrane_bits": q.membrane_bits,
            "frac_bits": q.frac_bits, "beta_q": q.beta_q, "alpha_q": q.alpha_q,
            "leak_shift": q.leak_shift,
            "weight_scale": np.asarray(q.weight_scale, np.float64),
            "weight_q": np.asarray(q.weight_q, np.int8), "bias_q": np.asarray(q.bias_q, np.int64),
            "theta_q": np.asarray(q.theta_q, np.int64)}
    return {"rule": INTEGER_RULE, "profile": dict(profile), "layers": layers}
