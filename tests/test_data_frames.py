"""Binning events into frames and the on-disk frame cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sastc.data.synthetic as synthetic_module
from sastc.data import load_frames
from sastc.data.events import empty_events, make_events
from sastc.data.frames import downsampled_size, make_binner, resolve_cache_dir

TINY = {"n_train": 24, "n_test": 12, "n_calib": 12}


def tiny(cache_dir: Path | bool | None, **kwargs) -> object:
    return load_frames("synthetic", "train", cache_dir=cache_dir, progress=False,
                       synthetic=TINY, **kwargs)


def test_binning_puts_events_at_bin_polarity_row_column() -> None:
    binner = make_binner((2, 4, 6), time_bins=2, downsample=1, clip=1)  # H=4, W=6
    events = make_events(x=[5, 0, 2, 3], y=[3, 1, 0, 2], t=[0, 10, 60, 101], p=[1, 0, 0, 1])
    frames = binner(events)
    assert frames.shape == (2, 2, 4, 6) and frames.dtype == np.uint8
    assert frames[0, 1, 3, 5] == 1 and frames[0, 0, 1, 0] == 1 and frames[1, 0, 0, 2] == 1
    assert frames.sum() == 3  # tonic's equal time bins end before the last event


def test_counts_are_clipped() -> None:
    events = make_events(x=[1] * 5 + [0], y=[1] * 5 + [0], t=[0, 1, 2, 3, 4, 100], p=[1] * 6)
    assert make_binner((2, 2, 2), 1, 1, clip=3)(events)[0, 1, 1, 1] == 3
    assert make_binner((2, 2, 2), 1, 1, clip=255)(events)[0, 1, 1, 1] == 5


def test_downsampling_floors_coordinates() -> None:
    assert downsampled_size((2, 128, 128), 4) == (2, 32, 32)
    assert downsampled_size((2, 34, 34), 4) == (2, 9, 9)
    binner = make_binner((2, 128, 128), time_bins=1, downsample=4, clip=1)
    frames = binner(make_events(x=[127, 4, 0], y=[126, 3, 0], t=[0, 5, 10], p=[1, 0, 0]))
    assert frames.shape == (1, 2, 32, 32)
    assert frames[0, 1, 31, 31] == 1 and frames[0, 0, 0, 1] == 1


def test_empty_recording_gives_zero_frames() -> None:
    frames = make_binner((2, 3, 5), time_bins=4, downsample=1, clip=1)(empty_events())
    assert frames.shape == (4, 2, 3, 5) and not frames.any()


def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tiny(tmp_path)
    assert not first.meta["from_cache"]
    assert Path(first.meta["cache_file"]).parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [Path(first.meta["cache_file"]).name]

    def no_generation(*args: object, **kwargs: object) -> None:
        raise AssertionError("regenerated although the frames were cached")

    monkeypatch.setattr(synthetic_module, "generate_recordings", no_generation)
    second = tiny(tmp_path)
    assert second.meta["from_cache"] and np.array_equal(first.frames, second.frames)
    assert np.array_equal(first.labels, second.labels)


def test_every_frame_parameter_changes_the_key(tmp_path: Path) -> None:
    variants = [{}, {"time_bins": 8}, {"clip": 2}, {"seed": 1}, {"corruption": "dropout:2"},
                {"limit": 12}, {"downsample": 2}]
    keys = {tiny(tmp_path, **variant).meta["cache_key"] for variant in variants}
    assert len(keys) == len(variants) and len(list(tmp_path.glob("*.npz"))) == len(variants)


def test_non_binary_frames_round_trip(tmp_path: Path) -> None:
    built = tiny(tmp_path, clip=4)
    cached = tiny(tmp_path, clip=4)
    assert cached.meta["from_cache"] and built.frames.max() > 1
    assert np.array_equal(built.frames, cached.frames)


@pytest.mark.parametrize("damage", ["garbage", "truncate"])
def test_corrupt_cache_file_is_rebuilt_with_a_warning(tmp_path: Path, damage: str) -> None:
    good = tiny(tmp_path)
    path = Path(good.meta["cache_file"])
    data = path.read_bytes()
    path.write_bytes(b"not a cache file" if damage == "garbage" else data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        rebuilt = tiny(tmp_path)
    assert not rebuilt.meta["from_cache"] and np.array_equal(good.frames, rebuilt.frames)
    assert tiny(tmp_path).meta["from_cache"]  # the rebuilt file is valid again


def test_unwritable_cache_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.warns(RuntimeWarning, match="could not write frame cache"):
        frames = tiny(blocker / "cache")
    assert len(frames) == 24


def test_cache_can_be_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SASTC_CACHE_DIR", str(tmp_path))
    frames = tiny(False)
    assert frames.meta["cache_file"] is None and list(tmp_path.iterdir()) == []


def test_cache_dir_from_environment_or_home(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SASTC_CACHE_DIR", str(tmp_path / "env"))
    frames = tiny(None)
    assert Path(frames.meta["cache_file"]).parent == tmp_path / "env"
    assert not list((tmp_path / "env").glob(".*"))  # no temporary files left behind
    monkeypatch.delenv("SASTC_CACHE_DIR")
    assert resolve_cache_dir(None) == Path.home() / ".cache" / "sastc" / "frames"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir(False) is None and resolve_cache_dir("off") is None
    monkeypatch.setenv("SASTC_CACHE_DIR", "off")
    assert tiny(None).meta["cache_file"] is None
