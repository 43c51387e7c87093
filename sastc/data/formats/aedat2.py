"""AEDAT 2.0 (``.aedat``), the format jAER records (AEDAT 3.1 files go to ``aedat3``).

A text header of lines starting with ``#`` (the first is ``#!AER-DAT2.0``), then
big-endian 8-byte records: ``uint32`` address, ``uint32`` timestamp (us). The header
line ``# AEChip: <java class>`` names the chip, which fixes the address layout and
the sensor size (``CHIPS``). Coordinates are returned with ``(0, 0)`` at the top-left
of the image, as libcaer / DV decode the same sensors; both axes are therefore
flipped from the raw address fields (jAER flips x and draws y upwards):

- DVS128 (128 x 128): ``p = bit 0``, ``x = bits 1..7``, ``y = bits 8..14``;
  ``x = 127 - x_raw``, ``y = 127 - y_raw``; ON when bit 0 is 0 (the hardware's
  inverted polarity, as jAER and libcaer read it). Bit 15 (sync/external input) or
  bit 31 set marks a special event, skipped; other bits above 15 are an error.
- DAVIS240A/B/C (240 x 180) and DAVIS346 (346 x 260): bit 31 = 0 for DVS events
  (1: APS or IMU samples, skipped); bit 10 = 1 marks an external input event
  (skipped); ``p = bit 11`` (1 = ON), ``x_raw = bits 12..21``, ``y_raw = bits 22..30``;
  ``x = W - 1 - x_raw``, ``y = H - 1 - y_raw``.

Timestamps are 32-bit: where one falls by more than ``2**31`` from its predecessor
the counter wrapped, and ``2**32`` is added to it and every later record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sastc.data.formats.aedat3 import read_aedat31
from sastc.data.formats.common import EventFile, build_events, read_bytes
from sastc.errors import DataError

MAGIC = "#!AER-DAT"
HEADER_ENDS = ("end of ascii header", "!end-header")
RECORD = np.dtype([("address", ">u4"), ("t", ">u4")])
WRAP = 2**32


@dataclass(frozen=True)
class Chip:
    """A sensor: its size and address layout (``"dvs128"`` or ``"davis"``)."""

    name: str
    width: int
    height: int
    layout: str


DVS128 = Chip("DVS128", 128, 128, "dvs128")
DAVIS240 = Chip("DAVIS240", 240, 180, "davis")
DAVIS346 = Chip("DAVIS346", 346, 260, "davis")
CHIPS: dict[str, Chip] = {
    "DVS128": DVS128,
    **dict.fromkeys(("DAVIS240A", "DAVIS240B", "DAVIS240C"), DAVIS240),
    **dict.fromkeys(("Davis346A", "Davis346B", "Davis346red", "Davis346blue", "Davis346cBSI",
                     "Davis346Zynq"), DAVIS346),
}
"""jAER chip classes (the last part of ``# AEChip: a.b.Class``) and their layouts."""


def read_aedat2(path: Path) -> EventFile:
    """The DVS events of a jAER AEDAT 2.0 file."""
    data = read_bytes(path, "AEDAT")
    lines, start = split_header(path, data)
    if check_version(path, lines) == "3.1":
        return read_aedat31(path, data, lines, start)
    chip = chip_of(path, lines)
    records = _records(path, data, start)
    t = unwrap(records["t"].astype(np.int64))
    keep, x, y, on = _decode(path, chip, records["address"], start)
    kept = np.flatnonzero(keep)

    def locate(index: int) -> str:
        return f"record at byte {start + 8 * int(kept[index])}"

    events = build_events(path, x[keep], y[keep], t[keep], on[keep], locate,
                          sensor_size=(chip.width, chip.height))
    return EventFile(events, (chip.width, chip.height), f"AEDAT 2.0 ({chip.name})")


def split_header(path: Path, data: bytes) -> tuple[list[str], int]:
    """The header lines (without ``#`` and line ends) and the byte where the records start.

    The header is the run of lines starting with ``#``; it also ends after a line
    ``#End Of ASCII Header`` (jAER) or ``#!END-HEADER`` (cAER), since the first record
    may itself start with the byte ``#``.
    """
    lines, position = [], 0
    while position < len(data) and data[position] == ord("#"):
        end = data.find(b"\n", position)
        if end < 0:
            raise DataError(f"AEDAT file {path}: the header line at byte {position} never "
                            f"ends; expected '#' lines ending in a newline, then records")
        lines.append(data[position + 1:end].decode("latin-1").rstrip("\r"))
        position = end + 1
        if lines[-1].strip().lower() in HEADER_ENDS:
            break
    return lines, position


def check_version(path: Path, lines: list[str]) -> str:
    """The version of the first header line ``#!AER-DAT<version>``: 2.x or 3.1."""
    first = "#" + lines[0] if lines else ""
    if not first.startswith(MAGIC):
        raise DataError(f"{path} is not an AEDAT file: it does not start with '{MAGIC}2.0'; "
                        f"expected a jAER AEDAT 2.0 recording")
    version = first[len(MAGIC):].strip()
    if not (version.startswith("2.") or version == "3.1"):
        raise DataError(f"{path} is AEDAT {version}; supported: AEDAT 2.0 and 3.1 (.aedat, jAER "
                        f"and cAER) and AEDAT 4.0 (.aedat4, DV) - convert it with DV or jAER")
    return version


def chip_of(path: Path, lines: list[str]) -> Chip:
    """The chip named by the ``# AEChip:`` header line."""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "AEChip":
            name = value.strip().rsplit(".", 1)[-1]
            if name in CHIPS:
                return CHIPS[name]
            raise DataError(f"AEDAT file {path} was recorded with the chip {value.strip()!r}; "
                            f"supported chips: {', '.join(CHIPS)}")
    raise DataError(f"AEDAT file {path} has no '# AEChip:' header line, so its address layout "
                    f"is unknown; expected one of the chips {', '.join(CHIPS)}")


def _records(path: Path, data: bytes, start: int) -> np.ndarray:
    size = len(data) - start
    if size % RECORD.itemsize:
        last = start + size - size % RECORD.itemsize
        raise DataError(f"AEDAT file {path} is truncated: the record at byte {last} has only "
                        f"{size % RECORD.itemsize} of 8 bytes; expected 8-byte "
                        f"(address, timestamp) records after the {start}-byte header")
    return np.frombuffer(data, dtype=RECORD, offset=start)


def unwrap(t: np.ndarray) -> np.ndarray:
    """Timestamps with ``2**32`` added after each 32-bit counter wrap.

    >>> unwrap(np.array([5, 2**32 - 10, 3, 7])).tolist() == [5, 2**32 - 10, 2**32 + 3, 2**32 + 7]
    True
    """
    if len(t) < 2:
        return t
    wraps = np.concatenate([[0], np.cumsum(np.diff(t) < -(WRAP // 2))])
    return t + wraps * WRAP


def _decode(path: Path, chip: Chip, address: np.ndarray, start: int):
    address = address.astype(np.int64)
    if chip.layout == "dvs128":
        return _decode_dvs128(path, address, start)
    return _decode_davis(path, chip, address, start)


def _decode_dvs128(path: Path, address: np.ndarray, start: int):
    special = (address & 0x80008000) != 0
    foreign = ~special & ((address & 0x7FFF0000) != 0)
    if foreign.any():
        index = int(np.argmax(foreign))
        raise DataError(f"AEDAT file {path}: the record at byte {start + 8 * index} has "
                        f"address 0x{address[index]:08x}; expected DVS128 addresses below "
                        f"0x8000 (is the '# AEChip:' line right?)")
    x = 127 - ((address >> 1) & 0x7F)
    y = 127 - ((address >> 8) & 0x7F)
    return ~special, x, y, (address & 1) == 0


def _decode_davis(path: Path, chip: Chip, address: np.ndarray, start: int):
    keep = (((address >> 31) & 1) == 0) & (((address >> 10) & 1) == 0)
    x_raw, y_raw = (address >> 12) & 0x3FF, (address >> 22) & 0x1FF
    outside = keep & ((x_raw >= chip.width) | (y_raw >= chip.height))
    if outside.any():
        index = int(np.argmax(outside))
        raise DataError(f"AEDAT file {path}: the DVS event at byte {start + 8 * index} has raw "
                        f"address (x={x_raw[index]}, y={y_raw[index]}); expected x < {chip.width}, "
                        f"y < {chip.height} for the {chip.name}")
    x, y = chip.width - 1 - x_raw, chip.height - 1 - y_raw
    return keep, x, y, ((address >> 11) & 1) == 1
