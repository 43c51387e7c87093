"""Peer networks of the neuron models beyond LIF with reset to zero, for
``tests/test_nir_peers.py``: a synaptic current (``CubaLIF``) and reset by subtraction, each
run by its own framework and written by its own exporter.

* Norse ``LIFCell``: a current that jumps by the input, the membrane reset to zero;
* Rockpool ``LIFTorch`` (one spike per step): a current that decays after the input is added,
  reset by subtraction, spike test ``>=``;
* Sinabs ``LIF``/``IAF`` with ``MembraneSubtract`` and ``SingleSpike``.

Peer packages are imported lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sastc.backends.nir_reading import NirOptions
from tests.peer_nets import FLAT, PeerNet, _inputs, _sinabs_export, _sinabs_run, _strong, write

HIDDEN, CLASSES = 32, 10


def _norse_cell_build() -> Any:
    import norse.torch as norse
    import torch

    torch.manual_seed(0)

    def cell(size: int) -> Any:  # full-shape parameters: Norse's exporter needs equal shapes
        full = lambda value: torch.full((size,), value)  # noqa: E731
        return norse.LIFCell(norse.LIFParameters(tau_syn_inv=full(200.0),
                                                 tau_mem_inv=full(100.0), v_th=full(1.0),
                                                 v_leak=full(0.0), v_reset=full(0.0)))

    return norse.SequentialState(_strong(torch.nn.Linear(FLAT, HIDDEN), 10.0), cell(HIDDEN),
                                 _strong(torch.nn.Linear(HIDDEN, CLASSES), 10.0), cell(CLASSES))


def _norse_cell_export(net: Any, path: Path) -> Path:
    import norse.torch as norse
    import torch

    return write(norse.to_nir(net, torch.zeros(1, FLAT)), path)


def _rockpool_build() -> Any:
    import torch
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch

    torch.manual_seed(0)

    def lif(size: int) -> Any:
        return LIFTorch(size, tau_mem=torch.full((size,), 0.01), tau_syn=torch.full((size,), 0.005),
                        threshold=torch.ones(size), bias=torch.zeros(size), max_spikes_per_dt=1.0,
                        dt=1e-3)

    def linear(shape: tuple[int, int], gain: float) -> Any:
        layer = LinearTorch(shape, has_bias=False)
        with torch.no_grad():
            layer.weight.mul_(gain)
        return layer

    return Sequential(linear((FLAT, HIDDEN), 3.0), lif(HIDDEN), linear((HIDDEN, CLASSES), 3.0),
                      lif(CLASSES))


def _rockpool_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    """Layer by layer over all steps (feed-forward), spikes of the two LIF layers."""
    import torch

    h = _inputs(frames.reshape(*frames.shape[:2], -1))  # [B, T, N], Rockpool's layout
    records = []
    with torch.no_grad():
        for index, module in enumerate(net):
            module.reset_state()
            h = module(h)[0]
            if index % 2:
                records.append(h.transpose(0, 1).numpy().astype(bool))
    return records


def _rockpool_export(net: Any, path: Path) -> Path:
    from rockpool.nn.modules.torch.nir import to_nir

    return write(to_nir(net), path)


def _norse_cell_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    from tests.peer_nets import _norse_run

    return _norse_run(net, frames)


def _sinabs_subtract_build(kind: str, batch: int) -> Any:
    import sinabs.layers as sl
    import torch
    from sinabs.activation import MembraneSubtract, SingleSpike

    torch.manual_seed(0)

    def neuron(shape: tuple[int, ...]) -> Any:
        subtract = {"spike_fn": SingleSpike, "reset_fn": MembraneSubtract(), "batch_size": batch}
        if kind == "iaf":
            return sl.IAFSqueeze(**subtract)
        return sl.LIFSqueeze(tau_mem=torch.full(shape, 10.0), spike_threshold=torch.ones(shape),
                             norm_input=False, **subtract)

    return torch.nn.Sequential(_strong(torch.nn.Conv2d(2, 8, 3, stride=2, padding=1)),
                               neuron((8, 17, 17)), sl.SumPool2d(2), torch.nn.Flatten(),
                               _strong(torch.nn.Linear(8 * 8 * 8, 10)), neuron((10,)))


# Norse 1.1.0 writes tau = dt / tau_inv: read with dt squared (1e-3 ** 2)
MODEL_PEER_NETS: dict[str, PeerNet] = {
    "norse-lifcell": PeerNet(_norse_cell_build, _norse_cell_run, _norse_cell_export,
                             NirOptions("norse", "zero", 1e-6), flat_input=True),
    "rockpool-liftorch": PeerNet(_rockpool_build, _rockpool_run, _rockpool_export,
                                 NirOptions("rockpool", "subtract"), flat_input=True),
    "sinabs-lif-subtract": PeerNet(lambda: _sinabs_subtract_build("lif", 6), _sinabs_run,
                                   _sinabs_export, NirOptions("sinabs", "subtract")),
    "sinabs-iaf-subtract": PeerNet(lambda: _sinabs_subtract_build("iaf", 6), _sinabs_run,
                                   _sinabs_export, NirOptions("sinabs", "subtract")),
}
