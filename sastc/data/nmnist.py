"""N-MNIST: recordings of MNIST digits by an ATIS sensor (34 x 34 pixels, 2 polarities).

Layout (tonic's, the zip archives are optional)::

    <data_dir>/Train/<digit>/<id>.bin
    <data_dir>/Test/<digit>/<id>.bin

``data_dir`` may also be the parent folder holding ``NMNIST/``. Any local copy,
complete or partial, is read offline by walking these folders; only
``download=True`` goes through ``tonic.datasets.NMNIST`` (which downloads what is
missing).

Each ``.bin`` file holds 5-byte events: ``x = b0``, ``y = b1``, ``p = b2 >> 7``,
``t = ((b2 & 0x7F) << 16) | (b3 << 8) | b4`` (microseconds). A record with
``y == 240`` marks a timestamp overflow: it adds ``2**13`` us to every later event
(tonic's ``read_mnist_file`` convention) and is itself dropped.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from sastc.data.events import DatasetInfo, check_in_sensor, make_events, sort_by_time
from sastc.data.folders import FolderLayout, open_folder_split
from sastc.errors import DataError

NMNIST_SENSOR = (2, 34, 34)
NMNIST_CLASSES = tuple(str(digit) for digit in range(10))
OVERFLOW_Y = 240
OVERFLOW_STEP_US = 2**13
RECORD_BYTES = 5


def read_nmnist_bin(path: str | os.PathLike[str]) -> np.ndarray:
    """The events of one N-MNIST ``.bin`` file (sorted by ``t``, overflow markers removed)."""
    path = Path(path)
    events = decode_nmnist_bin(path)
    check_in_sensor(events, NMNIST_SENSOR, f"N-MNIST file {path}")
    return sort_by_time(events)


def decode_nmnist_bin(path: str | os.PathLike[str]) -> np.ndarray:
    """The events of a ``.bin`` file in file order, for any sensor size (no sensor check)."""
    raw = _read_bytes(Path(path))
    records = raw.reshape(-1, RECORD_BYTES).astype(np.int64)
    x, y, b2 = records[:, 0], records[:, 1], records[:, 2]
    t = ((b2 & 0x7F) << 16) | (records[:, 3] << 8) | records[:, 4]
    overflow = y == OVERFLOW_Y
    t = t + np.cumsum(overflow) * OVERFLOW_STEP_US
    keep = ~overflow
    return make_events(x[keep], y[keep], t[keep], (b2[keep] >> 7).astype(bool))


def _read_bytes(path: Path) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"cannot read N-MNIST file {path}: {exc.strerror or exc}") from exc
    if raw.size == 0:
        raise DataError(f"N-MNIST file {path} is empty; expected 5-byte event records")
    if raw.size % RECORD_BYTES:
        last = raw.size - raw.size % RECORD_BYTES
        raise DataError(f"N-MNIST file {path} has {raw.size} bytes, not a multiple of 5: "
                        f"truncated or not N-MNIST (the record at byte {last} has only "
                        f"{raw.size - last} bytes; expected 5-byte event records)")
    return raw


def _walk_digits(split_dir: Path) -> tuple[list[Path], np.ndarray]:
    """``(files, labels)`` of one split folder: digit folders in order, files sorted by name."""
    files, labels = [], []
    for digit_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        if digit_dir.name not in NMNIST_CLASSES:
            raise DataError(f"unexpected folder {digit_dir} in {split_dir}; expected digit "
                            f"folders 0..9")
        digit_files = sorted(digit_dir.glob("*.bin"))
        files += digit_files
        labels += [int(digit_dir.name)] * len(digit_files)
    return files, np.asarray(labels, dtype=np.int64)


LAYOUT = FolderLayout(
    name="nmnist", title="N-MNIST", folder="NMNIST", tonic_class="NMNIST",
    split_folders={"train": "Train", "test": "Test"},
    layout=("tonic's N-MNIST layout: Train/<digit>/<id>.bin and Test/<digit>/<id>.bin "
            "(or a parent folder containing NMNIST/)"),
    classes=NMNIST_CLASSES, sensor=NMNIST_SENSOR, extension=".bin",
    walk=_walk_digits, read=read_nmnist_bin)


INFO = DatasetInfo(
    name="nmnist",
    sensor_size=NMNIST_SENSOR,
    classes=NMNIST_CLASSES,
    default_time_bins=16,
    default_arch="conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout",
    needs_data_dir=True,
    description="N-MNIST: MNIST digits recorded by an ATIS event camera (34x34, 10 classes)",
    default_downsample=1,
    open_split=partial(open_folder_split, LAYOUT),
)
