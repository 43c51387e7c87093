"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NMNIST_ENV = "SASTC_NMNIST_DIR"


def _has_splits(path: Path) -> bool:
    return (path / "Train").is_dir() and (path / "Test").is_dir()


@pytest.fixture(scope="session")
def nmnist_dir() -> Path:
    """A local N-MNIST copy in tonic's layout (``Train/<digit>/*.bin``, ``Test/...``).

    ``$SASTC_NMNIST_DIR`` if set, else the first ``<repo>/../*/data/NMNIST`` with both
    splits; otherwise the test is skipped.
    """
    from_env = os.environ.get(NMNIST_ENV)
    if from_env:
        return Path(from_env)
    for candidate in sorted(REPO_ROOT.parent.glob("*/data/NMNIST")):
        if _has_splits(candidate):
            return candidate
    pytest.skip(f"N-MNIST not found: set {NMNIST_ENV} to a copy in tonic's layout")


DVS128_OBJECTS_ENV = "SASTC_DVS128_OBJECTS_DIR"


@pytest.fixture(scope="session")
def dvs128_objects_dir() -> Path:
    """The DVS128 object recordings (``<class>/<name>.aedat``, jAER AEDAT 2.0).

    ``$SASTC_DVS128_OBJECTS_DIR`` if set, else the first ``<repo>/../*/data/DVS128_objects``
    holding ``.aedat`` files; otherwise the test is skipped.
    """
    from_env = os.environ.get(DVS128_OBJECTS_ENV)
    if from_env:
        return Path(from_env)
    for candidate in sorted(REPO_ROOT.parent.glob("*/data/DVS128_objects")):
        if any(candidate.glob("*/*.aedat")):
            return candidate
    pytest.skip(f"DVS128 recordings not found: set {DVS128_OBJECTS_ENV} to their folder")


@pytest.fixture(scope="session")
def frame_cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frame cache directory for the whole test session."""
    return tmp_path_factory.mktemp("frame-cache")


@pytest.fixture(autouse=True)
def _isolated_frame_cache(frame_cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's frame cache out of the user's home directory."""
    monkeypatch.setenv("SASTC_CACHE_DIR", str(frame_cache_root))


TINY_SYNTHETIC = {"n_train": 96, "n_test": 48, "n_calib": 48, "resolution": 16, "num_classes": 4}
TINY_ARCH = "conv(6, 3, stride=2) pool(2) dense(16) readout"


def tiny_config(out_dir: Path, **overrides: object):
    """A TrainConfig that trains in a second or two on a tiny synthetic dataset."""
    from sastc.train.config import TrainConfig

    options = {"dataset": "synthetic", "synthetic": dict(TINY_SYNTHETIC), "time_bins": 8,
               "arch": TINY_ARCH, "epochs": 2, "batch_size": 16, "lr": 5e-3, "rho": 0.1,
               "out_dir": str(out_dir), "progress": False, "seed": 0}
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SAST checkpoint of the tiny network, trained once per session."""
    from sastc.train.run import train

    out = tmp_path_factory.mktemp("trained") / "run"
    train(tiny_config(out, epochs=3), log=lambda _: None)
    return out / "checkpoint.pt"


@pytest.fixture
def make_config():
    """``make_config(out_dir, **overrides)`` -> a tiny, fast TrainConfig."""
    return tiny_config
