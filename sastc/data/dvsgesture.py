"""IBM DVS Gesture, in tonic's preprocessed form (128 x 128 pixels, 2 polarities, 11 classes).

Layout (what ``tonic.datasets.DVSGesture`` extracts)::

    <data_dir>/ibmGestureTrain/user<NN>_<lighting>/<label>.npy
    <data_dir>/ibmGestureTest/user<NN>_<lighting>/<label>.npy

``data_dir`` may also be the parent folder holding ``DVSGesture/``. Each ``.npy`` is an
``[N, 4]`` array of ``x, y, p, t`` with ``t`` in milliseconds (converted to
microseconds, ``t_us = t_ms * 1000``, as tonic does); the file name is the label
0..10. A local copy is read offline; ``download=True`` goes through tonic's class.
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

GESTURE_SENSOR = (2, 128, 128)
GESTURE_CLASSES = (
    "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_cw", "right_arm_ccw",
    "left_arm_cw", "left_arm_ccw", "arm_roll", "air_drums", "air_guitar", "other_gestures",
)
SPLIT_FOLDERS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
DEFAULT_DOWNSAMPLE = 4
DOWNLOAD_DIR = Path("~/.cache/sastc/datasets")
LAYOUT = ("tonic's DVS Gesture layout: ibmGestureTrain/<user>_<lighting>/<label>.npy and "
          "ibmGestureTest/... (or a parent folder containing DVSGesture/)")


def read_gesture_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """The events of one preprocessed DVS Gesture recording (``t`` in microseconds)."""
    path = Path(path)
    columns = _load_columns(path)
    t_us = (columns[:, 3].astype(np.float64) * 1000).astype(np.int64)
    events = make_events(columns[:, 0], columns[:, 1], t_us, columns[:, 2] != 0)
    check_in_sensor(events, GESTURE_SENSOR, f"DVS Gesture file {path}")
    return sort_by_time(events)


def _load_columns(path: Path) -> np.ndarray:
    expected = "an [N, 4] numeric array of x, y, p, t (ms)"
    try:
        columns = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"DVS Gesture file {path} is not a readable .npy file ({exc}); "
                        f"expected {expected}") from exc
    if not isinstance(columns, np.ndarray) or columns.ndim != 2 or columns.shape[1] != 4 \
            or not np.issubdtype(columns.dtype, np.number):
        shape = getattr(columns, "shape", "?")
        raise DataError(f"DVS Gesture file {path} holds {getattr(columns, 'dtype', '?')} "
                        f"{shape}; expected {expected}")
    return columns


def find_gesture_root(data_dir: str | os.PathLike[str]) -> Path:
    """The folder holding ``ibmGestureTrain/`` and/or ``ibmGestureTest/``."""
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"DVS Gesture data dir {path} does not exist; expected {LAYOUT}")
    for candidate in (path, path / "DVSGesture"):
        if any((candidate / folder).is_dir() for folder in SPLIT_FOLDERS.values()):
            return candidate
    raise DataError(f"DVS Gesture data dir {path} has no ibmGestureTrain/ or ibmGestureTest/ "
                    f"folder; expected {LAYOUT}")


def _label_of(path: Path) -> int:
    if not path.stem.isdigit() or int(path.stem) >= len(GESTURE_CLASSES):
        raise DataError(f"DVS Gesture file {path}: the name must be the label 0..10, "
                        f"e.g. 3.npy")
    return int(path.stem)


def list_gesture_files(root: Path, split: str) -> tuple[list[Path], np.ndarray]:
    """``(files, labels)`` of one split: user folders in order, labels in numeric order."""
    split_dir = root / SPLIT_FOLDERS[split]
    if not split_dir.is_dir():
        raise DataError(f"DVS Gesture data dir {root} has no {SPLIT_FOLDERS[split]}/ folder for "
                        f"the {split} split; expected {LAYOUT}")
    files = []
    for user_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        files += sorted(user_dir.glob("*.npy"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise DataError(f"DVS Gesture split folder {split_dir} holds no .npy recordings; "
                        f"expected {LAYOUT}")
    return files, np.asarray([_label_of(path) for path in files], dtype=np.int64)


def _tonic_files(options: SourceOptions, split: str) -> tuple[Path, list[Path], np.ndarray]:
    """Files of ``split`` through ``tonic.datasets.DVSGesture``, downloading what is missing."""
    from tonic import datasets

    save_to = _download_target(options.data_dir)
    dataset = datasets.DVSGesture(save_to=str(save_to), train=split == "train")
    files = [Path(name) for name in dataset.data]
    if not files:
        raise DataError(f"tonic found no DVS Gesture {split} recordings under "
                        f"{save_to / 'DVSGesture'}")
    return save_to / "DVSGesture", files, np.asarray(dataset.targets, dtype=np.int64)


def _download_target(data_dir: Path | None) -> Path:
    if data_dir is None:
        return DOWNLOAD_DIR.expanduser()
    data_dir = Path(data_dir).expanduser()
    return data_dir.parent if data_dir.name == "DVSGesture" else data_dir


def _locate(split: str, options: SourceOptions) -> tuple[Path, list[Path], np.ndarray]:
    if options.download:
        return _tonic_files(options, split)
    if options.data_dir is None:
        raise DataError("DVS Gesture needs its recordings: pass --data-dir (data_dir=) pointing "
                        f"at a local copy in {LAYOUT}, or --download (download=True) to fetch it")
    root = find_gesture_root(options.data_dir)
    return (root, *list_gesture_files(root, split))


def open_gesture(split: str, options: SourceOptions) -> Recordings:
    """The DVS Gesture recordings of ``split``; calib is a stratified subset of train."""
    if split == "calib":
        return calib_subset(open_gesture("train", options), "dvsgesture/calib", CALIB_SIZE)
    root, files, labels = _locate(split, options)
    return Recordings(f"dvsgesture/{split}", labels, GESTURE_CLASSES, GESTURE_SENSOR, str(root),
                      file_fingerprint(root, files), file_reader(files, read_gesture_npy))


INFO = DatasetInfo(
    name="dvsgesture",
    sensor_size=(2, 128 // DEFAULT_DOWNSAMPLE, 128 // DEFAULT_DOWNSAMPLE),
    classes=GESTURE_CLASSES,
    default_time_bins=20,
    default_arch="conv(16, 5, stride=2) pool(2) conv(32, 3, stride=2) pool(2) dense(128) readout",
    needs_data_dir=True,
    description="IBM DVS Gesture: 11 hand and arm gestures (128x128, downsampled 4x to 32x32)",
    default_downsample=DEFAULT_DOWNSAMPLE,
    open_split=open_gesture,
)
