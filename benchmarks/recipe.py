"""The recipe on one dataset: SAST defaults against compute-matched baselines, seeds side by side.

For each seed, trains with only the dataset options given (``sastc train``: the
preset's defaults, ``--rho auto -k auto`` where no preset was tuned on the data), the
rho-0 surrogate baseline and the conventional baseline (hard forward, surrogate
backward), both ``--compute-matched`` (the gradient evaluations of a default SAST run:
1.5x the epochs); then compiles the default run to int8-fixed and
int4-fixed. Prints one table (mean and spread over seeds) with the issue's targets:

1. SAST hard >= max(conventional, rho 0) - 1 point, SAST transfer gap <= 2 points;
2. INT8 within 1 point, INT4 within 2 points of the float surrogate accuracy;
3. default training wall time (minutes).

    python benchmarks/recipe.py --seeds 0,1,2 --jobs 2 --out runs/recipe-objects --json \\
        recipe-objects.json -- --dataset folder --data-dir DVS128_objects --window-ms 300 \\
        --downsample 4 -T 10

Everything after ``--`` is passed to every ``sastc train``. Runs that finished are
reused (their checkpoint and ``result.json`` stay in ``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

METHODS = {"sast": [], "surrogate": ["--mode", "surrogate", "--compute-matched"],
           "conventional": ["--mode", "conventional", "--compute-matched"]}
KEYS = ("surrogate_accuracy", "hard_accuracy", "transfer_gap")


def _sastc(*args: str) -> str:
    command = [sys.executable, "-m", "sastc", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def train_one(out: Path, method: str, seed: int, data: list[str]) -> dict[str, Any]:
    """One training run (reused when its result is there), with its wall time."""
    run = out / f"{method}-seed{seed}"
    result_file = run / "result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    started = time.perf_counter()
    metrics = json.loads(_sastc("train", *data, *METHODS[method], "--seed", str(seed),
                                "--threads", "1", "--no-progress", "--json", "--out", str(run)))
    result = {"method": method, "seed": seed, "seconds": time.perf_counter() - started,
              **{key: metrics[key] for key in KEYS}, "samples": metrics["samples"],
              "selected_epoch": metrics["selected_epoch"], "rho": metrics.get("rho"),
              "steepness": metrics.get("steepness"),
              "grad_evals": metrics.get("total_grad_evals", metrics.get("run_grad_evals"))}
    result_file.write_text(json.dumps(result, indent=2))
    return result


def compile_one(out: Path, seed: int, target: str) -> dict[str, Any]:
    """Compile the default run of ``seed``; float surrogate and integer test accuracy."""
    build = out / f"sast-seed{seed}-{target}"
    report = json.loads(_sastc("compile", str(out / f"sast-seed{seed}" / "checkpoint.pt"),
                               "--target", target, "--out", str(build), "--no-progress",
                               "--json"))
    verification = report["verification"]
    return {"seed": seed, "target": target, "int_accuracy": verification["int_accuracy"],
            "surrogate_accuracy": verification["surrogate_accuracy"],
            "float_hard_accuracy": verification["float_hard_accuracy"],
            "int_minus_surrogate": verification["int_accuracy"]
            - verification["surrogate_accuracy"]}


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


def summarise(runs: list[dict[str, Any]], builds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread per method and per target, and the three targets checked."""
    table = {method: {key: spread([r[key] for r in runs if r["method"] == method])
                      for key in (*KEYS, "seconds")} for method in METHODS}
    compiled = {target: spread([b["int_minus_surrogate"] for b in builds if b["target"] == target])
                for target in ("int8-fixed", "int4-fixed")}
    best_baseline = max(table["surrogate"]["hard_accuracy"]["mean"],
                        table["conventional"]["hard_accuracy"]["mean"])
    sast = table["sast"]
    targets = {
        "hard_vs_best_baseline": sast["hard_accuracy"]["mean"] - best_baseline,
        "hard_target_met": sast["hard_accuracy"]["mean"] >= best_baseline - 1.0,
        "gap_target_met": sast["transfer_gap"]["mean"] <= 2.0,
        "int8_target_met": compiled["int8-fixed"]["mean"] >= -1.0,
        "int4_target_met": compiled["int4-fixed"]["mean"] >= -2.0,
        "default_minutes": sast["seconds"]["mean"] / 60,
    }
    return {"methods": table, "compiled": compiled, "targets": targets}


def report_text(summary: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    lines = [f"{'method':<13}{'surrogate':>15}{'hard':>15}{'gap':>14}{'minutes':>9}"]
    for method, row in summary["methods"].items():
        cells = [f"{row[k]['mean']:6.1f} ± {row[k]['std']:4.1f}" for k in KEYS]
        lines.append(f"{method:<13}{cells[0]:>15}{cells[1]:>15}{cells[2]:>14}"
                     f"{row['seconds']['mean'] / 60:9.1f}")
    for target, row in summary["compiled"].items():
        lines.append(f"{target} - float surrogate: {row['mean']:+.2f} ± {row['std']:.2f} points")
    chosen = [f"seed {r['seed']}: rho {r['rho']}, epoch {r['selected_epoch']}"
              for r in runs if r["method"] == "sast"]
    lines.append("SAST choices: " + "; ".join(chosen))
    lines.append("targets: " + json.dumps(summary["targets"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2, help="trainings run side by side")
    parser.add_argument("--out", default="runs/recipe")
    parser.add_argument("--json", default=None)
    parser.add_argument("data", nargs=argparse.REMAINDER, help="-- then sastc train options")
    args = parser.parse_args()
    data = [a for a in args.data if a != "--"]
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    jobs = [(method, seed) for seed in seeds for method in METHODS]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda job: train_one(out, job[0], job[1], data), jobs))
        builds = list(pool.map(lambda job: compile_one(out, *job),
                               [(s, t) for s in seeds for t in ("int8-fixed", "int4-fixed")]))
    summary = summarise(runs, builds)
    print(report_text(summary, runs))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": sys.argv, "runs": runs,
                                               "builds": builds, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
