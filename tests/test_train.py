"""Training runs: checkpoints, resume, divergence, validation of options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sastc.errors import CheckpointError, ConfigError, TrainingDiverged
from sastc.train.checkpoint import load_checkpoint
from sastc.train.config import TrainConfig
from sastc.train.run import train


def test_checkpoint_is_self_describing_and_weights_only(trained_checkpoint: Path) -> None:
    raw = torch.load(trained_checkpoint, weights_only=True)
    assert raw["format"] == "sastc-checkpoint" and raw["complete"] is True
    assert {"sastc", "torch", "numpy", "python"} <= set(raw["versions"])
    assert raw["spec"]["layers"][-1]["kind"] == "readout"
    assert raw["dataset"]["name"] == "synthetic" and raw["dataset"]["time_bins"] == 8
    assert raw["config"]["mode"] == "sast" and raw["epoch"] == 3
    for key in ("surrogate_accuracy", "hard_accuracy", "transfer_gap", "synops", "spike_rates"):
        assert key in raw["metrics"]
    lines = (trained_checkpoint.parent / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert (trained_checkpoint.parent / "curves.png").stat().st_size > 1000


def test_training_learns_the_tiny_task(trained_checkpoint: Path) -> None:
    metrics = load_checkpoint(trained_checkpoint)["metrics"]
    assert metrics["surrogate_accuracy"] > 50.0, metrics  # 4 classes: chance is 25%
    # default SAST: a whole gradient and the ascent's half (F = 0.5) per step
    assert metrics["grad_evals"] == 1.5 * metrics["steps"]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path, make_config,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    train(make_config(tmp_path / "straight", epochs=2, augment_shift=1), log=lambda _: None)
    import sastc.train.run as run_module

    real_evaluate, calls = run_module.evaluate, []

    def killed_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies before epoch 2 is saved
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(run_module, "evaluate", killed_in_epoch_two)
    config = make_config(tmp_path / "resumed", epochs=2, augment_shift=1)
    with pytest.raises(KeyboardInterrupt):
        train(config, log=lambda _: None)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 1
    monkeypatch.setattr(run_module, "evaluate", real_evaluate)
    lines: list[str] = []
    train(config, resume=True, log=lines.append)
    assert any("resuming" in line and "after epoch 1/2" in line for line in lines)
    for key, value in _weights(tmp_path / "straight" / "checkpoint.pt").items():
        torch.testing.assert_close(_weights(tmp_path / "resumed" / "checkpoint.pt")[key], value)


def test_existing_run_is_not_overwritten(tmp_path: Path, make_config,
                                         trained_checkpoint: Path) -> None:
    before = trained_checkpoint.read_bytes()
    with pytest.raises(ConfigError, match=r"already holds a training run.*--resume"):
        train(make_config(trained_checkpoint.parent), log=lambda _: None)
    assert trained_checkpoint.read_bytes() == before


def test_resume_with_other_options_is_refused(tmp_path: Path, make_config) -> None:
    train(make_config(tmp_path / "run", epochs=1), log=lambda _: None)
    with pytest.raises(ConfigError, match=r"rho: 0.1 -> 0.3"):
        train(make_config(tmp_path / "run", epochs=2, rho=0.3), resume=True, log=lambda _: None)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path, make_config,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path / "run", epochs=1)
    train(config, log=lambda _: None)
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy",
                        lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"during epoch 2.*last good checkpoint \(epoch 1\) "
                                               r"is kept at .*checkpoint.pt"):
        train(make_config(tmp_path / "run", epochs=3), resume=True, log=lambda _: None)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == good


@pytest.mark.parametrize(("options", "message"), [
    ({"rho": -0.1}, "--rho must be >= 0; got -0.1"),
    ({"time_bins": 0}, "--time-bins must be >= 1; got 0"),
    ({"mode": "surrogate", "rho": 0.2}, "--rho 0.2 applies only to --mode sast"),
    ({"lr": 0.0}, "--lr must be a positive number"),
    ({"mode": "magic"}, "--mode must be one of sast, surrogate, conventional"),
    ({"epochs": 0}, "--epochs must be >= 1"),
])
def test_out_of_range_options_are_named(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**options)
    assert message in str(info.value)


def test_compute_matched_baseline_gets_same_gradient_evaluations(tmp_path: Path,
                                                                 make_config) -> None:
    sast = make_config(tmp_path / "a", epochs=2)  # 1.5 evaluations a step (the default F)
    baseline = make_config(tmp_path / "b", epochs=2, mode="surrogate", rho=None,
                           compute_matched=True)
    assert baseline.total_epochs == 3 and sast.total_epochs == 2
    train(sast, log=lambda _: None)
    train(baseline, log=lambda _: None)
    history_a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["history"]
    history_b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["history"]
    assert len(history_a) == 2 and len(history_b) == 3
    assert sum(e["grad_evals"] for e in history_a) == sum(e["grad_evals"] for e in history_b) > 0


def test_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    for content in (b"", b"garbage" * 10):
        path = tmp_path / "bad.pt"
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=r"bad.pt: not a sastc checkpoint"):
            load_checkpoint(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="expected a file written by 'sastc train'"):
        load_checkpoint(other)
