"""The firmware on emulated microcontrollers (QEMU): Cortex-M4 (``mps2-an386``, with the
Armv7E-M kernels of ``sastc_arm.h``) and Cortex-M0 (``microbit``, the portable C), bit for
bit equal to the integer simulator on real N-MNIST recordings, from frames and from raw
events; ``sastc simulate --mcu``; and clear errors for missing tools, a firmware that does
not answer and malformed answers.

Needs qemu-system-arm and arm-none-eabi-gcc (Debian: ``qemu-system-arm gcc-arm-none-eabi
libnewlib-arm-none-eabi``); without them the tests skip, unless SASTC_REQUIRE_TOOLCHAINS=1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sastc.backends.c_header import write_build
from sastc.data import load_frames
from sastc.data.binning import bin_window
from sastc.data.nmnist import read_nmnist_bin
from sastc.errors import ConfigError
from sastc.ir.quantized import QNet
from sastc.sim import mcu as mcu_module
from sastc.sim.c_stream import EventStream, FirmwareFailure, Reader, decode_streams, encode_streams
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.mcu import MCUS, build_firmware, elf_memory, run_frames, run_qemu
from sastc.targets import load_board
from tests.test_c_runtime import make_qnet, random_frames
from tests.toolchains import require_tool

NMNIST_ARCH = "conv(16,5,stride=2) pool(2) conv(32,3) dense(64) readout"


def _require_tools() -> None:
    require_tool("qemu-system-arm", "install qemu-system-arm")
    require_tool("arm-none-eabi-gcc", "install gcc-arm-none-eabi libnewlib-arm-none-eabi")


def firmware(qnet: QNet, directory: Path, mcu: str = "cortex-m4", **options) -> Path:
    """model.h for qnet, and the firmware linked for `mcu`."""
    _require_tools()
    build_options = {k: options.pop(k) for k in ("narrow", "skip_clamp") if k in options}
    write_build(qnet, directory, **build_options)
    return build_firmware(directory, MCUS[mcu], directory / "firmware.elf", **options)


def assert_bit_exact(qnet: QNet, elf: Path, mcu: str, frames: np.ndarray) -> np.ndarray:
    """Every sample's logits and class equal the simulator's; returns the clock ticks."""
    results = run_frames(elf, MCUS[mcu], frames, timeout=120)
    expected = IntegerSimulator(qnet).run(frames).logits
    assert np.array_equal(results.logits, expected)
    assert np.array_equal(results.labels, np.argmax(expected, axis=1))
    return results.ticks


@pytest.fixture(scope="module")
def nmnist_m4(tmp_path_factory: pytest.TempPathFactory) -> tuple[QNet, Path]:
    qnet = make_qnet(NMNIST_ARCH, "int8-fixed", 0, input_shape=(2, 34, 34), time_bins=16)
    return qnet, firmware(qnet, tmp_path_factory.mktemp("m4-nmnist"))


def test_cortex_m4_nmnist_int8_from_frames(nmnist_m4: tuple[QNet, Path], nmnist_dir: Path
                                           ) -> None:
    qnet, elf = nmnist_m4
    frames = load_frames("nmnist", "test", data_dir=nmnist_dir, time_bins=16, limit=4,
                         progress=False).frames
    ticks = assert_bit_exact(qnet, elf, "cortex-m4", frames)
    neuron_steps = 16 * sum(int(np.prod(layer.geometry.out_shape)) for layer in qnet.layers)
    assert np.all(ticks * 40 > 4 * neuron_steps)  # 25 MHz SysTick: 40 instructions a tick
    memory = elf_memory(elf)
    assert memory["ram_bytes"] >= 4 * qnet_state_words(elf.parent)


def qnet_state_words(build: Path) -> int:
    line = next(li for li in (build / "model.h").read_text().splitlines()
                if li.startswith("#define SASTC_MODEL_STATE_WORDS"))
    return int(line.split()[2].rstrip("u"))


def test_cortex_m4_nmnist_from_raw_events(nmnist_m4: tuple[QNet, Path], nmnist_dir: Path
                                          ) -> None:
    """Each recording streamed as events (one 400 ms window): the decision on the M4 equals the
    simulator's on bin_window's frames."""
    qnet, elf = nmnist_m4
    files = sorted((nmnist_dir / "Test").glob("*/*.bin"))[::50][:2]
    recordings = [read_nmnist_bin(path) for path in files]
    payload = encode_streams([EventStream(e, 0, 400_000) for e in recordings], window_us=400_000)
    reader, header = run_qemu(elf, MCUS["cortex-m4"], payload, timeout=120)
    status, results = decode_streams(reader, len(recordings), header)
    frames = np.stack([bin_window(e, 0, 400_000, 16, (2, 34, 34), 1, 1) for e in recordings])
    expected = IntegerSimulator(qnet).run(frames).logits
    assert status == 0 and [r.status for r in results] == [0, 0]
    assert np.array_equal(np.concatenate([r.logits for r in results]), expected)


@pytest.mark.parametrize(("arch", "profile", "shape", "options"), [
    ("conv(16, 3, stride=2) conv(32, 3) readout", "int4-fixed", (2, 16, 16), {}),
    ("conv(12, 3) pool(2) dense(24) readout", "int8-fixed", (2, 12, 12), {}),
    ("conv(16, 3, stride=2) pool(2) dense(32) readout", "int8-fixed", (1, 16, 16),
     {"narrow": False}),
    ("conv(32, 3, stride=2) dense(16) readout", "int4-fixed", (2, 12, 12),
     {"skip_clamp": False}),
], ids=["int4-halves", "odd-channels", "int32-sums", "clamped-steps"])
def test_cortex_m4_kernels_on_random_networks(tmp_path: Path, arch: str, profile: str,
                                              shape: tuple[int, int, int], options: dict
                                              ) -> None:
    """The Armv7E-M paths (4-bit blocks, general runs, int32 sums, clamped steps) with pooled
    counts above 1."""
    qnet = make_qnet(arch, profile, 3, input_shape=shape, time_bins=6, input_clip=3)
    elf = firmware(qnet, tmp_path, **options)
    assert_bit_exact(qnet, elf, "cortex-m4", random_frames(qnet, 3, 5, density=0.2, max_count=3))


def test_cortex_m0_int4_model_fits_the_32k_board(tmp_path: Path) -> None:
    """A small INT4 model on the Cortex-M0 (Armv6-M, portable C), linked within the
    cortex-m0-32k board's 32 KiB flash and 8 KiB RAM."""
    board = load_board("cortex-m0-32k")
    qnet = make_qnet("conv(16, 5, stride=2) pool(2) readout", "int4-fixed", 2,
                     input_shape=(2, 12, 12), time_bins=16)
    elf = firmware(qnet, tmp_path, "cortex-m0", limits=(board.flash_bytes, board.ram_bytes))
    memory = elf_memory(elf)
    assert memory["flash_bytes"] <= board.flash_bytes and memory["ram_bytes"] <= board.ram_bytes
    assert_bit_exact(qnet, elf, "cortex-m0", random_frames(qnet, 3, 1, density=0.1))


def test_simulate_mcu_json(trained_checkpoint: Path, tmp_path: Path) -> None:
    """``sastc simulate BUILD --mcu cortex-m4 --json`` on a compiled (tiny) checkpoint."""
    _require_tools()
    from sastc.compile import CompileOptions, compile_model

    build = tmp_path / "build"
    compile_model(trained_checkpoint, CompileOptions(out_dir=str(build), calibrate=False,
                                                     verify=False, progress=False),
                  log=lambda _: None)
    result = subprocess.run([sys.executable, "-m", "sastc", "simulate", str(build), "--mcu",
                             "cortex-m4", "--limit", "4", "--json"], capture_output=True,
                            text=True, check=True)
    report = json.loads(result.stdout)
    assert report["mcu_bit_exact"] is True
    assert report["mcu_accuracy"] == pytest.approx(report["int_accuracy"])
    assert report["mcu_instructions_per_synop"] > 1.0
    assert 0 < report["mcu_ram_bytes"] < report["mcu_flash_bytes"]


def test_missing_emulator_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcu_module.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"qemu-system-arm not found.*apt-get install "
                                          r"qemu-system-arm"):
        run_qemu(Path("firmware.elf"), MCUS["cortex-m4"], b"", timeout=1)
    with pytest.raises(ConfigError, match="gcc-arm-none-eabi"):
        build_firmware(Path(), MCUS["cortex-m0"], Path("x.elf"))
    with pytest.raises(ConfigError, match="--mcu 'cortex-m7' is unknown"):
        mcu_module.get_mcu("cortex-m7")


def test_a_firmware_that_does_not_answer_is_stopped(nmnist_m4: tuple[QNet, Path]) -> None:
    _, elf = nmnist_m4
    frames = np.ones((50, 16, 2, 34, 34), dtype=np.uint8)
    with pytest.raises(FirmwareFailure, match=r"gave no answer within 0\.5 s"):
        run_frames(elf, MCUS["cortex-m4"], frames, timeout=0.5)


def test_a_stack_overflow_faults_instead_of_corrupting(nmnist_m4: tuple[QNet, Path]) -> None:
    """The stack sits at the start of RAM: a firmware linked with too small a stack stops
    with an error naming the overflow, not with wrong numbers."""
    _, elf = nmnist_m4
    small = build_firmware(elf.parent, MCUS["cortex-m4"], elf.parent / "small-stack.elf",
                           stack_bytes=256)
    frames = np.ones((1, 16, 2, 34, 34), dtype=np.uint8)
    with pytest.raises(FirmwareFailure, match="stack overflow"):
        run_frames(small, MCUS["cortex-m4"], frames, timeout=60)


def test_malformed_answers_are_errors() -> None:
    with pytest.raises(FirmwareFailure, match="does not start with"):
        Reader(b"XXXX" + bytes(28)).header()
    reader = Reader(b"SAR1" + np.array([0, 8, 10, 4, 2, 0, 1], "<u4").tobytes() + bytes(6))
    header = reader.header()
    with pytest.raises(FirmwareFailure, match="ended after"):
        decode_streams(reader, 1, header)
