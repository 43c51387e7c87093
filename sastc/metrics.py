"""Which classes fail: confusion matrix and per-class accuracy (numpy only).

The confusion matrix ``M`` of ``N`` samples over ``K`` classes counts

    M[i, j] = #{n : label[n] = i and prediction[n] = j}

(rows = true class, columns = predicted class), so ``M.sum() = N`` and the
trace ``sum_i M[i, i]`` is the number of correct predictions. The accuracy of
class ``i`` is ``100 * M[i, i] / sum_j M[i, j]`` (recall of that class), and
undefined (``None``) when the split has no sample of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``int64 [K, K]``: ``M[true, predicted]`` counts, ``K = num_classes``.

    >>> confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    for name, values in (("label", labels), ("prediction", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} outside 0..{num_classes - 1}: "
                             f"{values.min()}..{values.max()}")
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def per_class_accuracy(matrix: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Class name -> ``{"accuracy": percent or None, "samples": n, "correct": n}``.

    >>> result = per_class_accuracy(np.array([[3, 1], [0, 0]]), ["cup", "box"])
    >>> result["cup"]
    {'accuracy': 75.0, 'samples': 4, 'correct': 3}
    >>> result["box"]
    {'accuracy': None, 'samples': 0, 'correct': 0}
    """
    matrix = np.asarray(matrix)
    if matrix.shape != (len(classes), len(classes)):
        raise ValueError(f"a {matrix.shape} matrix for {len(classes)} classes")
    result = {}
    for i, name in enumerate(classes):
        samples, correct = int(matrix[i].sum()), int(matrix[i, i])
        result[str(name)] = {"accuracy": 100.0 * correct / samples if samples else None,
                             "samples": samples, "correct": correct}
    return result


def class_names(classes: Sequence[str], outputs: int) -> list[str]:
    """The data's class names, padded with ``output <i>`` for model outputs beyond them
    (a model evaluated on data with fewer classes can still predict those outputs).

    >>> class_names(["cup", "box"], 3)
    ['cup', 'box', 'output 2']
    """
    names = [str(name) for name in classes]
    return names + [f"output {i}" for i in range(len(names), outputs)]


def confusion_report(labels: np.ndarray, predictions: np.ndarray, classes: Sequence[str],
                     suffix: str = "") -> dict[str, Any]:
    """``{"per_class<suffix>": ..., "confusion<suffix>": list of lists}`` over ``classes``.

    >>> confusion_report(np.array([0, 1]), np.array([0, 0]), ["a", "b"], "_x")["confusion_x"]
    [[1, 0], [1, 0]]
    """
    matrix = confusion_matrix(labels, predictions, len(classes))
    return {f"per_class{suffix}": per_class_accuracy(matrix, classes),
            f"confusion{suffix}": matrix.tolist()}
