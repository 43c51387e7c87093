"""N-MNIST: the .bin reader, the folder layout, tonic's download path, and real recordings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import tonic
import tonic.io

import sastc.data.folders as folders_module
from sastc.data import DATASETS, load_frames
from sastc.data.events import EVENT_DTYPE
from sastc.data.nmnist import read_nmnist_bin
from sastc.errors import DataError


def encode(x: list[int], y: list[int], t: list[int], p: list[int]) -> bytes:
    """Events in the N-MNIST 5-byte format."""
    x, y, t, p = (np.asarray(v, dtype=np.int64) for v in (x, y, t, p))
    records = np.stack([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return records.astype(np.uint8).tobytes()


def write_copy(root: Path, per_digit: dict[str, int], digits: range = range(10)) -> Path:
    """A tiny N-MNIST copy in tonic's layout with random recordings."""
    rng = np.random.default_rng(0)
    for folder, count in per_digit.items():
        for digit in digits:
            (root / folder / str(digit)).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                n = 50
                data = encode(rng.integers(0, 34, n), rng.integers(0, 34, n),
                              np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n))
                (root / folder / str(digit) / f"{i:05d}.bin").write_bytes(data)
    return root


def load(data_dir: Path, split: str = "train", **kwargs) -> object:
    return load_frames("nmnist", split, data_dir=data_dir, cache_dir=False, progress=False,
                       **kwargs)


def test_registry_entry() -> None:
    info = DATASETS["nmnist"]
    assert info.sensor_size == (2, 34, 34) and len(info.classes) == 10
    assert info.default_time_bins == 16 and info.needs_data_dir
    assert info.default_arch == "conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout"


def test_reader_decodes_the_record_format(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(encode([3, 33, 0], [5, 0, 33], [7, 70_000, 8_000_000], [1, 0, 1]))
    events = read_nmnist_bin(path)
    assert events.dtype == EVENT_DTYPE
    assert events["x"].tolist() == [3, 33, 0] and events["y"].tolist() == [5, 0, 33]
    assert events["t"].tolist() == [7, 70_000, 8_000_000] and events["p"].tolist() == [1, 0, 1]


def test_overflow_markers_match_tonic(tmp_path: Path) -> None:
    path = tmp_path / "overflow.bin"
    path.write_bytes(encode([1, 0, 2, 0, 0, 3], [1, 240, 2, 240, 240, 3],
                            [100, 0, 50, 0, 0, 20], [0, 0, 1, 0, 0, 1]))
    ours = read_nmnist_bin(path)
    theirs = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    assert ours.tobytes() == theirs.tobytes()
    assert ours["t"].tolist() == [100, 50 + 2**13, 20 + 3 * 2**13]


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "is empty; expected 5-byte event records"),
    (b"\x01" * 7, "has 7 bytes, not a multiple of 5"),
    (encode([40], [1], [5], [1]), r"events outside the 34x34 sensor"),
])
def test_reader_rejects_bad_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(DataError, match=fragment) as caught:
        read_nmnist_bin(path)
    assert str(path) in str(caught.value)


def test_local_copy_and_parent_folder(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "NMNIST", {"Train": 3, "Test": 1})
    for data_dir in (root, tmp_path):
        train = load(data_dir, time_bins=4)
        assert train.frames.shape == (30, 4, 2, 34, 34)
        assert np.bincount(train.labels).tolist() == [3] * 10
        assert train.meta["source"] == str(root)
    assert len(load(root, "test")) == 10


def test_calib_is_a_stratified_subset_of_train(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "NMNIST", {"Train": 3, "Test": 1})
    train, calib = load(root), load(root, "calib")
    assert len(calib) == 30  # fewer than 200 available
    train_digests = {hashlib.sha256(f.tobytes()).hexdigest() for f in train.frames}
    assert all(hashlib.sha256(f.tobytes()).hexdigest() in train_digests for f in calib.frames)


@pytest.mark.parametrize(("setup", "fragment"), [
    ("missing", "does not exist; expected tonic's N-MNIST layout"),
    ("no_splits", "has no Train/ or Test/ folder"),
    ("empty_split", "holds no .bin recordings"),
    ("odd_folder", "expected digit folders 0..9"),
])
def test_layout_errors_name_the_directory(tmp_path: Path, setup: str, fragment: str) -> None:
    data_dir = tmp_path / "copy"
    if setup != "missing":
        data_dir.mkdir()
    if setup == "empty_split":
        (data_dir / "Train" / "3").mkdir(parents=True)
    if setup == "odd_folder":
        write_copy(data_dir, {"Train": 1}, digits=range(2))
        (data_dir / "Train" / "ten").mkdir()
    with pytest.raises(DataError, match=fragment) as caught:
        load(data_dir)
    assert "copy" in str(caught.value)


def test_missing_test_split_is_named(tmp_path: Path) -> None:
    root = write_copy(tmp_path / "NMNIST", {"Train": 1})
    with pytest.raises(DataError, match="has no Test/ folder for the test split"):
        load(root, "test")


def test_no_data_dir_explains_the_options() -> None:
    with pytest.raises(DataError, match=r"--data-dir.*--download"):
        load_frames("nmnist", cache_dir=False, progress=False)


def test_download_goes_through_tonic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_copy(tmp_path / "NMNIST", {"Train": 1, "Test": 1})
    calls = []

    class FakeNMNIST:
        def __init__(self, save_to: str, train: bool = True) -> None:
            calls.append((save_to, train))
            files = sorted((root / ("Train" if train else "Test")).glob("*/*.bin"))
            self.data = [str(f) for f in files]
            self.targets = [int(f.parent.name) for f in files]

    monkeypatch.setattr(tonic.datasets, "NMNIST", FakeNMNIST)
    frames = load(root, "test", download=True)
    assert calls == [(str(tmp_path), False)] and len(frames) == 10
    load(tmp_path, "train", download=True)
    assert calls[-1] == (str(tmp_path), True)


def test_real_subset_loads_offline(nmnist_dir: Path) -> None:
    train, test = load(nmnist_dir), load(nmnist_dir, "test")
    assert len(train) == 1000 and len(test) == 100
    assert train.frames.shape == (1000, 16, 2, 34, 34) and train.frames.max() == 1
    assert sorted(set(train.labels.tolist())) == list(range(10))
    assert sorted(set(test.labels.tolist())) == list(range(10))
    calib = load(nmnist_dir, "calib")
    assert len(calib) == 200 and np.bincount(calib.labels).tolist() == [20] * 10
    test_digests = {hashlib.sha256(f.tobytes()).hexdigest() for f in test.frames}
    assert not test_digests & {hashlib.sha256(f.tobytes()).hexdigest() for f in calib.frames}


def test_real_files_match_tonics_reader(nmnist_dir: Path) -> None:
    files = sorted((nmnist_dir / "Train").glob("*/*.bin"))[::250]
    assert len(files) >= 3
    for path in files:
        ours = read_nmnist_bin(path)
        assert ours.tobytes() == tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE).tobytes()
        assert len(ours) > 1000


def test_real_subset_second_load_uses_the_cache(nmnist_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    options = {"data_dir": nmnist_dir, "cache_dir": tmp_path, "progress": False, "limit": 40}
    first = load_frames("nmnist", "test", **options)
    assert Path(first.meta["cache_file"]).is_file() and not first.meta["from_cache"]

    def refuse(path: object) -> None:
        raise AssertionError(f"read {path} although the frames were cached")

    monkeypatch.setattr(folders_module, "file_reader", lambda files, read: refuse)
    second = load_frames("nmnist", "test", **options)
    assert second.meta["from_cache"] and np.array_equal(first.frames, second.frames)


def test_truncated_real_file_gives_a_clear_error(nmnist_dir: Path, tmp_path: Path) -> None:
    original = sorted((nmnist_dir / "Test").glob("*/*.bin"))[0]
    data = original.read_bytes()
    broken = tmp_path / "NMNIST" / "Test" / "4" / "broken.bin"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(data[: len(data) - 3])
    with pytest.raises(DataError, match=f"{len(data) - 3} bytes, not a multiple of 5"):
        load(tmp_path, "test")
