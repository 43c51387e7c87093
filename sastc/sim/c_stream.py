"""The test-vector firmware (``targets/mcu/firmware.c``): build it for the host, speak its protocol.

The firmware runs a compiled model on frames (mode 0) or on raw sensor events through the
streaming input (mode 1, ``sastc_events.c``). The same program runs on the host (stdin and
stdout, :func:`build_vectors_host`) and on an emulated Cortex-M (:mod:`sastc.sim.mcu`);
this module encodes its input and decodes its output (the format is in ``firmware.c``).

>>> events = np.zeros(2, dtype=[("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "?")])
>>> len(encode_streams([EventStream(events, 0, 1000)], window_us=500, hop_bins=4))
60
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sastc.errors import SastcError
from sastc.sim.c_runtime import (
    STRICT_CFLAGS,
    _compile,
    _Reader,
    describe_status,
    runtime_sources,
)
from sastc.targets import targets_dir

MAGIC_IN, MAGIC_OUT = b"SAV1", b"SAR1"
MODE_FRAMES, MODE_EVENTS = 0, 1
FLAG_FRAMES, FLAG_FIRST_EVENT = 1, 2
TAG_FRAME, TAG_DECISION, TAG_END = 1, 2, 3
EVENT_WIRE = np.dtype([("t", "<u4"), ("x", "<u2"), ("y", "<u2"), ("p", "u1"), ("pad", "u1", 3)])
HEADER_FIELDS = ("init_status", "state_bytes", "classes", "input_bytes", "time_bins",
                 "clock_hz", "ring_frames")


class FirmwareFailure(SastcError):
    """The firmware broke its protocol, stopped early or was not answered in time."""


def mcu_dir() -> Path:
    """``targets/mcu``: the firmware, its I/O layers, start-up code and linker scripts."""
    return targets_dir() / "mcu"


def u32(values: Sequence[int]) -> bytes:
    return np.asarray(values, dtype="<u4").tobytes()


@dataclass
class EventStream:
    """One stream: events (fields ``x, y, t, p``, in time order) from ``t0``, ending at
    ``t_end`` (``sastc_events_advance``, then ``sastc_events_end``)."""

    events: np.ndarray
    t0: int
    t_end: int


def encode_frames(frames: np.ndarray) -> bytes:
    """Mode 0 input: ``uint8 [B, T, C, H, W]`` samples."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    return MAGIC_IN + u32([MODE_FRAMES, frames.shape[0], frames.shape[1]]) + frames.tobytes()


def wire_events(events: np.ndarray) -> bytes:
    """Events as 12-byte records; times modulo 2^32 (the firmware's clock is 32-bit)."""
    wire = np.zeros(len(events), dtype=EVENT_WIRE)
    wire["t"] = np.asarray(events["t"], dtype=np.int64) & 0xFFFFFFFF
    wire["x"] = np.asarray(events["x"]).astype(np.uint16)
    wire["y"] = np.asarray(events["y"]).astype(np.uint16)
    wire["p"] = np.asarray(events["p"]).astype(np.uint8)
    return wire.tobytes()


def encode_streams(streams: Sequence[EventStream], window_us: int = 0, hop_bins: int = 0,
                   record_frames: bool = False, first_event: bool = False) -> bytes:
    """Mode 1 input. ``window_us`` 0: the header's; ``hop_bins`` 0: T (back to back)."""
    flags = (FLAG_FRAMES if record_frames else 0) | (FLAG_FIRST_EVENT if first_event else 0)
    parts = [MAGIC_IN, u32([MODE_EVENTS, window_us, hop_bins, flags, len(streams)])]
    for stream in streams:
        parts.append(u32([stream.t0 & 0xFFFFFFFF, stream.t_end & 0xFFFFFFFF, len(stream.events)]))
        parts.append(wire_events(stream.events))
    return b"".join(parts)


class Reader(_Reader):
    """Sequential little-endian reader over the firmware's output."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        super().__init__(data, "", offset)

    def ended(self, size: int) -> SastcError:
        return FirmwareFailure(f"the firmware's output ended after {len(self.data)} bytes; "
                               f"{size} more expected at offset {self.offset}")

    def header(self) -> dict[str, int]:
        if self.take(4, "u1").tobytes() != MAGIC_OUT:
            raise FirmwareFailure(f"the firmware's output does not start with {MAGIC_OUT!r}")
        return {name: self.u32() for name in HEADER_FIELDS}


@dataclass
class FrameResults:
    """Mode 0 answers: per sample logits, class, status and clock ticks of the inference."""

    logits: np.ndarray
    labels: np.ndarray
    statuses: np.ndarray
    ticks: np.ndarray


def decode_frames(reader: Reader, samples: int, classes: int) -> FrameResults:
    rows = [(reader.take(classes, "<i4").astype(np.int64), reader.u32(), reader.u32(),
             reader.u32()) for _ in range(samples)]
    logits = np.stack([r[0] for r in rows]) if rows else np.zeros((0, classes), np.int64)
    return FrameResults(logits, *(np.array([r[i] for r in rows], dtype=np.int64)
                                  for i in (1, 2, 3)))


@dataclass
class StreamResult:
    """Mode 1 answers of one stream."""

    status: int = 0
    taken: int = 0
    ticks: int = 0
    decisions: list[dict] = field(default_factory=list)
    frames: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def logits(self) -> np.ndarray:
        return np.array([d["logits"] for d in self.decisions], dtype=np.int64)


def _decode_stream(reader: Reader, classes: int, input_bytes: int) -> StreamResult:
    result = StreamResult()
    while (tag := reader.u32()) != TAG_END:
        if tag == TAG_FRAME:
            index = reader.u32()
            result.frames[index] = reader.take(input_bytes, "u1").copy()
        elif tag == TAG_DECISION:
            first, last, end, label = (reader.u32() for _ in range(4))
            result.decisions.append({"first_bin": first, "last_bin": last, "end_us": end,
                                     "label": label, "logits": reader.take(classes, "<i4").tolist()})
        else:
            raise FirmwareFailure(f"unknown record tag {tag} at offset {reader.offset - 4}")
    result.status, result.taken, result.ticks = reader.u32(), reader.u32(), reader.u32()
    return result


def decode_streams(reader: Reader, count: int, header: dict[str, int]) -> tuple[int, list]:
    """``(sastc_events_init status, [StreamResult])`` after the header."""
    status = reader.u32()
    if status != 0:
        return status, []
    return 0, [_decode_stream(reader, header["classes"], header["input_bytes"])
               for _ in range(count)]


def firmware_sources(build_dir: Path, io_layer: str) -> list[Path]:
    """The firmware, an I/O layer (``io_stdio.c`` / ``io_semihost.c``) and the runtime."""
    return [mcu_dir() / "firmware.c", mcu_dir() / io_layer, *runtime_sources(Path(build_dir))]


def build_vectors_host(build_dir: Path, output: Path | None = None, opt: str = "-O2",
                       extra_flags: Sequence[str] = ()) -> Path:
    """The firmware as a host program (stdin/stdout) for ``build_dir``'s ``model.h``."""
    output = Path(output or Path(build_dir) / "vectors")
    sources = map(str, firmware_sources(Path(build_dir), "io_stdio.c"))
    _compile(["gcc", *STRICT_CFLAGS, opt, *extra_flags, "-I", str(build_dir),
              "-I", str(mcu_dir()), *sources, "-o", str(output)])
    return output


def run_host(executable: Path, payload: bytes, timeout: float = 60.0) -> tuple[Reader, dict]:
    """Run the host firmware on ``payload``; its output reader (after the header)."""
    try:
        result = subprocess.run([str(executable)], input=payload, capture_output=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FirmwareFailure(f"{executable} gave no answer within {timeout:g} s") from exc
    if result.stderr.strip():
        raise FirmwareFailure(f"{executable} wrote diagnostics:\n"
                              f"{result.stderr.decode(errors='replace')}")
    reader = Reader(result.stdout)
    return reader, reader.header()


def stream_events(executable: Path, streams: Sequence[EventStream], **options) -> list[StreamResult]:
    """Every stream through the host firmware (``encode_streams`` options); FirmwareFailure if
    ``sastc_events_init`` refuses the settings or the answer is malformed."""
    reader, header = run_host(executable, encode_streams(streams, **options))
    status, results = decode_streams(reader, len(streams), header)
    if status != 0:
        raise FirmwareFailure(f"sastc_events_init refused the stream settings: "
                              f"{describe_status(status)}")
    if reader.offset != len(reader.data):
        raise FirmwareFailure(f"{len(reader.data) - reader.offset} unexpected bytes after the "
                              "last stream's answer")
    return results
