"""Data and architecture for a training run, from its configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sastc.data import DATASETS
from sastc.data.base import FrameSet
from sastc.data.recorded import load_recorded_frames
from sastc.errors import ConfigError
from sastc.spec import ArchSpec, parse_arch
from sastc.train.config import TrainConfig
from sastc.train.steepness import initial_steepness


@dataclass
class TrainingData:
    """Train, validation (None without one) and test splits of one dataset."""

    name: str
    train: FrameSet
    val: FrameSet | None
    test: FrameSet
    options: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records so eval/compile can reload matching data, and how
        events became frames (``binning``: what firmware needs to bin live events)."""
        meta = self.train.meta
        channels, height, width = meta["sensor_size"]
        window_ms = meta.get("window_ms")
        binning = {"sensor_width": int(width), "sensor_height": int(height),
                   "channels": int(channels), "downsample": int(meta["downsample"]),
                   "clip": int(meta["clip"]), "time_bins": self.train.time_bins,
                   "window_us": None if window_ms is None else round(window_ms * 1000)}
        return {**self.options, "name": self.name, "time_bins": self.train.time_bins,
                "classes": list(self.train.classes), "input_clip": 1,
                "sample_shape": list(self.train.sample_shape), "binning": binning}


def data_options(config: TrainConfig) -> dict[str, Any]:
    """Options that decide the frames (also what eval/compile need to load the same data)."""
    return {"data_dir": config.data_dir, "time_bins": config.time_bins,
            "downsample": config.downsample, "synthetic": dict(config.synthetic),
            "window_ms": config.window_ms, "test_fraction": config.test_fraction,
            "val_fraction": config.val_fraction,
            "sensor_size": None if config.sensor_size is None else list(config.sensor_size)}


def load_training_data(config: TrainConfig, progress: bool = True) -> TrainingData:
    """The splits of ``config``'s dataset (``val`` when ``--val-fraction`` is above 0)."""
    if config.dataset not in DATASETS:
        raise ConfigError(f"--dataset {config.dataset!r} is unknown; available: "
                          f"{', '.join(sorted(DATASETS))}")
    options = data_options(config)
    data = {**options, "name": config.dataset, "cache_dir": config.cache_dir,
            "download": config.download}
    train = load_recorded_frames(data, "train", progress=progress, limit=config.train_limit)
    val = load_recorded_frames(data, "val", progress=progress) if config.val_fraction else None
    test = load_recorded_frames(data, "test", progress=progress)
    return TrainingData(config.dataset, train, val, test, options)


def describe_splits(data: TrainingData) -> str:
    """One line: dataset, classes and the size of each split (empty samples counted)."""
    splits = [("train", data.train), ("val", data.val), ("test", data.test)]
    sizes = ", ".join(f"{name} {len(frames)}" + _empty_note(frames)
                      for name, frames in splits if frames is not None)
    classes = ", ".join(data.train.classes)
    window = data.train.meta.get("window_ms")
    cut = f", {window:g} ms windows" if window else ""
    return (f"data: {data.name}, {data.train.num_classes} classes ({_shorten(classes)})"
            f"{cut}, frames {list(data.train.frames.shape[1:])}; {sizes}")


def _empty_note(frames: FrameSet) -> str:
    empty = int(frames.meta.get("empty_samples", 0))
    return f" ({empty} without events)" if empty else ""


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def build_spec(config: TrainConfig, data: TrainingData) -> ArchSpec:
    arch = config.arch or DATASETS[data.name].default_arch
    if not arch:
        raise ConfigError(f"--arch is required for dataset {data.name!r} (no default architecture)")
    return parse_arch(arch, data.train.sample_shape, data.train.num_classes,
                      initial_steepness(config.steepness, config.mode))
