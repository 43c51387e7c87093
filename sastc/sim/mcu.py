"""A compiled model on an emulated microcontroller: build the firmware, run it in QEMU, compare.

``targets/mcu/firmware.c`` with the build's ``model.h`` and the runtime is cross-compiled
(``arm-none-eabi-gcc``) with the start-up code and linker script of an emulated machine,
then run by ``qemu-system-arm`` with semihosting (the input and output are host files)
and ``-icount shift=0``: every instruction advances the virtual clock by 1 ns, so the
SysTick ticks the firmware counts around the inference give the instructions executed,

    instructions = ticks * 10^9 / cpu_hz      (resolution: one tick, 40 or 62.5 instructions)

and :func:`mcu_report` divides them by the effective SynOps of the integer simulator on the
same samples (``mcu_instructions_per_synop``), checks every sample's logits and class
against it (``mcu_bit_exact``) and reads flash and RAM of the linked ELF.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sastc.errors import CompileError, ConfigError
from sastc.ir.quantized import QNet
from sastc.sim.c_runtime import STRICT_CFLAGS, describe_status
from sastc.sim.c_stream import (
    FirmwareFailure,
    FrameResults,
    Reader,
    decode_frames,
    encode_frames,
    firmware_sources,
    mcu_dir,
)
from sastc.sim.int_sim import IntegerSimulator

NS_PER_INSTRUCTION = 1  # -icount shift=0
FIT_FLAGS = ("-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections")
FAULT_EXIT, STACK_EXIT = 3, 4  # startup.c: a fault handler ran; the stack overflowed


@dataclass(frozen=True)
class Mcu:
    """An emulated machine: its QEMU name, compiler flags, linker script and clock."""

    name: str
    machine: str
    cflags: tuple[str, ...]
    linker_script: str
    cpu_hz: int
    ring_frames: int  # frames of the firmware's streaming buffer: 1 (no rolling windows)


MCUS = {
    "cortex-m4": Mcu("cortex-m4", "mps2-an386", ("-mcpu=cortex-m4", "-mthumb"),
                     "mps2-an386.ld", 25_000_000, 1),
    "cortex-m0": Mcu("cortex-m0", "microbit", ("-mcpu=cortex-m0", "-mthumb"),
                     "microbit.ld", 16_000_000, 1),
}
TOOL_PACKAGES = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
                 "arm-none-eabi-size": "binutils-arm-none-eabi",
                 "qemu-system-arm": "qemu-system-arm"}


def get_mcu(name: str) -> Mcu:
    if name not in MCUS:
        raise ConfigError(f"--mcu {name!r} is unknown; available: {', '.join(MCUS)}")
    return MCUS[name]


def require_tool(name: str) -> str:
    """Path of ``name``; ConfigError naming the Debian package to install if it is missing."""
    path = shutil.which(name)
    if path is None:
        package = TOOL_PACKAGES.get(name, name)
        raise ConfigError(f"{name} not found: install it (Debian/Ubuntu: apt-get install "
                          f"{package})")
    return path


def build_firmware(build_dir: Path, mcu: Mcu, output: Path, opt: str = "-O2",
                   limits: tuple[int, int] | None = None, extra_flags: Sequence[str] = (),
                   stack_bytes: int | None = None) -> Path:
    """Cross-compile the firmware for ``build_dir``'s model; ``limits`` = (flash, RAM) bytes
    of a board to link against instead of the machine's memory; ``stack_bytes`` replaces the
    linker script's stack reserve (4 KiB M4, 2 KiB M0: enough from -Og / -O1 up; -O0 frames
    of the always-inlined event loops take about 24 KiB)."""
    gcc = require_tool("arm-none-eabi-gcc")
    defines = [f"-DSASTC_CPU_HZ={mcu.cpu_hz}u"]
    defines.append(f"-DFIRMWARE_RING_FRAMES={mcu.ring_frames}u")
    memory = [] if limits is None else [f"-Wl,--defsym=FLASH_BYTES={limits[0]}",
                                        f"-Wl,--defsym=RAM_BYTES={limits[1]}"]
    if stack_bytes is not None:
        memory.append(f"-Wl,--defsym=STACK_BYTES={stack_bytes}")
    sources = [*firmware_sources(Path(build_dir), "io_semihost.c"), mcu_dir() / "startup.c"]
    command = [gcc, *mcu.cflags, *STRICT_CFLAGS, opt, *extra_flags, *defines, *FIT_FLAGS,
               "-I", str(build_dir),
               "-I", str(mcu_dir()), "-nostartfiles", "-L", str(mcu_dir()), "-T",
               mcu.linker_script, *memory, *map(str, sources), "-o", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CompileError(f"building the {mcu.name} firmware for {build_dir} failed:\n"
                           f"{result.stderr.strip()}")
    return Path(output)


def elf_memory(elf: Path) -> dict[str, int]:
    """text, data, bss of the ELF (``arm-none-eabi-size``); flash = text + data, RAM =
    data + bss (the stack reserve of the linker script included)."""
    output = subprocess.run([require_tool("arm-none-eabi-size"), str(elf)], capture_output=True,
                            text=True, check=True).stdout
    text, data, bss = (int(v) for v in output.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss, "flash_bytes": text + data,
            "ram_bytes": data + bss}


def run_qemu(elf: Path, mcu: Mcu, payload: bytes, timeout: float) -> tuple[Reader, dict]:
    """Run the firmware on ``payload`` in QEMU: a reader over its output and the header."""
    qemu = require_tool("qemu-system-arm")
    with tempfile.TemporaryDirectory(prefix="sastc-mcu-") as tmp:
        (Path(tmp) / "in.bin").write_bytes(payload)
        command = [qemu, "-M", mcu.machine, "-nographic", "-monitor", "none", "-serial", "none",
                   "-icount", "shift=0,sleep=off", "-semihosting-config",
                   "enable=on,target=native,arg=firmware,arg=in.bin,arg=out.bin",
                   "-kernel", str(Path(elf).resolve())]
        try:
            result = subprocess.run(command, cwd=tmp, capture_output=True, timeout=timeout,
                                    check=False)
        except subprocess.TimeoutExpired as exc:
            raise FirmwareFailure(f"the {mcu.name} firmware gave no answer within {timeout:g} s "
                                  f"(qemu {mcu.machine}); it was stopped") from exc
        _check_exit(result, mcu)
        output = Path(tmp) / "out.bin"
        data = output.read_bytes() if output.is_file() else b""
    reader = Reader(data)
    header = reader.header()
    if header["init_status"] != 0:
        raise FirmwareFailure(f"sastc_init failed on the {mcu.name}: "
                              f"{describe_status(header['init_status'])}")
    return reader, header


def _check_exit(result: subprocess.CompletedProcess, mcu: Mcu) -> None:
    """Exit 0 (done) and 1 (a sample failed: its status is in the output) are answers."""
    if result.returncode in (0, 1):
        return
    stderr = result.stderr.decode(errors="replace")
    if result.returncode == STACK_EXIT or "Lockup" in stderr:
        why = "a stack overflow (the stack reserve is too small: see stack_bytes)"
    elif result.returncode == FAULT_EXIT:
        why = "a fault handler ran (a bad memory access)"
    else:
        why = f"exit status {result.returncode}"
    raise FirmwareFailure(f"the {mcu.name} firmware stopped: {why}\n{stderr.strip()[:2000]}")


def run_frames(elf: Path, mcu: Mcu, frames: np.ndarray, timeout: float) -> FrameResults:
    """Mode 0 on ``frames [B, T, C, H, W]``: logits, classes, statuses and clock ticks."""
    reader, header = run_qemu(elf, mcu, encode_frames(frames), timeout)
    results = decode_frames(reader, frames.shape[0], header["classes"])
    bad = np.nonzero(results.statuses)[0]
    if len(bad):
        raise FirmwareFailure(f"sample {int(bad[0])} failed on the {mcu.name}: "
                              f"{describe_status(int(results.statuses[bad[0]]))}")
    return results


def reference(qnet: QNet, frames: np.ndarray, batch: int = 64) -> tuple[np.ndarray, float]:
    """Integer simulator logits ``[B, K]`` and event-weighted SynOps per sample (what the runtime adds)."""
    simulator = IntegerSimulator(qnet)
    counter = simulator.synops_counter()
    logits = [simulator.run(frames[s:s + batch], synops=counter).logits
              for s in range(0, len(frames), batch)]
    return np.concatenate(logits), counter.result().total_event_weighted


def default_timeout(samples: int) -> float:
    """Seconds to wait for the emulator: generous, but never forever."""
    return 120.0 + 5.0 * samples


def mcu_report(build_dir: Path, qnet: QNet | None, frames: np.ndarray, labels: np.ndarray,
               mcu_name: str, timeout: float | None = None,
               extra_flags: Sequence[str] = ()) -> dict[str, Any]:
    """The ``mcu_*`` keys of ``sastc simulate --mcu``: run ``frames`` on the emulated core."""
    mcu = get_mcu(mcu_name)
    if qnet is None or not (Path(build_dir) / "model.h").is_file():
        raise ConfigError(f"{build_dir}: no model.h; --mcu needs a build of an integer profile "
                          "(int8-fixed or int4-fixed) with the c-header emitter")
    with tempfile.TemporaryDirectory(prefix="sastc-fw-") as tmp:
        elf = build_firmware(Path(build_dir), mcu, Path(tmp) / "firmware.elf",
                             extra_flags=extra_flags)
        memory = elf_memory(elf)
        results = run_frames(elf, mcu, frames, timeout or default_timeout(len(frames)))
    expected, synops = reference(qnet, frames)
    exact = np.array_equal(results.logits, expected) and np.array_equal(
        results.labels, np.argmax(expected, axis=1))
    instructions = results.ticks.astype(np.float64) * 1e9 / mcu.cpu_hz / NS_PER_INSTRUCTION
    per_sample = float(instructions.mean()) if len(instructions) else 0.0
    return {"mcu": mcu.name, "mcu_machine": f"qemu-system-arm -M {mcu.machine}",
            "mcu_samples": len(frames),
            "mcu_accuracy": 100.0 * int(np.sum(results.labels == labels)) / max(len(labels), 1),
            "mcu_bit_exact": bool(exact),
            "mcu_mismatched_samples": int(np.sum(np.any(results.logits != expected, axis=1))),
            "mcu_instructions_per_sample": per_sample,
            "mcu_event_weighted_synops_per_sample": synops,
            "mcu_instructions_per_synop": per_sample / synops if synops else None,
            "mcu_flash_bytes": memory["flash_bytes"], "mcu_ram_bytes": memory["ram_bytes"],
            "mcu_elf_sections": {k: memory[k] for k in ("text", "data", "bss")}}


def mcu_lines(report: dict[str, Any]) -> list[str]:
    """The text lines of ``sastc simulate`` for the ``mcu_*`` keys (none without them)."""
    if "mcu" not in report:
        return []
    ratio = report["mcu_instructions_per_synop"]
    return ["", f"{report['mcu']} ({report['mcu_machine']}), {report['mcu_samples']} samples",
            f"  accuracy                   {report['mcu_accuracy']:.2f}%",
            f"  bit-exact with integer sim {'yes' if report['mcu_bit_exact'] else 'NO'}",
            f"  instructions per sample    {report['mcu_instructions_per_sample']:,.0f}",
            f"  instructions per SynOp     {'n/a' if ratio is None else f'{ratio:.3f}'}",
            f"  flash / RAM (linked ELF)   {report['mcu_flash_bytes']:,} / "
            f"{report['mcu_ram_bytes']:,} bytes"]
