"""The ``npz`` emitter: the float graph and the quantized network, for the simulators."""

from __future__ import annotations

from pathlib import Path

from sastc.backends import EmitInput
from sastc.ir.graph import save_graph
from sastc.ir.quantized import save_qnet
from sastc.neurons import backend_entry
from sastc.synapses import POOL
from sastc.synapses import backend_entry as synapse_entry

GRAPH_FILE = "graph.sastc.npz"
QNET_FILE = "model.npz"


def emit_npz(model: EmitInput, out_dir: Path) -> list[Path]:
    """Write ``graph.sastc.npz`` (float IR) and, for integer profiles, ``model.npz`` (whose
    neuron models and synapse ops the integer simulator must run)."""
    for layer in model.qnet.layers if model.qnet is not None else []:
        backend_entry("int_scan", layer.neuron, "npz", layer.name)
        synapse_entry("int_forward", layer.geometry.op, "npz", layer.name)
        if layer.geometry.pool > 1:
            synapse_entry("int_forward", POOL, "npz", layer.name)
    written = [save_graph(model.graph, out_dir / GRAPH_FILE)]
    if model.qnet is not None:
        written.append(save_qnet(model.qnet, out_dir / QNET_FILE))
    return written
