"""Corruption robustness of SAST against both baselines, from a ``benchmarks/recipe.py`` run.

For every ``<method>-seed<n>/checkpoint.pt`` under ``--runs`` (methods: sast,
surrogate, conventional), evaluates the test split clean and under each corruption
at every severity (``sastc eval --corrupt all``), then prints hard-spike accuracy per
method (mean and spread over seeds) and draws one panel per corruption kind.

    python benchmarks/robustness.py --runs runs/recipe-objects --plot robustness.png \\
        --json robustness.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from sastc.data.corrupt import SEVERITIES
from sastc.plots import plot_corruptions
from sastc.train.robustness import corruption_sweep

METHODS = ("sast", "surrogate", "conventional")


def sweep_method(runs: Path, method: str) -> list[dict[str, Any]]:
    """One corruption sweep per seed of ``method``."""
    checkpoints = sorted(runs.glob(f"{method}-seed*/checkpoint.pt"))
    return [corruption_sweep(str(path), {}) for path in checkpoints]


def cell(reports: list[dict[str, Any]], kind: str | None, severity: int | None) -> str:
    values = [r["clean"]["hard_accuracy"] if kind is None else
              r["corruptions"][kind][severity - 1]["hard_accuracy"] for r in reports]
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):5.1f} ± {spread:3.1f}"


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    methods = [m for m in METHODS if results.get(m)]
    lines = ["| corruption | severity | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    lines.append("| clean | - | " + " | ".join(cell(results[m], None, None) for m in methods)
                 + " |")
    kinds = list(results[methods[0]][0]["corruptions"])
    for kind in kinds:
        for severity in SEVERITIES:
            cells = " | ".join(cell(results[m], kind, severity) for m in methods)
            lines.append(f"| {kind} | {severity} | {cells} |")
    means = " | ".join(f"{statistics.fmean(r['mean_corrupted_hard_accuracy'] for r in results[m]):.1f}"
                       for m in methods)
    lines.append(f"| mean of all corrupted | - | {means} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="the --out folder of benchmarks/recipe.py")
    parser.add_argument("--plot", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    runs = Path(args.runs)
    results = {method: sweep_method(runs, method) for method in METHODS}
    results = {method: reports for method, reports in results.items() if reports}
    print(f"hard-spike accuracy (%), mean ± spread over seeds, {runs}")
    print(table(results))
    if args.plot:
        plot_corruptions(results, args.plot)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
