"""``sastc sweep``: rho x steepness k x seeds (and conventional baselines), table and plots.

``k`` values are numbers or ``auto`` (``sastc.train.steepness``); ``None`` means the
dataset preset's. With more than one ``k`` the sweep also plots accuracy against k.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sastc import threads
from sastc.atomic import write_text_atomic
from sastc.plots import plot_k_sweep, plot_rho_sweep
from sastc.train.run import train
from sastc.train.sweep_jobs import Job, choose_jobs, run_jobs

Log = Callable[[str], None]
SUMMARY_KEYS = ("surrogate_accuracy", "hard_accuracy", "transfer_gap")


def sweep_configs(rhos: list[float], seeds: list[int], conventional: bool,
                  steepness: list[float | str | None] | None = None) -> list[dict[str, Any]]:
    """One entry per run: rho 0 is the surrogate baseline, rho > 0 is SAST; every
    (rho, k) pair per seed. Conventional baselines run once per seed (preset k)."""
    ks = steepness or [None]
    runs = [{"mode": "sast" if rho > 0 else "surrogate", "rho": rho, "steepness": k,
             "seed": seed} for rho in rhos for k in ks for seed in seeds]
    if conventional:
        runs += [{"mode": "conventional", "rho": 0.0, "steepness": None, "seed": seed}
                 for seed in seeds]
    return runs


def run_name(run: dict[str, Any]) -> str:
    """The run's folder name, e.g. ``sast-rho0.2-kauto-seed1``."""
    k = run.get("steepness")
    k = "" if k is None else f"-k{k}" if isinstance(k, str) else f"-k{k:g}"
    return f"{run['mode']}-rho{run['rho']:g}{k}-seed{run['seed']}"


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per (mode, rho)."""
    groups: dict[tuple[str, float, Any], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["rho"], row.get("steepness")), []).append(row)
    table = []
    for (mode, rho, k), members in groups.items():
        entry: dict[str, Any] = {"mode": mode, "rho": rho, "steepness": k,
                                 "seeds": len(members)}
        for key in SUMMARY_KEYS:
            values = [m[key] for m in members]
            entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        table.append(entry)
    return table


def run_sweep(train_options: dict[str, Any], data: dict[str, Any], rhos: list[float],
              seeds: list[int], conventional: bool, out_dir: str, log: Log = print,
              steepness: list[float | str | None] | None = None,
              jobs: int | None = None) -> Path:
    """Train every run (``jobs`` at a time; None: as many as free cores, memory and the
    runs' size allow, see :mod:`sastc.train.sweep_jobs`), then write ``sweep.json`` and the
    plots."""
    root = Path(out_dir)
    runs = sweep_configs(rhos, seeds, conventional, steepness)
    planned = [_job(run, train_options, data, root) for run in runs]
    state = threads.machine()
    count = choose_jobs(jobs, planned, state)
    if count > 1:
        log(f"sweep: {len(planned)} runs, {count} at a time ({state.describe()})")
        results = run_jobs(planned, count, state, log)
    else:
        results = [_train_in_process(job, log) for job in planned]
    rows = [{**run, **{k: metrics[k] for k in SUMMARY_KEYS}, "samples": metrics["samples"],
             "selected_epoch": metrics.get("selected_epoch"),
             "grad_evals": _grad_evals(root / job.name)}
            for run, job, metrics in zip(runs, planned, results, strict=True)]
    result = {"runs": rows, "summary": summarise(rows)}
    write_text_atomic(root / "sweep.json", json.dumps(result, indent=2))
    plot_rho_sweep(rows, root / "rho_sweep.png")
    if len(steepness or []) > 1:
        plot_k_sweep(rows, root / "k_sweep.png")
    for entry in result["summary"]:
        k = "" if entry["steepness"] is None else f" k {entry['steepness']}"
        log(f"{entry['mode']:>12} rho {entry['rho']:<5g}{k} surrogate "
            f"{entry['surrogate_accuracy']['mean']:.1f}±{entry['surrogate_accuracy']['std']:.1f}  "
            f"hard {entry['hard_accuracy']['mean']:.1f}±{entry['hard_accuracy']['std']:.1f}  "
            f"gap {entry['transfer_gap']['mean']:+.1f}")
    return root / "sweep.json"


def _job(run: dict[str, Any], train_options: dict[str, Any], data: dict[str, Any],
         root: Path) -> Job:
    from sastc.cli.train_cmd import make_config

    name = run_name(run)
    options = {**train_options, **run, "out_dir": str(root / name)}
    if run["mode"] != "sast" and not options.get("compute_matched"):
        options["ascent_fraction"] = None  # a baseline with no SAST step to match
    if run["steepness"] is None:
        options["steepness"] = train_options.get("steepness")
    return Job(name, make_config(options, data), (root / name / "checkpoint.pt").exists())


def _train_in_process(job: Job, log: Log) -> dict[str, Any]:
    log(job.announce())
    return train(job.config, resume=job.resume, log=log)


def _grad_evals(run_dir: Path) -> float:
    """Gradient evaluations the run spent (every epoch's, from its metrics file)."""
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return sum(float(json.loads(line).get("grad_evals", 0)) for line in lines if line.strip())
