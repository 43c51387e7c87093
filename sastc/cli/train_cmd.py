"""``sastc train`` and ``sastc sweep``."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from sastc.cli.options import collect_data_options, data_options, number_list
from sastc.train.config import MODES, OPTIMIZERS, SAM_BATCHES, SCHEDULES, TrainConfig
from sastc.train.steepness import parse_steepness


def training_options(function):
    """Model and optimisation options shared by train and sweep."""
    decorators = [
        click.option("--arch", default=None,
                     help='Layers, e.g. "conv(16, 5, stride=2) conv(32, 3, stride=2) readout".'),
        click.option("--steepness", "-k", default=None, metavar="K|auto",
                     help="Surrogate sigmoid steepness k, or auto: raised from 2 to 25 during "
                          "training, the validation split choosing the epoch (default for "
                          "datasets without a tuned preset)."),
        click.option("--sam-batch", type=click.Choice(SAM_BATCHES), default="independent",
                     show_default=True, help="Second SAM gradient on an independent or the same batch."),
        click.option("--ascent-fraction", type=float, default=None, metavar="F",
                     help="SAST's first (ascent) gradient on this share of the minibatch, "
                          "in (0, 1]: a step then costs 1 + F gradient evaluations "
                          "(default 0.5; 1 is the papers' SAST)."),
        click.option("--compute-matched", is_flag=True,
                     help="Give rho-0 baselines the gradient evaluations of a SAST run: "
                          "(1 + F) x the epochs, rounded up, F the --ascent-fraction "
                          "(default 0.5)."),
        click.option("--epochs", type=int, default=None, help="Epochs (dataset preset if omitted)."),
        click.option("--batch-size", type=int, default=None),
        click.option("--lr", type=float, default=None, help="Learning rate."),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adam", show_default=True),
        click.option("--momentum", type=float, default=0.9, show_default=True, help="SGD momentum."),
        click.option("--weight-decay", type=float, default=0.0, show_default=True),
        click.option("--schedule", type=click.Choice(SCHEDULES), default="cosine", show_default=True),
        click.option("--init-gain", type=float, default=None, help="Initial weight gain."),
        click.option("--augment-shift", type=int, default=None,
                     help="Random translation of training samples, in pixels."),
        click.option("--train-limit", type=int, default=None,
                     help="Use only this many training samples (class-stratified)."),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True),
        click.option("--threads", type=int, default=None,
                     help="CPU threads (default: from the free cores and the work's size; logged)."),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def make_config(kwargs: dict[str, Any], data: dict[str, Any]) -> TrainConfig:
    """A validated TrainConfig from CLI values, the dataset preset filling the gaps."""
    from sastc.train.presets import apply_preset

    dataset = data["dataset"] or "synthetic"
    user = {**kwargs, **data, "dataset": dataset}
    options = apply_preset(dataset, user)
    if user.get("mode", "sast") != "sast":
        options["rho"] = user.get("rho")
    return TrainConfig.from_dict({k: v for k, v in options.items() if v is not None})


def run_label(config: TrainConfig) -> str:
    """``rho 0.2, ascent on 0.5 of each batch`` for SAST; a compute-matched baseline names
    its epochs and the SAST step it matches."""
    label = f"rho {config.rho_label}"
    if config.mode == "sast" and config.ascent_fraction != 1:
        label += f", ascent on {config.ascent_fraction:g} of each batch"
    if config.compute_matched and config.mode != "sast":
        label += (f", compute-matched: {config.total_epochs} epochs, the gradient evaluations "
                  f"of SAST with ascent fraction {config.ascent_fraction:g}")
    return label


def default_out(config: TrainConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = f"{config.mode}-rho{config.rho_label}" if config.mode == "sast" else config.mode
    return f"runs/{config.dataset}-{tag}-s{config.seed}-{stamp}"


@click.command("train")
@data_options
@training_options
@click.option("--mode", type=click.Choice(MODES), default="sast", show_default=True,
              help="sast: surrogate forward + SAM; surrogate: rho 0; conventional: hard forward, "
                   "surrogate backward.")
@click.option("--rho", default=None, metavar="RHO|auto",
              help="SAM radius (sast only; preset 0.2), or auto: pilot runs choose it on the "
                   "validation split.")
@click.option("--search-budget", type=float, default=None,
              help="--rho auto: the pilots' gradient evaluations as a fraction of the main "
                   "run's (default 1).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run directory (default runs/<dataset>-<mode>-<time>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_command(resume: bool, as_json: bool, **kwargs: Any) -> None:
    """Train a LIF network (SAST by default) and write checkpoint, metrics and curves."""
    from sastc.train.run import train

    data = collect_data_options(kwargs)
    config = make_config(kwargs, data)
    if config.out_dir == TrainConfig.out_dir:
        config.out_dir = default_out(config)
    if resume and kwargs.get("out_dir") is None:
        raise click.UsageError("--resume needs --out pointing at the run to continue")
    click.echo(f"training {config.mode} ({run_label(config)}) on {config.dataset} "
               f"-> {config.out_dir}", err=True)
    metrics = train(config, resume=resume, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(metrics, indent=2))


@click.command("sweep")
@data_options
@training_options
@click.option("--rho", "rhos", default="0,0.02,0.05,0.1,0.2", show_default=True,
              help="Comma-separated rho values (0 = surrogate baseline).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--conventional/--no-conventional", default=True, show_default=True,
              help="Also train the conventional (hard forward) baseline per seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/sweep",
              show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Trainings run side by side (default: as many as free cores and memory allow).")
def sweep_command(rhos: str, seeds: str, conventional: bool, out_dir: str, jobs: int | None,
                  **kwargs: Any) -> None:
    """Train rho values x seeds (x k values: -k 3,10,auto) and plot surrogate and hard
    accuracy against rho (and against k)."""
    from sastc.train.sweep import run_sweep

    data = collect_data_options(kwargs)
    rho_values = number_list(rhos, "--rho", float)
    seed_values = number_list(seeds, "--seeds", int)
    k_text = kwargs.pop("steepness")
    k_values = None if k_text is None else [parse_steepness(k.strip())
                                            for k in k_text.split(",") if k.strip()]
    run_sweep(kwargs, data, rho_values, seed_values, conventional, out_dir,
              log=lambda line: click.echo(line, err=True), steepness=k_values, jobs=jobs)
