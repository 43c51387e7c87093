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


@pytest.fixture(scope="session")
def frame_cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frame cache directory for the whole test session."""
    return tmp_path_factory.mktemp("frame-cache")


@pytest.fixture(autouse=True)
def _isolated_frame_cache(frame_cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's frame cache out of the user's home directory."""
    monkeypatch.setenv("SASTC_CACHE_DIR", str(frame_cache_root))
