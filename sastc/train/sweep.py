"""``sastc sweep``: rho x seeds (and conventional baselines), summary table and plot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sastc.atomic import write_text_atomic
from sastc.plots import plot_rho_sweep
from sastc.train.run import train

Log = Callable[[str], None]
SUMMARY_KEYS = ("surrogate_accuracy", "hard_accuracy", "transfer_gap")


def sweep_configs(rhos: list[float], seeds: list[int], conventional: bool
                  ) -> list[dict[str, Any]]:
    """One entry per run: rho 0 is the surrogate baseline, rho > 0 is SAST."""
    runs = [{"mode": "sast" if rho > 0 else "surrogate", "rho": rho, "seed": seed}
            for rho in rhos for seed in seeds]
    if conventional:
        runs += [{"mode": "conventional", "rho": 0.0, "seed": seed} for seed in seeds]
    return runs


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per (mode, rho)."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["rho"]), []).append(row)
    table = []
    for (mode, rho), members in groups.items():
        entry: dict[str, Any] = {"mode": mode, "rho": rho, "seeds": len(members)}
        for key in SUMMARY_KEYS:
            values = [m[key] for m in members]
            entry[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        table.append(entry)
    return table


def run_sweep(train_options: dict[str, Any], data: dict[str, Any], rhos: list[float],
              seeds: list[int], conventional: bool, out_dir: str, log: Log = print) -> Path:
    from sastc.cli.train_cmd import make_config

    root = Path(out_dir)
    rows = []
    for run in sweep_configs(rhos, seeds, conventional):
        name = f"{run['mode']}-rho{run['rho']:g}-seed{run['seed']}"
        config = make_config({**train_options, **run, "out_dir": str(root / name)}, data)
        resume = (root / name / "checkpoint.pt").exists()
        log(f"== {name}{' (resuming)' if resume else ''}")
        metrics = train(config, resume=resume, log=log)
        rows.append({**run, **{k: metrics[k] for k in SUMMARY_KEYS}, "samples": metrics["samples"]})
    result = {"runs": rows, "summary": summarise(rows)}
    write_text_atomic(root / "sweep.json", json.dumps(result, indent=2))
    plot_rho_sweep(rows, root / "rho_sweep.png")
    for entry in result["summary"]:
        log(f"{entry['mode']:>12} rho {entry['rho']:<5g} surrogate "
            f"{entry['surrogate_accuracy']['mean']:.1f}±{entry['surrogate_accuracy']['std']:.1f}  "
            f"hard {entry['hard_accuracy']['mean']:.1f}±{entry['hard_accuracy']['std']:.1f}  "
            f"gap {entry['transfer_gap']['mean']:+.1f}")
    return root / "sweep.json"
