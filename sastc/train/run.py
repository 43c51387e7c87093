"""``sastc train``: the whole run, from data to the final checkpoint.

Every epoch ends with an evaluation on the test split and an atomic
checkpoint, so a run killed mid-epoch loses at most that epoch and
``--resume`` continues it with the same batch order. A non-finite loss stops
the run, keeps the last good checkpoint and says so.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from sastc import threads
from sastc.allocator import tune_allocator
from sastc.atomic import write_text_atomic
from sastc.errors import ConfigError, TrainingDiverged
from sastc.lock import claim_folder
from sastc.progress import bar_disabled
from sastc.resources import check_training
from sastc.train import distributed
from sastc.train.checkpoint import (
    check_resumable,
    checkpoint_spec,
    load_checkpoint,
    save_checkpoint,
)
from sastc.train.config import TrainConfig
from sastc.train.data_setup import (
    TrainingData,
    build_spec,
    describe_splits,
    load_training_data,
)
from sastc.train.epoch import EpochResult, run_epoch
from sastc.train.evaluate import evaluate
from sastc.train.model import SpikingNet, init_weights
from sastc.train.sam import SAM
from sastc.train.scan.describe import describe_backend
from sastc.train.search import resolve_rho
from sastc.train.selection import (
    is_new_best,
    selection_line,
    snapshot,
    validation_metrics,
    validation_score,
)
from sastc.train.steepness import AUTO, steepness_for_epoch

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"
Log = Callable[[str], None]


@dataclass
class Run:
    """Everything that changes while training."""

    model: SpikingNet
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None   # the kept epoch: weights and metrics (selection.py)
    search: dict[str, Any] | None = None  # the --rho auto search that chose rho (search.py)


def make_optimizer(model: SpikingNet, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               nesterov=config.momentum > 0, weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier per step: cosine to zero, x0.1 at 50% and 75%, or constant."""
    def cosine(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))

    def step_decay(step: int) -> float:
        return 0.1 ** sum(step >= total_steps * f for f in (0.5, 0.75))

    return {"cosine": cosine, "step": step_decay, "constant": lambda _: 1.0}[schedule]


def new_run(config: TrainConfig, data: TrainingData, steps_per_epoch: int) -> Run:
    torch.manual_seed(config.seed)
    model = SpikingNet(build_spec(config, data), config.spike_mode)
    init_weights(model, config.init_gain, config.seed)
    optimizer = make_optimizer(model, config)
    total_steps = steps_per_epoch * config.total_epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config.schedule,
                                                                       total_steps))
    return Run(model, optimizer, scheduler, torch.Generator().manual_seed(config.seed))


def restore(run: Run, saved: dict[str, Any]) -> None:
    """Load model, optimizer, schedule and RNG state from a checkpoint."""
    run.model.load_state_dict(saved.get("last_state_dict") or saved["state_dict"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.scheduler.load_state_dict(saved["scheduler"])
    run.generator.set_state(saved["rng"]["generator"])
    torch.set_rng_state(saved["rng"]["torch"])
    run.epoch = int(saved["epoch"])
    run.history = list(saved.get("history", []))
    run.best = saved.get("best")


def checkpoint_content(run: Run, config: TrainConfig, data: TrainingData,
                       complete: bool) -> dict[str, Any]:
    """The run's state; a complete run's ``state_dict`` and ``metrics`` are the kept epoch's
    (``selected``), the last epoch's weights staying under ``last_state_dict``."""
    content = {"spec": run.model.spec.to_dict(), "dataset": data.describe(),
               "config": config.to_dict(), "state_dict": run.model.state_dict(),
               "epoch": run.epoch, "complete": complete,
               "metrics": run.history[-1] if run.history else {}, "history": run.history,
               "best": run.best, "rho_search": run.search,
               "optimizer": run.optimizer.state_dict(),
               "scheduler": run.scheduler.state_dict(),
               "rng": {"generator": run.generator.get_state(), "torch": torch.get_rng_state()}}
    if complete and run.best is not None:
        kept_k = run.best["metrics"].get("steepness", run.model.spec.steepness)
        content.update(spec=replace(run.model.spec, steepness=kept_k).to_dict(),
                       last_state_dict=content["state_dict"], state_dict=run.best["state_dict"],
                       metrics=run.best["metrics"],
                       selected={"epoch": run.best["epoch"],
                                 "reason": selection_line(run.best, config.total_epochs,
                                                          data.val is not None)})
    return content


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(entry) + "\n" for entry in history)
    write_text_atomic(out_dir / METRICS_NAME, lines)


def set_epoch_steepness(model: SpikingNet, config: TrainConfig, epoch: int) -> None:
    """Apply the steepness schedule (``-k auto``) for ``epoch``; fixed k leaves the model."""
    if config.steepness == AUTO and config.mode != "conventional":
        k = steepness_for_epoch(AUTO, epoch, config.total_epochs)
        model.spec = replace(model.spec, steepness=k)


def epoch_line(entry: dict[str, Any], total: int) -> str:
    val = (f"val hard {entry['val_hard_accuracy']:.1f}%  " if "val_hard_accuracy" in entry
           else "")
    return (f"epoch {entry['epoch']}/{total}  loss {entry['loss']:.4f}  "
            f"train {entry['train_accuracy']:.1f}%  {val}test surrogate "
            f"{entry['surrogate_accuracy']:.1f}%  hard {entry['hard_accuracy']:.1f}%  "
            f"gap {entry['transfer_gap']:+.1f}  k {entry['steepness']:.3g}  "
            f"({entry['seconds']:.1f} s{_rate(entry)})")


def _rate(entry: dict[str, Any]) -> str:
    """``", 812 samples/s"`` where the entry has a training throughput (older runs: none)."""
    rate = entry.get("samples_per_s")
    return f", {rate:,.0f} samples/s" if rate else ""


def train(config: TrainConfig, resume: bool = False, log: Log = print) -> dict[str, Any]:
    """Train per ``config`` (``--rho auto``: after the radius search); returns the kept
    epoch's test metrics, with the gradient evaluations spent (``total_grad_evals``
    includes the search's)."""
    dist = distributed.setup(config.device)
    try:  # rank 0 owns the run folder (lock, writability, stale temporary files)
        with claim_folder(config.out_dir) if dist.is_main else contextlib.nullcontext():
            if config.rho == AUTO:  # bad data fails here, before any pilot starts
                log(describe_splits(load_training_data(config, config.progress and dist.is_main)))
            config, search = resolve_rho(config, _train_pilot, log)
            metrics = _train(config, resume, log, dist, search)
    finally:
        distributed.teardown(dist)
    searched = search["grad_evals"] if search else 0
    return {**metrics, "total_grad_evals": metrics["run_grad_evals"] + searched}


def _train_pilot(pilot: TrainConfig) -> dict[str, Any]:
    """One pilot of the radius search, resumed if it was interrupted."""
    return train(pilot, resume=(Path(pilot.out_dir) / CHECKPOINT_NAME).exists(),
                 log=lambda _: None)


def _prepare(config: TrainConfig, resume: bool, dist: distributed.Dist,
             log: Log) -> tuple[Path, TrainingData, Run]:
    out_dir = Path(config.out_dir)
    path = out_dir / CHECKPOINT_NAME
    if config.batch_size % dist.world:
        raise ConfigError(f"--batch-size {config.batch_size} must be divisible by the number of "
                          f"processes ({dist.world})")
    if path.exists() and not resume:
        raise ConfigError(f"{out_dir} already holds a training run ({path}); pass --resume to "
                          "continue it, or choose another --out directory")
    check_training(config)  # frames and activations must fit before any data is read
    tune_allocator()
    data = load_training_data(config, progress=config.progress and dist.is_main)
    if dist.is_main:
        log(describe_splits(data))
    steps = max(len(data.train) // config.batch_size, 1)
    run = new_run(config, data, steps)
    threads.configure("train", threads.training_work(run.model.spec, data.train.time_bins,
                                                     config.batch_size),
                      config.threads, jobs=dist.world, log=log if dist.is_main else (lambda _: None))
    if resume and path.exists():
        saved = load_checkpoint(path)
        check_resumable(saved, config, path)
        if replace(checkpoint_spec(saved), steepness=1.0) != replace(run.model.spec,
                                                                      steepness=1.0):
            raise ConfigError(f"--resume: the architecture in {path} differs from this run's")
        restore(run, saved)
        run.model.spec = checkpoint_spec(saved)
    run.model.to(dist.device)
    if dist.is_main:
        log(f"LIF scan: {describe_backend(dist.device)}")
    return out_dir, data, run


def _train_epoch(trained: torch.nn.Module, run: Run, sam: SAM | None, data: TrainingData,
                 config: TrainConfig, dist: distributed.Dist, path: Path) -> EpochResult:
    """One epoch of updates; a diverged loss says which checkpoint is kept."""
    label = f"epoch {run.epoch + 1}/{config.total_epochs}"
    try:
        return run_epoch(trained, run.optimizer, run.scheduler, sam, data.train, config, dist,
                         run.generator, label, run.history[0]["loss"] if run.history else None)
    except TrainingDiverged as exc:
        kept = (f"the last good checkpoint (epoch {run.epoch}) is kept at {path}"
                if path.exists() else "no checkpoint had been written yet")
        raise TrainingDiverged(f"{exc} during epoch {run.epoch + 1}; training stopped and "
                               f"{kept}. Try a lower --lr or --rho.") from exc


def _epoch_entry(run: Run, result: EpochResult, data: TrainingData,
                 device: torch.device | str) -> dict[str, Any]:
    """The epoch's log entry: its training figures, test (and validation) metrics."""
    metrics = evaluate(run.model, data.test, device=device)
    if data.val is not None:
        metrics |= validation_metrics(run.model, data.val, device)
    entry = {"epoch": run.epoch, "loss": result.loss, "train_accuracy": result.train_accuracy,
             "seconds": result.seconds, "steps": result.steps,
             "samples_per_s": result.samples_per_s,
             "grad_evals": result.grad_evals, "lr": run.scheduler.get_last_lr()[0],
             "steepness": run.model.spec.steepness, **metrics}
    if data.val is not None:
        entry["val_hard_score"] = validation_score([*run.history, entry])
    return entry


def _train(config: TrainConfig, resume: bool, log: Log, dist: distributed.Dist,
           search: dict[str, Any] | None = None) -> dict[str, Any]:
    out_dir, data, run = _prepare(config, resume, dist, log)
    run.search = search
    if run.epoch and dist.is_main:
        log(f"resuming {out_dir} after epoch {run.epoch}/{config.total_epochs}")
    trained = (DistributedDataParallel(run.model) if dist.enabled else run.model)
    sam = SAM(list(run.model.parameters()), config.effective_rho) if config.effective_rho else None
    path = out_dir / CHECKPOINT_NAME
    bar = tqdm(total=config.total_epochs, initial=run.epoch, desc="training", unit="epoch",
               disable=bar_disabled(config.progress and dist.is_main), file=sys.stderr)
    if not bar.disable:  # epoch lines go above the bars instead of breaking them
        log = partial(tqdm.write, file=sys.stderr)
    while run.epoch < config.total_epochs:
        set_epoch_steepness(run.model, config, run.epoch + 1)
        result = _train_epoch(trained, run, sam, data, config, dist, path)
        run.epoch += 1
        entry = _epoch_entry(run, result, data, dist.device)
        run.history.append(entry)
        if is_new_best(entry, run.best):
            run.best = snapshot(run.model, entry)
        if dist.is_main:
            log(epoch_line(entry, config.total_epochs))
            save_checkpoint(path, checkpoint_content(run, config, data,
                                                     run.epoch >= config.total_epochs))
            write_metrics(out_dir, run.history)
        bar.update()
        dist.barrier()
    bar.close()
    if dist.is_main:
        _finish(out_dir, run, config, data, log)
    kept = run.best["metrics"] if run.best is not None else run.history[-1]
    return {**kept, "selected_epoch": kept["epoch"], "epochs": config.total_epochs,
            "rho": config.effective_rho, "rho_search": search,
            "run_grad_evals": sum(float(entry["grad_evals"]) for entry in run.history)}


def _finish(out_dir: Path, run: Run, config: TrainConfig, data: TrainingData, log: Log) -> None:
    path = out_dir / CHECKPOINT_NAME
    save_checkpoint(path, checkpoint_content(run, config, data, True))
    write_metrics(out_dir, run.history)
    from sastc.plots import plot_training_curves

    plot_training_curves(run.history, out_dir / "curves.png")
    kept = run.best["metrics"] if run.best is not None else run.history[-1]
    if run.best is not None:
        log(selection_line(run.best, config.total_epochs, data.val is not None))
    log(f"done: surrogate {kept['surrogate_accuracy']:.1f}%, hard {kept['hard_accuracy']:.1f}% "
        f"(gap {kept['transfer_gap']:+.1f} points) on {kept['samples']} test samples; "
        f"checkpoint {path}")
