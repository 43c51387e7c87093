"""The dataset options a checkpoint or build recorded, merged with what a command is given.

``sastc train`` records the options that decide the frames; ``eval``, ``compile`` and
``simulate`` reload the same data from them, each option given on their command line
taking precedence. Naming another dataset drops every recorded option.

>>> recorded = {"name": "folder", "data_dir": "objects", "window_ms": 300.0, "time_bins": 10}
>>> merged = merge_data_options(recorded, {"dataset": None, "time_bins": 20})
>>> merged["name"], merged["data_dir"], merged["window_ms"], merged["time_bins"]
('folder', 'objects', 300.0, 20)
>>> merge_data_options(recorded, {"dataset": "nmnist"})["window_ms"] is None
True
"""

from __future__ import annotations

from typing import Any

from sastc.data import load_frames
from sastc.data.base import FrameSet

RECORDED_KEYS = ("data_dir", "time_bins", "downsample", "synthetic", "window_ms",
                 "test_fraction", "val_fraction", "sensor_size")


def merge_data_options(recorded: dict[str, Any] | None,
                       overrides: dict[str, Any]) -> dict[str, Any]:
    """``{"name", *RECORDED_KEYS, "cache_dir", "download"}`` for reloading the data."""
    recorded = recorded or {}
    name = overrides.get("dataset") or recorded.get("name")
    same = name == recorded.get("name")
    merged: dict[str, Any] = {"name": name}
    for key in RECORDED_KEYS:
        value = overrides.get(key)
        merged[key] = value if value not in (None, {}) else (recorded.get(key) if same else None)
    merged["cache_dir"] = overrides.get("cache_dir")
    merged["download"] = bool(overrides.get("download"))
    return merged


def load_recorded_frames(data: dict[str, Any], split: str, *, progress: bool = True,
                         limit: int | None = None, corruption: str | None = None,
                         time_bins: int | None = None) -> FrameSet:
    """The frames of ``split`` for merged options (``time_bins`` fills a missing value)."""
    sensor = data.get("sensor_size")
    return load_frames(
        data["name"], split, data_dir=data.get("data_dir"),
        time_bins=data.get("time_bins") or time_bins, downsample=data.get("downsample"),
        cache_dir=data.get("cache_dir"), download=bool(data.get("download")),
        synthetic=data.get("synthetic") or None, limit=limit, progress=progress,
        corruption=corruption, val_fraction=data.get("val_fraction") or 0.0,
        window_ms=data.get("window_ms"), test_fraction=data.get("test_fraction"),
        sensor_size=None if sensor is None else tuple(sensor))
