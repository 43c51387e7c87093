"""The folder dataset: both layouts, windows and splits, class names, sensor sizes, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sastc.data import load_frames
from sastc.data.binning import bin_window
from sastc.data.events import make_events
from sastc.data.folder import recording_span
from sastc.data.windows import plan_windows
from sastc.errors import ConfigError, DataError
from tests.event_files import write_aedat2, write_csv, write_npz

WINDOW_MS = 100


def _events(seed: int, duration_us: int, count: int, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration_us, count))
    t[0], t[-1] = 0, duration_us - 1
    return make_events(rng.integers(0, size, count), rng.integers(0, size, count), t,
                       rng.integers(0, 2, count))


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    """Three classes of long npz recordings (16x16 sensor), one class with two files."""
    root = tmp_path / "recs"
    for label, name in enumerate(["zebra", "apple", "mango"]):
        (root / name).mkdir(parents=True)
        for copy in range(1 + (name == "mango")):
            write_npz(root / name / f"r{copy}.npz", _events(10 * label + copy, 1_050_000, 4000),
                      sensor_size=(16, 16))
    return root


def _load(root: Path, split: str, **options) -> object:
    base = {"window_ms": WINDOW_MS, "time_bins": 5, "cache_dir": False, "progress": False}
    return load_frames("folder", split, data_dir=root, **{**base, **options})


def test_recordings_are_cut_into_time_split_windows(recordings_dir: Path) -> None:
    train, test = _load(recordings_dir, "train"), _load(recordings_dir, "test")
    assert train.classes == ("apple", "mango", "zebra")  # folder names, sorted
    # 1.05 s per recording -> 10 whole windows of 100 ms; the last 3 are test
    assert np.bincount(train.labels).tolist() == [7, 14, 7]
    assert np.bincount(test.labels).tolist() == [3, 6, 3]
    assert train.frames.shape[1:] == (5, 2, 16, 16)
    assert train.meta["window_ms"] == WINDOW_MS


def test_every_used_event_is_in_exactly_one_window(recordings_dir: Path) -> None:
    """Train and test windows of each recording tile it without overlap or gap."""
    files = sorted(recordings_dir.glob("*/*.npz"))
    spans = [recording_span(path)[:2] for path in files]
    plan = plan_windows(spans, WINDOW_MS * 1000, 0.3)
    for index, (first, _) in enumerate(spans):
        starts = np.concatenate([plan.split(s).starts[plan.split(s).recordings == index]
                                 for s in ("train", "test")])
        expected = first + WINDOW_MS * 1000 * np.arange(plan.counts[index])
        assert starts.tolist() == expected.tolist()  # contiguous, disjoint, train before test
    # every event of the whole windows is counted exactly once, in train or test
    counted = sum(int(_load(recordings_dir, split, clip=255).frames.astype(np.int64).sum())
                  for split in ("train", "test"))
    used = 0
    for path, (first, _), count in zip(files, spans, plan.counts, strict=True):
        times = np.load(path)["events"]["t"]
        used += int(np.sum(times < first + count * WINDOW_MS * 1000))
    assert counted == used


def test_window_frames_equal_the_reference_binning(recordings_dir: Path) -> None:
    """Each window's frames are ``bin_window`` of the events in it (fixed-duration bins)."""
    events = np.load(recordings_dir / "apple" / "r0.npz")["events"]
    test = _load(recordings_dir, "test", clip=255)
    first_test_start = 7 * WINDOW_MS * 1000  # window 7 of apple's recording (first is t=0)
    shifted = make_events(events["x"], events["y"], events["t"], events["p"] > 0)
    expected = bin_window(shifted, first_test_start, WINDOW_MS * 1000, 5, (2, 16, 16), 1, 255)
    np.testing.assert_array_equal(test.frames[0], expected)


def test_validation_windows_are_time_contiguous_blocks_of_train(recordings_dir: Path) -> None:
    full = _load(recordings_dir, "train", val_fraction=0.0)
    train = _load(recordings_dir, "train", val_fraction=0.3)
    val = _load(recordings_dir, "val", val_fraction=0.3)
    assert len(train) + len(val) == len(full)
    # the last 2 of each recording's 7 training windows: every class validated
    assert np.bincount(val.labels).tolist() == [2, 4, 2]
    full_rows = {full.frames[i].tobytes() for i in range(len(full))}
    assert all(val.frames[i].tobytes() in full_rows for i in range(len(val)))
    # calibration: the validation windows plus (here all) training windows, never test ones
    calib = _load(recordings_dir, "calib", val_fraction=0.3)
    assert len(calib) == len(val) + len(train)
    assert sorted(r.tobytes() for r in calib.frames) == sorted(full_rows_list(full))


def full_rows_list(frames) -> list[bytes]:
    return [frames.frames[i].tobytes() for i in range(len(frames))]


def test_samples_layout_with_csv_needs_the_sensor_size(tmp_path: Path) -> None:
    for split in ("Train", "test"):
        for label, name in enumerate(["no", "yes"]):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for index in range(3):
                write_csv(folder / f"{index}.csv", _events(label * 7 + index, 50_000, 300, 20))
    with pytest.raises(ConfigError, match=r"does not record the sensor size.*--sensor-size"):
        load_frames("folder", "train", data_dir=tmp_path, cache_dir=False, progress=False)
    frames = load_frames("folder", "test", data_dir=tmp_path, sensor_size=(20, 20),
                         time_bins=4, cache_dir=False, progress=False)
    assert frames.classes == ("no", "yes") and frames.frames.shape == (6, 4, 2, 20, 20)
    with pytest.raises(DataError, match="outside the 10x10 sensor"):
        load_frames("folder", "test", data_dir=tmp_path, sensor_size=(10, 10),
                    cache_dir=False, progress=False)


def test_aedat_sensor_size_comes_from_the_header(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_aedat2(tmp_path / name / "rec.aedat", _events(len(name), 700_000, 2000, 128))
    frames = load_frames("folder", "train", data_dir=tmp_path, window_ms=100, downsample=4,
                         cache_dir=False, progress=False)
    assert frames.meta["sensor_size"] == (2, 128, 128) and frames.sample_shape == (2, 32, 32)
    with pytest.raises(ConfigError, match="contradicts the files"):
        load_frames("folder", "train", data_dir=tmp_path, window_ms=100, sensor_size=(64, 64),
                    cache_dir=False, progress=False)


@pytest.mark.parametrize(("arrange", "options", "error", "fragment"), [
    ("one_class", {"window_ms": 100}, DataError, r"1 class folder\(s\).*at least 2"),
    ("empty_class", {"window_ms": 100}, DataError, "holds no event files"),
    ("unknown_ext", {"window_ms": 100}, DataError, r"unknown event-file extension '\.txt'"),
    ("mixed_sensor", {"window_ms": 100}, DataError, "mixed sensor sizes"),
    ("short", {"window_ms": 100}, ConfigError, r"lasts .* too few"),
    ("ok", {"window_ms": None}, ConfigError, "pass --window-ms"),
    ("ok", {"window_ms": 100, "test_fraction": 1.0}, ConfigError, "--test-fraction must be"),
    ("ok", {"window_ms": 100, "test_fraction": 0.0}, ConfigError, "--test-fraction must be"),
    ("ok", {"window_ms": 0.5}, ConfigError, "--window-ms must be"),
    ("ok", {"window_ms": 100, "val_fraction": 0.01}, ConfigError,
     r"--val-fraction 0\.01 leaves class 'a'"),
])
def test_bad_folders_and_options(tmp_path: Path, arrange: str, options: dict,
                                 error: type, fragment: str) -> None:
    sizes = {"mixed_sensor": (32, 32)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        duration = 150_000 if arrange == "short" else 1_000_000
        write_npz(tmp_path / name / "r.npz", _events(1, duration, 500),
                  sensor_size=sizes.get(arrange, (16, 16)) if name == "b" else (16, 16))
    if arrange == "one_class":
        for path in (tmp_path / "b").iterdir():
            path.unlink()
        (tmp_path / "b").rmdir()
    if arrange == "empty_class":
        (tmp_path / "c").mkdir()
    if arrange == "unknown_ext":
        (tmp_path / "a" / "notes.txt").write_text("hello")
    with pytest.raises(error, match=fragment):
        _load(tmp_path, "train", **options)


def test_window_options_are_refused_for_the_samples_layout(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for name in ("a", "b"):
            (tmp_path / split / name).mkdir(parents=True)
            write_npz(tmp_path / split / name / "0.npz", _events(2, 10_000, 50),
                      sensor_size=(16, 16))
    with pytest.raises(ConfigError, match=r"--window-ms applies to long recordings"):
        _load(tmp_path, "train")


def test_folder_options_are_refused_for_other_datasets() -> None:
    with pytest.raises(ConfigError, match="--window-ms applies to --dataset folder"):
        load_frames("synthetic", "train", window_ms=100, cache_dir=False, progress=False,
                    synthetic={"n_train": 8})


def test_real_dvs128_recordings(dvs128_objects_dir: Path) -> None:
    """The 7 jAER recordings of 6 objects: 300 ms windows, 30 % time split, 10 % val."""
    options = {"window_ms": 300, "downsample": 4, "time_bins": 10, "val_fraction": 0.1}
    splits = {split: _load(dvs128_objects_dir, split, **options)
              for split in ("train", "val", "test")}
    assert splits["train"].classes == ("Caixa", "Caneca", "Cubo", "Estilete", "Lapiseira",
                                       "Tesoura")
    assert {name: len(frames) for name, frames in splits.items()} == \
        {"train": 499, "val": 56, "test": 237}
    assert all(np.bincount(f.labels, minlength=6).min() > 0 for f in splits.values())
    assert splits["test"].frames.shape[1:] == (10, 2, 32, 32)
