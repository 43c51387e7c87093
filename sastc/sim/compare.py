"""Float model against compiled model, side by side on the same frames (numpy only).

Reports float surrogate-forward accuracy, float hard-spike accuracy, integer
accuracy, per-layer spike agreement between float-hard and integer (fraction
of (time step, neuron) pairs with the same spike bit), the samples whose class
the integer model decides differently from float-hard (with the float model's
margin on them), SynOps of both, and which classes fail: per-class accuracy
and the confusion matrix (``sastc.metrics``) of the deciding model (integer if
there is one, else float-hard). Accuracies are percentages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sastc.ir.layers import FloatNet
from sastc.ir.quantized import QNet
from sastc.metrics import class_names, confusion_matrix, confusion_report, per_class_accuracy
from sastc.sim.common import SimOutput, batches, predict
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.synops import SynOpsCounter


def _accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Percent of ``predicted`` equal to ``labels``."""
    return 100.0 * int((predicted == labels).sum()) / max(len(labels), 1)


def float_predictions(net: FloatNet, frames: np.ndarray, mode: str,
                      batch_size: int = 64) -> np.ndarray:
    """Class decided by the float model in spike ``mode``, per sample."""
    simulator = FloatSimulator(net, mode)
    return np.concatenate([predict(simulator.run(frames[s]).logits)
                           for s in batches(len(frames), batch_size)])


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


@dataclass
class _Tally:
    """What the float-hard / integer loop collects, batch by batch."""

    layers: int
    hard: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    flips: list[dict[str, Any]] = field(default_factory=list)
    margins: list[np.ndarray] = field(default_factory=list)
    agree: np.ndarray = field(init=False)
    compared: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.agree, self.compared = np.zeros(self.layers), np.zeros(self.layers)

    def add_pair(self, float_out: SimOutput, int_out: SimOutput, offset: int) -> None:
        self.integer.append(predict(int_out.logits))
        self.flips += decision_flips(float_out.logits, int_out.logits, offset)
        self.margins.append(relative_margins(float_out.logits))
        for i, (a, b) in enumerate(zip(float_out.records, int_out.records, strict=True)):
            if a.dtype == bool:
                self.agree[i] += float((a == b).sum())
                self.compared[i] += a.size


def compare(net: FloatNet, qnet: QNet | None, frames: np.ndarray, labels: np.ndarray,
            batch_size: int = 64, classes: Sequence[str] | None = None) -> dict[str, Any]:
    """Float surrogate, float hard and (if ``qnet``) integer results on ``frames``.

    ``classes`` (default: the model's) name the rows and columns of ``confusion``, which
    is of the integer model when there is one, else of float-hard (``confusion_model``).
    """
    names = class_names(net.classes if classes is None else classes, len(net.classes))
    surrogate = float_predictions(net, frames, "surrogate", batch_size)
    report: dict[str, Any] = {"samples": len(labels),
                              "surrogate_accuracy": _accuracy(surrogate, labels)}
    hard = FloatSimulator(net, "hard")
    hard_synops = hard.synops_counter()
    integer = IntegerSimulator(qnet) if qnet is not None else None
    int_synops = integer.synops_counter() if integer is not None else None
    tally = _Tally(len(net.layers))
    for s in batches(len(labels), batch_size):
        float_out = hard.run(frames[s], record=integer is not None, synops=hard_synops)
        tally.hard.append(predict(float_out.logits))
        if integer is not None:
            tally.add_pair(float_out, integer.run(frames[s], record=True, synops=int_synops),
                           s.start)
    hard_predicted = np.concatenate(tally.hard)
    report["float_hard_accuracy"] = _accuracy(hard_predicted, labels)
    report["transfer_gap"] = report["surrogate_accuracy"] - report["float_hard_accuracy"]
    report["synops_float"] = hard_synops.result().to_dict()
    if integer is not None:
        report |= _integer_report(report, tally, labels, net, int_synops)
    deciding = np.concatenate(tally.integer) if integer is not None else hard_predicted
    report["classes"] = names
    report["confusion_model"] = "integer" if integer is not None else "float-hard"
    report |= confusion_report(labels, deciding, names)
    report["per_class_float_hard"] = per_class_accuracy(
        confusion_matrix(labels, hard_predicted, len(names)), names)
    return report


def _integer_report(report: dict[str, Any], tally: _Tally, labels: np.ndarray, net: FloatNet,
                    int_synops: SynOpsCounter) -> dict[str, Any]:
    int_accuracy = _accuracy(np.concatenate(tally.integer), labels)
    return {"int_accuracy": int_accuracy,
            "int_delta": int_accuracy - report["float_hard_accuracy"],
            "int_delta_vs_surrogate": int_accuracy - report["surrogate_accuracy"],
            "spike_agreement": {layer.name: float(tally.agree[i] / tally.compared[i])
                                for i, layer in enumerate(net.layers) if tally.compared[i]},
            "synops_int": int_synops.result().to_dict(),
            "decision_flips": tally.flips,
            "float_margin_median": float(np.median(np.concatenate(tally.margins)))}
