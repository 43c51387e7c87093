"""Binning events into frames (with tonic), and the on-disk cache of binned frames.

A recording becomes ``T`` frames with tonic's ``Downsample(spatial_factor=1/d)``
(``x' = floor(x / d)``) and ``ToFrame(n_time_bins=T)`` (equal time bins between the
first and last event), clipped to ``min(count, clip)`` as uint8 ``[T, C, H, W]``.

The cache stores one ``.npz`` per (dataset, split, parameters) under a key that hashes
everything that changes the frames; ``cache_dir=False`` (or the directory ``off``,
e.g. ``SASTC_CACHE_DIR=off``) disables it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sastc.atomic import write_atomic
from sastc.data.corrupt import Corruption
from sastc.data.events import Recordings, check_in_sensor
from sastc.errors import DataError
from sastc.progress import bar_disabled

CACHE_FORMAT_VERSION = 1
CACHE_ENV = "SASTC_CACHE_DIR"
CACHE_OFF = "off"

Sensor = tuple[int, int, int]
Binner = Callable[[np.ndarray], np.ndarray]


def downsampled_size(sensor_size: Sensor, downsample: int) -> Sensor:
    """``(C, ceil(H / d), ceil(W / d))``: the frame shape after spatial downsampling."""
    channels, height, width = sensor_size
    return (channels, math.ceil(height / downsample), math.ceil(width / downsample))


def make_binner(sensor_size: Sensor, time_bins: int, downsample: int, clip: int) -> Binner:
    """A function ``events -> uint8 [T, C, H, W]`` for recordings of ``sensor_size`` (C, H, W)."""
    from tonic import transforms

    channels, height, width = downsampled_size(sensor_size, downsample)
    shrink = transforms.Downsample(spatial_factor=1 / downsample) if downsample > 1 else None
    to_frame = transforms.ToFrame(sensor_size=(width, height, channels), n_time_bins=time_bins)
    empty = np.zeros((time_bins, channels, height, width), dtype=np.uint8)

    def bin_events(events: np.ndarray) -> np.ndarray:
        if len(events) == 0:
            return empty.copy()
        counts = to_frame(shrink(events) if shrink is not None else events)  # [T, P, H, W]
        return np.minimum(counts, clip).astype(np.uint8)

    return bin_events


def build_frames(recordings: Recordings, indices: np.ndarray, binner: Binner,
                 corruption: Corruption | None, seed: int, progress: bool) -> np.ndarray:
    """Read, corrupt and bin the recordings at ``indices`` into ``uint8 [N, T, C, H, W]``."""
    frames = []
    bar = tqdm(total=len(indices), desc=f"{recordings.name}: reading and binning",
               unit="rec", file=sys.stderr, disable=bar_disabled(progress), leave=False)
    with bar:
        events_iter = recordings.read_events([int(i) for i in indices])
        for index, events in zip(indices, events_iter, strict=True):
            check_in_sensor(events, recordings.sensor_size, f"{recordings.name}[{index}]")
            if corruption is not None:
                events = corruption.apply(events, recordings.sensor_size, seed, int(index))
            frames.append(binner(events))
            bar.update(1)
    return np.stack(frames)


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | bool | None) -> Path | None:
    """The frame cache directory, or None when caching is off.

    ``None`` (or ``True``) means ``$SASTC_CACHE_DIR`` if set, else ``~/.cache/sastc/frames``.
    Caching is off for ``cache_dir=False`` or when that directory is spelled ``off``.
    """
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        cache_dir = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sastc" / "frames"
    return None if str(cache_dir) == CACHE_OFF else Path(cache_dir).expanduser()


def cache_key(description: dict) -> str:
    """SHA-256 of everything that changes the frames (JSON, sorted keys)."""
    text = json.dumps({"format": CACHE_FORMAT_VERSION, **description}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(directory: Path, dataset: str, split: str, key: str) -> Path:
    """Where the frames of one key live: ``<dir>/<dataset>-<split>-<key[:24]>.npz``."""
    return directory / f"{dataset}-{split}-{key[:24]}.npz"


def read_cache(path: Path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(frames, labels)`` from the cache file, or None if it is absent.

    An unreadable, corrupt or mismatching file gives a warning and None (it is rebuilt).
    """
    if not path.is_file():
        return None
    try:
        return _read_npz(path, key)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, DataError) as exc:
        warnings.warn(f"frame cache {path} is unreadable ({exc}); rebuilding it",
                      RuntimeWarning, stacklevel=3)
        return None


def _read_npz(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        if str(data["key"]) != key:
            raise DataError(f"cache key {str(data['key'])[:12]}... does not match {key[:12]}...")
        shape = tuple(int(d) for d in data["shape"])
        stored, packed, labels = data["frames"], bool(data["packed"]), data["labels"]
    if len(shape) != 5 or (packed and stored.size * 8 < math.prod(shape)):
        raise DataError(f"{stored.size} packed bytes cannot hold frames of shape {shape}")
    frames = np.unpackbits(stored, count=math.prod(shape)) if packed else stored
    if frames.dtype != np.uint8 or labels.dtype != np.int64 or labels.shape != shape[:1]:
        raise DataError(f"frames {frames.dtype} / labels {labels.dtype} {labels.shape} do not "
                        f"match the expected uint8 frames and int64 [{shape[0]}] labels")
    return frames.reshape(shape), labels


def write_cache(path: Path, key: str, frames: np.ndarray, labels: np.ndarray,
                meta: dict) -> None:
    """Store frames atomically; binary frames (all 0/1) are bit-packed."""
    packed = bool(frames.max(initial=0) <= 1)
    stored = np.packbits(frames.ravel()) if packed else frames

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, key=np.array(key), shape=np.array(frames.shape, dtype=np.int64),
                     packed=np.array(packed), frames=stored, labels=labels.astype(np.int64),
                     meta=np.array(json.dumps(meta, default=str)))

    write_atomic(path, write)
