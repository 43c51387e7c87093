"""Evaluation of a torch model: surrogate and hard accuracy, transfer gap, spike rates, SynOps.

``transfer_gap = surrogate_accuracy - hard_accuracy`` in percentage points
(hard = the same weights with the spike function swapped to the Heaviside
step, "swap-only"). SynOps are counted on the hard model (see
``sastc.sim.synops``). Accuracies are percentages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sastc.data.base import FrameSet
from sastc.ir.build import graph_from_spec
from sastc.ir.lower import fuse
from sastc.metrics import class_names, confusion_report
from sastc.neurons import is_spiking
from sastc.sim.synops import SynOpsCounter
from sastc.train.model import SpikingNet, Trace


def to_time_major(frames: np.ndarray | torch.Tensor, device: str | torch.device = "cpu"
                  ) -> torch.Tensor:
    """uint8 ``[B, T, C, H, W]`` to float ``[T, B, C, H, W]`` on ``device``."""
    tensor = torch.as_tensor(frames)
    return tensor.to(device).permute(1, 0, *range(2, tensor.ndim)).float()


def model_params(model: SpikingNet) -> dict[str, np.ndarray]:
    return {key: value.detach().cpu().numpy() for key, value in model.state_dict().items()}


def synops_counter(model: SpikingNet, time_bins: int) -> SynOpsCounter:
    """A counter with the model's true fan-out maps (non-zero weights, border-aware)."""
    net = fuse(graph_from_spec(model.spec, model_params(model), {"time_bins": time_bins}))
    return SynOpsCounter([layer.name for layer in net.layers],
                         [layer.geometry for layer in net.layers],
                         [layer.weight for layer in net.layers], time_bins)


@torch.no_grad()
def classify(model: SpikingNet, data: FrameSet, mode: str, batch_size: int = 128,
             device: str = "cpu", counter: SynOpsCounter | None = None
             ) -> tuple[np.ndarray, list[float]]:
    """(predicted class ``int64 [N]``, per-layer spike sums) of ``model`` in spike ``mode``."""
    previous = model.spike_mode
    model.spike_mode = mode
    predicted, spike_sums = [], []
    try:
        for start in range(0, len(data), batch_size):
            batch = np.arange(start, min(start + batch_size, len(data)))
            trace = Trace() if counter is not None else None
            logits = model(to_time_major(data.frames[batch], device), trace)
            predicted.append(logits.argmax(1).cpu().numpy())
            if trace is not None:
                _count(trace, counter, spike_sums, len(batch))
    finally:
        model.spike_mode = previous
    return np.concatenate(predicted).astype(np.int64), spike_sums


def _count(trace: Trace, counter: SynOpsCounter, spike_sums: list[float], batch: int) -> None:
    for layer, inputs in enumerate(trace.synapse_inputs):
        counter.add(layer, inputs.flatten(0, 1).cpu().numpy(), inputs.shape[0])
    counter.count_samples(batch)
    sums = [float(spikes.sum()) for spikes in trace.spikes]
    if not spike_sums:
        spike_sums.extend([0.0] * len(sums))
    for i, value in enumerate(sums):
        spike_sums[i] += value


def spike_rates(model: SpikingNet, spike_sums: list[float], samples: int,
                time_bins: int) -> dict[str, float]:
    """Mean spikes per neuron per time step of each spiking layer."""
    net = fuse(graph_from_spec(model.spec, model_params(model), {"time_bins": time_bins}))
    spiking = [layer for layer in net.layers if is_spiking(layer.neuron)]
    return {layer.name: total / (samples * time_bins * int(np.prod(layer.geometry.out_shape)))
            for layer, total in zip(spiking, spike_sums, strict=True)}


def evaluate(model: SpikingNet, data: FrameSet, batch_size: int = 128,
             device: str = "cpu", per_class: bool = False) -> dict[str, Any]:
    """Full report: accuracies, gap, spike rates and SynOps of the hard model.

    With ``per_class``, also ``classes`` and, for the hard model, ``per_class`` and
    ``confusion`` (``sastc.metrics``; ``_surrogate`` suffix for the surrogate forward),
    from the same predictions the accuracies count.
    """
    model.eval()
    surrogate, _ = classify(model, data, "surrogate", batch_size, device)
    counter = synops_counter(model, data.time_bins)
    hard, sums = classify(model, data, "hard", batch_size, device, counter=counter)
    total = len(data)
    surrogate_acc = 100.0 * int((surrogate == data.labels).sum()) / total
    hard_acc = 100.0 * int((hard == data.labels).sum()) / total
    report = {"samples": total, "surrogate_accuracy": surrogate_acc, "hard_accuracy": hard_acc,
              "transfer_gap": surrogate_acc - hard_acc,
              "spike_rates": spike_rates(model, sums, total, data.time_bins),
              "synops": counter.result().to_dict()}
    if per_class:
        classes = class_names(data.classes, model.spec.num_classes)
        report["classes"] = classes
        report |= confusion_report(data.labels, hard, classes)
        report |= confusion_report(data.labels, surrogate, classes, "_surrogate")
    return report
