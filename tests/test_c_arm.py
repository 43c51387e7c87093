"""The runtime and a compiled model build for Cortex-M4 without warnings or floating point;
the firmware example builds and classifies like the simulator.

Needs arm-none-eabi-gcc (Debian: ``gcc-arm-none-eabi libnewlib-arm-none-eabi``); without it
the tests skip, unless ``SASTC_REQUIRE_TOOLCHAINS=1`` makes a missing toolchain a failure.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sastc.backends.c_checks import RUNTIME_CODE_BYTES, model_memory
from sastc.backends.c_header import write_build
from sastc.ir import fuse
from sastc.ir.build import graph_from_spec, random_params
from sastc.ir.quantized import QNet
from sastc.passes.quantize import quantize_net
from sastc.sim.c_runtime import runtime_sources
from sastc.sim.int_sim import IntegerSimulator
from sastc.spec import parse_arch
from sastc.targets import load_target
from tests.toolchains import require_tool

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "examples" / "firmware"
ARM_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror",
             "-pedantic", "-O2")
# Soft-float helpers of the ARM EABI and libgcc: none may be referenced.
FLOAT_HELPER = re.compile(r"__aeabi_[fd]|__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|un)[sd]f|"
                          r"__(fix|fixuns|float|floatun|extend|trunc)[sd]f|__aeabi_[ui]?[l]?2[fd]")
ARCH = "conv(16,5,stride=2) pool(2) conv(32,3) dense(64) readout"


def _tool(name: str) -> str:
    return require_tool(name, "install gcc-arm-none-eabi and libnewlib-arm-none-eabi")


def make_qnet(profile: str) -> QNet:
    spec = parse_arch(ARCH, (2, 34, 34), 10)
    graph = graph_from_spec(spec, random_params(spec, 0, gain=3.0),
                            {"time_bins": 16, "classes": [str(i) for i in range(10)]})
    return quantize_net(fuse(graph), load_target(profile).profile.numerics)


@pytest.fixture(scope="module", params=["int8-fixed", "int4-fixed"])
def arm_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[str, Path]:
    """The firmware example linked for Cortex-M4 against an N-MNIST-sized model."""
    gcc = _tool("arm-none-eabi-gcc")
    build = tmp_path_factory.mktemp(f"arm-{request.param}")
    write_build(make_qnet(request.param), build)
    elf = build / "firmware.elf"
    command = [gcc, *ARM_FLAGS, "-I", str(build), str(FIRMWARE / "main.c"),
               *map(str, runtime_sources(build)), "--specs=nosys.specs", "-o", str(elf)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return request.param, elf


def test_cortex_m4_build_sizes(arm_build: tuple[str, Path]) -> None:
    profile, elf = arm_build
    output = subprocess.run([_tool("arm-none-eabi-size"), str(elf)], capture_output=True,
                            text=True, check=True).stdout
    text, data, bss = (int(v) for v in output.splitlines()[1].split()[:3])
    print(f"\n{profile} cortex-m4 firmware ({ARCH}): text {text} data {data} bss {bss}")
    assert text > 0 and bss > 0


def test_no_floating_point_helpers(arm_build: tuple[str, Path]) -> None:
    _, elf = arm_build
    symbols = subprocess.run([_tool("arm-none-eabi-nm"), str(elf)], capture_output=True,
                             text=True, check=True).stdout
    found = sorted({line.split()[-1] for line in symbols.splitlines()
                    if FLOAT_HELPER.search(line.split()[-1])})
    assert found == [], f"floating-point helpers linked: {found}"


def test_runtime_objects_reference_no_floating_point(tmp_path: Path) -> None:
    """No runtime object needs a float helper, and their code fits the reported estimate."""
    gcc, nm, size = _tool("arm-none-eabi-gcc"), _tool("arm-none-eabi-nm"), _tool("arm-none-eabi-size")
    code = 0
    for source in runtime_sources():
        target = tmp_path / f"{source.stem}.o"
        subprocess.run([gcc, *ARM_FLAGS, "-c", str(source), "-o", str(target)], check=True,
                       capture_output=True, text=True)
        undefined = subprocess.run([nm, "-u", str(target)], capture_output=True, text=True,
                                   check=True).stdout.split()
        assert not [s for s in undefined if FLOAT_HELPER.search(s)], (source.name, undefined)
        sizes = subprocess.run([size, str(target)], capture_output=True, text=True,
                               check=True).stdout.splitlines()[1].split()
        code += int(sizes[0]) + int(sizes[1])
    print(f"\nruntime code, cortex-m4 -O2: {code} bytes")
    assert code <= RUNTIME_CODE_BYTES


@pytest.mark.parametrize("profile", ["int8-fixed", "int4-fixed"])
def test_model_memory_matches_the_object(tmp_path: Path, profile: str) -> None:
    """``model_memory`` (the compile report's flash figure) agrees with the compiled model.h."""
    gcc, size = _tool("arm-none-eabi-gcc"), _tool("arm-none-eabi-size")
    qnet = make_qnet(profile)
    write_build(qnet, tmp_path)
    probe = tmp_path / "model.c"
    probe.write_text('#include "model.h"\nconst sastc_model *sastc_keep(void);\n'
                     "const sastc_model *sastc_keep(void) { return SASTC_MODEL; }\n")
    subprocess.run([gcc, *ARM_FLAGS, "-I", str(tmp_path), "-c", str(probe), "-o",
                    str(tmp_path / "model.o")], check=True, capture_output=True, text=True)
    sections = subprocess.run([size, "-A", str(tmp_path / "model.o")], capture_output=True,
                              text=True, check=True).stdout.splitlines()
    measured = sum(int(line.split()[1]) for line in sections
                   if line.startswith((".rodata", ".data")))
    predicted = model_memory(qnet)["model_bytes"]
    assert measured <= predicted <= measured + 16, (measured, predicted)


def test_firmware_example_classifies_like_the_simulator(tmp_path: Path) -> None:
    _tool("gcc")
    make = _tool("make")
    qnet = make_qnet("int8-fixed")
    write_build(qnet, tmp_path)
    subprocess.run([make, "-s", "-C", str(FIRMWARE), f"BUILD={tmp_path}"], check=True,
                   capture_output=True, text=True)
    rng = np.random.default_rng(0)
    frames = (rng.random((3, 16, 2, 34, 34)) < 0.05).astype(np.uint8)
    output = subprocess.run([str(tmp_path / "firmware")], input=frames.tobytes(),
                            capture_output=True, check=True).stdout.decode()
    labels = [int(line.split()[0]) for line in output.splitlines()]
    expected = np.argmax(IntegerSimulator(qnet).run(frames).logits, axis=1)
    assert labels == expected.tolist()
