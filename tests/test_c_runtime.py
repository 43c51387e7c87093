"""The C runtime equals the integer simulator bit for bit, layer by layer, step by step.

Each case builds a QNet, emits it (``c-header``), compiles the host harness once
and compares per-layer spikes / readout membranes at every step, the logits and
the classes of ``sastc_classify`` with ``IntegerSimulator.run(record=True)``.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sastc import numerics
from sastc.backends.c_header import write_build
from sastc.ir import fuse
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.quantized import QNet
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import (
    SANITIZE_CFLAGS,
    STRICT_CFLAGS,
    CRuntime,
    RuntimeFailure,
    build_harness,
    compile_runtime,
    status_codes,
)
from sastc.sim.common import SimOutput
from sastc.sim.int_sim import IntegerSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target
from tests.toolchains import require_tool

NMNIST_ARCH = "conv(16,5,stride=2) pool(2) conv(32,3) dense(64) readout"


def _require_gcc() -> None:
    require_tool("gcc", "the C runtime tests need a host C compiler")


def make_qnet(arch: str, profile: str, seed: int, input_shape: tuple[int, ...] = (2, 20, 20),
              classes: int = 10, time_bins: int = 8, input_clip: int = 1) -> QNet:
    """A realistic QNet: random weights (gain 3), quantized with the profile's numerics."""
    spec = parse_arch(arch, input_shape, classes)
    meta = {"time_bins": time_bins, "classes": [str(i) for i in range(classes)],
            "input_clip": input_clip}
    graph = graph_from_spec(spec, random_params(spec, seed, gain=3.0), meta)
    return quantize_net(fuse(graph), load_target(profile).profile.numerics)


def random_frames(qnet: QNet, batch: int, seed: int, density: float = 0.1,
                  max_count: int = 1, steps: int | None = None) -> np.ndarray:
    """uint8 frames ``[B, T, C, H, W]`` with counts up to ``max_count``."""
    rng = np.random.default_rng(seed)
    shape = (batch, steps or qnet.time_bins, *qnet.input_shape)
    counts = rng.integers(1, max_count + 1, shape)
    return np.where(rng.random(shape) < density, counts, 0).astype(np.uint8)


@pytest.fixture(scope="module")
def compile_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., CRuntime]:
    """``compile_model(qnet, **options)``: emit and compile a harness for it (once per module
    and options)."""
    _require_gcc()
    cache: dict[tuple[int, tuple], CRuntime] = {}
    objects: dict[bool, list[Path]] = {}

    def build(qnet: QNet, sanitize: bool = False, **options: bool) -> CRuntime:
        key = (id(qnet), (sanitize, *sorted(options.items())))  # the runtime keeps qnet alive
        flags, opt = (SANITIZE_CFLAGS, "-O1") if sanitize else ((), "-O2")
        if sanitize not in objects:
            objects[sanitize] = compile_runtime(tmp_path_factory.mktemp("c-runtime"), opt, flags)
        if key not in cache:
            out = tmp_path_factory.mktemp("c-model")
            write_build(qnet, out, **options)
            executable = build_harness(out, opt=opt, extra_flags=flags,
                                       runtime_objects=objects[sanitize])
            cache[key] = CRuntime(executable, qnet)
        return cache[key]

    return build


def assert_same(qnet: QNet, runtime: CRuntime, frames: np.ndarray) -> SimOutput:
    """C and simulator agree on every layer at every step, the logits and the classes."""
    expected = IntegerSimulator(qnet).run(frames, record=True)
    got = runtime.run(frames, record=True)
    assert len(got.records) == len(expected.records)
    for index, (want, have) in enumerate(zip(expected.records, got.records, strict=True)):
        assert have.shape == want.shape and have.dtype == want.dtype, index
        mismatch = np.argwhere(have != want)
        assert mismatch.size == 0, f"layer {index}: first mismatch at [t, b, ...] {mismatch[0]}"
    assert np.array_equal(got.logits, expected.logits)
    if frames.shape[1] == qnet.time_bins:
        classes, logits = runtime.classify(frames)
        assert np.array_equal(logits, expected.logits)
        assert np.array_equal(classes, np.argmax(expected.logits, axis=1))
    return expected


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("arch", [
    "conv(8,3) pool(2) conv(16,3,stride=2) dense(24) readout",   # pooled spikes, dense after conv
    "conv(6,5,stride=2,padding=1) conv(5,3) readout",             # odd channels: general rows
    "pool(2) conv(16,3) dense(32) dense(12) readout",             # pooled input, dense chain
    "conv(3,3,stride=2) conv(3,3) readout",                       # odd weight counts
    "conv(32,3,stride=2) dense(64) dense(20) readout",            # 32-channel lane groups
    "conv(48,3,stride=2) conv(1,3) dense(40) readout",            # C = 48, 1 and 40: neuron by neuron
])
def test_random_networks(compile_model: Callable[..., CRuntime], arch: str, profile: str,
                         seed: int) -> None:
    qnet = make_qnet(arch, profile, seed)
    assert_same(qnet, compile_model(qnet), random_frames(qnet, 3, seed))


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_clipped_counts_and_pooled_counts(compile_model: Callable[..., CRuntime],
                                          profile: str) -> None:
    qnet = make_qnet("pool(2) conv(12,3,stride=2) pool(2) dense(16) readout", profile, 3,
                     input_clip=3)
    frames = random_frames(qnet, 2, 3, density=0.3, max_count=6)  # counts above the clip
    assert frames.max() > qnet.input_clip
    assert_same(qnet, compile_model(qnet), frames)


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_general_paths_flush_every_event_and_always_clamp(
        compile_model: Callable[..., CRuntime], profile: str) -> None:
    qnet = make_qnet("conv(16,3,stride=2) pool(2) dense(32) readout", profile, 4)
    runtime = compile_model(qnet, narrow=False, skip_clamp=False)
    assert_same(qnet, runtime, random_frames(qnet, 2, 4))


def test_int16_sums_flushed_when_many_events(compile_model: Callable[..., CRuntime]) -> None:
    qnet = make_qnet("dense(16) readout", "int8-fixed", 5, input_shape=(2, 20, 20))
    frames = random_frames(qnet, 2, 5, density=0.6)  # ~480 events per step > 32767 / 127
    assert frames[0, 0].sum() > 32767 // int(np.abs(qnet.layers[0].weight_q).max())
    assert_same(qnet, compile_model(qnet), frames)


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_int16_sums_at_their_limit(compile_model: Callable[..., CRuntime], profile: str) -> None:
    """Extreme weights (+-max everywhere) and every input active: the int16 partial sums reach
    their bound exactly when they are flushed."""
    base = make_qnet("dense(16) readout", profile, 11, input_shape=(2, 50, 50))  # 5000 events
    first = base.layers[0]
    extreme = (1 << (first.weight_bits - 1)) - 1
    signs = np.where(np.arange(first.weight_q.shape[0]) % 2 == 0, 1, -1)[:, None]
    weights = (signs * np.full(first.weight_q.shape, extreme)).astype(first.weight_q.dtype)
    extreme_layer = dataclasses.replace(first, weight_q=weights, frac_bits=2)
    qnet = dataclasses.replace(base, layers=[extreme_layer, *base.layers[1:]])
    frames = np.ones((1, qnet.time_bins, *qnet.input_shape), dtype=np.uint8)
    assert_same(qnet, compile_model(qnet), frames)


def _with_readout(qnet: QNet, **changes: object) -> QNet:
    layers = [*qnet.layers[:-1], dataclasses.replace(qnet.layers[-1], **changes)]
    return dataclasses.replace(qnet, layers=layers)


def test_lif_readout_counts_spikes(compile_model: Callable[..., CRuntime]) -> None:
    base = make_qnet("conv(8,3,stride=2) dense(16) readout", "int8-fixed", 6)
    readout = base.layers[-1]
    theta = np.full(readout.bias_q.shape, int(np.abs(readout.weight_matrix).sum(axis=1).max())
                    << readout.frac_bits >> 4)
    qnet = _with_readout(base, neuron="lif", theta_q=theta.astype(np.int64))
    expected = assert_same(qnet, compile_model(qnet), random_frames(qnet, 3, 6, density=0.3))
    assert expected.logits.max() > 0  # the readout does spike


def test_saturating_membranes(compile_model: Callable[..., CRuntime]) -> None:
    base = make_qnet("conv(8,3) dense(16) readout", "int8-fixed", 7)
    narrow = [dataclasses.replace(layer, membrane_bits=12, beta_q=256) for layer in base.layers]
    qnet = dataclasses.replace(base, layers=narrow)
    frames = random_frames(qnet, 2, 7, density=0.3)
    expected = assert_same(qnet, compile_model(qnet), frames)
    low, high = numerics.int_range(12)
    assert np.isin(expected.records[-1], [low, high]).any()  # the clamp did fire
    assert_same(qnet, compile_model(qnet, skip_clamp=False), frames)


def test_zero_bias_and_no_leak(compile_model: Callable[..., CRuntime]) -> None:
    base = make_qnet("conv(8,3,stride=2) readout", "int4-fixed", 8)
    layers = [dataclasses.replace(layer, bias_q=np.zeros_like(layer.bias_q), beta_q=0)
              for layer in base.layers]
    qnet = dataclasses.replace(base, layers=layers)
    assert_same(qnet, compile_model(qnet), random_frames(qnet, 2, 8, density=0.2))


def test_too_many_steps_is_reported(compile_model: Callable[..., CRuntime]) -> None:
    base = make_qnet("conv(4,3,stride=2) readout", "int8-fixed", 9)
    qnet = _with_readout(base, membrane_bits=28, leak_shift=2, beta_q=3)  # logits exact 16 steps
    runtime = compile_model(qnet)
    assert_same(qnet, runtime, random_frames(qnet, 1, 9, steps=16))
    with pytest.raises(RuntimeFailure, match="SASTC_ERR_TOO_MANY_STEPS"):
        runtime.run(random_frames(qnet, 1, 9, steps=17), record=True)


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_sanitizers_on_random_network(compile_model: Callable[..., CRuntime],
                                      profile: str) -> None:
    qnet = make_qnet("conv(8,3) pool(2) conv(6,3,stride=2) dense(20) readout", profile, 10,
                     input_clip=2)
    runtime = compile_model(qnet, sanitize=True)
    assert_same(qnet, runtime, random_frames(qnet, 2, 10, density=0.2, max_count=3))


def _quiet_qnet(profile: str) -> QNet:
    """Layers whose channels divide 32 (16, 8), a multiple of 32 and a dense layer, with
    positive biases on a third of the first layer's channels: neurons that never get input
    still cross their threshold now and then."""
    base = make_qnet("conv(16,3) conv(8,3,stride=2) conv(32,3) dense(64) readout", profile, 13,
                     input_shape=(2, 24, 24))
    first = base.layers[0]
    bias = first.bias_q.astype(np.int64).copy()
    bias[::3] = np.asarray(first.theta_q, dtype=np.int64)[::3] // 3 + 1
    layers = [dataclasses.replace(first, bias_q=bias.astype(first.bias_q.dtype)),
              *base.layers[1:]]
    return dataclasses.replace(base, layers=layers)


def _corner_frames(qnet: QNet, batch: int, seed: int) -> np.ndarray:
    """Events only in the top-left 6 x 6 pixels: most 32-neuron blocks never get input."""
    frames = random_frames(qnet, batch, seed, density=0.3)
    frames[..., 6:, :] = 0
    frames[..., :, 6:] = 0
    return frames


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
@pytest.mark.parametrize("narrow", [True, False])
def test_quiet_blocks_fast_path(tmp_path: Path, profile: str, narrow: bool) -> None:
    """Blocks that never had input are computed once and copied (sastc_neuron.c): equal to the
    simulator, and to the runtime built with -DSASTC_NO_QUIET_BLOCKS (every block computed),
    with int16 sums and with sums flushed to int32 after every event."""
    _require_gcc()
    qnet = _quiet_qnet(profile)
    frames = _corner_frames(qnet, 2, 13)
    results = []
    for flags in ((), ("-DSASTC_NO_QUIET_BLOCKS",)):
        out = tmp_path / ("general" if flags else "fast")
        write_build(qnet, out, narrow=narrow)
        runtime = CRuntime(build_harness(out, extra_flags=flags), qnet)
        expected = assert_same(qnet, runtime, frames)
        results.append(runtime.run(frames, record=True))
    for fast, general in zip(results[0].records, results[1].records, strict=True):
        assert np.array_equal(fast, general)
    first = expected.records[0]  # [T, B, C, H, W]
    assert not first[:, :, :, 12:, 12:].any(axis=(0, 1, 3, 4)).all()  # some channels stay silent
    assert first[:, :, :, 12:, 12:].any()  # quiet neurons (no input ever) do spike


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_quiet_blocks_under_sanitizers(compile_model: Callable[..., CRuntime],
                                       profile: str) -> None:
    qnet = _quiet_qnet(profile)
    assert_same(qnet, compile_model(qnet, sanitize=True), _corner_frames(qnet, 1, 14))


ALIGNMENT_PROBE = r"""
#include <stdio.h>
#include "model.h"
#include "frames.h"
static uint32_t storage[SASTC_MODEL_STATE_WORDS + 4u];
int main(void)
{
    uint32_t offset, label, i;
    for (offset = 0; offset < 4u; ++offset) { /* buffers 4-byte aligned, 16-byte or not */
        sastc_ctx ctx;
        const int32_t *logits;
        if (sastc_init(&ctx, SASTC_MODEL, storage + offset, SASTC_MODEL_STATE_BYTES) != SASTC_OK ||
            sastc_classify(&ctx, probe_frames, &label) != SASTC_OK ||
            sastc_logits(&ctx, &logits) != SASTC_OK)
            return 1;
        for (i = 0; i < SASTC_MODEL_NUM_CLASSES; ++i)
            printf("%ld ", (long)logits[i]);
        printf("\n");
    }
    return 0;
}
"""


def test_state_buffer_at_any_4_byte_offset(tmp_path: Path) -> None:
    """The runtime starts its arrays at the first 16-byte boundary of the buffer: every 4-byte
    aligned buffer of SASTC_MODEL_STATE_BYTES gives the same logits, the simulator's."""
    _require_gcc()
    qnet = _quiet_qnet("int8-fixed")
    write_build(qnet, tmp_path)
    frames = _corner_frames(qnet, 1, 15)
    values = ", ".join(str(int(v)) for v in frames[0].ravel())
    (tmp_path / "frames.h").write_text(f"static const uint8_t probe_frames[] = {{{values}}};\n")
    (tmp_path / "probe.c").write_text(ALIGNMENT_PROBE)
    objects = compile_runtime(tmp_path)
    subprocess.run(["gcc", *STRICT_CFLAGS, "-O2", "-I", str(tmp_path), *map(str, objects),
                    str(tmp_path / "probe.c"), "-o", str(tmp_path / "probe")], check=True)
    output = subprocess.run([str(tmp_path / "probe")], capture_output=True, text=True,
                            check=True).stdout.split("\n")[:4]
    expected = IntegerSimulator(qnet).run(frames).logits[0]
    assert [[int(v) for v in line.split()] for line in output] == [expected.tolist()] * 4


API_PROBE = r"""
#include <stdio.h>
#include "model.h"
static uint32_t state[SASTC_MODEL_STATE_WORDS + 1u];
static const uint8_t frames[SASTC_MODEL_TIME_BINS * SASTC_MODEL_INPUT_BYTES];
int main(void)
{
    static const int32_t tied[4] = {3, 5, 5, 1};
    sastc_ctx ctx, blank = {0};
    const uint32_t *bits;
    const int32_t *u;
    uint32_t label = 99u;
    printf("null %d\n", sastc_init(NULL, SASTC_MODEL, state, sizeof state));
    printf("small %d\n", sastc_init(&ctx, SASTC_MODEL, state, SASTC_MODEL_STATE_BYTES - 4u));
    printf("align %d\n", sastc_init(&ctx, SASTC_MODEL, (char *)state + 2, SASTC_MODEL_STATE_BYTES));
    printf("uninit %d\n", sastc_step(&blank, frames));
    printf("ok %d\n", sastc_init(&ctx, SASTC_MODEL, state, SASTC_MODEL_STATE_BYTES));
    printf("layer %d\n", sastc_layer_spikes(&ctx, SASTC_MODEL_NUM_LAYERS, &bits));
    printf("readout %d\n", sastc_layer_spikes(&ctx, SASTC_MODEL_NUM_LAYERS - 1u, &bits));
    printf("membranes %d\n", sastc_layer_membranes(&ctx, 0u, &u));
    printf("classify %d\n", sastc_classify(&ctx, frames, &label));
    printf("bytes %d\n", sastc_state_bytes(SASTC_MODEL) == SASTC_MODEL_STATE_BYTES);
    printf("label %u\n", (unsigned)label);
    printf("tie %u\n", (unsigned)sastc_argmax(tied, 4u));
    printf("message %s\n", sastc_status_string(SASTC_ERR_STATE_TOO_SMALL));
    printf("unknown %s\n", sastc_status_string((sastc_status)99));
    return 0;
}
"""


def test_api_status_codes(tmp_path: Path) -> None:
    _require_gcc()
    qnet = make_qnet("conv(4,3,stride=2) readout", "int8-fixed", 12)
    write_build(qnet, tmp_path)
    (tmp_path / "probe.c").write_text(API_PROBE)
    objects = compile_runtime(tmp_path)
    subprocess.run(["gcc", *STRICT_CFLAGS, "-O2", "-I", str(tmp_path), *map(str, objects),
                    str(tmp_path / "probe.c"), "-o", str(tmp_path / "probe")], check=True)
    output = subprocess.run([str(tmp_path / "probe")], capture_output=True, text=True,
                            check=True).stdout
    got = dict(line.split(" ", 1) for line in output.splitlines())
    names = {name: str(code) for code, (name, _) in status_codes().items()}
    expected = {"null": "SASTC_ERR_NULL_ARGUMENT", "small": "SASTC_ERR_STATE_TOO_SMALL",
                "align": "SASTC_ERR_STATE_ALIGNMENT", "uninit": "SASTC_ERR_NOT_INITIALISED",
                "ok": "SASTC_OK", "layer": "SASTC_ERR_LAYER_INDEX",
                "readout": "SASTC_ERR_NOT_SPIKING", "membranes": "SASTC_OK",
                "classify": "SASTC_OK"}
    assert {key: got[key] for key in expected} == {k: names[v] for k, v in expected.items()}
    zero_input = IntegerSimulator(qnet).run(
        np.zeros((1, qnet.time_bins, *qnet.input_shape), np.uint8))
    assert got["bytes"] == "1" and got["tie"] == "1"
    assert got["label"] == str(int(np.argmax(zero_input.logits[0])))
    assert got["message"] == status_codes()[int(names["SASTC_ERR_STATE_TOO_SMALL"])][1]
    assert got["unknown"] == "unknown sastc status code"


def _nmnist_frames(data_dir: Path, count: int) -> np.ndarray:
    from sastc.data import load_frames

    return load_frames("nmnist", "test", data_dir=data_dir, time_bins=16, limit=count,
                       cache_dir=False, progress=False).frames


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_nmnist_recordings(compile_model: Callable[..., CRuntime], nmnist_dir: Path,
                           profile: str) -> None:
    frames = _nmnist_frames(nmnist_dir, 6)
    qnet = make_qnet(NMNIST_ARCH, profile, 0, input_shape=(2, 34, 34), time_bins=16)
    assert_same(qnet, compile_model(qnet), frames)
