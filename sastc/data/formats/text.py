"""Comma-separated text (``.csv``): one event per line, integer columns ``x, y, t, p``.

The first line may name the columns, in any order: ``x``, ``y``, ``t`` (or ``ts``,
``timestamp``), ``p`` (or ``pol``, ``polarity``), case-insensitive. Without such a
header the columns are ``x, y, t, p``. ``t`` is in integer microseconds; blank lines
are skipped. The whole file is parsed by ``np.loadtxt`` (about 1 us per line); only
when that fails is it read again line by line, to name the first bad line.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from sastc.data.formats.common import EventFile, build_events, read_bytes
from sastc.errors import DataError

FIELDS = ("x", "y", "t", "p")
ALIASES = {"x": "x", "y": "y", "t": "t", "ts": "t", "timestamp": "t",
           "p": "p", "pol": "p", "polarity": "p"}
EXPECTED = "4 comma-separated integers x, y, t (us), p per line"


def read_csv(path: Path) -> EventFile:
    """The events of a ``.csv`` file."""
    text = _decode(path, read_bytes(path, "CSV"))
    first_end = text.find("\n") if "\n" in text else len(text)
    order = _header_order(path, text[:first_end])
    skip = 0 if order is None else 1
    table = _parse(path, text, skip)
    columns = table.T if order is None else table.T[order]

    def locate(index: int) -> str:
        return f"line {_line_of_row(text, skip, index)}"

    events = build_events(path, *columns, locate)
    return EventFile(events, None, "CSV text")


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"CSV file {path}: byte {exc.start} is not UTF-8 text; expected "
                        f"{EXPECTED}") from exc


def _header_order(path: Path, line: str) -> list[int] | None:
    """Where x, y, t, p are in a header line, or ``None`` when the line is data."""
    names = [name.strip().lower() for name in line.split(",")]
    if all(_is_int(name) for name in names):
        return None
    fields = [ALIASES.get(name) for name in names]
    if None in fields or sorted(fields) != sorted(FIELDS):
        raise DataError(f"CSV file {path}, line 1: header {line.strip()!r}; expected the four "
                        f"columns x, y, t (or ts, timestamp), p (or pol, polarity) in any order")
    return [fields.index(name) for name in FIELDS]


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _parse(path: Path, text: str, skip: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
        try:
            table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64,
                               skiprows=skip, ndmin=2, comments=None)
        except ValueError:
            raise _first_bad_line(path, text, skip) from None
    if table.size == 0:
        raise DataError(f"CSV file {path} holds no events; expected {EXPECTED}")
    return table


def _first_bad_line(path: Path, text: str, skip: int) -> DataError:
    for number, line in enumerate(io.StringIO(text), start=1):
        if number <= skip or not line.strip():
            continue
        values = line.split(",")
        if len(values) != len(FIELDS) or not all(_is_int(value.strip()) for value in values):
            return DataError(f"CSV file {path}, line {number}: {line.strip()[:60]!r}; "
                             f"expected {EXPECTED}")
    return DataError(f"CSV file {path} is not readable as {EXPECTED}")


def _line_of_row(text: str, skip: int, row: int) -> int:
    """The 1-based line number of data row ``row`` (blank lines hold no row)."""
    seen = -1
    for number, line in enumerate(io.StringIO(text), start=1):
        if number > skip and line.strip():
            seen += 1
            if seen == row:
                return number
    return -1
