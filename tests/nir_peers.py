"""Peer frameworks (Norse, Sinabs, snnTorch, SpikingJelly) running what sastc writes, and
NeuroBench counting SynOps, for
``tests/test_nir_peers.py`` and ``benchmarks/interchange_agreement.py`` (the peers' own
networks and exporters are in ``tests/peer_nets.py``).

* :func:`run_in_peer`: a file sastc wrote for a flavour, imported by that peer's own
  importer and stepped over frames: records laid out as sastc's simulators lay them out
  (``[T, B, ...]``; spikes as bool, the readout as its membrane).
* :func:`neurobench_synops`: NeuroBench's own ``SynapticOperations`` of a sastc network,
  run as the equivalent snnTorch network.

Peer packages are imported inside the functions, so importing this module needs none.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

SENSOR = (2, 34, 34)


def _inputs(frames: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.minimum(frames, 1).astype(np.float32))


def _read(path: Path, type_check: bool = True) -> Any:
    import nir

    return nir.read(path, type_check=type_check)


def _stacked(steps: list[Any]) -> np.ndarray:
    return np.stack([np.asarray(step) for step in steps])


def _as_records(outputs: dict[str, list[Any]], spiking: dict[str, bool]) -> list[np.ndarray]:
    return [_stacked(steps).astype(bool) if spiking[name] else _stacked(steps)
            for name, steps in outputs.items()]


def _norse(path: Path, frames: np.ndarray, spiking: dict[str, bool]) -> list[np.ndarray]:
    """``norse.torch.from_nir``; spikes from the executor's cache, membranes from its state."""
    import norse.torch as norse

    model, x = norse.from_nir(_read(path)), _inputs(frames)
    outputs: dict[str, list[Any]] = {name: [] for name in spiking}
    state = None
    for t in range(x.shape[1]):
        _, state = model(x[:, t], state)
        for name, spikes in spiking.items():
            outputs[name].append(state.cache[name] if spikes else state.state[name][0].v)
    return _as_records(outputs, spiking)


def _reset_modes(graph: Any) -> dict[str, str]:
    """Spiking neuron node -> its reset, as sastc's metadata states it (the file's
    ``flavor_note`` says what to set on each)."""
    return json.loads(graph.metadata["reset_modes"])


def _sinabs(path: Path, frames: np.ndarray, spiking: dict[str, bool]) -> list[np.ndarray]:
    """``sinabs.from_nir`` with the one-spike neurons NIR cannot ask for, and the reset to zero
    where a layer has it (Sinabs' default ``MembraneSubtract`` is sastc's subtract reset)."""
    import sinabs
    from sinabs.activation import MembraneReset, SingleSpike

    batch, steps = frames.shape[:2]
    graph = _read(path, type_check=False)
    modes = _reset_modes(graph)
    model = sinabs.from_nir(graph, batch_size=batch)
    for name, module in model.named_modules():
        if isinstance(module, sinabs.layers.LIF) and name in modes:
            module.spike_fn = SingleSpike
            if modes[name] == "zero":
                module.reset_fn = MembraneReset()
    _, state = model(_inputs(frames).flatten(0, 1))  # [B * T, ...], sample-major
    records = []
    for name, spikes in spiking.items():
        out = state.cache[name]
        out = out.reshape(batch, steps, *out.shape[1:]).transpose(0, 1).numpy()
        records.append(out.astype(bool) if spikes else out)
    return records


def _hooked(model: Any, names: list[str]) -> dict[str, list[Any]]:
    outputs: dict[str, list[Any]] = {name: [] for name in names}
    modules = dict(model.named_modules())
    for name in names:
        modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: outputs[name].append(out))
    return outputs


def _snntorch(path: Path, frames: np.ndarray, spiking: dict[str, bool]) -> list[np.ndarray]:
    """``snntorch.import_nir.import_from_nir``; the readout membrane is ``Leaky.mem``."""
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    model, x = import_from_nir(_read(path)), _inputs(frames)
    modules = dict(model.named_modules())
    for module in modules.values():
        if isinstance(module, snn.Leaky):
            module.reset_mem()
    outputs = _hooked(model, [name for name, spikes in spiking.items() if spikes])
    membranes: dict[str, list[Any]] = {name: [] for name, s in spiking.items() if not s}
    for t in range(x.shape[1]):
        model(x[:, t])
        for name in membranes:
            membranes[name].append(modules[name].mem.clone())
    return _as_records({name: (outputs | membranes)[name] for name in spiking}, spiking)


def _spikingjelly(path: Path, frames: np.ndarray, spiking: dict[str, bool]) -> list[np.ndarray]:
    """SpikingJelly's ``import_from_nir``: each neuron returns (spikes, (membrane,))."""
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    graph = _read(path)
    model, x = import_from_nir(graph), _inputs(frames)
    modules = dict(model.named_modules())
    for name, mode in _reset_modes(graph).items():
        if mode == "subtract":  # its importer builds v_reset = 0: a hard reset
            modules[name].module.v_reset = None
    outputs = _hooked(model, list(spiking))
    state = None
    for t in range(x.shape[1]):
        _, state = model(x[:, t], state)
    picked = {name: [out[0] if spiking[name] else out[1][0] for out in steps]
              for name, steps in outputs.items()}
    return _as_records(picked, spiking)


PEER_RUNNERS: dict[str, Callable[[Path, np.ndarray, dict[str, bool]], list[np.ndarray]]] = {
    "norse": _norse, "sinabs": _sinabs, "snntorch": _snntorch, "spikingjelly": _spikingjelly}


def run_in_peer(flavor: str, path: Path, frames: np.ndarray, spiking: dict[str, bool]
                ) -> list[np.ndarray]:
    """Records of the file at ``path`` run by the ``flavor`` peer's own importer, for the
    neuron nodes ``spiking`` (name -> whether it spikes, in layer order)."""
    import torch

    with torch.no_grad(), warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        return PEER_RUNNERS[flavor](path, frames, spiking)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The peers print and log as they import (snnTorch prints, Norse warns about r)."""
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)


def snntorch_equivalent(net: Any) -> Any:
    """The lowered sastc ``net`` as an snnTorch network NeuroBench can hook: sum pooling
    (``LPPool2d`` with ``p = 1``), the same weights, ``Leaky`` neurons with reset to zero."""
    import snntorch as snn
    import torch

    modules: list[Any] = []
    for layer in net.layers:
        geometry = layer.geometry
        if geometry.pool > 1:
            modules.append(torch.nn.LPPool2d(1, geometry.pool))
        if geometry.op == "dense" and len(geometry.pooled_shape) > 1:
            modules.append(torch.nn.Flatten())
        shape = (-1,) + (1,) * (len(geometry.out_shape) - 1)
        threshold = torch.from_numpy(np.asarray(layer.threshold, np.float32)).reshape(shape)
        modules += [_synapse(layer), snn.Leaky(beta=float(layer.beta), threshold=threshold,
                                               reset_mechanism="zero", init_hidden=True,
                                               output=layer is net.layers[-1])]
    return torch.nn.Sequential(*modules)


def _synapse(layer: Any) -> Any:
    import torch

    g = layer.geometry
    if g.op == "dense":
        module = torch.nn.Linear(int(np.prod(g.pooled_shape)), g.out_shape[0])
        weight = layer.weight_matrix
    else:
        module = torch.nn.Conv2d(g.pooled_shape[0], g.out_shape[0], g.kernel, g.stride, g.padding)
        weight = layer.weight
    module.weight.data = torch.from_numpy(np.asarray(weight, np.float32))
    module.bias.data = torch.from_numpy(np.asarray(layer.bias, np.float32))
    return module


def neurobench_synops(net: Any, frames: np.ndarray) -> dict[str, float]:
    """NeuroBench 2.3's ``SynapticOperations`` per sample (its Benchmark with batch size 1,
    sastc's per-sample convention) of ``net`` on ``frames``."""
    import torch
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import SNNTorchModel

    x = _inputs(frames)
    loader = torch.utils.data.DataLoader(list(zip(x, torch.zeros(len(x)), strict=True)),
                                         batch_size=1)
    model = SNNTorchModel(snntorch_equivalent(net))
    with torch.no_grad():
        results = Benchmark(model, loader, [], [], [[], [SynapticOperations]]).run(quiet=True)
    return dict(results["SynapticOperations"])
