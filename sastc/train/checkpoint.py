"""Self-describing checkpoints, written atomically and read with torch's weights-only loader.

A checkpoint is a dict of plain values and tensors::

    format, format_version          "sastc-checkpoint", 1
    spec                            the architecture (ArchSpec.to_dict)
    dataset                         name, time_bins, classes, input_clip, downsample, ...
    config                          the TrainConfig
    state_dict                      model weights (layers.<i>.weight / .bias)
    epoch, complete                 epochs finished, whether training ended
    metrics, history                last evaluation, one entry per epoch
    optimizer, scheduler, rng       what --resume needs to continue exactly
    versions                        sastc, torch, numpy, python
"""

from __future__ import annotations

import pickle
import platform
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import sastc
from sastc.atomic import atomic_path
from sastc.errors import CheckpointError
from sastc.spec import ArchSpec

FORMAT = "sastc-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("spec", "dataset", "config", "state_dict", "epoch")


def versions() -> dict[str, str]:
    return {"sastc": sastc.__version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
            "python": platform.python_version()}


def save_checkpoint(path: str | Path, content: dict[str, Any]) -> Path:
    """Write ``content`` (plus format fields and versions) to ``path`` atomically."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": versions(),
               **content}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint; anything else raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"{path}: not a sastc checkpoint (torch cannot read it: "
                              f"{reason})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a sastc checkpoint (expected a file written by "
                              f"'sastc train', with format {FORMAT!r})")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer sastc (format version "
                              f"{data['format_version']}, this sastc reads {FORMAT_VERSION})")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{path}: sastc checkpoint is missing {missing}")
    return data


def checkpoint_spec(data: dict[str, Any]) -> ArchSpec:
    return ArchSpec.from_dict(data["spec"])


def numpy_params(data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The model weights as numpy arrays (what the IR builder reads)."""
    return {key: value.detach().cpu().numpy() for key, value in data["state_dict"].items()}
