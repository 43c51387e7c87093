"""A minimal, bounds-checked FlatBuffers table reader (what AEDAT 4.0 needs, no more).

A FlatBuffer starts with a ``uint32`` offset to its root table (after an optional
``uint32`` size prefix), followed by an optional 4-byte file identifier. A table at
position ``T`` starts with an ``int32`` ``s``: its vtable is at ``T - s``. The vtable
holds ``uint16`` values: its own size, the table's size, then one offset per field;
field ``i`` lives at ``T + vtable[2 + i]`` (absent when the slot is missing or 0).
Strings and vectors are ``uint32`` offsets (from the field's own position) to a
``uint32`` length followed by the data. Everything is little-endian.

>>> buf = bytes.fromhex("10000000" "41424344" "06000800" "0400" "0000" "08000000" "2a000000")
>>> table = root_table(buf, size_prefixed=False)
>>> identifier(buf, size_prefixed=False), table.scalar(0, "<i", -1), table.scalar(1, "<i", -1)
(b'ABCD', 42, -1)
"""

from __future__ import annotations

import struct


class FlatbufferError(ValueError):
    """A read outside the buffer or an inconsistent offset; ``position`` is in the buffer."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


def read(buf: bytes, fmt: str, position: int) -> int:
    """One little-endian value of ``struct`` format ``fmt`` at ``position``."""
    size = struct.calcsize(fmt)
    if position < 0 or position + size > len(buf):
        raise FlatbufferError(f"offset {position} points outside the {len(buf)}-byte buffer",
                              max(position, 0))
    return struct.unpack_from(fmt, buf, position)[0]


def identifier(buf: bytes, size_prefixed: bool) -> bytes:
    """The 4-byte file identifier (after the root offset)."""
    start = 8 if size_prefixed else 4
    return bytes(buf[start:start + 4])


def root_table(buf: bytes, size_prefixed: bool) -> Table:
    """The root table of ``buf``."""
    base = 4 if size_prefixed else 0
    return Table(buf, base + read(buf, "<I", base))


class Table:
    """A table at ``position`` in ``buf``; fields are read by slot index."""

    def __init__(self, buf: bytes, position: int):
        self.buf = buf
        self.position = position
        self.vtable = position - read(buf, "<i", position)
        self.vtable_size = read(buf, "<H", self.vtable)

    def field(self, slot: int) -> int | None:
        """The position of field ``slot``, or ``None`` when it is absent."""
        entry = 4 + 2 * slot
        if entry + 2 > self.vtable_size:
            return None
        offset = read(self.buf, "<H", self.vtable + entry)
        return self.position + offset if offset else None

    def scalar(self, slot: int, fmt: str, default: int) -> int:
        """A scalar field, or ``default`` when absent."""
        position = self.field(slot)
        return default if position is None else read(self.buf, fmt, position)

    def _target(self, slot: int) -> tuple[int, int] | None:
        """``(data start, length)`` of the string or vector in field ``slot``."""
        position = self.field(slot)
        if position is None:
            return None
        target = position + read(self.buf, "<I", position)
        length = read(self.buf, "<I", target)
        return target + 4, length

    def string(self, slot: int) -> bytes | None:
        """A string field's bytes (no terminator), or ``None`` when absent."""
        found = self._target(slot)
        if found is None:
            return None
        start, length = found
        if start + length > len(self.buf):
            raise FlatbufferError(f"a {length}-byte string runs past the buffer end", start)
        return bytes(self.buf[start:start + length])

    def vector(self, slot: int, element_size: int) -> tuple[int, int]:
        """``(start, count)`` of a vector of ``element_size``-byte structs (``(0, 0)`` if absent)."""
        found = self._target(slot)
        if found is None:
            return 0, 0
        start, count = found
        if start + count * element_size > len(self.buf):
            raise FlatbufferError(f"a vector of {count} x {element_size} bytes runs past the "
                                  f"buffer end", start)
        return start, count
