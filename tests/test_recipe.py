"""The recipe for data nobody tuned for: validation selection, -k auto, --rho auto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sastc.errors import ConfigError
from sastc.train.checkpoint import load_checkpoint
from sastc.train.run import train
from sastc.train.search import RHO_CANDIDATES, pilot_epochs
from sastc.train.steepness import K_END, K_START


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"rho": "auto", "mode": "surrogate"}, "--rho auto applies to --mode sast"),
    ({"rho": "auto", "val_fraction": 0.0}, "--rho auto chooses on the validation split"),
    ({"steepness": "auto", "val_fraction": 0.0}, "-k auto chooses on the validation split"),
    ({"search_budget": 0.0}, "--search-budget must be a positive number"),
    ({"val_fraction": 1.0}, r"--val-fraction must be in \[0, 1\)"),
    ({"steepness": "steep"}, "--steepness/-k must be a positive number or 'auto'"),
    ({"steepness": -3}, "--steepness/-k must be a positive number or 'auto'"),
    ({"rho": "big"}, "--rho must be a number >= 0 or 'auto'"),
])
def test_auto_options_are_checked(tmp_path: Path, make_config, overrides: dict,
                                  fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        make_config(tmp_path / "run", **overrides)


def test_validation_fraction_that_empties_a_class_is_refused(tmp_path: Path, make_config) -> None:
    with pytest.raises(ConfigError, match=r"--val-fraction 0\.01 leaves class"):
        train(make_config(tmp_path / "run", val_fraction=0.01), log=lambda _: None)


@pytest.mark.slow
def test_k_auto_raises_k_and_keeps_the_best_validation_epoch(tmp_path: Path,
                                                             make_config) -> None:
    lines: list[str] = []
    metrics = train(make_config(tmp_path / "run", steepness="auto", epochs=4), log=lines.append)
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    ks = [entry["steepness"] for entry in saved["history"]]
    assert ks[0] == pytest.approx(K_START) and ks[-1] == pytest.approx(K_END)
    assert ks == sorted(ks)
    kept = saved["selected"]["epoch"]
    assert kept == metrics["selected_epoch"]
    best_score = max(entry["val_hard_score"] for entry in saved["history"])
    assert saved["history"][kept - 1]["val_hard_score"] == best_score
    assert saved["spec"]["steepness"] == pytest.approx(ks[kept - 1])
    assert any(line.startswith(f"kept epoch {kept}/4: best validation") for line in lines)


@pytest.mark.slow
def test_rho_auto_searches_within_its_budget_and_resumes(tmp_path: Path, make_config) -> None:
    config = make_config(tmp_path / "run", rho="auto", epochs=4, search_budget=2.0)
    logged: list[str] = []
    metrics = train(config, log=logged.append)
    assert any(line.startswith("rho search: pilot rho 0 (3 epochs)") for line in logged)
    assert any(line.startswith("rho search: pilot rho 0.05 (2 epochs)") for line in logged)
    record = json.loads((tmp_path / "run" / "search" / "search.json").read_text())
    assert record["rho"] in RHO_CANDIDATES and metrics["rho"] == record["rho"]
    assert record["pilot_epochs"] == pilot_epochs(4, 2.0, RHO_CANDIDATES, 0.5) == 2
    # the pilots spend at most the budget: 2.0 x a SAST run's 1.5 evaluations per step
    steps = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["history"][0]["steps"]
    assert 0 < record["grad_evals"] <= 2.0 * 1.5 * steps * 4
    # every pilot the same evaluations: 2 SAM epochs at 1.5 a step, 3 rho-0 epochs at 1
    assert [r["grad_evals"] for r in record["results"]] == [3 * steps] * 4
    assert metrics["total_grad_evals"] == metrics["run_grad_evals"] + record["grad_evals"]
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["rho_search"] == record
    lines: list[str] = []
    again = make_config(tmp_path / "run", rho="auto", epochs=4, search_budget=2.0)
    train(again, resume=True, log=lines.append)  # the search is read back, not retrained
    assert not any(line.startswith("rho search: pilot") for line in lines)
    assert any(line.startswith("rho search: chose") for line in lines)


@pytest.mark.slow
def test_eval_over_every_corruption_and_severity(trained_checkpoint: Path,
                                                 tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sastc.cli import main
    from sastc.data.corrupt import CORRUPTIONS, SEVERITIES

    plot = tmp_path / "robustness.png"
    result = CliRunner().invoke(main, ["eval", str(trained_checkpoint), "--corrupt", "all",
                                       "--corrupt-plot", str(plot), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["corruptions"]) == set(CORRUPTIONS)
    assert all([e["severity"] for e in entries] == list(SEVERITIES)
               for entries in report["corruptions"].values())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mean = sum(e["hard_accuracy"] for entries in report["corruptions"].values()
               for e in entries) / 20
    assert report["mean_corrupted_hard_accuracy"] == pytest.approx(mean)
    refused = CliRunner().invoke(main, ["eval", str(trained_checkpoint), "--corrupt-plot",
                                        str(plot)])
    assert refused.exit_code == 2 and "--corrupt-plot needs --corrupt all" in refused.stderr
