"""Your own recordings from files to C: the real DVS128 object recordings and N-MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sastc.cli import main
from sastc.data import load_frames
from sastc.ir.quantized import load_qnet
from sastc.sim.c_runtime import CRuntime, build_harness
from sastc.sim.int_sim import IntegerSimulator
from tests.toolchains import require_tool

OBJECTS = ("Caixa", "Caneca", "Cubo", "Estilete", "Lapiseira", "Tesoura")


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_nmnist_in_the_samples_layout_equals_the_nmnist_dataset(nmnist_dir: Path) -> None:
    """``--dataset folder`` on tonic's N-MNIST folders gives the N-MNIST frames bit for bit."""
    options = {"time_bins": 8, "cache_dir": False, "progress": False}
    folder = load_frames("folder", "test", data_dir=nmnist_dir, sensor_size=(34, 34), **options)
    nmnist = load_frames("nmnist", "test", data_dir=nmnist_dir, **options)
    assert folder.classes == nmnist.classes
    np.testing.assert_array_equal(folder.labels, nmnist.labels)
    np.testing.assert_array_equal(folder.frames, nmnist.frames)


@pytest.mark.slow
def test_dvs128_objects_from_aedat_files_to_c(dvs128_objects_dir: Path, tmp_path: Path) -> None:
    """Train a few epochs, eval with the confusion matrix, compile INT8, C == simulator."""
    data = ["--dataset", "folder", "--data-dir", str(dvs128_objects_dir), "--window-ms", "300",
            "--downsample", "4", "-T", "10"]
    run, build = tmp_path / "run", tmp_path / "build"
    _run("train", *data, "--arch", "conv(8, 5, stride=2) pool(2) dense(32) readout",
         "--epochs", "2", "--batch-size", "32", "--lr", "3e-3", "--out", str(run),
         "--no-progress")
    report = json.loads(_run("eval", str(run / "checkpoint.pt"), "--json"))
    assert report["classes"] == list(OBJECTS) and report["samples"] == 237
    assert np.asarray(report["confusion"]).sum() == 237
    _run("compile", str(run / "checkpoint.pt"), "--target", "int8-fixed", "--out", str(build),
         "--no-progress")
    header = (build / "model.h").read_text()
    assert all(f'"{name}"' in header for name in OBJECTS)  # the firmware's class table
    compiled = json.loads((build / "report.json").read_text())
    assert compiled["dataset"]["name"] == "folder"
    assert compiled["dataset"]["window_ms"] == 300
    require_tool("gcc", "the C runtime check needs a host C compiler")
    qnet = load_qnet(build / "model.npz")
    frames = load_frames("folder", "test", data_dir=dvs128_objects_dir, window_ms=300,
                         downsample=4, time_bins=10, val_fraction=0.1, progress=False).frames[:40]
    runtime = CRuntime(build_harness(build, tmp_path / "harness"), qnet)
    c_out = runtime.run(frames)
    np.testing.assert_array_equal(c_out.logits, IntegerSimulator(qnet).run(frames).logits)
