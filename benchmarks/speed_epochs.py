"""SAST's cost per epoch against rho 0: real epochs of ``sastc.train.epoch.run_epoch``,
interleaved, for ``benchmarks/train_speed.py``'s second part."""

from __future__ import annotations

import statistics
from typing import Any

from speed_timing import paired_ratio

from sastc.data.base import FrameSet
from sastc.train.config import TrainConfig
from sastc.train.data_setup import TrainingData
from sastc.train.distributed import Dist
from sastc.train.epoch import run_epoch
from sastc.train.run import new_run
from sastc.train.sam import SAM

EPOCH_CONFIGS = {
    "surrogate (rho=0)": {"mode": "surrogate"},
    "sast (default)": {"mode": "sast"},
    "sast same batch": {"mode": "sast", "sam_batch": "same"},
    "sast papers' step": {"mode": "sast", "ascent_fraction": 1.0},
}


def epoch_seconds(config: TrainConfig, data: FrameSet) -> float:
    """Wall time of one ``run_epoch`` (fresh model, optimizer and schedule from the seed)."""
    training = TrainingData("synthetic", data, None, data, {})
    run = new_run(config, training, max(len(data) // config.batch_size, 1))
    sam = SAM(list(run.model.parameters()), config.effective_rho) if config.effective_rho else None
    result = run_epoch(run.model, run.optimizer, run.scheduler, sam, data, config, Dist(),
                       run.generator, "benchmark")
    return result.seconds


def epoch_costs(data: FrameSet, batch_size: int, seed: int, repeats: int,
                arch: str | None = None, configs: dict[str, dict[str, Any]] = EPOCH_CONFIGS
                ) -> dict[str, Any]:
    """Median epoch seconds per config over interleaved repeats (after one untimed epoch),
    and the ratio to the first config (rho = 0), also paired per repeat. The other
    options are sastc's defaults (Adam, lr 2e-3, cosine schedule, rho 0.2, SAST's ascent on
    half the minibatch; ``--ascent-fraction 1``, the papers' step, is timed too)."""
    base = {"dataset": "synthetic", "arch": arch, "epochs": 1, "batch_size": batch_size,
            "seed": seed, "progress": False}
    built = {name: TrainConfig(**base, **options) for name, options in configs.items()}
    names = list(configs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    epoch_seconds(built[names[0]], data)  # warm-up
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            seconds[name].append(epoch_seconds(built[name], data))
    reference = seconds[names[0]]
    return {
        "samples": len(data), "steps": len(data) // batch_size,
        "seconds": {n: {"median": statistics.median(s), "min": min(s), "max": max(s), "all": s}
                    for n, s in seconds.items()},
        "ratio_vs_rho0": {n: statistics.median(seconds[n]) / statistics.median(reference)
                          for n in names[1:]},
        "paired_ratio_vs_rho0": {n: paired_ratio(reference, seconds[n]) for n in names[1:]},
    }
