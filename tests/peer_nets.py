"""Networks written the usual way in each peer framework, with their own runs and exporters,
for ``tests/test_nir_peers.py`` and ``benchmarks/interchange_agreement.py``.

:data:`PEER_NETS` maps a name to a :class:`PeerNet`: ``build()`` the network, ``run(net,
frames)`` it step by step in its own framework (spikes of every spiking layer,
``[T, B, ...]``), ``export(net, path)`` it with its own NIR exporter, and the options sastc
needs to read that file (what NIR leaves out). Networks whose file sastc must refuse are
in ``tests/peer_refused.py``. Peer packages are imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sastc.backends.nir_reading import NirOptions

SENSOR = (2, 34, 34)
FLAT = 2 * 34 * 34


def _strong(layer: Any, gain: float = 3.0) -> Any:
    """Weights x ``gain``: non-trivial spiking on a few N-MNIST recordings."""
    import torch

    with torch.no_grad():
        layer.weight.mul_(gain)
    return layer


def _inputs(frames: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.minimum(frames, 1).astype(np.float32))


def write(graph: Any, path: Path) -> Path:
    import nir

    nir.write(path, graph)
    return path


def _step_records(net: Any, frames: np.ndarray, step: Callable[[Any, int, Any], Any],
                  spiking: list[int]) -> list[np.ndarray]:
    """Run ``net`` (a sequence of modules) step by step; ``step(module, index, x)`` applies one."""
    import torch

    x, records = _inputs(frames), {i: [] for i in spiking}
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = x[:, t]
            for i, module in enumerate(net):
                h = step(module, i, h)
                if i in records:
                    records[i].append(h.numpy().astype(bool))
    return [np.stack(records[i]) for i in spiking]


@dataclass
class PeerNet:
    """One peer network, its own run and export, and how sastc reads the export."""

    build: Callable[[], Any]
    run: Callable[[Any, np.ndarray], list[np.ndarray]]
    export: Callable[[Any, Path], Path]
    options: NirOptions
    flat_input: bool = False  # the exporter writes no Flatten: frames go in flat


# --- SpikingJelly: LIFNode (hard reset to 0, r = tau/dt), AvgPool2d, IFNode --------------------


def _spikingjelly_build() -> Any:
    import torch
    from spikingjelly.activation_based import layer, neuron

    torch.manual_seed(0)
    return torch.nn.Sequential(
        _strong(layer.Conv2d(2, 8, 3, stride=2, padding=1)),
        neuron.LIFNode(tau=10.0, decay_input=False, v_reset=0.0), layer.AvgPool2d(2),
        layer.Flatten(), _strong(layer.Linear(8 * 8 * 8, 10)), neuron.IFNode(v_reset=0.0))


def _spikingjelly_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    from spikingjelly.activation_based import functional

    functional.reset_net(net)
    return _step_records(net, frames, lambda m, _i, h: m(h), [1, 5])


def _spikingjelly_export(net: Any, path: Path) -> Path:
    import torch
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    return write(export_to_nir(net, torch.zeros(1, *SENSOR)), path)


# --- Sinabs: IAF / LIF with MembraneReset and SingleSpike (Squeeze layers: [B*T, ...]) -------


def _sinabs_build(kind: str, batch: int) -> Any:
    import sinabs.layers as sl
    import torch
    from sinabs.activation import MembraneReset, SingleSpike

    torch.manual_seed(0)

    def neuron(shape: tuple[int, ...]) -> Any:
        zero = {"spike_fn": SingleSpike, "reset_fn": MembraneReset(), "batch_size": batch}
        if kind == "iaf":
            return sl.IAFSqueeze(**zero)
        # per-neuron tensors: Sinabs exports scalars as 0-d arrays, which nir.write cannot store
        return sl.LIFSqueeze(tau_mem=torch.full(shape, 10.0), spike_threshold=torch.ones(shape),
                             norm_input=False, **zero)

    return torch.nn.Sequential(_strong(torch.nn.Conv2d(2, 8, 3, stride=2, padding=1)),
                               neuron((8, 17, 17)), sl.SumPool2d(2), torch.nn.Flatten(),
                               _strong(torch.nn.Linear(8 * 8 * 8, 10)), neuron((10,)))


def _sinabs_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    import torch

    batch, steps = frames.shape[:2]
    for module in net:
        if hasattr(module, "reset_states"):
            module.reset_states()
            module.batch_size = batch  # Squeeze layers unfold [B * T, ...] with it
    outputs, h = {}, _inputs(frames).flatten(0, 1)
    with torch.no_grad():
        for i, module in enumerate(net):
            h = outputs[i] = module(h)
    return [outputs[i].reshape(batch, steps, *outputs[i].shape[1:]).transpose(0, 1)
            .numpy().astype(bool) for i in (1, 5)]


def _sinabs_export(net: Any, path: Path) -> Path:
    """``sinabs.to_nir``, with the input types it leaves unset (None: ``nir.write`` cannot
    store them) filled in from the network's shapes."""
    import nir
    import sinabs
    import torch

    graph = sinabs.to_nir(net, torch.zeros(net[1].batch_size, *SENSOR))
    shape = SENSOR
    for i, module in enumerate(net):
        node = graph.nodes[str(i)]
        if node.input_type.get("input") is None:
            node.input_type = {"input": np.array(shape)}
            if isinstance(node, nir.Conv2d):
                node.input_shape = shape[1:]
        if not hasattr(module, "v_mem"):
            shape = tuple(module(torch.zeros(1, *shape)).shape[1:])
        node.output_type = {"output": np.array(shape)}
    return write(graph, path)


# --- Norse: LIFBoxCell (Norse writes no Flatten, so the network takes flat frames) ----------


def _norse_build() -> Any:
    import norse.torch as norse
    import torch
    from norse.torch.functional.lif_box import LIFBoxParameters

    torch.manual_seed(0)

    def cell(size: int) -> Any:  # full-shape parameters: Norse's exporter needs equal shapes
        full = lambda value: torch.full((size,), value)  # noqa: E731
        return norse.LIFBoxCell(LIFBoxParameters(tau_mem_inv=full(500.0), v_th=full(1.0),
                                                 v_leak=full(0.0), v_reset=full(0.0)))

    return norse.SequentialState(_strong(torch.nn.Linear(FLAT, 32), 10.0), cell(32),
                                 _strong(torch.nn.Linear(32, 10), 10.0), cell(10))


def _norse_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    states: dict[int, Any] = {}

    def step(module: Any, i: int, h: Any) -> Any:
        if i % 2 == 0:
            return module(h)
        h, states[i] = module(h, states.get(i))
        return h

    return _step_records(net, frames.reshape(*frames.shape[:2], -1), step, [1, 3])


def _norse_export(net: Any, path: Path) -> Path:
    import norse.torch as norse
    import torch

    return write(norse.to_nir(net, torch.zeros(1, FLAT)), path)


# --- snnTorch: Leaky with reset_mechanism="zero" (tests/snntorch_models.py) -------------------


def _snntorch_build(kind: str) -> Any:
    import snntorch as snn
    import torch

    from tests.snntorch_models import snntorch_nets

    return snntorch_nets(torch, snn)[kind]


def _snntorch_run(net: Any, frames: np.ndarray) -> list[np.ndarray]:
    import snntorch as snn
    import torch

    from tests.snntorch_models import snntorch_spikes

    return snntorch_spikes(net, frames, torch, snn)


def _snntorch_zero_export(net: Any, path: Path) -> Path:
    import torch
    from snntorch.export_nir import export_to_nir

    return write(export_to_nir(net, torch.zeros(1, *SENSOR), ignore_dims=[0]), path)


PEER_NETS: dict[str, PeerNet] = {
    "snntorch-dense": PeerNet(lambda: _snntorch_build("dense"), _snntorch_run,
                              _snntorch_zero_export, NirOptions(reset="zero")),
    "snntorch-conv": PeerNet(lambda: _snntorch_build("conv"), _snntorch_run,
                             _snntorch_zero_export, NirOptions(reset="zero")),
    "spikingjelly": PeerNet(_spikingjelly_build, _spikingjelly_run, _spikingjelly_export,
                            NirOptions(reset="zero")),  # dt = 1e-4 implied by r = tau/dt
    "sinabs-iaf": PeerNet(lambda: _sinabs_build("iaf", 6), _sinabs_run, _sinabs_export,
                          NirOptions("sinabs", "zero")),
    "sinabs-lif": PeerNet(lambda: _sinabs_build("lif", 6), _sinabs_run, _sinabs_export,
                          NirOptions("sinabs", "zero")),
    # Norse 1.1.0 writes tau = dt / tau_mem_inv: read with dt squared (1e-3 ** 2)
    "norse": PeerNet(_norse_build, _norse_run, _norse_export, NirOptions("norse", "zero", 1e-6),
                     flat_input=True),
}

