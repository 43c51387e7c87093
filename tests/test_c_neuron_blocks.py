"""The C runtime's 32-neuron blocks for every spiking rule equal the integer simulator.

``sastc_neuron.c`` runs LIF and IF layers that reset to zero or by subtraction, and CubaLIF
layers (either reset), in blocks of 32 neurons whenever the channel count divides 32 or is a
multiple of 32, and the neurons left over (a layer size that is not a multiple of 32, other
channel counts) one at a time. Each case compares every layer's spikes at every step, the
logits and the classes with :class:`sastc.sim.int_sim.IntegerSimulator`, for INT8 and INT4
weights: int16 sums and int32 sums (flushed after every event), clamp-free steps and
clamped ones, saturating membranes and currents, quiet blocks (and the build that computes
every block), the shared copies that Arm cores build, and AddressSanitizer +
UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sastc.backends.c_checks import prove_layers
from sastc.backends.c_header import write_build
from sastc.ir.quantized import QNet
from sastc.sim.c_runtime import SANITIZE_CFLAGS, CRuntime, build_harness, compile_runtime
from sastc.sim.int_sim import IntegerSimulator
from tests.test_c_runtime import assert_same, make_qnet, random_frames
from tests.toolchains import require_tool

# per spiking layer: the neuron model and reset of every rule the blocks run
RULES = {
    "lif-zero": "reset=zero",
    "lif-subtract": "reset=subtract",
    "if-subtract": "neuron=if, reset=subtract",
    "cuba-zero": "neuron=cuba, alpha=0.6",
    "cuba-subtract": "neuron=cuba, alpha=0.4, beta=0.8, reset=subtract",
}
# on 2x18x18: 8 x 9 x 9 = 648 neurons (C divides 32: 20 blocks and 8 left over), 32 x 9 x 9
# (C a multiple of 32), 40 (one at a time), 64 (two lane groups), then the LI readout
ARCH = "conv(8,3,stride=2,{o}) conv(32,3,{o}) dense(40,{o}) dense(64,{o}) readout"
INPUT = (2, 18, 18)
TIME_BINS = 12


def rule_qnet(rule: str, profile: str, seed: int = 0, input_shape: tuple[int, ...] = INPUT,
              arch: str = ARCH) -> QNet:
    return make_qnet(arch.format(o=RULES[rule]), profile, seed, input_shape=input_shape,
                     time_bins=TIME_BINS)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., CRuntime]:
    """``build(qnet, flags=(), sanitize=False, **write_build options)``: a host harness."""
    require_tool("gcc", "the C runtime tests need a host C compiler")
    objects: dict[bool, list[Path]] = {}

    def make(qnet: QNet, flags: tuple[str, ...] = (), sanitize: bool = False,
             **options: bool) -> CRuntime:
        extra, opt = ((*SANITIZE_CFLAGS, *flags), "-O1") if sanitize else (flags, "-O2")
        out = tmp_path_factory.mktemp("c-blocks")
        write_build(qnet, out, **options)
        if flags:  # the runtime itself is compiled with them
            return CRuntime(build_harness(out, opt=opt, extra_flags=extra), qnet)
        if sanitize not in objects:
            objects[sanitize] = compile_runtime(tmp_path_factory.mktemp("rt"), opt, extra)
        return CRuntime(build_harness(out, opt=opt, extra_flags=extra,
                                      runtime_objects=objects[sanitize]), qnet)

    return make


def assert_spiking(records: list[np.ndarray]) -> None:
    """Every spiking layer has spikes and silence (the rule after a spike is exercised)."""
    for index, record in enumerate(records[:-1]):
        assert 0.0 < record.mean() < 1.0, index


def with_membranes(qnet: QNet, bits: int) -> QNet:
    """``qnet`` with ``bits``-wide membranes (and currents) in every layer."""
    return dataclasses.replace(qnet, layers=[
        dataclasses.replace(layer, membrane_bits=bits) for layer in qnet.layers])


@pytest.mark.parametrize("bits", [24, 22])
@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
@pytest.mark.parametrize("rule", list(RULES))
def test_blocks_equal_the_simulator(build: Callable[..., CRuntime], rule: str, profile: str,
                                    bits: int) -> None:
    """Proved int16 sums (int32 after the flushes of the dense layer); 24-bit membranes never
    clamp here, 22-bit ones skip the clamp for the first steps (``unsaturated_steps``) only."""
    qnet = with_membranes(rule_qnet(rule, profile), bits)
    steps = [fact.unsaturated_steps for fact in prove_layers(qnet)[:-1]]
    if bits == 22:
        assert min(steps) > 0 and max(steps) < TIME_BINS  # both rules in one run
    frames = random_frames(qnet, 3, seed=1, density=0.15, max_count=1)
    assert_spiking(assert_same(qnet, build(qnet), frames).records)


@pytest.mark.parametrize("narrow", [True, False])
@pytest.mark.parametrize("rule", ["lif-zero", "if-subtract", "cuba-subtract"])
def test_shared_copies_of_arm_cores(build: Callable[..., CRuntime], rule: str,
                                    narrow: bool) -> None:
    """-DSASTC_SPECIALISE_RULES=0 (the default on Arm cores): LIF and IF layers share the blocks
    whose reset is read at run time, CUBA layers a compact block loop (int16 sums, clamp-free
    steps) or one neuron at a time."""
    qnet = with_membranes(rule_qnet(rule, "int4-fixed", seed=2), 22)
    frames = random_frames(qnet, 2, seed=2, density=0.15)
    runtime = build(qnet, flags=("-DSASTC_SPECIALISE_RULES=0",), narrow=narrow)
    assert_spiking(assert_same(qnet, runtime, frames).records)


def _saturating(qnet: QNet) -> QNet:
    """12-bit membranes (and currents), thresholds inside them: drives reach the limits."""
    layers = []
    for layer in qnet.layers:
        theta = np.minimum(np.asarray(layer.theta_q, np.int64), (1 << 11) // 4)
        layers.append(dataclasses.replace(layer, membrane_bits=12, theta_q=theta,
                                          bias_q=np.asarray(layer.bias_q) // 8))
    return dataclasses.replace(qnet, layers=layers)


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
@pytest.mark.parametrize("rule", ["lif-subtract", "if-subtract", "cuba-zero", "cuba-subtract"])
def test_clamped_blocks_with_int32_sums(build: Callable[..., CRuntime], rule: str,
                                        profile: str) -> None:
    """Every step clamped, sums flushed to int32 after every event, membranes that saturate
    (the spikes differ from those of the same network with 24-bit membranes)."""
    wide = rule_qnet(rule, profile, seed=3)
    qnet = _saturating(wide)
    frames = random_frames(qnet, 2, seed=4, density=0.3)
    expected = assert_same(qnet, build(qnet, narrow=False, skip_clamp=False), frames)
    assert_spiking(expected.records)
    reference = IntegerSimulator(with_membranes(qnet, 24)).run(frames, record=True)
    assert not np.array_equal(reference.records[0], expected.records[0])  # saturation mattered
    assert_same(qnet, build(qnet), frames)  # the proved fast paths on the same network


def _quiet_qnet(rule: str, profile: str) -> QNet:
    """Channels that divide 32 with positive biases on a third of the first layer's channels:
    neurons that never get input still charge (CUBA: through their current) and spike."""
    arch = "conv(16,3,{o}) conv(8,3,stride=2,{o}) conv(32,3,{o}) readout"
    base = rule_qnet(rule, profile, seed=13, input_shape=(2, 22, 22), arch=arch)
    first = base.layers[0]
    bias = np.asarray(first.bias_q, np.int64).copy()
    bias[::3] = np.asarray(first.theta_q, np.int64)[::3] // 5 + 1
    layers = [dataclasses.replace(first, bias_q=bias.astype(first.bias_q.dtype)),
              *base.layers[1:]]
    return dataclasses.replace(base, layers=layers)


@pytest.mark.parametrize("narrow", [True, False])
@pytest.mark.parametrize("rule", ["lif-subtract", "cuba-zero", "cuba-subtract"])
def test_quiet_blocks_copy_every_state(build: Callable[..., CRuntime], rule: str,
                                       narrow: bool) -> None:
    """Input in the top-left 6 x 6 pixels only: blocks that never had input are computed once
    and copied (membranes, currents and spikes), equal to the simulator and to the build with
    -DSASTC_NO_QUIET_BLOCKS."""
    qnet = _quiet_qnet(rule, "int8-fixed")
    frames = random_frames(qnet, 2, seed=13, density=0.3)
    frames[..., 6:, :] = 0
    frames[..., :, 6:] = 0
    fast = build(qnet, narrow=narrow)
    expected = assert_same(qnet, fast, frames)
    general = build(qnet, flags=("-DSASTC_NO_QUIET_BLOCKS",), narrow=narrow)
    assert_same(qnet, general, frames)
    first = expected.records[0]  # [T, B, C, H, W]
    assert first[:, :, :, 12:, 12:].any()  # quiet neurons (no input ever) do spike
    assert not first[:, :, :, 12:, 12:].any(axis=(0, 1, 3, 4)).all()  # others stay silent


@pytest.mark.parametrize("rule", ["lif-subtract", "cuba-subtract"])
def test_blocks_under_sanitizers(build: Callable[..., CRuntime], rule: str) -> None:
    """No signed overflow, no access outside the state (the tail and the currents included)."""
    qnet = rule_qnet(rule, "int4-fixed", seed=5)
    frames = random_frames(qnet, 2, seed=5, density=0.2)
    assert_spiking(assert_same(qnet, build(qnet, sanitize=True), frames).records)
    qnet = _saturating(qnet)
    assert_same(qnet, build(qnet, sanitize=True, narrow=False, skip_clamp=False), frames)
