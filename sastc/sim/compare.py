"""Float model against compiled model, side by side on the same frames (numpy only).

Reports float surrogate-forward accuracy, float hard-spike accuracy, integer
accuracy, per-layer spike agreement between float-hard and integer (fraction
of (time step, neuron) pairs with the same spike bit), the samples whose class
the integer model decides differently from float-hard (with the float model's
margin on them), and SynOps of both. Accuracies are percentages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sastc.ir.layers import FloatNet
from sastc.ir.quantized import QNet
from sastc.sim.common import batches, predict
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator


def _percent(correct: int, total: int) -> float:
    return 100.0 * correct / max(total, 1)


def float_accuracy(net: FloatNet, frames: np.ndarray, labels: np.ndarray, mode: str,
                   batch_size: int = 64) -> float:
    simulator = FloatSimulator(net, mode)
    correct = sum(int((predict(simulator.run(frames[s]).logits) == labels[s]).sum())
                  for s in batches(len(labels), batch_size))
    return _percent(correct, len(labels))


def relative_margins(logits: np.ndarray) -> np.ndarray:
    """``(top-1 - top-2 logit) / max |logit|`` per sample: how close a decision is.

    >>> relative_margins(np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 4.0]])).tolist()
    [0.3333333333333333, 1.0]
    """
    if logits.shape[1] < 2:
        return np.ones(len(logits))
    ordered = np.sort(logits, axis=1)
    scale = np.maximum(np.abs(logits).max(axis=1), np.finfo(np.float64).tiny)
    return (ordered[:, -1] - ordered[:, -2]) / scale


def decision_flips(float_logits: np.ndarray, int_logits: np.ndarray,
                   offset: int = 0) -> list[dict[str, Any]]:
    """Samples (numbered from ``offset``) whose integer class differs from the float-hard one."""
    float_class, int_class = predict(float_logits), predict(int_logits)
    margins = relative_margins(float_logits)
    return [{"sample": offset + int(i), "float_class": int(float_class[i]),
             "int_class": int(int_class[i]), "float_margin": float(margins[i])}
            for i in np.nonzero(float_class != int_class)[0]]


def compare(net: FloatNet, qnet: QNet | None, frames: np.ndarray, labels: np.ndarray,
            batch_size: int = 64) -> dict[str, Any]:
    """Float surrogate, float hard and (if ``qnet``) integer results on ``frames``."""
    report: dict[str, Any] = {"samples": len(labels),
                              "surrogate_accuracy": float_accuracy(net, frames, labels,
                                                                   "surrogate", batch_size)}
    hard = FloatSimulator(net, "hard")
    hard_synops = hard.synops_counter()
    integer = IntegerSimulator(qnet) if qnet is not None else None
    int_synops = integer.synops_counter() if integer is not None else None
    correct = {"hard": 0, "int": 0}
    agree = np.zeros(len(net.layers))
    compared = np.zeros(len(net.layers))
    flips: list[dict[str, Any]] = []
    margins: list[np.ndarray] = []
    for s in batches(len(labels), batch_size):
        float_out = hard.run(frames[s], record=integer is not None, synops=hard_synops)
        correct["hard"] += int((predict(float_out.logits) == labels[s]).sum())
        if integer is None:
            continue
        int_out = integer.run(frames[s], record=True, synops=int_synops)
        correct["int"] += int((predict(int_out.logits) == labels[s]).sum())
        flips += decision_flips(float_out.logits, int_out.logits, s.start)
        margins.append(relative_margins(float_out.logits))
        for i, (a, b) in enumerate(zip(float_out.records, int_out.records, strict=True)):
            if a.dtype == bool:
                agree[i] += float((a == b).sum())
                compared[i] += a.size
    report["float_hard_accuracy"] = _percent(correct["hard"], len(labels))
    report["transfer_gap"] = report["surrogate_accuracy"] - report["float_hard_accuracy"]
    report["synops_float"] = hard_synops.result().to_dict()
    if integer is not None:
        report["int_accuracy"] = _percent(correct["int"], len(labels))
        report["int_delta"] = report["int_accuracy"] - report["float_hard_accuracy"]
        report["int_delta_vs_surrogate"] = report["int_accuracy"] - report["surrogate_accuracy"]
        report["spike_agreement"] = {layer.name: float(agree[i] / compared[i])
                                     for i, layer in enumerate(net.layers) if compared[i]}
        report["synops_int"] = int_synops.result().to_dict()
        report["decision_flips"] = flips
        report["float_margin_median"] = float(np.median(np.concatenate(margins)))
    return report
