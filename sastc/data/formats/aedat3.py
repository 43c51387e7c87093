"""AEDAT 3.1 (``.aedat`` with a ``#!AER-DAT3.1`` header), the format cAER / libcaer record.

After the ``#`` header (ended by ``#!END-HEADER``) come packets, little-endian: a
28-byte header ``int16 eventType, int16 eventSource, int32 eventSize,
int32 eventTSOffset, int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber,
int32 eventValid``, then ``eventCapacity * eventSize`` bytes of events. Polarity
events (type 1) are 8 bytes: ``uint32 data, int32 timestamp`` with bit 0 = valid,
bit 1 = polarity (1 = ON), ``y = bits 2..16``, ``x = bits 17..31``; the full time is
``(eventTSOverflow << 31) | timestamp`` (us). Other packet types are skipped. The
coordinates are stored already decoded by libcaer and are returned as they are (as
tonic reads DVS Gesture). The sensor size comes from ``# Source <id>: <camera>``
when it names a known camera (``SOURCE_SIZES``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sastc.data.formats.common import EventFile, build_events
from sastc.errors import DataError

PACKET = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                   ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"),
                   ("valid", "<i4")])
POLARITY_TYPE = 1
POLARITY = np.dtype([("data", "<u4"), ("t", "<i4")])
SOURCE_SIZES = {"DVS128": (128, 128), "DAVIS240": (240, 180), "DAVIS346": (346, 260)}


def read_aedat31(path: Path, data: bytes, lines: list[str], start: int) -> EventFile:
    """The polarity events of an AEDAT 3.1 file whose header ends at byte ``start``."""
    sensor = _sensor_of(lines)
    chunks, offsets = _polarity_packets(path, data, start)
    if not chunks:
        raise DataError(f"AEDAT 3.1 file {path} holds no events; expected polarity packets")
    words = np.concatenate([words for words, _ in chunks])
    t = np.concatenate([stamps for _, stamps in chunks])
    valid = (words & 1) == 1
    where = np.flatnonzero(valid)
    packet_of = np.repeat(np.arange(len(chunks)), [len(w) for w, _ in chunks])

    def locate(index: int) -> str:
        return f"event in the packet at byte {offsets[packet_of[where[index]]]}"

    x, y = (words >> 17) & 0x7FFF, (words >> 2) & 0x7FFF
    events = build_events(path, x[valid], y[valid], t[valid], ((words >> 1) & 1)[valid] == 1,
                          locate, sensor_size=sensor)
    return EventFile(events, sensor, f"AEDAT 3.1 ({_source_name(lines) or 'unknown camera'})")


def _source_name(lines: list[str]) -> str | None:
    for line in lines:
        key, _, value = line.lstrip("-").partition(":")
        if key.strip().startswith("Source"):
            return value.strip()
    return None


def _sensor_of(lines: list[str]) -> tuple[int, int] | None:
    name = (_source_name(lines) or "").upper()
    return next((size for camera, size in SOURCE_SIZES.items() if name.startswith(camera)), None)


def _polarity_packets(path: Path, data: bytes, position: int):
    """``([(data words, full timestamps)], [packet byte offsets])`` of the polarity packets."""
    chunks, offsets = [], []
    while position < len(data):
        if position + PACKET.itemsize > len(data):
            raise DataError(f"AEDAT 3.1 file {path} is truncated: {len(data) - position} bytes "
                            f"at byte {position}; expected a 28-byte packet header")
        header = np.frombuffer(data, PACKET, count=1, offset=position)[0]
        size = int(header["capacity"]) * int(header["size"])
        body = position + PACKET.itemsize
        if header["capacity"] < 0 or header["size"] < 0 or body + size > len(data):
            raise DataError(f"AEDAT 3.1 file {path} is truncated: the packet at byte {position} "
                            f"declares {size} bytes of events, {len(data) - body} remain")
        if header["type"] == POLARITY_TYPE:
            if header["size"] != POLARITY.itemsize:
                raise DataError(f"AEDAT 3.1 file {path}: the polarity packet at byte {position} "
                                f"has {header['size']}-byte events; expected 8")
            events = np.frombuffer(data, POLARITY, count=int(header["capacity"]), offset=body)
            stamps = (int(header["ts_overflow"]) << 31) | events["t"].astype(np.int64)
            chunks.append((events["data"].astype(np.int64), stamps))
            offsets.append(position)
        position = body + size
    return chunks, offsets
