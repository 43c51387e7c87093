"""What every event-file decoder shares: the decoded file and the checks on its columns.

Each reader turns its file into four columns and calls :func:`build_events`, which
checks them (integer values, coordinates ``>= 0`` and inside the sensor when the file
records one, polarity given as ``{0, 1}`` or ``{-1, 1}``) and returns
``EVENT_DTYPE`` events sorted by ``t`` (stable). A failed check raises
:class:`DataError` naming the file and where the first bad value is (``locate``
turns an event index into "line 12", "byte 3420", ...).

>>> events = build_events(Path("demo.csv"), [3, 1], [0, 2], [20, 10], [-1, 1], _line)
>>> [(int(e["x"]), int(e["t"]), bool(e["p"])) for e in events]
[(1, 10, True), (3, 20, False)]
>>> build_events(Path("demo.csv"), [3, -1], [0, 2], [20, 10], [0, 1], _line)
Traceback (most recent call last):
...
sastc.errors.DataError: demo.csv, line 2: x = -1 is negative; expected pixel coordinates >= 0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sastc.data.events import make_events, sort_by_time
from sastc.errors import DataError

Locate = Callable[[int], str]
COORD_MAX = int(np.iinfo(np.int16).max)


@dataclass(frozen=True)
class EventFile:
    """One decoded event file.

    ``events``: ``EVENT_DTYPE`` (x, y int16; t int64 microseconds; p bool, True = ON),
    sorted by ``t`` (stable). ``sensor_size``: ``(width, height)`` when the file
    records it, else ``None``. ``source``: a short description of the format.
    """

    events: np.ndarray
    sensor_size: tuple[int, int] | None
    source: str


def _line(index: int) -> str:
    return f"line {index + 1}"


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path``; ``DataError`` if it cannot be read or is empty."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    if not data:
        raise DataError(f"{what} file {path} is empty; expected {what} event data")
    return data


def file_size(path: Path, what: str) -> int:
    """The size of ``path`` in bytes; ``DataError`` if it is missing, unreadable or empty."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
    except OSError as exc:
        raise DataError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise DataError(f"{what} file {path} is empty; expected {what} event data")
    return size


def build_events(path: Path, x, y, t, p, locate: Locate,
                 sensor_size: tuple[int, int] | None = None) -> np.ndarray:
    """Checked, time-sorted ``EVENT_DTYPE`` events from four equally long columns."""
    columns = {name: np.asarray(column) for name, column in zip("xytp", (x, y, t, p), strict=True)}
    if len(columns["t"]) == 0:
        raise DataError(f"{path} holds no events; expected at least one event")
    for name, column in columns.items():
        _check_integer(path, name, column, locate)
    for name in "xy":
        _check_coordinate(path, name, columns[name], locate)
    if sensor_size is not None:
        check_sensor(path, columns["x"], columns["y"], sensor_size, locate)
    polarity = polarity_is_on(path, columns["p"], locate)
    return sort_by_time(make_events(columns["x"], columns["y"], columns["t"], polarity))


def _check_integer(path: Path, name: str, column: np.ndarray, locate: Locate) -> None:
    if column.dtype == bool or np.issubdtype(column.dtype, np.integer):
        return
    if np.issubdtype(column.dtype, np.floating):
        bad = ~np.isfinite(column) | (column != np.round(column))
        if bad.any():
            index = int(np.argmax(bad))
            raise DataError(f"{path}, {locate(index)}: {name} = {column[index]} is not an "
                            f"integer; expected integer {name} values")
        return
    raise DataError(f"{path}: column {name} has type {column.dtype}; expected integers")


def _check_coordinate(path: Path, name: str, column: np.ndarray, locate: Locate) -> None:
    if column.dtype == bool:
        return
    negative = column < 0
    if negative.any():
        index = int(np.argmax(negative))
        raise DataError(f"{path}, {locate(index)}: {name} = {column[index]} is negative; "
                        f"expected pixel coordinates >= 0")
    too_big = column > COORD_MAX
    if too_big.any():
        index = int(np.argmax(too_big))
        raise DataError(f"{path}, {locate(index)}: {name} = {column[index]} is too large; "
                        f"expected pixel coordinates <= {COORD_MAX}")


def check_sensor(path: Path, x: np.ndarray, y: np.ndarray, sensor_size: tuple[int, int],
                 locate: Locate) -> None:
    """``DataError`` at the first event outside the ``(width, height)`` the file records."""
    width, height = sensor_size
    outside = (x >= width) | (y >= height)
    if outside.any():
        index = int(np.argmax(outside))
        raise DataError(f"{path}, {locate(index)}: event at (x={x[index]}, y={y[index]}) lies "
                        f"outside the {width}x{height} sensor the file records; expected "
                        f"x < {width}, y < {height}")


def polarity_is_on(path: Path, p: np.ndarray, locate: Locate) -> np.ndarray:
    """``p > 0`` after checking that the values are ``{0, 1}`` or ``{-1, 1}`` (or bool)."""
    if p.dtype == bool:
        return p
    values = set(np.unique(p).tolist())
    if values <= {0, 1} or values <= {-1, 1}:
        return p > 0
    unknown = ~np.isin(p, [-1, 0, 1])
    index = int(np.argmax(unknown)) if unknown.any() else int(np.argmax(p == 0))
    raise DataError(f"{path}, {locate(index)}: polarity {p[index]} (the file uses "
                    f"{sorted(values)}); expected polarities {{0, 1}} or {{-1, 1}}")
