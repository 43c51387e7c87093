"""Event-file decoders for "bring your own recordings", chosen by file extension.

``read_event_file(path)`` dispatches on the lower-cased suffix through ``READERS``
and returns an :class:`EventFile`: ``EVENT_DTYPE`` events sorted by ``t``, the
sensor ``(width, height)`` when the format records it (else ``None``) and a short
description of the format. Every reader needs only numpy (plus ``lz4`` /
``zstandard`` for compressed AEDAT 4.0) and raises :class:`DataError` naming the file
and the byte or line of corrupt data. Formats and bit layouts: ``docs/formats.md``.

>>> SUPPORTED_EXTENSIONS
('.aedat', '.aedat4', '.bin', '.csv', '.npy', '.npz')
>>> read_event_file("recording.mp4")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sastc.errors.DataError: recording.mp4: unknown event-file extension '.mp4'; supported: .aedat, ...
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sastc.data.formats.aedat2 import read_aedat2
from sastc.data.formats.aedat4 import read_aedat4
from sastc.data.formats.arrays import read_npy, read_npz
from sastc.data.formats.common import EventFile
from sastc.data.formats.nmnist_bin import read_nmnist_binary
from sastc.data.formats.text import read_csv
from sastc.errors import DataError

__all__ = ["READERS", "SUPPORTED_EXTENSIONS", "EventFile", "read_event_file"]

READERS: dict[str, Callable[[Path], EventFile]] = {
    ".aedat": read_aedat2,
    ".aedat4": read_aedat4,
    ".bin": read_nmnist_binary,
    ".csv": read_csv,
    ".npy": read_npy,
    ".npz": read_npz,
}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(READERS)


def read_event_file(path: str | os.PathLike[str]) -> EventFile:
    """The events of ``path``, decoded by the reader of its (case-insensitive) extension."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown event-file extension {path.suffix.lower() or '(none)'!r}; "
                        f"supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    return reader(path)
