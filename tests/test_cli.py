"""The command line end to end on a tiny dataset, and its error messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sastc.cli import main

TINY = ["--synthetic", "n_train=96", "--synthetic", "n_test=48", "--synthetic", "n_calib=48",
        "--synthetic", "resolution=16", "--synthetic", "num_classes=4", "-T", "8"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_train_eval_compile_simulate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out, err = invoke("train", *TINY, "--arch", "conv(6, 3, stride=2) dense(16) readout",
                            "--epochs", "2", "--batch-size", "16", "--lr", "5e-3", "--rho", "0.1",
                            "--out", str(run), "--no-progress", "--json")
    assert code == 0, err
    assert "epoch 2/2" in err and json.loads(out)["epochs"] == 2
    assert "kept epoch" in err and json.loads(out)["selected_epoch"] in (1, 2)
    code, out, err = invoke("eval", str(run / "checkpoint.pt"), "--json")
    report = json.loads(out)
    assert code == 0 and report["samples"] == 48
    assert {"surrogate_accuracy", "hard_accuracy", "transfer_gap", "synops"} <= set(report)
    neurobench = report["synops"]["neurobench"]
    assert neurobench["Effective_ACs"] + neurobench["Effective_MACs"] <= neurobench["Dense"]
    assert "SynOps per sample" in invoke("eval", str(run / "checkpoint.pt"))[1]
    code, out, err = invoke("eval", str(run / "checkpoint.pt"), "--corrupt", "dropout:5", "--json")
    assert code == 0 and json.loads(out)["corruption"] == "dropout:5"
    build = tmp_path / "build"
    code, out, err = invoke("compile", str(run / "checkpoint.pt"), "--target", "int4-fixed",
                            "--out", str(build), "--no-progress")
    assert code == 0, err
    assert "integer (bit-exact)" in out and (build / "model.h").is_file()
    report = json.loads((build / "report.json").read_text())
    assert report["calibrate"]["split"] == "calib" and report["verification"]["split"] == "test"
    code, out, err = invoke("simulate", str(build), "--json", "--plot", str(tmp_path / "s.png"))
    result = json.loads(out)
    assert code == 0 and (tmp_path / "s.png").is_file()
    for key in ("surrogate_accuracy", "float_hard_accuracy", "int_accuracy", "synops_float",
                "synops_int", "spike_agreement"):
        assert key in result
    assert result["int_accuracy"] == report["verification"]["int_accuracy"]


def _error(*args: str) -> str:
    code, out, err = invoke(*args)
    assert code == 2, (code, out, err)
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    return err


def test_bad_inputs_give_one_clear_line(tmp_path: Path, trained_checkpoint: Path) -> None:
    assert "--rho must be >= 0; got -1.0" in _error("train", "--rho", "-1", "--out",
                                                    str(tmp_path / "r"))
    assert "--time-bins must be >= 1; got 0" in _error("train", "-T", "0", "--out",
                                                       str(tmp_path / "r"))
    assert "unknown layer 'lstm'" in _error("train", "--arch", "lstm(3)", *TINY, "--out",
                                             str(tmp_path / "r"))
    missing = tmp_path / "nowhere"
    assert str(missing) in _error("train", "--dataset", "nmnist", "--data-dir", str(missing),
                                  "--out", str(tmp_path / "r"))
    (tmp_path / "empty").mkdir()
    assert "empty" in _error("train", "--dataset", "nmnist", "--data-dir", str(tmp_path / "empty"),
                             "--out", str(tmp_path / "r"))
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    assert "junk.pt: not a sastc checkpoint" in _error("eval", str(junk))
    assert "unknown target 'int3-fixed'" in _error("compile", str(trained_checkpoint),
                                                    "--target", "int3-fixed")
    assert "--weight-bits 6 is outside profile 'int4-fixed'" in _error(
        "compile", str(trained_checkpoint), "--target", "int4-fixed", "--weight-bits", "6",
        "--out", str(tmp_path / "b"))
    assert "unknown board" in _error("compile", str(trained_checkpoint), "--board", "pdp11")


def test_failed_compile_leaves_earlier_build_intact(tmp_path: Path, trained_checkpoint: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sastc.targets import targets_dir

    targets = tmp_path / "targets"
    shutil.copytree(targets_dir(), targets)
    (targets / "boards" / "tiny.toml").write_text(
        'name = "tiny"\nkind = "board"\nflash_bytes = 100\nram_bytes = 100\n')
    monkeypatch.setenv("SASTC_TARGETS_DIR", str(targets))
    build = tmp_path / "build"
    code, _, err = invoke("compile", str(trained_checkpoint), "--out", str(build), "--no-progress",
                          "--no-verify")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in build.iterdir()}
    err = _error("compile", str(trained_checkpoint), "--out", str(build), "--calib-samples", "0")
    assert "--calib-samples must be >= 1; got 0" in err
    err = _error("compile", str(trained_checkpoint), "--out", str(build), "--board", "tiny",
                 "--no-progress")
    assert "bytes of flash but board 'tiny' has 100" in err
    assert {p.name: p.read_bytes() for p in build.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build")]


def test_unwritable_output_directory_is_named(tmp_path: Path, trained_checkpoint: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the build's parent directory should be")
    err = _error("compile", str(trained_checkpoint), "--out", str(blocker / "build"),
                 "--no-progress", "--no-verify")
    assert f"cannot create output directory {blocker}" in err
    assert blocker.read_text().startswith("a file")


def test_sweep_over_k_plots_accuracy_against_k(tmp_path: Path) -> None:
    out = tmp_path / "ksweep"
    code, _, err = invoke("sweep", *TINY, "--arch", "conv(4, 3, stride=2) readout", "--epochs",
                          "2", "--batch-size", "16", "--rho", "0.2", "-k", "3,auto", "--seeds",
                          "0", "--no-conventional", "--out", str(out), "--no-progress")
    assert code == 0, err
    runs = json.loads((out / "sweep.json").read_text())["runs"]
    assert [(r["steepness"], r["grad_evals"] > 0) for r in runs] == [(3.0, True), ("auto", True)]
    assert (out / "k_sweep.png").stat().st_size > 1000
    assert (out / "sast-rho0.2-kauto-seed0" / "checkpoint.pt").is_file()


def test_sweep_trains_every_rho_and_seed_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", *TINY, "--arch", "conv(4, 3, stride=2) readout", "--epochs", "1",
            "--batch-size", "16", "--rho", "0,0.2", "--seeds", "0,1", "--out", str(out),
            "--no-progress"]
    code, _, err = invoke(*args)
    assert code == 0, err
    result = json.loads((out / "sweep.json").read_text())
    runs = {(r["mode"], r["rho"], r["seed"]) for r in result["runs"]}
    assert runs == {("surrogate", 0.0, 0), ("surrogate", 0.0, 1), ("sast", 0.2, 0),
                    ("sast", 0.2, 1), ("conventional", 0.0, 0), ("conventional", 0.0, 1)}
    assert {e["seeds"] for e in result["summary"]} == {2}
    assert (out / "rho_sweep.png").stat().st_size > 1000
    code, _, err = invoke(*args)  # a restarted sweep reuses finished runs, training nothing
    assert code == 0 and err.count("(resuming)") == 6 and "  loss " not in err
    assert json.loads((out / "sweep.json").read_text())["runs"] == result["runs"]
