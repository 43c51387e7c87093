"""Checkpoint -> graph IR (torch is needed only to read the checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sastc.ir.build import graph_from_spec
from sastc.ir.graph import Graph
from sastc.train.checkpoint import checkpoint_spec, load_checkpoint, numpy_params


def checkpoint_graph(path: str | Path) -> tuple[Graph, dict[str, Any]]:
    """The float graph of a checkpoint, and the dataset record stored with it."""
    saved = load_checkpoint(path)
    dataset = dict(saved["dataset"])
    metadata = {"time_bins": int(dataset["time_bins"]), "classes": list(dataset["classes"]),
                "input_clip": int(dataset.get("input_clip", 1)), "source": "sastc-checkpoint",
                "training": {"mode": saved["config"].get("mode"),
                             "rho": saved["config"].get("rho"),
                             "metrics": {k: v for k, v in saved.get("metrics", {}).items()
                                         if isinstance(v, (int, float))}}}
    metadata.update(_binning(dataset))
    return graph_from_spec(checkpoint_spec(saved), numpy_params(saved), metadata), dataset


def _binning(dataset: dict[str, Any]) -> dict[str, Any]:
    """How events became frames (``window_us``, ``sensor_size`` [W, H], ``downsample``), for
    firmware that bins live events; checkpoints from before it was recorded have none."""
    binning = dataset.get("binning")
    if not binning:
        return {}
    return {"window_us": binning["window_us"], "downsample": binning["downsample"],
            "sensor_size": [binning["sensor_width"], binning["sensor_height"]]}
