"""Datasets: event recordings binned into spike frames for training, evaluation and the compiler.

``load_frames`` reads (or generates) the recordings of one split, applies an optional
corruption, bins them into ``uint8 [N, T, C, H, W]`` frames and caches the result on
disk. ``DATASETS`` is the registry of datasets, ``CORRUPTIONS`` that of corruptions.

>>> sorted(DATASETS)
['dvsgesture', 'folder', 'nmnist', 'synthetic']
>>> frames = load_frames("synthetic", "test", time_bins=8, limit=12, cache_dir=False,
...                      progress=False, synthetic={"n_test": 24})
>>> frames.frames.shape, frames.num_classes, sorted(set(frames.labels.tolist())) == list(range(12))
((12, 8, 2, 32, 32), 12, True)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from sastc.data import dvsgesture, folder, nmnist, synthetic
from sastc.data.base import SPLITS, FrameSet
from sastc.data.binning import bin_window
from sastc.data.corrupt import CORRUPTIONS, Corruption, parse_corruption
from sastc.data.events import (
    CALIB_SHUFFLE_SEED,
    CALIB_SIZE,
    DatasetInfo,
    Recordings,
    SourceOptions,
    stratified_order,
)
from sastc.data.frames import (
    build_frames,
    cache_key,
    cache_path,
    downsampled_size,
    make_binner,
    read_cache,
    resolve_cache_dir,
    write_cache,
)
from sastc.data.validation import carve_validation, check_val_fraction
from sastc.errors import ConfigError, SastcError

__all__ = [
    "CORRUPTIONS", "DATASETS", "DEFAULT_DATASET", "Corruption", "DatasetInfo", "FrameSet",
    "dataset_info", "load_frames", "parse_corruption",
]

DATASETS: dict[str, DatasetInfo] = {
    info.name: info for info in (synthetic.INFO, nmnist.INFO, dvsgesture.INFO, folder.INFO)
}
DEFAULT_DATASET = "synthetic"
MAX_CLIP = 255

CacheDir = str | os.PathLike[str] | Literal[False] | None


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; ``ConfigError`` listing the datasets if unknown."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


@dataclass(frozen=True)
class FrameRequest:
    """The validated options that decide the frames of one split."""

    time_bins: int
    downsample: int
    clip: int
    corruption: Corruption | None
    limit: int | None
    seed: int


def _checked_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else ``ConfigError`` naming ``name``."""
    in_range = isinstance(value, int | np.integer) and not isinstance(value, bool) \
        and value >= low and (high is None or value <= high)
    if not in_range:
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ConfigError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def _request(info: DatasetInfo, time_bins: int | None, downsample: int | None, clip: int,
             corruption: Corruption | str | None, limit: int | None, seed: int) -> FrameRequest:
    """Defaults filled in and every option validated."""
    if isinstance(corruption, str):
        corruption = parse_corruption(corruption)
    elif corruption is not None and not isinstance(corruption, Corruption):
        raise ConfigError(f"corruption must be a Corruption, 'kind:severity' or None, "
                          f"got {corruption!r}")
    return FrameRequest(
        time_bins=_checked_int("time_bins", info.default_time_bins if time_bins is None
                               else time_bins, 1),
        downsample=_checked_int("downsample", info.default_downsample if downsample is None
                                else downsample, 1),
        clip=_checked_int("clip", clip, 1, MAX_CLIP),
        corruption=corruption,
        limit=None if limit is None else _checked_int("limit", limit, 1),
        seed=_checked_int("seed", seed, 0),
    )


def _source_options(info: DatasetInfo, data_dir: str | os.PathLike[str] | None, download: bool,
                    seed: int, synthetic_options: dict | None, folder_options: dict) -> SourceOptions:
    if synthetic_options is not None and info.name != "synthetic":
        raise ConfigError(f"synthetic options apply to the synthetic dataset only, "
                          f"not to {info.name!r}")
    if synthetic_options is not None and not isinstance(synthetic_options, dict):
        raise ConfigError(f"synthetic options must be a dict, got {synthetic_options!r}")
    if data_dir is not None and not info.needs_data_dir:
        raise ConfigError(f"dataset {info.name!r} is generated and takes no data dir "
                          f"(got {data_dir}); leave --data-dir out")
    _check_folder_options(info, folder_options)
    directory = None if data_dir is None else Path(data_dir).expanduser()
    return SourceOptions(directory, bool(download), seed, dict(synthetic_options or {}),
                         **folder_options)


def _check_folder_options(info: DatasetInfo, folder_options: dict) -> None:
    """``--window-ms``, ``--test-fraction`` and ``--sensor-size`` are the folder dataset's."""
    given = [name for name, value in folder_options.items() if value is not None]
    if given and info.name != "folder":
        option = "--" + given[0].replace("_", "-")
        raise ConfigError(f"{option} applies to --dataset folder (your own recordings), "
                          f"not to {info.name!r}; leave it out")
    size = folder_options.get("sensor_size")
    if size is not None and (len(size) != 2 or not all(
            isinstance(v, int | np.integer) and 1 <= v <= 65535 for v in size)):
        raise ConfigError(f"--sensor-size must be WIDTH,HEIGHT in pixels (1..65535); got {size!r}")


def open_recordings(info: DatasetInfo, split: str, options: SourceOptions,
                    val_fraction: float) -> Recordings:
    """The recordings of ``split``, with the validation split carved out of train.

    With a validation split, ``val`` is that split and ``train`` the rest of the
    training recordings (``sastc.data.validation``); ``calib`` is the validation split
    plus up to ``CALIB_SIZE`` training recordings (class-stratified): the compiler
    scores calibration by agreement with the float model, which needs no unseen
    labels, and a small validation split alone is too noisy to calibrate on.
    """
    if val_fraction == 0 or split == "test":
        return info.open_split(split, options)
    full = info.open_split("train", options)
    train, val = carve_validation(full.labels, full.groups, val_fraction, full.classes)
    if split == "calib":
        extra = train[stratified_order(full.labels[train], CALIB_SHUFFLE_SEED)[:CALIB_SIZE]]
        return full.subset(np.sort(np.concatenate([val, extra])), f"{info.name}/calib")
    return full.subset(train if split == "train" else val, f"{info.name}/{split}")


def _select(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """All indices, or the first ``limit`` of the class-stratified order (in index order)."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    return np.sort(stratified_order(labels)[:limit])


def _key_description(info: DatasetInfo, split: str, request: FrameRequest,
                     recordings: Recordings) -> dict:
    seed_matters = info.name == "synthetic" or request.corruption is not None
    return {
        "dataset": info.name, "split": split, "time_bins": request.time_bins,
        "downsample": request.downsample, "clip": request.clip,
        "corruption": None if request.corruption is None else str(request.corruption),
        "limit": request.limit, "seed": request.seed if seed_matters else None,
        "data": recordings.fingerprint,
    }


def _frames_and_labels(recordings: Recordings, indices: np.ndarray, request: FrameRequest,
                       path: Path | None, key: str,
                       progress: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(frames, labels, from_cache)``: from the cache file if valid, else built and stored."""
    cached = None if path is None else read_cache(path, key)
    if cached is not None:
        return (*cached, True)
    binner = _binner(recordings, request)
    frames = build_frames(recordings, indices, binner, request.corruption, request.seed,
                          progress)
    labels = recordings.labels[indices].astype(np.int64)
    if path is not None:
        _store(path, key, frames, labels, {"recordings": recordings.name})
    return frames, labels, False


def _binner(recordings: Recordings, request: FrameRequest):
    """Fixed-duration bins for windows of long recordings, else tonic's equal parts."""
    if recordings.window_us is None:
        return make_binner(recordings.sensor_size, request.time_bins, request.downsample,
                           request.clip)
    return partial(bin_window, t0=0, window_us=recordings.window_us,
                   time_bins=request.time_bins, sensor_size=recordings.sensor_size,
                   downsample=request.downsample, clip=request.clip)


def _store(path: Path, key: str, frames: np.ndarray, labels: np.ndarray, meta: dict) -> None:
    """Write the cache file; a failure only warns (the frames are still returned)."""
    try:
        write_cache(path, key, frames, labels, meta)
    except (OSError, SastcError) as exc:
        warnings.warn(f"could not write frame cache {path}: {exc}", RuntimeWarning,
                      stacklevel=4)


def load_frames(dataset: str = DEFAULT_DATASET, split: str = "train", *,
                data_dir: str | os.PathLike[str] | None = None, time_bins: int | None = None,
                downsample: int | None = None, clip: int = 1,
                corruption: Corruption | str | None = None, cache_dir: CacheDir = None,
                limit: int | None = None, seed: int = 0, download: bool = False,
                progress: bool = True, synthetic: dict | None = None,
                val_fraction: float = 0.0, window_ms: float | None = None,
                test_fraction: float | None = None,
                sensor_size: tuple[int, int] | None = None) -> FrameSet:
    """Binned frames ``uint8 [N, T, C, H, W]`` of one split of a registered dataset.

    ``split`` is ``train``, ``val``, ``test`` or ``calib`` (calibration; never test
    samples). With ``val_fraction > 0`` the validation split is carved out of the
    training recordings and ``calib`` is that split; with 0, ``val`` is an error.
    ``time_bins`` and ``downsample`` default to the dataset's; frames count events per
    bin and pixel, clipped at ``clip`` (1: binary spikes). ``limit`` keeps the first
    samples of a class-stratified order. ``cache_dir=False`` disables the frame cache;
    None uses ``$SASTC_CACHE_DIR`` or ``~/.cache/sastc/frames``. ``window_ms``,
    ``test_fraction`` and ``sensor_size`` (width, height) are the folder dataset's.
    """
    info = dataset_info(dataset)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    val_fraction = check_val_fraction(val_fraction)
    if split == "val" and val_fraction == 0:
        raise ConfigError("the val split needs a validation fraction (--val-fraction > 0)")
    request = _request(info, time_bins, downsample, clip, corruption, limit, seed)
    folder_options = {"window_ms": window_ms, "test_fraction": test_fraction,
                      "sensor_size": None if sensor_size is None else tuple(sensor_size)}
    options = _source_options(info, data_dir, download, request.seed, synthetic, folder_options)
    recordings = open_recordings(info, split, options, val_fraction)
    indices = _select(recordings.labels, request.limit)
    key = cache_key(_key_description(info, split, request, recordings))
    directory = resolve_cache_dir(cache_dir)
    path = None if directory is None else cache_path(directory, info.name, split, key)
    frames, labels, from_cache = _frames_and_labels(recordings, indices, request, path, key,
                                                    progress)
    meta = _meta(info, split, request, recordings, key, path, from_cache)
    meta.update(val_fraction=val_fraction, empty_samples=_empty_count(frames))
    return FrameSet(frames, labels, recordings.classes, info.name, split, meta)


def _origin(fingerprint: dict) -> dict:
    """The fingerprint of the recordings a subset was taken from."""
    while isinstance(fingerprint, dict) and "parent" in fingerprint:
        fingerprint = fingerprint["parent"]
    return fingerprint


def _empty_count(frames: np.ndarray) -> int:
    """Samples without a single event (allowed; reported so a user can see them)."""
    return int(np.sum(frames.reshape(len(frames), -1).max(axis=1, initial=0) == 0))


def _meta(info: DatasetInfo, split: str, request: FrameRequest, recordings: Recordings,
          key: str, path: Path | None, from_cache: bool) -> dict:
    """What produced a FrameSet: dataset parameters, binning, corruption, cache, source."""
    meta = {
        "dataset": info.name, "split": split, "time_bins": request.time_bins,
        "downsample": request.downsample, "clip": request.clip,
        "corruption": None if request.corruption is None else str(request.corruption),
        "limit": request.limit, "seed": request.seed, "source": recordings.source,
        "sensor_size": recordings.sensor_size,
        "frame_size": downsampled_size(recordings.sensor_size, request.downsample),
        "num_recordings": len(recordings), "cache_key": key,
        "cache_file": None if path is None else str(path), "from_cache": from_cache,
    }
    if info.name == "synthetic":
        meta["synthetic"] = dict(_origin(recordings.fingerprint)["params"])
    if recordings.window_us is not None:
        meta["window_ms"] = recordings.window_us / 1000
    return meta
