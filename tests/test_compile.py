"""The compile pipeline: bad models, NIR sources, extra emitters, the wheel's targets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sastc.compile import CompileOptions, compile_model
from sastc.errors import CompileError, ConfigError
from sastc.ir.quantized import load_qnet


def _edited_checkpoint(source: Path, target: Path, edit) -> Path:
    data = torch.load(source, weights_only=True)
    edit(data)
    torch.save(data, target)
    return target


def _options(out: Path, **overrides) -> CompileOptions:
    return CompileOptions(out_dir=str(out), progress=False, **overrides)


def test_layer_the_target_cannot_express_is_named(trained_checkpoint: Path, tmp_path: Path) -> None:
    def add_maxpool(data: dict) -> None:
        data["spec"]["layers"].insert(1, {"kind": "maxpool", "kernel": 2})

    path = _edited_checkpoint(trained_checkpoint, tmp_path / "maxpool.pt", add_maxpool)
    with pytest.raises(ConfigError, match=r"layer 1: unknown kind 'maxpool'; expected one of "
                                          r"\['conv', 'dense', 'pool', 'readout'\]"):
        compile_model(path, _options(tmp_path / "b"))


def test_weights_that_cannot_be_represented_are_refused(trained_checkpoint: Path,
                                                        tmp_path: Path) -> None:
    def poison(data: dict) -> None:
        data["state_dict"]["layers.0.weight"][0, 0, 0, 0] = float("nan")

    path = _edited_checkpoint(trained_checkpoint, tmp_path / "nan.pt", poison)
    with pytest.raises(CompileError, match="layer 'conv0': weights contain NaN or infinity"):
        compile_model(path, _options(tmp_path / "b", calibrate=False, verify=False))

    def huge_threshold(data: dict) -> None:
        data["spec"]["layers"][0]["threshold"] = 1e12

    path = _edited_checkpoint(trained_checkpoint, tmp_path / "theta.pt", huge_threshold)
    with pytest.raises(CompileError, match=r"layer 'conv0': threshold 1e\+12 is .* beyond the "
                                           r"24-bit membrane"):
        compile_model(path, _options(tmp_path / "b", calibrate=False, verify=False))
    assert not (tmp_path / "b").exists()


def test_nir_round_trip_compiles_to_the_same_integer_model(trained_checkpoint: Path,
                                                           tmp_path: Path) -> None:
    compile_model(trained_checkpoint, _options(tmp_path / "nir", target="nir", verify=False))
    nir_file = tmp_path / "nir" / "model.nir"
    assert nir_file.is_file()
    direct = compile_model(trained_checkpoint, _options(tmp_path / "direct", calibrate=False))
    via_nir = compile_model(nir_file, _options(tmp_path / "via", calibrate=False,
                                               data={"dataset": "synthetic",
                                                     "synthetic": direct["dataset"]["synthetic"],
                                                     "time_bins": 8}))
    a, b = load_qnet(tmp_path / "direct" / "model.npz"), load_qnet(tmp_path / "via" / "model.npz")
    for x, y in zip(a.layers, b.layers, strict=True):
        np.testing.assert_array_equal(x.weight_q, y.weight_q)
        np.testing.assert_array_equal(x.theta_q, y.theta_q)
        assert (x.beta_q, x.frac_bits) == (y.beta_q, y.frac_bits)
    assert via_nir["verification"]["int_accuracy"] == direct["verification"]["int_accuracy"]


def test_nir_without_dataset_metadata_asks_for_a_dataset(tmp_path: Path) -> None:
    import nir

    weight = np.eye(3, dtype=np.float32)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])), nir.Affine(weight=weight, bias=np.zeros(3)),
        nir.LIF(tau=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3),
                v_threshold=np.ones(3), v_reset=np.zeros(3)),
        nir.Output(output_type=np.array([3])))
    path = tmp_path / "foreign.nir"
    nir.write(path, graph)
    with pytest.raises(ConfigError, match="does not record time_bins and classes; pass --dataset"):
        compile_model(path, _options(tmp_path / "b"))


def test_integer_profile_can_also_emit_nir_and_onnx(trained_checkpoint: Path,
                                                    tmp_path: Path) -> None:
    import nir
    import onnx

    report = compile_model(trained_checkpoint, _options(tmp_path / "b", target="int4-fixed",
                                                        emit=("nir", "onnx"), calibrate=False))
    assert {"model.nir", "model.onnx", "model.h", "model.npz"} <= set(report["files"])
    graph = nir.read(tmp_path / "b" / "model.nir")
    assert "quantization" in graph.metadata
    onnx.checker.check_model(onnx.load(tmp_path / "b" / "model.onnx"))


def test_wheel_ships_the_targets_and_finds_them_installed(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True)
    wheel = next(tmp_path.glob("sastc-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("sastc/_targets/profiles/int8-fixed.toml", "sastc/_targets/nir.toml",
                     "sastc/_targets/boards/cortex-m4-256k.toml",
                     "sastc/_targets/runtime/sastc_rt.c", "sastc/_targets/runtime/harness.c"):
        assert required in names, required
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    found = subprocess.run([sys.executable, "-c", "import sastc.targets as t; "
                            "print(t.targets_dir()); print(t.list_targets())"],
                           env={"PYTHONPATH": str(site), "PATH": ""}, capture_output=True,
                           text=True, check=True, cwd=tmp_path).stdout
    assert str(site / "sastc" / "_targets") in found and "int4-fixed" in found
