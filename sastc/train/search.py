"""``--rho auto``: choose the SAM radius on the validation split, within a stated budget.

Each candidate radius (``RHO_CANDIDATES``; 0 is the surrogate baseline, so the
search may find that SAM does not pay on this data) trains a short pilot run with
the run's own settings (the steepness schedule compressed to the pilot's length),
and the radius whose pilot's kept epoch scores best on the validation split wins
(``sastc.train.selection``; ties: the smaller validation gap, then the larger
radius). Every pilot gets the same gradient evaluations, as the main run compares
SAST with a compute-matched baseline: SAM pilots ``p`` epochs at ``1 + F``
evaluations a step (``F`` the ascent fraction), the rho-0 pilot ``ceil((1 + F) p)``.
Together they spend at most ``--search-budget`` times the main run's gradient
evaluations (``(1 + F) E`` epochs' worth; at least one epoch each):

    p = max { p : (n - 1) (1 + F) p + ceil((1 + F) p) <= budget (1 + F) E },  n candidates

Pilots are ordinary runs under ``<out>/search/``, so an interrupted search resumes
and every pilot can be inspected; ``search.json`` records the choice and the
gradient evaluations spent. When the search finds that SAM does not pay on this
data (rho 0 wins), the main run spends the same gradient evaluations SAST would
have, on ``ceil((1 + F) E)`` epochs (a compute-matched surrogate run).

>>> pilot_epochs(40, 1.0, RHO_CANDIDATES, 0.5), pilot_epochs(40, 1.0, RHO_CANDIDATES, 1.0)
(10, 10)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sastc.atomic import write_text_atomic
from sastc.train.config import TrainConfig, matched_epochs

AUTO = "auto"
RHO_CANDIDATES = (0.0, 0.05, 0.2, 0.5)
SEARCH_DIR = "search"
SEARCH_FILE = "search.json"

Log = Callable[[str], None]
Trainer = Callable[[TrainConfig], dict[str, Any]]


def pilot_epochs(epochs: int, budget: float, candidates: tuple[float, ...],
                 ascent_fraction: float) -> int:
    """Epochs of a SAM pilot (the rho-0 pilot runs ``matched_epochs`` of it) within
    ``budget``."""
    allowed = budget * (1 + ascent_fraction) * epochs + 1e-9
    sam_pilots = len([rho for rho in candidates if rho > 0])
    pilot = max(1, math.floor(budget * epochs / len(candidates)))
    while pilot > 1 and (sam_pilots * (1 + ascent_fraction) * pilot
                         + matched_epochs(pilot, ascent_fraction)) > allowed:
        pilot -= 1
    return pilot


def pilot_config(config: TrainConfig, rho: float, epochs: int) -> TrainConfig:
    """The main run's settings with one candidate radius and the pilot's length."""
    out = Path(config.out_dir) / SEARCH_DIR / f"rho{rho:g}"
    if rho == 0:
        return replace(config, rho=None, mode="surrogate", compute_matched=True,
                       epochs=epochs, out_dir=str(out), progress=False)
    return replace(config, rho=rho, epochs=epochs, compute_matched=False, out_dir=str(out),
                   progress=False)


def _pick(results: list[dict[str, Any]]) -> dict[str, Any]:
    return max(results, key=lambda r: (r["val_hard_accuracy"], -abs(r["val_transfer_gap"]),
                                       r["rho"]))


def run_search(config: TrainConfig, train_pilot: Trainer, log: Log) -> dict[str, Any]:
    """Train the pilots (resuming finished ones) and return the search record."""
    epochs = pilot_epochs(config.epochs, config.search_budget, RHO_CANDIDATES,
                          config.ascent_fraction)
    results = []
    for rho in RHO_CANDIDATES:
        pilot = pilot_config(config, rho, epochs)
        log(f"rho search: pilot rho {rho:g} ({pilot.total_epochs} epochs) -> {pilot.out_dir}")
        metrics = train_pilot(pilot)
        results.append({"rho": rho, "val_hard_accuracy": metrics["val_hard_score"],
                        "val_transfer_gap": metrics["val_transfer_gap"],
                        "grad_evals": metrics["run_grad_evals"]})
        log(f"rho search: pilot rho {rho:g}: validation hard {metrics['val_hard_score']:.1f}% "
            f"(mean of 3 epochs; gap {metrics['val_transfer_gap']:+.1f})")
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
            f"pilots of {record['pilot_epochs']} SAM epochs, {record['grad_evals']:g} gradient "
            f"evaluations)")
