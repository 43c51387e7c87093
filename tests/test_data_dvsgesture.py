"""DVS Gesture on a tiny fake copy in tonic's preprocessed layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tonic

from sastc.data import DATASETS, load_frames
from sastc.data.dvsgesture import read_gesture_npy
from sastc.errors import DataError

USERS = {"ibmGestureTrain": ["user01_fluorescent", "user02_led"],
         "ibmGestureTest": ["user24_natural"]}


def fake_recording(rng: np.random.Generator, label: int, dtype: type = np.float64) -> np.ndarray:
    """``[N, 4]`` columns x, y, p, t (ms); the label decides which quarter of x fires."""
    n = 400
    x = rng.integers(0, 32, n) + 32 * (label % 4)
    columns = [x, rng.integers(0, 128, n), rng.integers(0, 2, n), np.sort(rng.random(n) * 1500)]
    return np.stack(columns, axis=1).astype(dtype)


def write_copy(root: Path, labels: range = range(11)) -> Path:
    rng = np.random.default_rng(1)
    for split, users in USERS.items():
        for user in users:
            (root / split / user).mkdir(parents=True)
            for label in labels:
                np.save(root / split / user / f"{label}.npy", fake_recording(rng, label))
    return root


def load(data_dir: Path, split: str = "train", **kwargs) -> object:
    return load_frames("dvsgesture", split, data_dir=data_dir, cache_dir=False, progress=False,
                       **kwargs)


def test_registry_entry() -> None:
    info = DATASETS["dvsgesture"]
    assert info.sensor_size == (2, 32, 32) and len(info.classes) == 11
    assert info.default_time_bins == 20 and info.default_downsample == 4


def test_reader_converts_ms_to_us(tmp_path: Path) -> None:
    path = tmp_path / "3.npy"
    np.save(path, np.array([[1, 2, 1, 0.5], [127, 0, 0, 2]], dtype=np.float64))
    events = read_gesture_npy(path)
    assert events["t"].tolist() == [500, 2000] and events["x"].tolist() == [1, 127]
    assert events["p"].tolist() == [True, False]
    np.save(path, np.array([[1, 2, 1, 7]], dtype=np.int16))
    assert read_gesture_npy(path)["t"].tolist() == [7000]


def test_fake_copy_loads_downsampled_with_labels(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "DVSGesture")
    for data_dir in (root, tmp_path):
        train = load(data_dir)
        assert train.frames.shape == (22, 20, 2, 32, 32)
        assert train.labels.tolist() == list(range(11)) * 2
    test = load(root, "test", time_bins=5)
    assert test.frames.shape == (11, 5, 2, 32, 32)
    for frames, label in zip(test.frames, test.labels, strict=True):
        columns = frames.sum(axis=(0, 1, 2))  # events per downsampled column
        quarter = 8 * (label % 4)
        assert columns[quarter:quarter + 8].sum() == columns.sum() > 0


def test_full_resolution_without_downsampling(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "DVSGesture", labels=range(2))
    frames = load(root, "test", downsample=1, time_bins=2)
    assert frames.frames.shape == (2, 2, 2, 128, 128)


def test_calib_comes_from_train(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "DVSGesture")
    calib = load(root, "calib")
    assert len(calib) == 22 and np.bincount(calib.labels).tolist() == [2] * 11


@pytest.mark.parametrize(("damage", "fragment"), [
    ("garbage", "is not a readable .npy file"),
    ("shape", r"expected an \[N, 4\] numeric array"),
    ("outside", "events outside the 128x128 sensor"),
    ("name", "the name must be the label 0..10"),
])
def test_bad_files_are_named(tmp_path: Path, damage: str, fragment: str) -> None:
    root = write_copy(tmp_path / "DVSGesture", labels=range(2))
    target = root / "ibmGestureTest" / "user24_natural" / "1.npy"
    if damage == "garbage":
        target.write_bytes(b"\x93NUMPY garbage")
    elif damage == "shape":
        np.save(target, np.zeros((5, 3)))
    elif damage == "outside":
        np.save(target, np.array([[200.0, 1, 1, 1], [1, 1, 1, 2]]))
    else:
        target = target.with_name("11.npy")
        np.save(target, np.zeros((5, 4)))
    with pytest.raises(DataError, match=fragment) as caught:
        load(root, "test")
    assert str(target) in str(caught.value)


def test_missing_or_wrong_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist; expected tonic's DVS Gesture layout"):
        load(tmp_path / "nowhere")
    with pytest.raises(DataError, match="has no ibmGestureTrain/ or ibmGestureTest/"):
        load(tmp_path)
    with pytest.raises(DataError, match=r"--data-dir.*--download"):
        load_frames("dvsgesture", cache_dir=False, progress=False)


def test_download_goes_through_tonic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_copy(tmp_path / "DVSGesture", labels=range(3))
    calls = []

    class FakeDVSGesture:
        def __init__(self, save_to: str, train: bool = True) -> None:
            calls.append((save_to, train))
            folder = root / ("ibmGestureTrain" if train else "ibmGestureTest")
            self.data = [str(f) for f in sorted(folder.glob("*/*.npy"))]
            self.targets = [int(Path(f).stem) for f in self.data]

    monkeypatch.setattr(tonic.datasets, "DVSGesture", FakeDVSGesture)
    frames = load(root, "train", download=True)
    assert calls == [(str(tmp_path), True)] and len(frames) == 6
