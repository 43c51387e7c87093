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
from functools import partial
from pathlib import Path

import numpy as np

from sastc.data.events import DatasetInfo, check_in_sensor, make_events, sort_by_time
from sastc.data.folders import FolderLayout, open_folder_split
from sastc.errors import DataError

GESTURE_SENSOR = (2, 128, 128)
GESTURE_CLASSES = (
    "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_cw", "right_arm_ccw",
    "left_arm_cw", "left_arm_ccw", "arm_roll", "air_drums", "air_guitar", "other_gestures",
)
DEFAULT_DOWNSAMPLE = 4


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


def _label_of(path: Path) -> int:
    if not path.stem.isdigit() or int(path.stem) >= len(GESTURE_CLASSES):
        raise DataError(f"DVS Gesture file {path}: the name must be the label 0..10, "
                        f"e.g. 3.npy")
    return int(path.stem)


def _walk_users(split_dir: Path) -> tuple[list[Path], np.ndarray]:
    """``(files, labels)`` of one split folder: user folders in order, labels numerically."""
    files = []
    for user_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        files += sorted(user_dir.glob("*.npy"), key=lambda p: (len(p.stem), p.stem))
    return files, np.asarray([_label_of(path) for path in files], dtype=np.int64)


LAYOUT = FolderLayout(
    name="dvsgesture", title="DVS Gesture", folder="DVSGesture", tonic_class="DVSGesture",
    split_folders={"train": "ibmGestureTrain", "test": "ibmGestureTest"},
    layout=("tonic's DVS Gesture layout: ibmGestureTrain/<user>_<lighting>/<label>.npy and "
            "ibmGestureTest/... (or a parent folder containing DVSGesture/)"),
    classes=GESTURE_CLASSES, sensor=GESTURE_SENSOR, extension=".npy",
    walk=_walk_users, read=read_gesture_npy)


INFO = DatasetInfo(
    name="dvsgesture",
    sensor_size=(2, 128 // DEFAULT_DOWNSAMPLE, 128 // DEFAULT_DOWNSAMPLE),
    classes=GESTURE_CLASSES,
    default_time_bins=20,
    default_arch="conv(16, 5, stride=2) pool(2) conv(32, 3, stride=2) pool(2) dense(128) readout",
    needs_data_dir=True,
    description="IBM DVS Gesture: 11 hand and arm gestures (128x128, downsampled 4x to 32x32)",
    default_downsample=DEFAULT_DOWNSAMPLE,
    open_split=partial(open_folder_split, LAYOUT),
)
