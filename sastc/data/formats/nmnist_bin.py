"""N-MNIST binary (``.bin``): 5-byte records, decoded by ``sastc.data.nmnist``.

``x = b0``, ``y = b1``, ``p = b2 >> 7``, ``t = ((b2 & 0x7F) << 16) | (b3 << 8) | b4``
(us); a record with ``y == 240`` adds ``2**13`` us to every later event. The format
does not record the sensor size (N-MNIST's is 34 x 34, N-Caltech101's varies), so
``sensor_size`` is ``None``.
"""

from __future__ import annotations

from pathlib import Path

from sastc.data.formats.common import EventFile, build_events
from sastc.data.nmnist import decode_nmnist_bin


def read_nmnist_binary(path: Path) -> EventFile:
    """The events of an N-MNIST-style ``.bin`` file."""
    decoded = decode_nmnist_bin(path)

    def locate(index: int) -> str:
        return f"event {index}"

    events = build_events(path, decoded["x"], decoded["y"], decoded["t"], decoded["p"], locate)
    return EventFile(events, None, "N-MNIST binary (5-byte records)")
