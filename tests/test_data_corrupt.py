"""Event-level corruptions: direction, monotonicity in severity, determinism, parsing."""

from __future__ import annotations

import numpy as np
import pytest

from sastc.data import CORRUPTIONS, load_frames, parse_corruption
from sastc.data.corrupt import HOT_PIXEL_RATE_HZ, Corruption
from sastc.data.events import empty_events, make_events
from sastc.errors import ConfigError

SENSOR = (2, 34, 34)


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    """One event per (x, y, p) identity, so jittered events can be matched to originals."""
    rng = np.random.default_rng(5)
    y, x, p = (grid.ravel() for grid in np.meshgrid(np.arange(34), np.arange(34), [0, 1],
                                                    indexing="ij"))
    t = np.sort(rng.integers(0, 300_000, len(x)))
    return make_events(x, y, t, p)


def corrupted(events: np.ndarray, kind: str, severity: int, index: int = 0) -> np.ndarray:
    return Corruption(kind, severity).apply(events, SENSOR, seed=0, index=index)


def identities(events: np.ndarray) -> np.ndarray:
    return (events["y"].astype(np.int64) * 34 + events["x"]) * 2 + events["p"]


def test_registry_and_parsing() -> None:
    assert set(CORRUPTIONS) == {"dropout", "noise", "jitter", "hot_pixels"}
    assert all(len(kind.levels) == 5 for kind in CORRUPTIONS.values())
    assert parse_corruption(" jitter:5 ") == Corruption("jitter", 5)
    assert str(parse_corruption("hot_pixels:1")) == "hot_pixels:1"


@pytest.mark.parametrize(("text", "fragment"), [
    ("blur:2", "unknown kind 'blur'; expected one of dropout, noise, jitter, hot_pixels"),
    ("noise:0", "severity must be one of 1, 2, 3, 4, 5, got 0"),
    ("noise:6", "severity must be one of 1, 2, 3, 4, 5, got 6"),
    ("dropout", "expected KIND:SEVERITY"),
    ("dropout:x", "expected KIND:SEVERITY"),
    ("", "expected KIND:SEVERITY"),
])
def test_bad_corruption_strings(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_corruption(text)


def test_dropout_removes_more_with_severity(events: np.ndarray) -> None:
    counts = [len(corrupted(events, "dropout", s)) for s in range(1, 6)]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 5
    assert counts[0] < len(events)
    kept = corrupted(events, "dropout", 3)
    assert set(identities(kept)) <= set(identities(events))
    assert abs(1 - len(kept) / len(events) - CORRUPTIONS["dropout"].levels[2]) < 0.05


def test_noise_adds_more_with_severity(events: np.ndarray) -> None:
    noisy = [corrupted(events, "noise", s) for s in range(1, 6)]
    added = [len(n) - len(events) for n in noisy]
    expected = [round(f * len(events)) for f in CORRUPTIONS["noise"].levels]
    assert added == expected
    worst = noisy[-1]
    assert np.all(np.diff(worst["t"]) >= 0)
    assert worst["x"].max() < 34 and worst["y"].max() < 34
    assert worst["t"].min() >= events["t"].min() and worst["t"].max() <= events["t"].max()


def test_jitter_moves_timestamps_more_with_severity(events: np.ndarray) -> None:
    shifts = []
    for severity in range(1, 6):
        jittered = corrupted(events, "jitter", severity)
        assert len(jittered) == len(events) and np.all(np.diff(jittered["t"]) >= 0)
        assert jittered["t"].min() >= events["t"][0] and jittered["t"].max() <= events["t"][-1]
        by_identity = np.empty(len(events), dtype=np.int64)
        by_identity[identities(jittered)] = jittered["t"]
        shifts.append(np.abs(by_identity[identities(events)] - events["t"]).mean())
    assert shifts == sorted(shifts) and shifts[0] > 0


def test_hot_pixels_grow_with_severity(events: np.ndarray) -> None:
    span_s = (events["t"][-1] - events["t"][0]) * 1e-6
    for severity, count in zip(range(1, 6), CORRUPTIONS["hot_pixels"].levels, strict=True):
        hot = corrupted(events, "hot_pixels", severity)
        per_pixel = np.bincount(hot["y"].astype(np.int64) * 34 + hot["x"], minlength=34 * 34)
        assert np.sum(per_pixel > HOT_PIXEL_RATE_HZ * span_s / 2) == count
        assert np.all(np.diff(hot["t"]) >= 0)


def test_deterministic_per_seed_and_index(events: np.ndarray) -> None:
    for kind in CORRUPTIONS:
        first, again = corrupted(events, kind, 3, index=7), corrupted(events, kind, 3, index=7)
        assert first.tobytes() == again.tobytes()
        assert first.tobytes() != corrupted(events, kind, 3, index=8).tobytes()


def test_empty_recordings_survive_every_corruption() -> None:
    for kind in CORRUPTIONS:
        assert len(corrupted(empty_events(), kind, 5)) == 0


def test_load_frames_applies_the_corruption() -> None:
    options = {"cache_dir": False, "progress": False, "limit": 12,
               "synthetic": {"n_test": 12}}
    clean = load_frames("synthetic", "test", **options)
    dropped = load_frames("synthetic", "test", corruption="dropout:5", **options)
    hot = load_frames("synthetic", "test", corruption=Corruption("hot_pixels", 4), **options)
    assert dropped.meta["corruption"] == "dropout:5" and hot.meta["corruption"] == "hot_pixels:4"
    assert dropped.frames.sum() < clean.frames.sum() < hot.frames.sum()
