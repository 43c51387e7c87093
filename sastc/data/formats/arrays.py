"""NumPy files (``.npy``, ``.npz``) of events, read with ``allow_pickle=False``.

The array is either structured, with integer or bool fields ``x``, ``y``, ``t``, ``p``
(tonic's layout; other fields are ignored), or a plain ``[N, 4]`` integer array whose
columns are ``x, y, t, p``. ``t`` is in microseconds. In an ``.npz`` the events are
the array ``events`` (or the only array besides ``sensor_size``); an optional
``sensor_size`` array ``[width, height]`` gives the sensor size.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sastc.data.formats.common import EventFile, build_events, file_size
from sastc.errors import DataError

FIELDS = ("x", "y", "t", "p")
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}
EXPECTED = "a structured array with fields x, y, t, p or an [N, 4] integer array (x, y, t, p)"


def read_npy(path: Path) -> EventFile:
    """The events of an ``.npy`` file."""
    file_size(path, "NumPy")
    _check_npy_size(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"NumPy file {path} is not readable ({exc}); expected {EXPECTED}") from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(f"{path} is an .npz archive, not a single .npy array; expected the "
                        f"extension .npz")
    return EventFile(events_of(path, array), None, "NumPy .npy")


def read_npz(path: Path) -> EventFile:
    """The events (and optional sensor size) of an ``.npz`` file."""
    size = file_size(path, "NumPy")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path} holds a single .npy array, not an .npz archive; expected "
                            f"the extension .npy")
        with loaded as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"NumPy archive {path} ({size} bytes) is truncated or corrupt ({exc}); "
                        f"expected an .npz holding {EXPECTED}") from exc
    sensor = _sensor_size(path, arrays.pop("sensor_size", None))
    events = events_of(path, _events_array(path, arrays), sensor)
    return EventFile(events, sensor, "NumPy .npz")


def _check_npy_size(path: Path) -> None:
    """``DataError`` naming the byte where a truncated ``.npy`` file's data stops."""
    with path.open("rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            header_reader = HEADER_READERS.get(version)
            if header_reader is None:
                return  # a newer format version: np.load checks it
            shape, _, dtype = header_reader(handle)
        except ValueError as exc:
            raise DataError(f"NumPy file {path} has a corrupt header ({exc}); expected {EXPECTED}"
                            ) from exc
        start = handle.tell()
    if dtype.hasobject:
        return  # np.load refuses it below (allow_pickle=False)
    expected = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise DataError(f"NumPy file {path} is truncated at byte {actual}: its header (ending at "
                        f"byte {start}) declares {shape} x {dtype} = {expected - start} bytes")


def _events_array(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    if "events" in arrays:
        return arrays["events"]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise DataError(f"NumPy archive {path} holds arrays {sorted(arrays)}; expected one named "
                    f"'events' (or a single array)")


def _sensor_size(path: Path, value: np.ndarray | None) -> tuple[int, int] | None:
    if value is None:
        return None
    flat = np.asarray(value).reshape(-1)
    if (len(flat) != 2 or not np.issubdtype(flat.dtype, np.integer) or (flat <= 0).any()):
        raise DataError(f"NumPy archive {path}: sensor_size is {flat.tolist()}; expected two "
                        f"positive integers [width, height]")
    return int(flat[0]), int(flat[1])


def events_of(path: Path, array: np.ndarray, sensor: tuple[int, int] | None = None) -> np.ndarray:
    """Checked events from a structured or ``[N, 4]`` array."""
    def locate(index: int) -> str:
        return f"event {index}"

    if array.dtype.names is not None:
        missing = [name for name in FIELDS if name not in array.dtype.names]
        if missing or array.ndim != 1:
            raise DataError(f"NumPy events in {path} have fields {list(array.dtype.names)} and "
                            f"shape {array.shape}; expected {EXPECTED}")
        columns = [array[name] for name in FIELDS]
    elif array.ndim == 2 and array.shape[1] == len(FIELDS):
        columns = list(array.T)
    else:
        raise DataError(f"NumPy events in {path} have shape {array.shape} and type {array.dtype}; "
                        f"expected {EXPECTED}")
    return build_events(path, *columns, locate, sensor_size=sensor)
