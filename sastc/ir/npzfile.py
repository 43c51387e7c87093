"""One file format for sastc's numpy artefacts: an npz of arrays plus a JSON header.

The header is stored as the bytes of the ``__header__`` entry and carries a
``format`` name and ``version``; arrays are stored as they are (dtype and shape
exact), so a save/load round trip is lossless.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sastc.atomic import write_atomic
from sastc.errors import CheckpointError

HEADER_KEY = "__header__"


def save_npz(path: str | Path, file_format: str, version: int, header: dict[str, Any],
             arrays: dict[str, np.ndarray]) -> Path:
    """Write ``header`` (JSON) and ``arrays`` to ``path`` atomically."""
    document = {"format": file_format, "version": version, **header}
    payload = {HEADER_KEY: np.frombuffer(json.dumps(document).encode(), dtype=np.uint8), **arrays}

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, **payload)

    return write_atomic(path, write)


def load_npz(path: str | Path, file_format: str, what: str
             ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(header, arrays)`` of a file written by :func:`save_npz` with ``file_format``;
    anything else raises :class:`CheckpointError` saying the file is not ``what``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive[HEADER_KEY]).decode())
            arrays = {key: archive[key] for key in archive.files if key != HEADER_KEY}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        reason = ("it holds pickled object arrays, which sastc refuses to load for safety"
                  if "pickled" in str(exc) else f"{type(exc).__name__}: {exc}")
        raise CheckpointError(f"{path}: not {what} ({reason})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not {what} (its header is not a JSON object)")
    if header.get("format") != file_format:
        raise CheckpointError(f"{path}: not {what} (format {header.get('format')!r})")
    return header, arrays
