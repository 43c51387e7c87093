"""Peer networks whose NIR file sastc must refuse, naming the node and what it computes:
reset by subtraction (stated, or not stated at all) and synaptic currents (``CubaLIF``), for
``tests/test_nir_peers.py``. Peer packages are imported lazily."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sastc.backends.nir_reading import NirOptions
from tests.peer_nets import FLAT, SENSOR, write


def _snntorch_export(kind: str, path: Path) -> Path:
    """A dense snnTorch network with the default ``Leaky`` (reset by subtraction) or
    ``Synaptic`` neurons, through snnTorch's own exporter."""
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    def neuron(size: int) -> Any:
        full = {"beta": torch.full((size,), 0.9), "threshold": torch.ones(size)}
        if kind == "synaptic":
            return snn.Synaptic(alpha=torch.full((size,), 0.8), init_hidden=True, **full)
        return snn.Leaky(init_hidden=True, **full)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(FLAT, 16), neuron(16))
    return write(export_to_nir(net, torch.zeros(1, *SENSOR), ignore_dims=[0]), path)


def _norse_cell_export(path: Path) -> Path:
    import norse.torch as norse
    import torch

    full = lambda value: torch.full((16,), value)  # noqa: E731
    cell = norse.LIFCell(norse.LIFParameters(tau_syn_inv=full(200.0), tau_mem_inv=full(100.0),
                                             v_th=full(1.0), v_leak=full(0.0), v_reset=full(0.0)))
    net = norse.SequentialState(torch.nn.Linear(FLAT, 16), cell)
    return write(norse.to_nir(net, torch.zeros(1, FLAT)), path)


def _rockpool_export(path: Path) -> Path:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    return write(to_nir(Sequential(LinearTorch((FLAT, 16)), LIFTorch(16))), path)


def _sinabs_default_export(path: Path) -> Path:
    """Sinabs' default LIF: several spikes per step (MultiSpike), reset by subtraction."""
    import sinabs.layers as sl
    import torch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(FLAT, 16),
                              sl.LIFSqueeze(tau_mem=torch.full((16,), 10.0),
                                            spike_threshold=torch.ones(16), batch_size=1))
    return sinabs_export_dense(net, path)


def sinabs_export_dense(net: Any, path: Path) -> Path:
    import sinabs
    import torch

    graph = sinabs.to_nir(net, torch.zeros(1, *SENSOR))
    graph.nodes["0"].input_type = {"input": np.array(SENSOR)}
    graph.nodes["0"].output_type = {"output": np.array([FLAT])}
    return write(graph, path)


# name -> (package it needs, export(path), options, fragments the error must contain)
REFUSED: dict[str, tuple[str, Callable[[Path], Path], NirOptions, tuple[str, ...]]] = {
    "snntorch-leaky-no-reset": ("snntorch", lambda p: _snntorch_export("leaky", p),
                                NirOptions(), ("does not say how", "--reset zero",
                                               "--reset subtract", "snnTorch Leaky")),
    "snntorch-leaky-subtract": ("snntorch", lambda p: _snntorch_export("leaky", p),
                                NirOptions(reset="subtract"),
                                ("node '2' (LIF) resets by subtraction", "v - v_threshold",
                                 "reset to zero")),
    "snntorch-synaptic": ("snntorch", lambda p: _snntorch_export("synaptic", p),
                          NirOptions(reset="zero"),
                          ("is a CubaLIF", "synaptic current", "supported node types")),
    "norse-lifcell": ("norse", _norse_cell_export, NirOptions("norse", "zero", 1e-6),
                      ("is a CubaLIF", "synaptic current", "Norse LIFCell")),
    "rockpool-liftorch": ("rockpool", _rockpool_export, NirOptions(reset="zero"),
                          ("is a CubaLIF", "synaptic current", "Rockpool LIFTorch")),
    "sinabs-default-lif": ("sinabs", _sinabs_default_export, NirOptions("sinabs", "subtract"),
                           ("resets by subtraction", "Sinabs MembraneReset")),
}
