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

import dataclasses
import pickle
import platform
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import sastc
from sastc.atomic import atomic_path
from sastc.errors import CheckpointError, ConfigError
from sastc.spec import ArchSpec
from sastc.train.config import TrainConfig
from sastc.train.model import SpikingNet

FORMAT = "sastc-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("spec", "dataset", "config", "state_dict", "epoch")
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_MAGIC = b"\x80"
_UNSAFE_GLOBAL = re.compile(r"(?:Unsupported global: |unsupported )GLOBAL ([\w.]+)")


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


def _head(path: Path, size: int = 64) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _what_file(path: Path) -> str:
    """What ``path`` is, when torch cannot read it: empty, text, or not a zip/pickle."""
    try:
        head = _head(path)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if not head:
        return "the file is empty (0 bytes), e.g. from an interrupted copy"
    text = head.decode("utf-8", errors="replace")
    if all(ch.isprintable() or ch in "\t\n\r" for ch in text[:-2]) and "\ufffd" not in text[:-2]:
        return f"it is a text file, starting {text.strip()[:40]!r}"
    if head.startswith(ZIP_MAGIC):
        return "it is a zip archive but not a torch checkpoint"
    if head[:1] == PICKLE_MAGIC:
        return "it is a pickle file that torch cannot read as a checkpoint"
    return f"it is neither a zip nor a pickle file (starts with bytes {head[:8].hex(' ')})"


def _unsafe_reason(exc: Exception) -> str | None:
    """The refused object when torch's weights-only loader met unsafe pickled content."""
    found = _UNSAFE_GLOBAL.search(str(exc))
    return found.group(1) if found else None


def _read(path: Path) -> Any:
    """``torch.load`` in weights-only mode, its failures turned into clear messages."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_reason(exc)
        if unsafe is None:
            raise CheckpointError(f"{path}: not a sastc checkpoint: {_what_file(path)}") from exc
        raise CheckpointError(f"{path}: not a sastc checkpoint: it holds pickled Python objects "
                              f"({unsafe}), e.g. a whole saved model; sastc loads only tensors "
                              "and plain data and refuses such content for safety, since "
                              "unpickling it can run arbitrary code. Use a checkpoint "
                              "written by 'sastc train'") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError,
            TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a sastc checkpoint: {_what_file(path)}") from exc


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint; anything else raises :class:`CheckpointError`.

    Besides the format fields, the architecture must be valid (else ``ConfigError``) and
    every weight tensor present, of the shape the architecture gives and floating point.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; expected a checkpoint file "
                              "(e.g. runs/<run>/checkpoint.pt)")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    data = _read(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a sastc checkpoint (expected a file written by "
                              f"'sastc train', with format {FORMAT!r})")
    version = data.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer sastc (format version "
                              f"{version!r}, this sastc reads {FORMAT_VERSION})")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{path}: sastc checkpoint is missing {missing}")
    check_content(data, path)
    return data


def checkpoint_spec(data: dict[str, Any]) -> ArchSpec:
    return ArchSpec.from_dict(data["spec"])


def check_content(data: dict[str, Any], path: Path) -> None:
    """The architecture, the dataset record and every weight tensor agree."""
    try:
        spec = checkpoint_spec(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: the architecture it records is invalid: {exc}") from exc
    dataset = data["dataset"]
    if not isinstance(dataset, dict) or not isinstance(dataset.get("classes"), list):
        raise CheckpointError(f"{path}: the dataset record is malformed (expected name, "
                              "time_bins and classes)")
    if len(dataset["classes"]) != spec.num_classes:
        raise CheckpointError(f"{path}: records {len(dataset['classes'])} classes but its "
                              f"readout has {spec.num_classes} units")
    expected = {key: tuple(value.shape) for key, value in SpikingNet(spec).state_dict().items()}
    for key in ("state_dict", "last_state_dict"):
        if data.get(key) is not None:
            check_state_dict(data[key], expected, f"{path}: {key}")


def check_state_dict(state: Any, expected: dict[str, tuple[int, ...]], where: str) -> None:
    """Every expected tensor present with its shape and floating point; nothing else."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{where} is not a dict of tensors")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{where} does not match the architecture (missing {missing}, "
                              f"unexpected {unexpected})")
    for key, shape in expected.items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise CheckpointError(f"{where}: {key} must be a floating-point tensor; got "
                                  f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
        if tuple(tensor.shape) != shape:
            raise CheckpointError(f"{where}: {key} has shape {tuple(tensor.shape)} but the "
                                  f"architecture needs {shape}")


def require_finite(data: dict[str, Any], path: str | Path) -> None:
    """Refuse weights holding NaN or infinity (a model that would only give noise); the
    compiler names the layer itself when it quantizes."""
    bad = [key for key, tensor in data["state_dict"].items()
           if not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError(f"{path}: the weights {bad} hold NaN or infinite values; the "
                              "checkpoint cannot be evaluated")


def numpy_params(data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The model weights as numpy arrays (what the IR builder reads)."""
    return {key: value.detach().cpu().numpy() for key, value in data["state_dict"].items()}


_RESUME_KEYS = ("dataset", "arch", "mode", "rho", "seed", "time_bins", "batch_size", "sam_batch",
                "ascent_fraction")
# a key missing from an older checkpoint: the value its release always used
_DEFAULTS = {**{f.name: f.default for f in dataclasses.fields(TrainConfig)},
             "ascent_fraction": 1.0}


def check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse to resume a run saved with other options (a key missing from an older
    checkpoint counts as its default)."""
    before = {k: saved["config"].get(k, _DEFAULTS[k]) for k in _RESUME_KEYS}
    changed = [k for k in _RESUME_KEYS if before[k] != getattr(config, k)]
    if changed:
        details = ", ".join(f"{k}: {before[k]!r} -> {getattr(config, k)!r}" for k in changed)
        raise ConfigError(f"--resume: {path} was trained with different options ({details}); "
                          "resume with the same options or start a new --out directory")
