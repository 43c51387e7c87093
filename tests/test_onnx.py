"""ONNX one-step export: onnxruntime stepping it reproduces the float and integer simulators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sastc.backends import EmitInput
from sastc.backends.onnx_export import emit_onnx
from sastc.backends.onnx_graph import OPSET
from sastc.errors import DataError
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.graph import Graph
from sastc.ir.lower import fuse
from sastc.passes.quantize import quantize_net
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import FLOAT32_EXACT, IntegerSimulator, accumulator_bound, max_inputs
from sastc.spec import parse_arch
from sastc.targets import load_target

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from sastc.sim.onnx_runner import OnnxRunner  # noqa: E402  (needs onnxruntime)

SENSOR = (2, 34, 34)
TIME_BINS = 16
ARCH = "conv(8, 3, stride=2) pool(2) conv(16, 3) dense(32) readout"
MIN_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def nmnist_frames(nmnist_dir: Path) -> np.ndarray:
    """32 real N-MNIST test recordings (class-stratified), 16 time bins."""
    from sastc.data import load_frames

    return load_frames("nmnist", "test", data_dir=nmnist_dir, time_bins=TIME_BINS, limit=32,
                       progress=False).frames


def make_graph(arch: str = ARCH, input_clip: int = 1, seed: int = 0) -> Graph:
    spec = parse_arch(arch, SENSOR, 10)
    meta = {"time_bins": TIME_BINS, "input_clip": input_clip}
    return graph_from_spec(spec, random_params(spec, seed, gain=3.0), meta)


def integer_model(graph: Graph, profile_name: str) -> EmitInput:
    profile = load_target(profile_name).profile
    net = fuse(graph)
    return EmitInput(graph, net, quantize_net(net, profile.numerics), dict(profile.numerics),
                     profile_name)


def test_float_step_matches_the_float_simulator(tmp_path: Path,
                                                nmnist_frames: np.ndarray) -> None:
    graph = make_graph()
    net = fuse(graph)
    path = emit_onnx(EmitInput(graph, net), tmp_path)[0]
    ours = OnnxRunner(path).run(nmnist_frames, record=True)
    reference = FloatSimulator(net, "hard").run(nmnist_frames, record=True)
    for layer, mine, expected in zip(net.layers, ours.records, reference.records, strict=True):
        assert mine.shape == expected.shape and mine.dtype == expected.dtype
        if layer.neuron == "lif":
            assert 0.0 < expected.mean() < 1.0, f"{layer.name}: degenerate spike rate"
            agreement = float((mine == expected).mean())
            assert agreement >= MIN_AGREEMENT, f"{layer.name}: spike agreement {agreement:.5f}"
        else:
            np.testing.assert_allclose(mine, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.logits, reference.logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("profile_name", ["int8-fixed", "int4-fixed"])
def test_integer_step_matches_the_integer_simulator_bit_for_bit(
        profile_name: str, tmp_path: Path, nmnist_frames: np.ndarray) -> None:
    model = integer_model(make_graph(), profile_name)
    path = emit_onnx(model, tmp_path)[0]
    ours = OnnxRunner(path).run(nmnist_frames, record=True)
    reference = IntegerSimulator(model.qnet).run(nmnist_frames, record=True)
    assert 0.0 < reference.records[0].mean() < 1.0
    for mine, expected in zip(ours.records, reference.records, strict=True):
        assert mine.dtype == expected.dtype
        np.testing.assert_array_equal(mine, expected)
    assert ours.logits.dtype == reference.logits.dtype
    np.testing.assert_array_equal(ours.logits, reference.logits)


@pytest.mark.parametrize("arch", ["pool(4) conv(8, 7) readout", "pool(4) dense(16) readout"])
def test_wide_accumulators_stay_exact(arch: str, tmp_path: Path) -> None:
    """Counts up to 255, pooled 4x4: sums beyond 2^24 (channel groups, int64 MatMul)."""
    model = integer_model(make_graph(arch, input_clip=255, seed=1), "int8-fixed")
    first = model.qnet.layers[0]
    bound = accumulator_bound(first, max_inputs(255, [first.geometry.pool])[0])
    assert bound >= FLOAT32_EXACT  # the case a single float32 accumulation cannot hold
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 6, *SENSOR)).astype(np.uint8)
    frames[rng.random(frames.shape) < 0.9] = 0
    ours = OnnxRunner(emit_onnx(model, tmp_path)[0]).run(frames, record=True)
    reference = IntegerSimulator(model.qnet).run(frames, record=True)
    for mine, expected in zip(ours.records, reference.records, strict=True):
        np.testing.assert_array_equal(mine, expected)
    np.testing.assert_array_equal(ours.logits, reference.logits)


def test_step_graph_layout_and_checker(tmp_path: Path) -> None:
    graph = make_graph()
    path = emit_onnx(EmitInput(graph, fuse(graph), name="step"), tmp_path)[0]
    assert path.name == "step.onnx" and sorted(p.name for p in tmp_path.iterdir()) == ["step.onnx"]
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    assert inputs == ["frame", "state_0", "state_1", "state_2", "state_3", "logits"]
    assert outputs == ["state_0_next", "spikes_0", "state_1_next", "spikes_1", "state_2_next",
                       "spikes_2", "state_3_next", "logits_next"]
    frame = model.graph.input[0].type.tensor_type
    assert frame.elem_type == onnx.TensorProto.UINT8 and frame.shape.dim[0].dim_param == "batch"


def test_runner_handles_any_batch_size(tmp_path: Path) -> None:
    model = integer_model(make_graph(), "int8-fixed")
    runner = OnnxRunner(emit_onnx(model, tmp_path)[0])
    rng = np.random.default_rng(1)
    frames = (rng.random((3, 4, *SENSOR)) < 0.1).astype(np.uint8)
    whole = runner.run(frames).logits
    one = runner.run(frames[1:2]).logits
    np.testing.assert_array_equal(whole[1:2], one)
    np.testing.assert_array_equal(whole, IntegerSimulator(model.qnet).run(frames).logits)
    with pytest.raises(DataError, match=r"frames must be \[B, T, \*\(2, 34, 34\)\]"):
        runner.run(frames[:, :, :, :32])
