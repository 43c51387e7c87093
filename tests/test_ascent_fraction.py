"""SAST with its first (ascent) gradient on a share of the minibatch (``--ascent-fraction``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sastc.errors import ConfigError
from sastc.train import epoch
from sastc.train.checkpoint import load_checkpoint
from sastc.train.config import TrainConfig
from sastc.train.run import train


def _closure_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sample counts of every gradient evaluation from now on, in order."""
    sizes: list[int] = []
    real = epoch.accumulate

    def counted(model, frames, labels, *args, **kwargs):
        sizes.append(int(labels.shape[0]))
        assert frames.shape[1] == labels.shape[0]  # [T, B, ...]
        return real(model, frames, labels, *args, **kwargs)

    monkeypatch.setattr(epoch, "accumulate", counted)
    return sizes


@pytest.mark.parametrize("sam_batch", ["independent", "same"])
def test_ascent_uses_the_first_share_of_the_batch(tmp_path: Path, make_config,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  sam_batch: str) -> None:
    config = make_config(tmp_path / "run", epochs=1, ascent_fraction=0.5, sam_batch=sam_batch)
    sizes = _closure_sizes(monkeypatch)
    train(config, log=lambda _: None)
    ascent, descent = sizes[0::2], sizes[1::2]
    assert ascent and len(ascent) == len(descent)
    assert set(descent) == {config.batch_size}
    assert set(ascent) == {epoch.ascent_samples(config.batch_size, 0.5)}
    steps = len(ascent)
    history = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["history"]
    assert history[0]["grad_evals"] == 1.5 * steps


def test_the_default_is_half_and_one_is_the_papers_step(tmp_path: Path, make_config,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _closure_sizes(monkeypatch)
    train(make_config(tmp_path / "a", epochs=1), log=lambda _: None)
    default = list(sizes)
    sizes.clear()
    train(make_config(tmp_path / "b", epochs=1, ascent_fraction=0.5), log=lambda _: None)
    assert sizes == default
    batch = make_config(tmp_path).batch_size
    assert set(default[0::2]) == {epoch.ascent_samples(batch, 0.5)} != {batch}
    weights = [load_checkpoint(tmp_path / run / "checkpoint.pt")["state_dict"] for run in "ab"]
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
    sizes.clear()
    train(make_config(tmp_path / "c", epochs=1, ascent_fraction=1.0), log=lambda _: None)
    assert set(sizes) == {batch}  # both gradients on whole minibatches


def test_ascent_on_a_share_changes_the_update(tmp_path: Path, make_config) -> None:
    train(make_config(tmp_path / "a", epochs=1), log=lambda _: None)
    train(make_config(tmp_path / "b", epochs=1, ascent_fraction=0.25), log=lambda _: None)
    weights = [load_checkpoint(tmp_path / run / "checkpoint.pt")["state_dict"] for run in "ab"]
    assert any(not torch.equal(value, weights[1][key]) for key, value in weights[0].items())


@pytest.mark.parametrize(("options", "message"), [
    ({"ascent_fraction": 0.0}, "--ascent-fraction must be in (0, 1]"),
    ({"ascent_fraction": 1.5}, "--ascent-fraction must be in (0, 1]"),
    ({"ascent_fraction": "half"}, "--ascent-fraction"),
    ({"mode": "surrogate", "ascent_fraction": 0.5}, "applies only to --mode sast"),
])
def test_bad_fractions_are_named(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**options)
    assert message in str(info.value)


@pytest.mark.parametrize(("fraction", "epochs", "matched"), [
    (None, 8, 12), (0.5, 60, 90), (1.0, 8, 16), (0.25, 5, 7)])
def test_compute_matched_baselines_match_the_sast_step_they_name(fraction, epochs,
                                                                 matched) -> None:
    for mode in ("surrogate", "conventional"):
        config = TrainConfig(mode=mode, compute_matched=True, epochs=epochs,
                             ascent_fraction=fraction)
        assert config.total_epochs == matched and config.grad_evals_per_step == 1
    assert TrainConfig(mode="surrogate", epochs=epochs).total_epochs == epochs
    assert TrainConfig(mode="surrogate").ascent_fraction == 1.0  # no ascent, nothing to match


def test_cost_per_step_counts_the_share() -> None:
    assert TrainConfig(ascent_fraction=0.5).grad_evals_per_step == 1.5
    assert TrainConfig().grad_evals_per_step == 1.5  # the default ascent fraction
    assert TrainConfig(ascent_fraction=1.0).grad_evals_per_step == 2  # the papers' step
    assert TrainConfig(mode="surrogate").grad_evals_per_step == 1


def test_resume_keeps_the_fraction_and_reads_older_checkpoints(tmp_path: Path,
                                                               make_config) -> None:
    run = tmp_path / "run"
    train(make_config(run, epochs=1, ascent_fraction=0.5), log=lambda _: None)
    saved = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(ConfigError, match=r"ascent_fraction: 0.5 -> 1.0"):
        train(make_config(run, epochs=2, ascent_fraction=1.0), resume=True, log=lambda _: None)
    assert (run / "checkpoint.pt").read_bytes() == saved  # the refused resume wrote nothing

    older = tmp_path / "older"
    train(make_config(older, epochs=1, ascent_fraction=1.0), log=lambda _: None)
    saved = torch.load(older / "checkpoint.pt", weights_only=False)
    del saved["config"]["ascent_fraction"]  # written before the option existed: F was 1
    torch.save(saved, older / "checkpoint.pt")
    with pytest.raises(ConfigError, match=r"ascent_fraction: 1.0 -> 0.5"):
        train(make_config(older, epochs=2), resume=True, log=lambda _: None)
    train(make_config(older, epochs=2, ascent_fraction=1.0), resume=True, log=lambda _: None)
    assert load_checkpoint(older / "checkpoint.pt")["epoch"] == 2


@pytest.mark.parametrize("matched", [False, True])
def test_a_sweep_passes_the_fraction_to_sast_and_to_the_baselines_that_match_it(
        tmp_path: Path, matched: bool) -> None:
    from sastc.train.sweep import _job, sweep_configs

    options = {"ascent_fraction": 0.25, "compute_matched": matched, "epochs": 4}
    configs = {run["mode"]: _job(run, options, {"dataset": None}, tmp_path).config
               for run in sweep_configs([0.0, 0.2], [0], True)}
    assert configs["sast"].ascent_fraction == 0.25 and configs["sast"].total_epochs == 4
    for mode in ("surrogate", "conventional"):
        assert configs[mode].ascent_fraction == (0.25 if matched else 1.0)
        assert configs[mode].total_epochs == (5 if matched else 4)


def test_the_run_line_names_the_ascent_and_the_matched_epochs() -> None:
    from sastc.cli.train_cmd import run_label

    assert run_label(TrainConfig()) == "rho 0.2, ascent on 0.5 of each batch"
    assert run_label(TrainConfig(ascent_fraction=1.0)) == "rho 0.2"
    baseline = run_label(TrainConfig(mode="conventional", compute_matched=True, epochs=8))
    assert "compute-matched: 12 epochs" in baseline and "ascent on" not in baseline
    assert run_label(TrainConfig(mode="surrogate")) == "rho 0"
