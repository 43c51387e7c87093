"""Writers of hand-made event files in every format ``sastc.data.formats`` reads.

Each writer takes ``EVENT_DTYPE`` events (any order) and writes them exactly as a
sensor's software would, so that reading the file back must give the same events
sorted by ``t``. The encodings are the inverse of the ones in ``docs/formats.md``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

AEDAT2_CHIPS = {  # chip -> (jAER class, width, height)
    "DVS128": ("ch.unizh.ini.jaer.chip.retina.DVS128", 128, 128),
    "DAVIS240C": ("eu.seebetter.ini.chips.davis.DAVIS240C", 240, 180),
    "Davis346B": ("eu.seebetter.ini.chips.davis.Davis346B", 346, 260),
}
AEDAT2_RECORD = np.dtype([("address", ">u4"), ("t", ">u4")])
AEDAT4_EVENT = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")])
AEDAT4_COMPRESSION = {"none": 0, "lz4": 1, "zstd": 3}
# a trigger packet laid out like _event_packet, with an empty elements vector
EMPTY_TRIGGERS = struct.pack("<II4sHHH2xiII", 28, 16, b"TRIG", 6, 8, 4, 8, 4, 0)


def aedat2_records(events: np.ndarray, chip: str = "DVS128") -> np.ndarray:
    """The big-endian (address, timestamp mod 2**32) records of ``events``."""
    _, width, height = AEDAT2_CHIPS[chip]
    x_raw = width - 1 - events["x"].astype(np.int64)
    y_raw = height - 1 - events["y"].astype(np.int64)
    on = events["p"].astype(np.int64)
    dvs128 = (1 - on) | (x_raw << 1) | (y_raw << 8)  # ON when bit 0 is 0
    davis = (on << 11) | (x_raw << 12) | (y_raw << 22)
    address = dvs128 if chip == "DVS128" else davis
    records = np.empty(len(events), dtype=AEDAT2_RECORD)
    records["address"] = address
    records["t"] = events["t"].astype(np.int64) % 2**32
    return records


def write_aedat2(path: Path, events: np.ndarray, chip: str = "DVS128",
                 records: np.ndarray | None = None, version: str = "2.0") -> Path:
    """A jAER AEDAT 2.0 file (``records`` overrides the encoded events)."""
    header = [f"#!AER-DAT{version}", "# This is a raw AE data file - do not edit",
              "# Data format is int32 address, int32 timestamp (8 bytes total)",
              f"# AEChip: {AEDAT2_CHIPS[chip][0]}", "# End Of ASCII Header"]
    body = aedat2_records(events, chip) if records is None else records.astype(AEDAT2_RECORD)
    Path(path).write_bytes("\r\n".join(header).encode() + b"\r\n" + body.tobytes())
    return Path(path)


def write_aedat3(path: Path, events: np.ndarray, source: str = "DVS128", packet_events: int = 100,
                 skipped: bool = False) -> Path:
    """A cAER AEDAT 3.1 file: polarity packets (one per ``packet_events`` and 2**31 us epoch).

    ``skipped`` adds what a reader must ignore: a special-event packet (type 0) first
    and one invalidated polarity event (valid bit 0) at the end of each packet.
    """
    header = ["#!AER-DAT3.1", "#Format: RAW", f"#Source 1: {source}",
              "#Start-Time: 2017-01-01 00:00:00 (TZ+0000)", "#!END-HEADER"]
    out = "\r\n".join(header).encode() + b"\r\n"
    if skipped:
        out += _aedat3_packet(0, 0, np.array([[2, 0]], dtype="<u4"))
    for start in range(0, len(events), packet_events):
        chunk = events[start:start + packet_events]
        epochs = chunk["t"].astype(np.int64) >> 31
        for epoch in np.unique(epochs):
            part = chunk[epochs == epoch]
            words = (1 | part["p"].astype(np.int64) << 1 | part["y"].astype(np.int64) << 2
                     | part["x"].astype(np.int64) << 17)
            pairs = np.stack([words, part["t"].astype(np.int64) & 0x7FFFFFFF], axis=1)
            if skipped:
                pairs = np.concatenate([pairs, [[0xFFFFFFFE, 0]]])
            out += _aedat3_packet(1, int(epoch), pairs.astype("<u4"))
    Path(path).write_bytes(out)
    return Path(path)


def _aedat3_packet(kind: int, overflow: int, pairs: np.ndarray) -> bytes:
    """A 28-byte packet header and ``len(pairs)`` 8-byte events."""
    valid = int((pairs[:, 0] & 1).sum())
    return struct.pack("<hhiiiiii", kind, 1, 8, 4, overflow, len(pairs), len(pairs), valid) + \
        pairs.tobytes()


def write_aedat4(path: Path, events: np.ndarray, width: int, height: int,
                 compression: str = "none", packet_events: int = 1000,
                 extra_stream: bool = False, data_table: bool = False) -> Path:
    """A DV AEDAT 4.0 file: the events in packets of ``packet_events`` on stream 0.

    ``extra_stream`` adds a trigger stream (id 1) of empty packets interleaved with
    the events', which readers must skip. Without ``data_table`` the files read
    identically in dv-processing 2.0.4 and the ``aedat`` package. ``data_table``
    appends 7 bytes where DV writes its file data table and points the header's
    ``dataTablePosition`` at them: a reader must stop there (DV itself rejects them).
    """
    packets = b""
    for start in range(0, len(events), packet_events):
        chunk = _event_packet(events[start:start + packet_events])
        packets += _packet(0, _compress(chunk, compression))
        if extra_stream:
            packets += _packet(1, _compress(EMPTY_TRIGGERS, compression))
    info = _info_xml(width, height, compression, extra_stream)
    header_size = len(_ioheader(0, -1, info))
    table_at = 14 + 4 + header_size + len(packets) if data_table else -1
    ioheader = _ioheader(AEDAT4_COMPRESSION[compression], table_at, info)
    table = b"FTAB..." if data_table else b""  # not packet-shaped: must not be parsed
    data = b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(ioheader)) + ioheader + packets + table
    Path(path).write_bytes(data)
    return Path(path)


def _packet(stream: int, body: bytes) -> bytes:
    return struct.pack("<ii", stream, len(body)) + body


def _compress(body: bytes, compression: str) -> bytes:
    if compression == "lz4":
        import lz4.frame

        return lz4.frame.compress(body)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(body)
    return body


def _event_packet(events: np.ndarray) -> bytes:
    """A size-prefixed "EVTS" FlatBuffer: one table whose field 0 is the event vector.

    Bytes: size | root offset | "EVTS" | vtable (6, 8, 4) + 2 pad | table (soffset 8,
    vector offset 4) | count | 16-byte events (8-aligned from byte 32).
    """
    structs = np.zeros(len(events), dtype=AEDAT4_EVENT)
    structs["t"], structs["x"], structs["y"] = events["t"], events["x"], events["y"]
    structs["on"] = events["p"]
    body = (struct.pack("<I", 16) + b"EVTS" + struct.pack("<HHH", 6, 8, 4) + b"\0\0"
            + struct.pack("<iI", 8, 4) + struct.pack("<I", len(events)) + structs.tobytes())
    return struct.pack("<I", len(body)) + body


def _ioheader(compression: int, table_at: int, info: bytes) -> bytes:
    """The IOHeader FlatBuffer: root offset | "IOHE" | vtable (10, 20, 4, 8, 16) | table."""
    vtable = struct.pack("<HHHHH", 10, 20, 4, 8, 16) + b"\0" * 6   # bytes 8..24
    table = struct.pack("<iiqI", 24 - 8, compression, table_at, 4)  # bytes 24..44
    text = struct.pack("<I", len(info)) + info + b"\0"
    return struct.pack("<I", 24) + b"IOHE" + vtable + table + text


def _info_xml(width: int, height: int, compression: str, extra_stream: bool) -> bytes:
    """DV's stream description: stream 0 events (with its size), stream 1 triggers."""
    streams = _stream_xml(0, "events", "EVTS", compression,
                          f'<node name="info" path="/outInfo/0/info/">'
                          f'<attr key="sizeX" type="int">{width}</attr>'
                          f'<attr key="sizeY" type="int">{height}</attr>'
                          f'<attr key="source" type="string">tests</attr></node>')
    if extra_stream:
        streams += _stream_xml(1, "triggers", "TRIG", compression,
                               '<node name="info" path="/outInfo/1/info/">'
                               '<attr key="source" type="string">tests</attr></node>')
    return f'<dv version="2.0"><node name="outInfo" path="/outInfo/">{streams}</node></dv>'.encode()


def _stream_xml(stream: int, name: str, identifier: str, compression: str, info: str) -> str:
    attrs = {"compression": compression.upper(), "originalModuleName": "tests",
             "originalOutputName": name, "typeDescription": name, "typeIdentifier": identifier}
    body = "".join(f'<attr key="{key}" type="string">{value}</attr>' for key, value in attrs.items())
    return f'<node name="{stream}" path="/outInfo/{stream}/">{body}{info}</node>'


def write_npy(path: Path, events: np.ndarray) -> Path:
    """An ``.npy`` file of the structured events."""
    np.save(path, events)
    return Path(path)


def write_npz(path: Path, events: np.ndarray, sensor_size: tuple[int, int] | None = None) -> Path:
    """An ``.npz`` archive with ``events`` (and ``sensor_size`` when given)."""
    arrays = {"events": events}
    if sensor_size is not None:
        arrays["sensor_size"] = np.asarray(sensor_size, dtype=np.int64)
    np.savez(path, **arrays)
    return Path(path)


def write_nmnist_bin(path: Path, events: np.ndarray) -> Path:
    """5-byte N-MNIST records; a ``y = 240`` overflow marker before each 2**13 us step."""
    out = bytearray()
    step = 0
    for event in events[np.argsort(events["t"], kind="stable")]:
        t = int(event["t"])
        while t - step * 2**13 >= 2**23:
            out += bytes([0, 240, 0, 0, 0])
            step += 1
        local = t - step * 2**13
        out += bytes([int(event["x"]), int(event["y"]), (int(event["p"]) << 7) | (local >> 16),
                      (local >> 8) & 0xFF, local & 0xFF])
    Path(path).write_bytes(bytes(out))
    return Path(path)


def write_csv(path: Path, events: np.ndarray, header: bool = True,
              names: tuple[str, str, str, str] = ("x", "y", "t", "p")) -> Path:
    """One ``x,y,t,p`` line per event (columns in the order of ``names`` if a header is written)."""
    lookup = {"ts": "t", "timestamp": "t", "pol": "p", "polarity": "p"}
    fields = [lookup.get(name.lower(), name.lower()) for name in names] if header else list("xytp")
    table = np.stack([events[field].astype(np.int64) for field in fields], axis=1)
    lines = [",".join(names)] if header else []
    lines += [",".join(str(value) for value in row) for row in table.tolist()]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)
