"""AEDAT 4.0 (``.aedat4``), the format iniVation's DV software records.

Layout (little-endian)::

    "#!AER-DAT4.0\\r\\n"
    uint32 n, then an n-byte IOHeader FlatBuffer:
        compression (int32: 0 none, 1 LZ4, 2 LZ4 high, 3 Zstd, 4 Zstd high),
        dataTablePosition (int64, -1 if absent), infoNode (XML string)
    packets until dataTablePosition (or the end of the file):
        int32 stream id, int32 size, size bytes: a size-prefixed FlatBuffer, compressed
        as a whole (one LZ4 frame or Zstd frame per packet) when compression != 0

The XML ``infoNode`` lists the streams under ``<node name="outInfo">``: one node per
stream id with ``typeIdentifier`` (``EVTS`` for events) and, for event streams, an
``info`` node with ``sizeX`` / ``sizeY``. Event packets ("EVTS" identifier) hold one
table whose field 0 is a vector of 16-byte structs
``{int64 t (us); int16 x; int16 y; bool on; 3 padding bytes}``. Only the event stream
with the lowest id is read; frame, IMU and trigger streams are skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sastc.data.formats.common import EventFile, build_events, read_bytes
from sastc.data.formats.flatbuf import FlatbufferError, Table, identifier, read, root_table
from sastc.errors import DataError

MAGIC = b"#!AER-DAT4.0\r\n"
EVENT = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")])
COMPRESSION = {0: "none", 1: "LZ4", 2: "LZ4", 3: "Zstd", 4: "Zstd"}
PACKET_HEADER = 8


def read_aedat4(path: Path) -> EventFile:
    """The events of the first event stream of a DV AEDAT 4.0 file."""
    data = read_bytes(path, "AEDAT4")
    _check_magic(path, data)
    compression, table_at, streams, start = _read_header(path, data)
    events_ids = sorted(sid for sid, (kind, _) in streams.items() if kind == "EVTS")
    if not events_ids:
        raise DataError(f"AEDAT4 file {path} has no event stream (stream types: "
                        f"{sorted({kind for kind, _ in streams.values()})}); expected an EVTS stream")
    stream = events_ids[0]
    end = table_at if 0 <= table_at <= len(data) else len(data)
    chunks, offsets = _event_packets(path, data, start, end, stream, compression)
    sizes = streams[stream][1]
    columns = np.concatenate(chunks) if chunks else np.empty(0, EVENT)
    bounds = np.cumsum([len(chunk) for chunk in chunks])

    def locate(index: int) -> str:
        packet = int(np.searchsorted(bounds, index, side="right"))
        return f"event {index} (packet at byte {offsets[packet]})"

    events = build_events(path, columns["x"], columns["y"], columns["t"], columns["on"] != 0,
                          locate, sensor_size=sizes)
    source = f"AEDAT 4.0 (DV, stream {stream}, compression {COMPRESSION[compression]})"
    return EventFile(events, sizes, source)


def _check_magic(path: Path, data: bytes) -> None:
    if data.startswith(MAGIC):
        return
    if data.startswith(b"#!AER-DAT"):
        version = data[9:data.find(b"\n")].decode("latin-1").strip()
        raise DataError(f"{path} is AEDAT {version}, not AEDAT 4.0; rename AEDAT 2.0 files to "
                        f".aedat (supported: AEDAT 2.0 as .aedat, AEDAT 4.0 as .aedat4)")
    raise DataError(f"{path} is not an AEDAT 4.0 file: it does not start with "
                    f"'#!AER-DAT4.0'; expected a DV recording")


def _read_header(path: Path, data: bytes) -> tuple[int, int, dict, int]:
    """``(compression, dataTablePosition, streams, first packet byte)``."""
    at = len(MAGIC)
    if len(data) < at + 4:
        raise DataError(f"AEDAT4 file {path} is truncated at byte {len(data)}: expected the "
                        f"IOHeader size at byte {at}")
    size = read(data, "<I", at)
    header = data[at + 4:at + 4 + size]
    if len(header) < size:
        raise DataError(f"AEDAT4 file {path} is truncated: the IOHeader at byte {at + 4} "
                        f"declares {size} bytes, the file holds {len(header)}")
    try:
        table = root_table(header, size_prefixed=False)
        compression = table.scalar(0, "<i", 0)
        table_at = table.scalar(1, "<q", -1)
        info = table.string(2)
    except FlatbufferError as exc:
        raise DataError(f"AEDAT4 file {path}: corrupt IOHeader at byte "
                        f"{at + 4 + exc.position} ({exc}); expected a FlatBuffer table") from exc
    if compression not in COMPRESSION:
        raise DataError(f"AEDAT4 file {path}: unknown compression {compression} in the "
                        f"IOHeader; expected 0..4 (none, LZ4, LZ4 high, Zstd, Zstd high)")
    return compression, table_at, _streams(path, info), at + 4 + size


def _streams(path: Path, info: bytes | None) -> dict[int, tuple[str, tuple[int, int] | None]]:
    """``stream id -> (type identifier, (sizeX, sizeY) or None)`` from the infoNode XML."""
    try:
        root = ET.fromstring((info or b"").decode("utf-8"))
    except (ET.ParseError, UnicodeDecodeError) as exc:
        raise DataError(f"AEDAT4 file {path}: the IOHeader's infoNode is not readable XML "
                        f"({exc}); expected DV's stream description") from exc
    outputs = root.find("node[@name='outInfo']")
    streams = {}
    for node in [] if outputs is None else outputs.findall("node"):
        name, kind = node.get("name", ""), node.findtext("attr[@key='typeIdentifier']")
        if not name.isdigit() or kind is None:
            raise DataError(f"AEDAT4 file {path}: stream node {name!r} in the infoNode has no "
                            f"numeric name or typeIdentifier; expected DV's stream description")
        streams[int(name)] = (kind.strip(), _size(node))
    if not streams:
        raise DataError(f"AEDAT4 file {path}: the infoNode lists no streams; expected an "
                        f"outInfo node with one node per stream")
    return streams


def _size(node: ET.Element) -> tuple[int, int] | None:
    width = node.findtext("node[@name='info']/attr[@key='sizeX']")
    height = node.findtext("node[@name='info']/attr[@key='sizeY']")
    if width is None or height is None:
        return None
    return int(width), int(height)


def _event_packets(path: Path, data: bytes, position: int, end: int, stream: int,
                   compression: int) -> tuple[list[np.ndarray], list[int]]:
    """The event structs of every packet of ``stream`` and the byte offset of each packet."""
    chunks, offsets = [], []
    while position < end:
        if position + PACKET_HEADER > end:
            raise DataError(f"AEDAT4 file {path} is truncated: {end - position} bytes at byte "
                            f"{position}; expected an 8-byte packet header (stream id, size)")
        stream_id, size = read(data, "<i", position), read(data, "<i", position + 4)
        body = data[position + PACKET_HEADER:position + PACKET_HEADER + size]
        if size < 0 or len(body) < size:
            raise DataError(f"AEDAT4 file {path} is truncated: the packet at byte {position} "
                            f"declares {size} bytes, {len(body)} remain")
        if stream_id == stream:
            chunks.append(_packet_events(path, _decompress(path, body, compression, position),
                                         position))
            offsets.append(position)
        position += PACKET_HEADER + size
    return chunks, offsets


def _decompress(path: Path, body: bytes, compression: int, position: int) -> bytes:
    kind = COMPRESSION[compression]
    if kind == "none":
        return body
    try:
        return _lz4(body) if kind == "LZ4" else _zstd(body)
    except RuntimeError as exc:
        raise DataError(f"AEDAT4 file {path}: the packet at byte {position} does not "
                        f"decompress ({kind}: {exc}); expected one complete {kind} frame") from exc


def _lz4(body: bytes) -> bytes:
    import lz4.frame

    return lz4.frame.decompress(body)


def _zstd(body: bytes) -> bytes:
    import zstandard

    decompressor = zstandard.ZstdDecompressor().decompressobj()
    try:
        out = decompressor.decompress(body)
    except zstandard.ZstdError as exc:
        raise RuntimeError(str(exc)) from exc
    if not getattr(decompressor, "eof", True):  # older zstandard: the FlatBuffer checks catch it
        raise RuntimeError("the frame ends early")
    return out


def _packet_events(path: Path, buf: bytes, position: int) -> np.ndarray:
    try:
        if identifier(buf, size_prefixed=True) != b"EVTS":
            raise FlatbufferError(f"identifier {identifier(buf, True)!r}, not b'EVTS'", 8)
        table: Table = root_table(buf, size_prefixed=True)
        start, count = table.vector(0, EVENT.itemsize)
    except FlatbufferError as exc:
        raise DataError(f"AEDAT4 file {path}: corrupt event packet at byte {position} ({exc}); "
                        f"expected an EventPacket FlatBuffer") from exc
    return np.frombuffer(buf, dtype=EVENT, count=count, offset=start)
