"""Run a compiled C model on the host: build the harness, stream frames, decode the results.

:func:`build_harness` compiles ``targets/runtime/harness.c`` with the runtime and
the ``model.h`` of a build directory (written by the ``c-header`` emitter).
:class:`CRuntime` streams frames through it (protocol in harness.c and
docs/runtime.md) and returns the same :class:`SimOutput` as
``IntegerSimulator.run(record=True)``: per layer spikes ``bool [T, B, *out_shape]``
(spiking layers) or membranes ``int64 [T, B, classes]`` (LI readout), and int64 logits.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sastc.backends.c_codegen import dims3
from sastc.backends.c_header import RUNTIME_FILES
from sastc.errors import CompileError, SastcError
from sastc.ir.quantized import QNet
from sastc.neurons import is_spiking
from sastc.sim.common import SimOutput
from sastc.targets import runtime_dir

STRICT_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE_CFLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g")
FLAG_RECORD, FLAG_CLASSIFY = 1, 2
_STATUS_LINE = re.compile(r'^SASTC_STATUS\((\w+),\s*(\d+),\s*"((?:[^"\\]|\\.)*)"\)', re.M)


class RuntimeFailure(SastcError):
    """The C runtime returned an error status, or the harness broke its protocol."""


def status_codes(path: Path | None = None) -> dict[int, tuple[str, str]]:
    """``{code: (identifier, message)}`` from ``sastc_status.def``, the one list of codes."""
    text = (path or runtime_dir() / "sastc_status.def").read_text(encoding="utf-8")
    return {int(value): (name, message) for name, value, message in _STATUS_LINE.findall(text)}


def describe_status(code: int) -> str:
    """``"SASTC_ERR_X (message)"`` for a status code."""
    name, message = status_codes().get(code, ("unknown", f"status {code}"))
    return f"{name} ({message})"


def runtime_sources(directory: Path | None = None) -> list[Path]:
    """The runtime's .c files in ``directory`` (a build directory or the runtime itself)."""
    directory = Path(directory or runtime_dir())
    return [directory / name for name in RUNTIME_FILES if name.endswith(".c")]


def _compile(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CompileError(f"compiling the C runtime failed ({' '.join(command)}):\n"
                           f"{result.stderr}")


def compile_runtime(out_dir: Path, opt: str = "-O2", extra_flags: Sequence[str] = (),
                    compiler: str = "gcc") -> list[Path]:
    """Compile the model-independent runtime sources once into object files in ``out_dir``."""
    objects = []
    for source in runtime_sources():
        target = Path(out_dir) / f"{source.stem}.o"
        _compile([compiler, *STRICT_CFLAGS, opt, *extra_flags, "-c", str(source),
                  "-o", str(target)])
        objects.append(target)
    return objects


def build_harness(build_dir: Path, output: Path | None = None, opt: str = "-O2",
                  extra_flags: Sequence[str] = (), compiler: str = "gcc",
                  runtime_objects: Sequence[Path] | None = None) -> Path:
    """Compile the host harness for ``build_dir`` (strict C99 flags); returns the executable.

    ``runtime_objects`` (from :func:`compile_runtime`, same flags) are linked instead of
    compiling the build directory's runtime sources again.
    """
    build_dir = Path(build_dir)
    output = Path(output or build_dir / "harness")
    runtime = list(map(str, runtime_objects or runtime_sources(build_dir)))
    _compile([compiler, *STRICT_CFLAGS, opt, *extra_flags, "-I", str(build_dir), *runtime,
              str(runtime_dir() / "harness.c"), "-o", str(output)])
    return output


@dataclass
class _Reader:
    """Sequential little-endian reader over the harness's stdout (or a firmware's)."""

    data: bytes
    stderr: str = ""
    offset: int = 0

    def take(self, count: int, dtype: str) -> np.ndarray:
        size = count * np.dtype(dtype).itemsize
        if self.offset + size > len(self.data):
            raise self.ended(size)
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += size
        return values

    def ended(self, size: int) -> SastcError:
        """The error for an output that stops ``size`` bytes short."""
        return RuntimeFailure(f"harness output ended after {len(self.data)} bytes, "
                              f"{size} more expected at offset {self.offset}:\n{self.stderr}")

    def u32(self) -> int:
        return int(self.take(1, "<u4")[0])


def _check(code: int, what: str) -> None:
    if code != 0:
        raise RuntimeFailure(f"C runtime {what} failed: {describe_status(code)}")


def _finished(reader: _Reader) -> None:
    """The whole output was read and the harness said nothing on stderr (sanitizers)."""
    if reader.offset != len(reader.data) or reader.stderr.strip():
        raise RuntimeFailure(f"harness wrote {len(reader.data) - reader.offset} unexpected "
                             f"bytes or diagnostics:\n{reader.stderr}")


class CRuntime:
    """The C runtime of one build, run through its host harness."""

    def __init__(self, executable: Path, qnet: QNet) -> None:
        self.executable = Path(executable)
        self.qnet = qnet
        self.state_bytes = (0, 0)

    def _exchange(self, frames: np.ndarray, flags: int) -> _Reader:
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        header = b"SAI1" + np.array([frames.shape[0], frames.shape[1], flags], "<u4").tobytes()
        result = subprocess.run([str(self.executable)], input=header + frames.tobytes(),
                                capture_output=True, check=False)
        reader = _Reader(result.stdout, result.stderr.decode(errors="replace"))
        if reader.take(4, "u1").tobytes() != b"SAO1":
            raise RuntimeFailure(f"harness gave no SAO1 header (exit {result.returncode}): "
                                 f"{reader.stderr}")
        _check(reader.u32(), "init")
        self.state_bytes = (reader.u32(), reader.u32())
        layers, _classes = reader.u32(), reader.u32()
        reader.take(4 * layers, "<u4")
        return reader

    def _layer_record(self, reader: _Reader, index: int) -> np.ndarray:
        """One layer's output after one step, in C-H-W order."""
        layer = self.qnet.layers[index]
        shape = layer.geometry.out_shape
        c, h, w = dims3(shape)
        n = c * h * w
        if is_spiking(layer.neuron):
            words = reader.take((n + 31) // 32, "<u4")
            values = np.unpackbits(words.view(np.uint8), bitorder="little")[:n].astype(bool)
        else:
            values = reader.take(n, "<i4").astype(np.int64)
        return values.reshape(h, w, c).transpose(2, 0, 1).reshape(shape)

    def _result(self, reader: _Reader) -> tuple[np.ndarray, int]:
        logits = reader.take(len(self.qnet.classes), "<i4").astype(np.int64)
        label, status = reader.u32(), reader.u32()
        _check(status, "sample")
        return logits, label

    def run(self, frames: np.ndarray, record: bool = False) -> SimOutput:
        """Reset + step through ``frames [B, T, C, H, W]``; like ``IntegerSimulator.run``."""
        batch, steps = frames.shape[:2]
        reader = self._exchange(frames, FLAG_RECORD if record else 0)
        traces = [[[None] * batch for _ in range(steps)] for _ in self.qnet.layers]
        logits = np.zeros((batch, len(self.qnet.classes)), dtype=np.int64)
        for b in range(batch):
            for t in range(steps if record else 0):
                _check(reader.u32(), f"step {t} of sample {b}")
                for index in range(len(self.qnet.layers)):
                    traces[index][t][b] = self._layer_record(reader, index)
            logits[b] = self._result(reader)[0]
        _finished(reader)
        records = [np.array(trace) for trace in traces] if record else []
        return SimOutput(logits, records)

    def classify(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``sastc_classify`` on every sample: ``(classes int64 [B], logits int64 [B, K])``."""
        reader = self._exchange(frames, FLAG_CLASSIFY)
        results = [self._result(reader) for _ in range(frames.shape[0])]
        _finished(reader)
        return (np.array([label for _, label in results], dtype=np.int64),
                np.stack([logits for logits, _ in results]))
