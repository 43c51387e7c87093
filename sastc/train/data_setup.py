"""Data and architecture for a training run, from its configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sastc.data import DATASETS, load_frames
from sastc.data.base import FrameSet
from sastc.errors import ConfigError
from sastc.spec import ArchSpec, parse_arch
from sastc.train.config import TrainConfig


@dataclass
class TrainingData:
    """Train and test splits of one dataset."""

    name: str
    train: FrameSet
    test: FrameSet
    options: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records so eval/compile can reload matching data."""
        return {**self.options, "name": self.name, "time_bins": self.train.time_bins,
                "classes": list(self.train.classes), "input_clip": 1,
                "sample_shape": list(self.train.sample_shape)}


def data_options(config: TrainConfig) -> dict[str, Any]:
    """Options that decide the frames (also what eval/compile need to load the same data)."""
    return {"data_dir": config.data_dir, "time_bins": config.time_bins,
            "downsample": config.downsample, "synthetic": dict(config.synthetic)}


def load_training_data(config: TrainConfig, progress: bool = True) -> TrainingData:
    if config.dataset not in DATASETS:
        raise ConfigError(f"--dataset {config.dataset!r} is unknown; available: "
                          f"{', '.join(sorted(DATASETS))}")
    options = data_options(config)
    common = {"data_dir": config.data_dir, "time_bins": config.time_bins,
              "downsample": config.downsample, "cache_dir": config.cache_dir,
              "download": config.download, "progress": progress,
              "synthetic": config.synthetic or None}
    train = load_frames(config.dataset, "train", limit=config.train_limit, **common)
    test = load_frames(config.dataset, "test", **common)
    return TrainingData(config.dataset, train, test, options)


def build_spec(config: TrainConfig, data: TrainingData) -> ArchSpec:
    arch = config.arch or DATASETS[data.name].default_arch
    if not arch:
        raise ConfigError(f"--arch is required for dataset {data.name!r} (no default architecture)")
    return parse_arch(arch, data.train.sample_shape, data.train.num_classes, config.steepness)
