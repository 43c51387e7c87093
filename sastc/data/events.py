"""Event arrays, labelled recordings and the dataset description every loader shares.

Events are numpy structured arrays in tonic's layout (``tonic.io.events_struct``):
fields ``x``, ``y`` (pixel), ``t`` (microseconds) and ``p`` (polarity, True = ON),
sorted by ``t``. This module needs only numpy; tonic is imported where binning happens.

>>> events = make_events([3, 1], [0, 2], [20, 10], [1, 0])
>>> [int(t) for t in sort_by_time(events)["t"]]
[10, 20]
>>> stratified_order(np.array([0, 0, 0, 1, 1, 2])).tolist()
[0, 3, 5, 1, 4, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sastc.errors import DataError

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
CALIB_SIZE = 200
CALIB_SHUFFLE_SEED = 0

EventReader = Callable[[Sequence[int]], Iterator[np.ndarray]]


def make_events(x: Iterable, y: Iterable, t: Iterable, p: Iterable) -> np.ndarray:
    """A structured event array (``EVENT_DTYPE``) from four equally long columns."""
    columns = [np.asarray(column) for column in (x, y, t, p)]
    events = np.empty(len(columns[0]), dtype=EVENT_DTYPE)
    for name, column in zip(EVENT_DTYPE.names, columns, strict=True):
        events[name] = column
    return events


def empty_events() -> np.ndarray:
    """A recording without events."""
    return np.empty(0, dtype=EVENT_DTYPE)


def sort_by_time(events: np.ndarray) -> np.ndarray:
    """``events`` in increasing ``t`` (stable, so equal timestamps keep their order)."""
    if len(events) < 2 or bool(np.all(np.diff(events["t"]) >= 0)):
        return events
    return events[np.argsort(events["t"], kind="stable")]


def check_in_sensor(events: np.ndarray, sensor_size: tuple[int, int, int], where: str) -> None:
    """Raise :class:`DataError` naming ``where`` if an event lies outside ``(C, H, W)``."""
    if len(events) == 0:
        return
    _, height, width = sensor_size
    x_range = (int(events["x"].min()), int(events["x"].max()))
    y_range = (int(events["y"].min()), int(events["y"].max()))
    if x_range[0] < 0 or x_range[1] >= width or y_range[0] < 0 or y_range[1] >= height:
        raise DataError(f"{where}: events outside the {width}x{height} sensor "
                        f"(x in {x_range}, y in {y_range}; expected x < {width}, y < {height})")


def stratified_order(labels: np.ndarray, shuffle_seed: int | None = None) -> np.ndarray:
    """Indices visiting the classes round-robin, so every prefix is class-balanced.

    Within a class the indices keep their order, or are shuffled with
    ``shuffle_seed``. Sample ``i`` of class ``c`` gets rank ``r`` (its position in
    the class) and the order sorts by ``(r, c)``.
    """
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members if rng is None else rng.permutation(members)] = np.arange(len(members))
    return np.lexsort((labels, rank))


@dataclass(frozen=True)
class Recordings:
    """The labelled recordings of one split, read lazily.

    ``labels[i]`` indexes ``classes``; ``read_events(indices)`` yields the events of
    each index in turn (sorted by ``t``, inside ``sensor_size``). ``fingerprint``
    identifies the content for the frame cache (file names and sizes, or generator
    parameters); ``source`` is the directory they come from, or ``"generated"``.

    ``window_us`` is set when every item is a fixed-duration window cut from a longer
    recording: its events then have ``t`` relative to the window start, in
    ``[0, window_us)``, and are binned in fixed-duration bins. ``groups`` (when set)
    names the long recording each window comes from; within a group the windows are
    in time order, so a time-contiguous block of a group never overlaps the rest.
    """

    name: str
    labels: np.ndarray
    classes: tuple[str, ...]
    sensor_size: tuple[int, int, int]
    source: str
    fingerprint: Any
    read_events: EventReader = field(repr=False)
    window_us: int | None = None
    groups: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray, name: str) -> Recordings:
        """The recordings at ``indices`` (in that order) under a new name."""
        indices = np.asarray(indices, dtype=np.int64)
        parent_read = self.read_events

        def read(selected: Sequence[int]) -> Iterator[np.ndarray]:
            return parent_read([int(indices[i]) for i in selected])

        fingerprint = {"parent": self.fingerprint, "indices": indices.tolist()}
        groups = None if self.groups is None else self.groups[indices]
        return Recordings(name, self.labels[indices], self.classes, self.sensor_size,
                          self.source, fingerprint, read, self.window_us, groups)


def calib_subset(train: Recordings, name: str, size: int = CALIB_SIZE) -> Recordings:
    """A deterministic, class-stratified subset of the train split (``size`` or fewer)."""
    order = stratified_order(train.labels, shuffle_seed=CALIB_SHUFFLE_SEED)
    return train.subset(np.sort(order[:size]), name)


def file_fingerprint(root: Path, files: Sequence[Path]) -> list[tuple[str, int]]:
    """``(path relative to root, size in bytes)`` of each file: changes when the data does."""
    return [(_relative(path, root), path.stat().st_size) for path in files]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def file_reader(files: Sequence[Path], read_file: Callable[[Path], np.ndarray]) -> EventReader:
    """An ``EventReader`` over ``files`` using ``read_file`` for one file."""
    def read(indices: Sequence[int]) -> Iterator[np.ndarray]:
        for index in indices:
            yield read_file(files[index])
    return read


@dataclass(frozen=True)
class SourceOptions:
    """What a dataset needs to find (or make) its recordings."""

    data_dir: Path | None
    download: bool
    seed: int
    synthetic: dict
    window_ms: float | None = None            # folder datasets: window length (recordings)
    test_fraction: float | None = None        # folder datasets: the test part of each recording
    sensor_size: tuple[int, int] | None = None  # (width, height) for formats without a header


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: shapes and defaults, and how to open one split.

    ``sensor_size`` is ``(C, H, W)`` after the default downsampling;
    ``open_split(split, options)`` returns the split's :class:`Recordings`.
    """

    name: str
    sensor_size: tuple[int, int, int]
    classes: tuple[str, ...]
    default_time_bins: int
    default_arch: str
    needs_data_dir: bool
    description: str
    default_downsample: int
    open_split: Callable[[str, SourceOptions], Recordings] = field(repr=False, compare=False)
