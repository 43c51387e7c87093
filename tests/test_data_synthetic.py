"""The built-in synthetic dataset and the option checks of load_frames."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

from sastc.data import DATASETS, DEFAULT_DATASET, load_frames
from sastc.data.synthetic import CLASS_NAMES, open_synthetic, synthetic_params
from sastc.errors import ConfigError

SMALL = {"n_train": 48, "n_test": 24, "n_calib": 24}


def small(split: str = "train", **kwargs) -> object:
    options = {**SMALL, **kwargs.pop("synthetic", {})}
    return load_frames("synthetic", split, cache_dir=False, progress=False, synthetic=options,
                       **kwargs)


def digests(frames: np.ndarray) -> set[str]:
    return {hashlib.sha256(sample.tobytes()).hexdigest() for sample in frames}


def test_registry_entry() -> None:
    info = DATASETS["synthetic"]
    assert DEFAULT_DATASET == "synthetic"
    assert info.sensor_size == (2, 32, 32) and info.default_time_bins == 16
    assert info.default_arch == "conv(16, 5, stride=2) conv(32, 3, stride=2) readout"
    assert len(info.classes) >= 10 and not info.needs_data_dir


def test_frames_are_binary_spikes_of_all_classes() -> None:
    frames = small()
    assert frames.frames.dtype == np.uint8 and frames.frames.shape == (48, 16, 2, 32, 32)
    assert frames.frames.max() == 1 and 0.005 < frames.frames.mean() < 0.3
    assert frames.labels.dtype == np.int64
    assert sorted(set(frames.labels.tolist())) == list(range(len(CLASS_NAMES)))
    assert frames.classes == CLASS_NAMES


def test_same_seed_is_byte_identical_and_seeds_differ() -> None:
    first, again, other = small(seed=3), small(seed=3), small(seed=4)
    assert first.frames.tobytes() == again.frames.tobytes()
    assert not np.array_equal(first.frames, other.frames)


def test_splits_use_separate_streams() -> None:
    train, test, calib = small("train"), small("test"), small("calib")
    assert not digests(train.frames) & digests(test.frames)
    assert not digests(calib.frames) & digests(test.frames)
    assert not digests(calib.frames) & digests(train.frames)


def test_limit_is_stratified_and_a_prefix_of_the_full_split() -> None:
    full = small(synthetic={"n_train": 130})
    limited = small(limit=15, synthetic={"n_train": 130})
    assert len(limited) == 15 and len(set(limited.labels[:12].tolist())) == 12
    assert np.array_equal(limited.frames, full.frames[:15])


def test_resolution_classes_and_clip_options() -> None:
    frames = small(clip=3, synthetic={"resolution": 16, "num_classes": 2})
    assert frames.sample_shape == (2, 16, 16) and frames.classes == ("bar_right", "bar_left")
    assert set(frames.labels.tolist()) == {0, 1}
    assert frames.frames.max() == 3


def _x_centroid_slope(events: np.ndarray, polarity: bool) -> float:
    chosen = events[events["p"] == polarity]
    return float(np.polyfit(chosen["t"], chosen["x"], 1)[0])


def test_pairs_differ_in_temporal_order() -> None:
    recordings = open_synthetic("train", 0, synthetic_params({"n_train": 24, "noise_rate": 0.0}))
    events = list(recordings.read_events(range(24)))
    for right, left in ((0, 1), (12, 13)):  # bar_right, bar_left
        assert _x_centroid_slope(events[right], True) > 0 > _x_centroid_slope(events[left], True)
    # the two directions give the same time-summed picture up to mirroring: similar counts
    counts = [len(events[i]) for i in (0, 1, 12, 13)]
    assert min(counts) > 200


def test_leading_edge_of_a_bright_bar_is_on() -> None:
    recordings = open_synthetic("train", 0, synthetic_params({"n_train": 2, "noise_rate": 0.0}))
    for events, sign in zip(recordings.read_events([0, 1]), (1, -1), strict=True):
        middle = events[(events["t"] > 40_000) & (events["t"] < 50_000)]
        on_x, off_x = middle["x"][middle["p"]].mean(), middle["x"][~middle["p"]].mean()
        assert sign * (on_x - off_x) > 1


def test_ring_expands_or_contracts() -> None:
    params = synthetic_params({"n_train": 6, "noise_rate": 0.0})
    events = list(open_synthetic("train", 1, params).read_events([4, 5]))
    for recording, sign in zip(events, (1, -1), strict=True):
        centre_x, centre_y = recording["x"].mean(), recording["y"].mean()
        radius = np.hypot(recording["x"] - centre_x, recording["y"] - centre_y)
        assert sign * np.polyfit(recording["t"], radius, 1)[0] > 0


def test_noise_rate_adds_events() -> None:
    quiet = open_synthetic("train", 0, synthetic_params({"n_train": 4, "noise_rate": 0.0}))
    noisy = open_synthetic("train", 0, synthetic_params({"n_train": 4, "noise_rate": 50.0}))
    assert len(next(noisy.read_events([0]))) > len(next(quiet.read_events([0]))) + 1000


@pytest.mark.parametrize(("options", "fragment"), [
    ({"colour": 1}, "unknown option 'colour'"),
    ({"num_classes": 1}, "num_classes must be in [2, 12]"),
    ({"resolution": "32"}, "resolution must be an integer"),
    ({"n_train": 0}, "n_train must be in"),
])
def test_bad_synthetic_options(options: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        small(synthetic=options)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"time_bins": 0}, "time_bins must be an integer >= 1, got 0"),
    ({"clip": 0}, "clip must be an integer in 1..255, got 0"),
    ({"limit": 0}, "limit must be an integer >= 1, got 0"),
    ({"downsample": 0}, "downsample must be an integer >= 1, got 0"),
    ({"time_bins": 2.5}, "time_bins must be an integer >= 1, got 2.5"),
    ({"split": "valid"}, "unknown split 'valid'; expected one of train, val, test, calib"),
    ({"split": "val"}, "the val split needs a validation fraction"),
    ({"dataset": "mnist"}, "unknown dataset 'mnist'; expected one of synthetic, nmnist"),
    ({"data_dir": "somewhere"}, "takes no data dir"),
])
def test_bad_load_options(kwargs: dict, fragment: str) -> None:
    arguments = {"dataset": "synthetic", "split": "train", **kwargs}
    with pytest.raises(ConfigError, match=fragment):
        load_frames(arguments.pop("dataset"), arguments.pop("split"), cache_dir=False,
                    progress=False, **arguments)


def test_synthetic_options_only_for_synthetic() -> None:
    with pytest.raises(ConfigError, match="synthetic dataset only"):
        load_frames("nmnist", synthetic={"n_train": 4}, cache_dir=False)


def test_meta_records_what_produced_the_frames() -> None:
    frames = small("test", time_bins=4, seed=2)
    meta = frames.meta
    assert meta["dataset"] == "synthetic" and meta["split"] == "test" and meta["seed"] == 2
    assert meta["time_bins"] == 4 and meta["downsample"] == 1 and meta["corruption"] is None
    assert meta["synthetic"]["n_test"] == 24 and meta["source"] == "generated"
    assert len(meta["cache_key"]) == 64 and meta["cache_file"] is None


def test_progress_bar_only_when_asked_and_on_a_terminal(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    load_frames("synthetic", "calib", limit=4, cache_dir=False, progress=True, synthetic=SMALL)
    assert capsys.readouterr().err == "", "no carriage-return bars in logs and pipes"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    load_frames("synthetic", "calib", limit=4, cache_dir=False, progress=False, synthetic=SMALL)
    assert capsys.readouterr().err == ""
    load_frames("synthetic", "calib", limit=4, cache_dir=False, progress=True, synthetic=SMALL)
    assert "synthetic/calib" in capsys.readouterr().err
