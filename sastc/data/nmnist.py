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
from pathlib import Path

import numpy as np

from sastc.data.events import (
    CALIB_SIZE,
    DatasetInfo,
    Recordings,
    SourceOptions,
    calib_subset,
    check_in_sensor,
    file_fingerprint,
    file_reader,
    make_events,
    sort_by_time,
)
from sastc.errors import DataError

NMNIST_SENSOR = (2, 34, 34)
NMNIST_CLASSES = tuple(str(digit) for digit in range(10))
SPLIT_FOLDERS = {"train": "Train", "test": "Test"}
OVERFLOW_Y = 240
OVERFLOW_STEP_US = 2**13
RECORD_BYTES = 5
DOWNLOAD_DIR = Path("~/.cache/sastc/datasets")
LAYOUT = ("tonic's N-MNIST layout: Train/<digit>/<id>.bin and Test/<digit>/<id>.bin "
          "(or a parent folder containing NMNIST/)")


def read_nmnist_bin(path: str | os.PathLike[str]) -> np.ndarray:
    """The events of one N-MNIST ``.bin`` file (sorted by ``t``, overflow markers removed)."""
    path = Path(path)
    raw = _read_bytes(path)
    records = raw.reshape(-1, RECORD_BYTES).astype(np.int64)
    x, y, b2 = records[:, 0], records[:, 1], records[:, 2]
    t = ((b2 & 0x7F) << 16) | (records[:, 3] << 8) | records[:, 4]
    overflow = y == OVERFLOW_Y
    t = t + np.cumsum(overflow) * OVERFLOW_STEP_US
    keep = ~overflow
    events = make_events(x[keep], y[keep], t[keep], (b2[keep] >> 7).astype(bool))
    check_in_sensor(events, NMNIST_SENSOR, f"N-MNIST file {path}")
    return sort_by_time(events)


def _read_bytes(path: Path) -> np.ndarray:
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"cannot read N-MNIST file {path}: {exc.strerror or exc}") from exc
    if raw.size == 0:
        raise DataError(f"N-MNIST file {path} is empty; expected 5-byte event records")
    if raw.size % RECORD_BYTES:
        raise DataError(f"N-MNIST file {path} has {raw.size} bytes, not a multiple of 5: "
                        f"truncated or not N-MNIST (expected 5-byte event records)")
    return raw


def find_nmnist_root(data_dir: str | os.PathLike[str]) -> Path:
    """The folder holding ``Train/`` and/or ``Test/``: ``data_dir`` or ``data_dir/NMNIST``."""
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"N-MNIST data dir {path} does not exist; expected {LAYOUT}")
    for candidate in (path, path / "NMNIST"):
        if any((candidate / folder).is_dir() for folder in SPLIT_FOLDERS.values()):
            return candidate
    raise DataError(f"N-MNIST data dir {path} has no Train/ or Test/ folder; expected {LAYOUT}")


def list_nmnist_files(root: Path, split: str) -> tuple[list[Path], np.ndarray]:
    """``(files, labels)`` of one split, digit folders in order, files sorted by name."""
    split_dir = root / SPLIT_FOLDERS[split]
    if not split_dir.is_dir():
        raise DataError(f"N-MNIST data dir {root} has no {SPLIT_FOLDERS[split]}/ folder for "
                        f"the {split} split; expected {LAYOUT}")
    files, labels = [], []
    for digit_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        if digit_dir.name not in NMNIST_CLASSES:
            raise DataError(f"unexpected folder {digit_dir} in {split_dir}; expected digit "
                            f"folders 0..9")
        digit_files = sorted(digit_dir.glob("*.bin"))
        files += digit_files
        labels += [int(digit_dir.name)] * len(digit_files)
    if not files:
        raise DataError(f"N-MNIST split folder {split_dir} holds no .bin recordings; "
                        f"expected {LAYOUT}")
    return files, np.asarray(labels, dtype=np.int64)


def _tonic_files(options: SourceOptions, split: str) -> tuple[Path, list[Path], np.ndarray]:
    """Files of ``split`` through ``tonic.datasets.NMNIST``, downloading what is missing."""
    from tonic import datasets

    save_to = _download_target(options.data_dir)
    dataset = datasets.NMNIST(save_to=str(save_to), train=split == "train")
    files = [Path(name) for name in dataset.data]
    if not files:
        raise DataError(f"tonic found no N-MNIST {split} recordings under {save_to / 'NMNIST'}")
    return save_to / "NMNIST", files, np.asarray(dataset.targets, dtype=np.int64)


def _download_target(data_dir: Path | None) -> Path:
    """tonic's ``save_to``: the parent of an ``NMNIST`` folder, or ``data_dir`` itself."""
    if data_dir is None:
        return DOWNLOAD_DIR.expanduser()
    data_dir = Path(data_dir).expanduser()
    return data_dir.parent if data_dir.name == "NMNIST" else data_dir


def _locate(split: str, options: SourceOptions) -> tuple[Path, list[Path], np.ndarray]:
    if options.download:
        return _tonic_files(options, split)
    if options.data_dir is None:
        raise DataError("N-MNIST needs its recordings: pass --data-dir (data_dir=) pointing at "
                        f"a local copy in {LAYOUT}, or --download (download=True) to fetch it")
    root = find_nmnist_root(options.data_dir)
    return (root, *list_nmnist_files(root, split))


def open_nmnist(split: str, options: SourceOptions) -> Recordings:
    """The N-MNIST recordings of ``split``; calib is a stratified subset of train."""
    if split == "calib":
        return calib_subset(open_nmnist("train", options), "nmnist/calib", CALIB_SIZE)
    root, files, labels = _locate(split, options)
    return Recordings(f"nmnist/{split}", labels, NMNIST_CLASSES, NMNIST_SENSOR, str(root),
                      file_fingerprint(root, files), file_reader(files, read_nmnist_bin))


INFO = DatasetInfo(
    name="nmnist",
    sensor_size=NMNIST_SENSOR,
    classes=NMNIST_CLASSES,
    default_time_bins=16,
    default_arch="conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout",
    needs_data_dir=True,
    description="N-MNIST: MNIST digits recorded by an ATIS event camera (34x34, 10 classes)",
    default_downsample=1,
    open_split=open_nmnist,
)
