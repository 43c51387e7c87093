"""Peer networks whose NIR file sastc must refuse, naming the node and what it computes, for
``tests/test_nir_peers.py``: a reset not stated at all; snnTorch's subtraction, which comes
after the leak (``v <- beta v + I - theta``, sastc's and Sinabs' before it), and its
``Synaptic`` reset to zero, which drops the input of the step after a spike; reset by
subtraction or a ``CubaLIF`` in a file that does not say which framework wrote it (they
differ between frameworks). Peer packages are imported lazily."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _rockpool_export(path: Path) -> Path:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    return write(to_nir(Sequential(LinearTorch((FLAT, 16)), LIFTorch(16))), path)


# name -> (package it needs, export(path), options, fragments the error must contain)
REFUSED: dict[str, tuple[str, Callable[[Path], Path], NirOptions, tuple[str, ...]]] = {
    "snntorch-leaky-no-reset": ("snntorch", lambda p: _snntorch_export("leaky", p),
                                NirOptions(), ("does not say how", "--reset zero",
                                               "--reset subtract", "snnTorch Leaky")),
    "snntorch-leaky-subtract": ("snntorch", lambda p: _snntorch_export("leaky", p),
                                NirOptions(reset="subtract"),
                                ("node '2' (LIF) resets by subtraction with beta 0.9",
                                 "v <- beta v + I - v_threshold", "--source-flavor")),
    "snntorch-leaky-subtract-snntorch": ("snntorch", lambda p: _snntorch_export("leaky", p),
                                         NirOptions("snntorch", "subtract"),
                                         ("node '2' (LIF)", "snntorch 1.0.0",
                                          "v <- beta v + I - v_threshold", "cannot express")),
    "snntorch-synaptic": ("snntorch", lambda p: _snntorch_export("synaptic", p),
                          NirOptions(reset="zero"),
                          ("node '2' (CubaLIF)", "frameworks run CubaLIF differently",
                           "--source-flavor")),
    "snntorch-synaptic-zero": ("snntorch", lambda p: _snntorch_export("synaptic", p),
                               NirOptions("snntorch", "zero"),
                               ("node '2' (CubaLIF)", "reset zero", "a step late")),
    "rockpool-liftorch": ("rockpool", _rockpool_export, NirOptions(reset="subtract"),
                          ("(CubaLIF)", "Rockpool's decays after it", "--source-flavor")),
}
