"""Every neuron model end to end: trained with SAST (surrogate forward), compiled to
int8-fixed and int4-fixed, and the integer simulator, the C runtime and the ONNX integer step
agree on every spike of every layer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sastc.compile import CompileOptions, compile_model
from sastc.ir.quantized import load_qnet
from sastc.sim.c_runtime import compile_runtime
from tests.conftest import TINY_SYNTHETIC
from tests.neuron_cases import assert_three_agree
from tests.toolchains import require_tool

# together, every spiking model with both resets
TRAINED = {
    "if+cuba-subtract": ("conv(6, 3, stride=2, neuron=if) pool(2) "
                         "dense(16, neuron=cuba, reset=subtract) readout",
                         [("if", "zero"), ("cuba", "subtract")]),
    "cuba+lif-subtract": ("conv(6, 3, stride=2, neuron=cuba, alpha=0.7) pool(2) "
                          "dense(16, reset=subtract) readout",
                          [("cuba", "zero"), ("lif", "subtract")]),
    "if-subtract+lif": ("conv(6, 3, stride=2, neuron=if, reset=subtract) pool(2) dense(16) readout",
                        [("if", "subtract"), ("lif", "zero")]),
}


@pytest.fixture(scope="module")
def runtime_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tool("gcc", "the C runtime tests need a host C compiler")
    pytest.importorskip("onnxruntime")
    return compile_runtime(tmp_path_factory.mktemp("c-runtime"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TRAINED))
def test_trained_models_compile_bit_exact_to_c_and_onnx(name: str, tmp_path: Path,
                                                        make_config: Callable,
                                                        runtime_objects: list[Path]) -> None:
    from sastc.data import load_frames
    from sastc.train.run import train

    arch, models = TRAINED[name]
    train(make_config(tmp_path / "run", arch=arch, epochs=2), log=lambda _line: None)
    frames = load_frames("synthetic", "test", synthetic=dict(TINY_SYNTHETIC), time_bins=8,
                         limit=12, progress=False).frames
    for profile in ("int8-fixed", "int4-fixed"):
        build = tmp_path / profile
        report = compile_model(tmp_path / "run" / "checkpoint.pt",
                               CompileOptions(profile, str(build), progress=False),
                               log=lambda _line: None)
        qnet = load_qnet(build / "model.npz")
        assert [(layer.neuron, layer.reset) for layer in qnet.layers[:-1]] == models
        run = assert_three_agree(qnet, frames, tmp_path, runtime_objects)
        assert all(0.0 < record.mean() < 1.0 for record in run.records[:-1]), profile
        assert report["verification"]["int_accuracy"] > 100.0 / TINY_SYNTHETIC["num_classes"]
        assert np.isfinite(run.logits).all()
