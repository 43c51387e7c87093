"""Networks using every registered neuron model and reset, and the three integer runs to
compare (integer simulator, C runtime, ONNX), for ``tests/test_neurons.py`` and
``tests/test_neuron_training.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sastc.backends.c_header import write_build
from sastc.backends.onnx_int import integer_step_model
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.lower import fuse
from sastc.ir.quantized import QNet
from sastc.ir.ranges import drive_bound
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import CRuntime, build_harness
from sastc.sim.common import SimOutput
from sastc.sim.int_sim import IntegerSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target

SENSOR = (2, 16, 16)
CLASSES = 5
TIME_BINS = 10

# (model, reset) of each spiking layer are in the arch; every pair appears at least once
ARCHS = {
    "lif-zero": "conv(8, 3, stride=2) pool(2) dense(24) readout",
    "lif-subtract": "conv(8, 3, stride=2, reset=subtract) pool(2) dense(24, reset=subtract) "
                    "readout",
    "if-zero": "conv(8, 3, stride=2, neuron=if) pool(2) dense(24, neuron=if) readout",
    "if-subtract": "conv(8, 3, stride=2, neuron=if, reset=subtract) pool(2) "
                   "dense(24, neuron=if, reset=subtract) readout",
    "cuba-zero": "conv(8, 3, stride=2, neuron=cuba, alpha=0.6) pool(2) dense(24, neuron=cuba) "
                 "readout",
    "cuba-subtract": "conv(8, 3, stride=2, neuron=cuba, reset=subtract, beta=0.8) pool(2) "
                     "dense(24, neuron=cuba, alpha=0.3, reset=subtract) readout",
    "mixed": "conv(8, 3, stride=2, neuron=cuba, reset=subtract) conv(12, 3, neuron=if) "
             "dense(20, reset=subtract) readout(beta=0.8)",
}


def make_qnet(arch: str, profile: str, seed: int = 0) -> QNet:
    """``arch`` with random weights (gain 3), quantized with ``profile``'s numerics."""
    return quantize_net(fuse(make_graph(arch, seed)), load_target(profile).profile.numerics)


def make_graph(arch: str, seed: int = 0):
    spec = parse_arch(arch, SENSOR, CLASSES)
    meta = {"time_bins": TIME_BINS, "classes": [str(i) for i in range(CLASSES)],
            "input_clip": 1}
    return graph_from_spec(spec, random_params(spec, seed, gain=3.0), meta)


def spiking_readout(qnet: QNet, neuron: str, reset: str) -> QNet:
    """``qnet`` with its readout replaced by spiking neurons of ``neuron`` (logits = spike
    counts), thresholds a 16th of the largest drive."""
    last = qnet.layers[-1]
    theta = np.full(last.theta_q.shape, drive_bound(last, 1) // 16, np.int64)
    beta_q = 1 << last.leak_shift if neuron == "if" else last.beta_q
    alpha_q = (1 << last.leak_shift) // 2 if neuron == "cuba" else 0
    layer = dataclasses.replace(last, neuron=neuron, reset=reset, theta_q=theta, beta_q=beta_q,
                                alpha_q=alpha_q)
    return dataclasses.replace(qnet, layers=[*qnet.layers[:-1], layer])


def random_frames(qnet: QNet, batch: int, seed: int, density: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (batch, qnet.time_bins, *qnet.input_shape)
    return (rng.random(shape) < density).astype(np.uint8)


def c_run(qnet: QNet, frames: np.ndarray, out: Path, objects: list[Path]) -> SimOutput:
    """The C runtime's run of ``qnet`` (its harness built in ``out``)."""
    write_build(qnet, out)
    return CRuntime(build_harness(out, runtime_objects=objects), qnet).run(frames, record=True)


def onnx_run(qnet: QNet, frames: np.ndarray, out: Path) -> SimOutput:
    """onnxruntime stepping the integer ONNX step of ``qnet``."""
    import onnx

    from sastc.sim.onnx_runner import OnnxRunner

    path = out / "model.onnx"
    onnx.save(integer_step_model(qnet), str(path))
    return OnnxRunner(path).run(frames, record=True)


def assert_identical(expected: SimOutput, got: SimOutput, what: str) -> None:
    """Every layer's record at every step, and the logits, bit for bit."""
    for index, (want, have) in enumerate(zip(expected.records, got.records, strict=True)):
        assert have.shape == want.shape, (what, index)
        mismatch = np.argwhere(np.asarray(have) != np.asarray(want))
        assert mismatch.size == 0, f"{what}, layer {index}: first mismatch at {mismatch[0]}"
    np.testing.assert_array_equal(np.asarray(got.logits), np.asarray(expected.logits))


def assert_three_agree(qnet: QNet, frames: np.ndarray, out: Path,
                       objects: list[Path]) -> SimOutput:
    """Integer simulator == C runtime == ONNX on ``frames``; returns the simulator's run."""
    expected = IntegerSimulator(qnet).run(frames, record=True)
    assert_identical(expected, c_run(qnet, frames, out, objects), "C runtime")
    assert_identical(expected, onnx_run(qnet, frames, out), "ONNX")
    return expected
