"""The ``c-header`` emitter: data-only model.h, INT4 packing, checks of what the runtime needs."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sastc.backends import EmitInput, get_emitter
from sastc.backends.c_codegen import (
    pack_weights,
    packed_words,
    runtime_weights,
    state_words,
    unpack_weights,
)
from sastc.backends.c_header import HEADER_FILE, RUNTIME_FILES, write_build
from sastc.errors import CompileError
from sastc.ir import fuse
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.quantized import QNet
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import STRICT_CFLAGS, CRuntime, RuntimeFailure, build_harness
from sastc.spec import parse_arch
from sastc.targets import load_target
from tests.toolchains import require_tool

ARCH = "conv(8,3,stride=2) pool(2) conv(6,3) dense(20) readout"
ARRAY = re.compile(r"static const (\w+) (sastc_l(\d+)_weights)\[(\d+)\] = \{([^}]*)\};")


def make_emit_input(profile: str, seed: int = 0, arch: str = ARCH) -> EmitInput:
    spec = parse_arch(arch, (2, 16, 16), 5)
    graph = graph_from_spec(spec, random_params(spec, seed, gain=3.0),
                            {"time_bins": 8, "classes": [f"class {i}" for i in range(5)]})
    net = fuse(graph)
    qnet = quantize_net(net, load_target(profile).profile.numerics)
    return EmitInput(graph, net, qnet, name="test-model")


def header_weights(text: str) -> dict[int, tuple[str, int, np.ndarray]]:
    """Per layer: C type, declared length and values of its weight array in model.h."""
    return {int(m.group(3)): (m.group(1), int(m.group(4)),
                              np.array([int(v) for v in m.group(5).replace("\n", " ").split(",")]))
            for m in ARRAY.finditer(text)}


def _gcc() -> str:
    return require_tool("gcc", "compiling the header needs a host C compiler")


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_weight_arrays_are_packed_words(tmp_path: Path, profile: str) -> None:
    model = make_emit_input(profile)
    written = get_emitter("c-header")(model, tmp_path)
    assert {p.name for p in written} == {HEADER_FILE, *RUNTIME_FILES}
    arrays = header_weights((tmp_path / HEADER_FILE).read_text())
    assert sorted(arrays) == list(range(len(model.qnet.layers)))
    for index, layer in enumerate(model.qnet.layers):
        declared_type, length, values = arrays[index]
        weights = runtime_weights(layer)
        lanes = 4 if profile == "int4-fixed" else 2
        assert declared_type == "uint16_t"
        assert length == values.size == math.ceil(weights.size / (8 * lanes)) * 8, layer.name
        assert np.array_equal(unpack_weights(values, weights.size, layer.weight_bits), weights)


@pytest.mark.parametrize(("bits", "lanes"), [(2, 4), (3, 4), (4, 4), (5, 2), (8, 2)])
def test_packing_order_and_padding(bits: int, lanes: int) -> None:
    """Field f of word k of a block is weight 8 f + k; the last block is padded with zeros."""
    rng = np.random.default_rng(bits)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    width = 16 // lanes
    for count in (1, 7, 8 * lanes - 1, 8 * lanes, 8 * lanes + 1, 100):
        values = rng.integers(low, high + 1, count)
        words = pack_weights(values, bits)
        assert words.dtype == np.uint16 and words.size == packed_words(count, bits)
        assert np.array_equal(unpack_weights(words, count, bits), values)
        for j in range(words.size * lanes):
            block, within = divmod(j, 8 * lanes)
            word = int(words[8 * block + within % 8])
            field = (word >> (width * (within // 8))) & ((1 << width) - 1)
            expected = int(values[j]) & ((1 << width) - 1) if j < count else 0
            assert field == expected, (count, j)


def test_header_is_data_only(tmp_path: Path) -> None:
    write_build(make_emit_input("int8-fixed").qnet, tmp_path)
    text = (tmp_path / HEADER_FILE).read_text()
    declarations = [line for line in text.splitlines() if line.startswith("static")]
    assert declarations and all(line.startswith("static const ") for line in declarations)
    assert "inline" not in text and not re.search(r"\)\s*\{", text)  # no function bodies


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_header_compiles_and_state_size_agrees(tmp_path: Path, profile: str) -> None:
    gcc = _gcc()
    qnet = make_emit_input(profile).qnet
    write_build(qnet, tmp_path)
    probe = tmp_path / "probe.c"
    probe.write_text('#include "model.h"\nstatic uint32_t state[SASTC_MODEL_STATE_WORDS];\n'
                     "int main(void) { sastc_ctx ctx;\n"
                     "  return sastc_init(&ctx, SASTC_MODEL, state, sizeof state) != SASTC_OK; }\n")
    for opt in ("-O0", "-Os"):
        subprocess.run([gcc, *STRICT_CFLAGS, opt, "-I", str(tmp_path), "-c", str(probe), "-o",
                        str(tmp_path / "probe.o")], check=True, capture_output=True, text=True)
    runtime = CRuntime(build_harness(tmp_path), qnet)
    runtime.classify(np.zeros((1, qnet.time_bins, *qnet.input_shape), dtype=np.uint8))
    neurons = [int(np.prod(layer.geometry.out_shape)) for layer in qnet.layers]
    text = (tmp_path / HEADER_FILE).read_text()
    flushing = [int(v) != (1 << 32) - 1 for v in re.findall(r"\.flush_events = (\d+)u", text)]
    words = state_words(neurons, flushing, len(qnet.classes))
    assert runtime.state_bytes == (4 * words, 4 * words)


def test_runtime_rejects_an_edited_header(tmp_path: Path) -> None:
    _gcc()
    qnet = make_emit_input("int8-fixed").qnet
    write_build(qnet, tmp_path)
    header = tmp_path / HEADER_FILE
    header.write_text(re.sub(r"(sastc_l1_rows\[\d+\] = \{\n    \{)(\d+)",
                             lambda m: m.group(1) + str(int(m.group(2)) + 1), header.read_text()))
    runtime = CRuntime(build_harness(tmp_path), qnet)
    with pytest.raises(RuntimeFailure, match="SASTC_ERR_BAD_MODEL"):
        runtime.classify(np.zeros((1, qnet.time_bins, *qnet.input_shape), dtype=np.uint8))


def _edit_layer(qnet: QNet, index: int, **changes: object) -> QNet:
    layers = list(qnet.layers)
    layers[index] = dataclasses.replace(layers[index], **changes)
    return dataclasses.replace(qnet, layers=layers)


@pytest.mark.parametrize(("changes", "message"), [
    ({"membrane_bits": 24, "leak_shift": 9, "beta_q": 300}, r"membrane_bits - 1 \+ leak_shift"),
    ({"weight_bits": 9}, "weight_bits is 9"),
    ({"beta_q": 257}, "beta_q 257"),
    ({"neuron": "li"}, "only the readout"),
    ({"frac_bits": 30}, "beyond int32"),
])
def test_bad_layer_raises_compile_error(tmp_path: Path, changes: dict, message: str) -> None:
    qnet = _edit_layer(make_emit_input("int8-fixed").qnet, 1, **changes)
    with pytest.raises(CompileError, match=message) as info:
        write_build(qnet, tmp_path)
    assert qnet.layers[1].name in str(info.value)
    assert not (tmp_path / HEADER_FILE).exists()


def test_weights_outside_their_width_raise(tmp_path: Path) -> None:
    qnet = make_emit_input("int4-fixed").qnet
    layer = qnet.layers[0]
    wide = layer.weight_q.copy()
    wide.flat[0] = 9
    with pytest.raises(CompileError, match="outside the 4-bit range"):
        write_build(_edit_layer(qnet, 0, weight_q=wide), tmp_path)


def test_logit_range_limits_time_bins(tmp_path: Path) -> None:
    qnet = _edit_layer(make_emit_input("int8-fixed").qnet, -1, membrane_bits=28, leak_shift=2,
                       beta_q=3)
    write_build(dataclasses.replace(qnet, time_bins=16), tmp_path)  # 16 * 2^27 = 2^31: exact
    with pytest.raises(CompileError, match="exact for at most 16 steps"):
        write_build(dataclasses.replace(qnet, time_bins=17), tmp_path)


def test_missing_integer_network_raises(tmp_path: Path) -> None:
    model = dataclasses.replace(make_emit_input("int8-fixed"), qnet=None)
    with pytest.raises(CompileError, match="integer profile"):
        get_emitter("c-header")(model, tmp_path)
