"""``--rho auto``: choose the SAM radius on the validation split, within a stated budget.

Each candidate radius (``RHO_CANDIDATES``; 0 is the surrogate baseline, so the
search may find that SAM does not pay on this data) trains a short pilot run with
the run's own settings, compressed to ``pilot_epochs`` (the steepness schedule
included), and the radius whose pilot reaches the best validation hard-spike
accuracy wins (ties: the smaller validation gap, then the larger radius). The
pilots together spend at most ``--search-budget`` times the gradient evaluations
of the main run:

    pilot_epochs = floor(budget * 2 E / sum_c g_c),   g_c = 2 if rho_c > 0 else 1

Pilots are ordinary runs under ``<out>/search/``, so an interrupted search resumes
and every pilot can be inspected; ``search.json`` records the choice and the
gradient evaluations spent. When the search finds that SAM does not pay on this
data (rho 0 wins), the main run spends the same gradient evaluations SAST would
have, on twice the epochs (a compute-matched surrogate run).

>>> pilot_epochs(40, 0.5, RHO_CANDIDATES)
5
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sastc.atomic import write_text_atomic
from sastc.train.config import TrainConfig

AUTO = "auto"
RHO_CANDIDATES = (0.0, 0.05, 0.2, 0.5)
SEARCH_DIR = "search"
SEARCH_FILE = "search.json"

Log = Callable[[str], None]
Trainer = Callable[[TrainConfig], dict[str, Any]]


def pilot_epochs(epochs: int, budget: float, candidates: tuple[float, ...]) -> int:
    """Epochs per pilot so that all pilots spend ``budget`` x the main run's evaluations."""
    per_epoch = sum(2 if rho > 0 else 1 for rho in candidates)
    return max(1, math.floor(budget * 2 * epochs / per_epoch))


def pilot_config(config: TrainConfig, rho: float, epochs: int) -> TrainConfig:
    """The main run's settings with one candidate radius and the pilot's length."""
    out = Path(config.out_dir) / SEARCH_DIR / f"rho{rho:g}"
    return replace(config, rho=rho if rho > 0 else None, mode="sast" if rho > 0 else "surrogate",
                   epochs=epochs, compute_matched=False, out_dir=str(out), progress=False)


def _pick(results: list[dict[str, Any]]) -> dict[str, Any]:
    return max(results, key=lambda r: (r["val_hard_accuracy"], -abs(r["val_transfer_gap"]),
                                       r["rho"]))


def run_search(config: TrainConfig, train_pilot: Trainer, log: Log) -> dict[str, Any]:
    """Train the pilots (resuming finished ones) and return the search record."""
    epochs = pilot_epochs(config.epochs, config.search_budget, RHO_CANDIDATES)
    results = []
    for rho in RHO_CANDIDATES:
        pilot = pilot_config(config, rho, epochs)
        log(f"rho search: pilot rho {rho:g} ({epochs} epoch{'s' * (epochs > 1)}) -> "
            f"{pilot.out_dir}")
        metrics = train_pilot(pilot)
        results.append({"rho": rho, "val_hard_accuracy": metrics["val_hard_accuracy"],
                        "val_transfer_gap": metrics["val_transfer_gap"],
                        "grad_evals": metrics["run_grad_evals"]})
        log(f"rho search: pilot rho {rho:g}: validation hard {metrics['val_hard_accuracy']:.1f}%"
            f" (gap {metrics['val_transfer_gap']:+.1f})")
    best = _pick(results)
    return {"candidates": list(RHO_CANDIDATES), "pilot_epochs": epochs, "results": results,
            "rho": best["rho"], "grad_evals": sum(r["grad_evals"] for r in results),
            "budget": config.search_budget}


def resolve_rho(config: TrainConfig, train_pilot: Trainer, log: Log
                ) -> tuple[TrainConfig, dict[str, Any] | None]:
    """``config`` with ``--rho auto`` replaced by the searched radius, and the record."""
    if config.rho != AUTO:
        return config, None
    path = Path(config.out_dir) / SEARCH_DIR / SEARCH_FILE
    record = json.loads(path.read_text()) if path.is_file() else None
    if record is None:
        record = run_search(config, train_pilot, log)
        write_text_atomic(path, json.dumps(record, indent=2))
    log(search_line(record))
    chosen = float(record["rho"])
    if chosen == 0:
        return replace(config, rho=None, mode="surrogate", compute_matched=True), record
    return replace(config, rho=chosen), record


def search_line(record: dict[str, Any]) -> str:
    scores = ", ".join(f"{r['rho']:g}: {r['val_hard_accuracy']:.1f}%" for r in record["results"])
    return (f"rho search: chose rho {record['rho']:g} by validation hard accuracy ({scores}; "
            f"{record['pilot_epochs']} epoch(s) each, {record['grad_evals']} gradient evaluations)")
