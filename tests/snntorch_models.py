"""snnTorch networks written the usual snnTorch way, for the NIR interoperability test and
``benchmarks/interchange_agreement.py``. torch and snntorch are passed in, so importing
this module needs neither."""

from __future__ import annotations

from typing import Any

import numpy as np


def snntorch_nets(torch: Any, snn: Any) -> dict[str, Any]:
    """A dense and a conv + average-pooling network in snnTorch, N-MNIST-sized, seed 0."""
    torch.manual_seed(0)

    def leaky(shape: tuple[int, ...], beta: float, **kwargs: bool) -> Any:
        # per-neuron tensors: snnTorch's exporter needs array-shaped parameters for nir's types
        return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.ones(shape),
                         reset_mechanism="zero", init_hidden=True, **kwargs)

    def strong(layer: Any) -> Any:
        """Weights x3: non-trivial spiking."""
        with torch.no_grad():
            layer.weight.mul_(3.0)
        return layer

    nn = torch.nn
    dense = nn.Sequential(nn.Flatten(), strong(nn.Linear(2 * 34 * 34, 64)), leaky((64,), 0.9),
                          strong(nn.Linear(64, 10)), leaky((10,), 0.8, output=True))
    conv = nn.Sequential(strong(nn.Conv2d(2, 8, 3, stride=2, padding=1)), leaky((8, 17, 17), 0.9),
                         nn.AvgPool2d(2), strong(nn.Conv2d(8, 16, 3, padding=1)),
                         leaky((16, 8, 8), 0.95), nn.Flatten(), strong(nn.Linear(16 * 8 * 8, 10)),
                         leaky((10,), 0.9, output=True))
    return {"dense": dense, "conv": conv}


def snntorch_spikes(net: Any, frames: np.ndarray, torch: Any, snn: Any) -> list[np.ndarray]:
    """snnTorch's own step-by-step run: spikes of every Leaky layer, ``[T, B, ...]``."""
    leaky_layers = [m for m in net if isinstance(m, snn.Leaky)]
    for layer in leaky_layers:
        layer.reset_mem()
    records: list[list[np.ndarray]] = [[] for _ in leaky_layers]
    inputs = torch.from_numpy(np.minimum(frames, 1).astype(np.float32))
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            x = inputs[:, t]
            for module in net:
                x = module(x)
                if isinstance(module, snn.Leaky):
                    x = x[0] if isinstance(x, tuple) else x
                    records[leaky_layers.index(module)].append(x.numpy().astype(bool))
    return [np.stack(r) for r in records]
