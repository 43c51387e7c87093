"""The C integer primitives (targets/runtime/sastc_numerics.h) equal sastc.numerics exactly.

One small C program (targets/runtime/test_primitives.c) applies a primitive to
operand tuples streamed over stdin; the sweeps cover all int4 and all int8
operand pairs, every shift a layer can use on them, and a range of widths.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from sastc import numerics
from sastc.sim.c_runtime import STRICT_CFLAGS
from sastc.targets import runtime_dir
from tests.toolchains import require_tool

INT8 = np.arange(-128, 128, dtype=np.int64)
INT4 = np.arange(-8, 8, dtype=np.int64)
VALUES = [pytest.param(INT4, id="int4"), pytest.param(INT8, id="int8")]


def _compiler() -> str:
    return require_tool("gcc", "the C runtime tests need a host C compiler")


@pytest.fixture(scope="module")
def primitives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The primitives program, compiled once with the runtime's strict flags."""
    out = tmp_path_factory.mktemp("c-primitives") / "test_primitives"
    command = [_compiler(), *STRICT_CFLAGS, "-O2", "-I", str(runtime_dir()),
               str(runtime_dir() / "test_primitives.c"), "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out


def run_c(program: Path, op: str, *columns: np.ndarray | int) -> np.ndarray:
    """``op`` applied by the C program to operand tuples given column-wise (broadcast)."""
    table = np.stack(np.broadcast_arrays(*map(np.asarray, columns)), axis=1).astype("<i4")
    payload = np.array([table.shape[0]], "<u4").tobytes() + table.tobytes()
    result = subprocess.run([str(program), op], input=payload, capture_output=True, check=True)
    return np.frombuffer(result.stdout, dtype="<i4").astype(np.int64)


def grid(*axes: np.ndarray) -> list[np.ndarray]:
    """Every combination of the axes, as flat columns (first axis slowest)."""
    return [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]


def test_round_shift_all_int16_every_shift(primitives: Path) -> None:
    x = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)
    for shift in range(16):
        assert np.array_equal(run_c(primitives, "round_shift", x, shift),
                              numerics.round_shift(x, shift)), shift


def test_round_shift_near_int32_limits(primitives: Path) -> None:
    rng = np.random.default_rng(0)
    for shift in (1, 8, 16, 24, 30):
        low, high = -(1 << 31), (1 << 31) - (1 << (shift - 1))  # x + 2^(shift-1) fits int32
        x = np.concatenate([rng.integers(low, high, 20000), [low, high - 1, -1, 0, 1]])
        assert np.array_equal(run_c(primitives, "round_shift", x, shift),
                              numerics.round_shift(x, shift)), shift


@pytest.mark.parametrize("values", VALUES)
def test_multiply_shift_all_pairs(primitives: Path, values: np.ndarray) -> None:
    m, shift, x = grid(values, np.arange(13), values)
    expected = np.concatenate([numerics.multiply_shift(values, int(a), int(s))
                               for a in values for s in range(13)])
    assert np.array_equal(run_c(primitives, "multiply_shift", x, m, shift), expected)


@pytest.mark.parametrize(("u", "betas", "shifts"), [
    (INT4, np.arange(0, 17), np.arange(5)),
    (INT8, np.arange(0, 257), np.arange(9)),
], ids=["int4", "int8"])
def test_leak_all_pairs(primitives: Path, u: np.ndarray, betas: np.ndarray,
                        shifts: np.ndarray) -> None:
    beta, shift, x = grid(betas, shifts, u)
    expected = np.concatenate([numerics.leak(u, int(b), int(s)) for b in betas for s in shifts])
    assert np.array_equal(run_c(primitives, "leak", x, beta, shift), expected)


def test_leak_of_24_bit_membranes(primitives: Path) -> None:
    rng = np.random.default_rng(1)
    u = np.concatenate([rng.integers(-(1 << 23), 1 << 23, 2000), [-(1 << 23), (1 << 23) - 1]])
    betas = np.arange(0, 257)
    beta, x = grid(betas, u)
    expected = np.concatenate([numerics.leak(u, int(b), 8) for b in betas])
    assert np.array_equal(run_c(primitives, "leak", x, beta, 8), expected)


def test_saturate_all_int16_and_widths(primitives: Path) -> None:
    x = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)
    for bits in range(2, 17):
        assert np.array_equal(run_c(primitives, "saturate", x, bits),
                              numerics.saturate(x, bits)), bits
    rng = np.random.default_rng(2)
    wide = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 20000), [-(1 << 31), (1 << 31) - 1]])
    for bits in (17, 20, 24, 28, 31):
        assert np.array_equal(run_c(primitives, "saturate", wide, bits),
                              numerics.saturate(wide, bits)), bits


@pytest.mark.parametrize("values", VALUES)
def test_fire_all_pairs(primitives: Path, values: np.ndarray) -> None:
    u, theta = grid(values, values)
    assert np.array_equal(run_c(primitives, "fire", u, theta),
                          numerics.fire(u, theta).astype(np.int64))


@pytest.mark.parametrize("values", VALUES)
def test_reset_all_values(primitives: Path, values: np.ndarray) -> None:
    u, spike = grid(values, np.array([0, 1]))
    assert np.array_equal(run_c(primitives, "reset", u, spike),
                          numerics.reset(u, spike.astype(bool)))


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("mode", ["zero", "subtract"])
def test_reset_by_subtraction_all_spiking_pairs(primitives: Path, values: np.ndarray,
                                                mode: str) -> None:
    """Every (u_pre, theta) pair with ``theta >= 0``, spiking where ``u_pre > theta``."""
    u, theta = grid(values, values[values >= 0])
    spike = numerics.fire(u, theta)
    assert np.array_equal(run_c(primitives, "reset_by", u, spike.astype(np.int64), theta,
                                int(mode == "subtract")),
                          numerics.after_spike(u, spike, theta, mode))


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize(("bias", "beta", "leak_shift", "frac_bits", "bits"), [
    (0, 0, 0, 0, 8), (5, 230, 8, 0, 8), (-9, 256, 8, 3, 10), (1, 15, 4, 2, 6),
    (-300, 200, 8, 7, 12), (77, 1, 1, 12, 24), (0, 3, 2, 1, 4),
])  # narrow widths (4..12 bits) make the clamp fire on many of the pairs
def test_integrate_all_pairs(primitives: Path, values: np.ndarray, bias: int, beta: int,
                             leak_shift: int, frac_bits: int, bits: int) -> None:
    u, acc = grid(values, values)
    expected = numerics.integrate(u, acc, np.int64(bias), beta, leak_shift, frac_bits, bits)
    got = run_c(primitives, "integrate", u, acc, bias, beta, leak_shift, frac_bits, bits)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(("beta", "frac_bits"), [(0, 0), (230, 4), (256, 8), (255, 6)])
def test_integrate_24_bit_random(primitives: Path, beta: int, frac_bits: int) -> None:
    rng = np.random.default_rng(beta + frac_bits)
    n = 20000
    u = rng.integers(-(1 << 23), 1 << 23, n)
    acc = rng.integers(-(1 << 14), 1 << 14, n)
    bias = rng.integers(-(1 << 20), 1 << 20, n)
    expected = numerics.integrate(u, acc, bias, beta, 8, frac_bits, 24)
    got = run_c(primitives, "integrate", u, acc, bias, beta, 8, frac_bits, 24)
    assert np.array_equal(got, expected)
