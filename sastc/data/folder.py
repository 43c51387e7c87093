"""The ``folder`` dataset: your own recordings, in the formats sensors write.

``--dataset folder --data-dir DIR`` reads either layout of ``sastc.data.folder_layout``:
one sample per file (``train/`` and ``test/`` folders), or long recordings per class
cut into ``--window-ms`` windows, the last ``--test-fraction`` of each recording
being its test windows (``sastc.data.windows``). Windows are binned in
fixed-duration bins (``sastc.data.binning``), which a live sensor can produce.

The sensor size comes from the files when their format records it (AEDAT), else
from ``--sensor-size W,H``; files of different sensor sizes are an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from sastc.data.events import (
    DatasetInfo,
    Recordings,
    SourceOptions,
    calib_subset,
    check_in_sensor,
    file_fingerprint,
)
from sastc.data.folder_layout import (
    SAMPLES,
    ClassFiles,
    detect_layout,
    find_split_dirs,
    list_classes,
    relabel,
)
from sastc.data.windows import (
    WindowPlan,
    check_test_fraction,
    plan_windows,
    window_events,
    window_us_of,
)
from sastc.errors import ConfigError, DataError

CHANNELS = 2
DECODED_FILES_KEPT = 2


@lru_cache(maxsize=DECODED_FILES_KEPT)
def _decoded(path: str, size: int, mtime_ns: int):
    from sastc.data.formats import read_event_file

    return read_event_file(path)


def read_file(path: Path):
    """The decoded file (an ``EventFile``); the last few are kept for windowed reads."""
    stat = path.stat()
    return _decoded(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _span(path: str, size: int, mtime_ns: int) -> tuple[int, int, int, tuple[int, int] | None]:
    """``(t_first, t_last, events, sensor (W, H) or None)`` of one recording."""
    decoded = read_file(Path(path))
    times = decoded.events["t"]
    if len(times) == 0:
        raise DataError(f"{path}: the recording holds no events")
    return int(times[0]), int(times[-1]), len(times), decoded.sensor_size


def recording_span(path: Path) -> tuple[int, int, int, tuple[int, int] | None]:
    stat = path.stat()
    return _span(str(path), stat.st_size, stat.st_mtime_ns)


def resolve_sensor(recorded: dict[Path, tuple[int, int] | None],
                   given: tuple[int, int] | None) -> tuple[int, int, int]:
    """``(C, H, W)`` from the sizes the files record, or ``--sensor-size``."""
    sizes = {size for size in recorded.values() if size is not None}
    if len(sizes) > 1:
        first, second = sorted(sizes)[:2]
        files = [next(p for p, s in recorded.items() if s == size) for size in (first, second)]
        raise DataError(f"mixed sensor sizes: {files[0]} is {first[0]}x{first[1]} but "
                        f"{files[1]} is {second[0]}x{second[1]}; one dataset needs one sensor")
    if sizes and given is not None and given not in sizes:
        size = next(iter(sizes))
        raise ConfigError(f"--sensor-size {given[0]},{given[1]} contradicts the files, which "
                          f"record a {size[0]}x{size[1]} sensor; leave --sensor-size out")
    width, height = next(iter(sizes)) if sizes else _required_size(recorded, given)
    return (CHANNELS, height, width)


def _required_size(recorded: dict[Path, tuple[int, int] | None],
                   given: tuple[int, int] | None) -> tuple[int, int]:
    if given is None:
        example = next(iter(recorded))
        raise ConfigError(f"{example}: the {example.suffix} format does not record the sensor "
                          f"size; pass --sensor-size WIDTH,HEIGHT (e.g. --sensor-size 34,34)")
    return given


def _checked_events(path: Path, sensor: tuple[int, int, int]) -> np.ndarray:
    decoded = read_file(path)
    if decoded.sensor_size is not None and decoded.sensor_size != (sensor[2], sensor[1]):
        width, height = decoded.sensor_size
        raise DataError(f"mixed sensor sizes: {path} is {width}x{height} but the dataset's "
                        f"sensor is {sensor[2]}x{sensor[1]}")
    check_in_sensor(decoded.events, sensor, str(path))
    return decoded.events


def _sample_reader(files: Sequence[Path], sensor: tuple[int, int, int]):
    def read(indices: Sequence[int]) -> Iterator[np.ndarray]:
        for index in indices:
            yield _checked_events(files[index], sensor)
    return read


def _window_reader(files: Sequence[Path], recordings: np.ndarray, starts: np.ndarray,
                   window_us: int, sensor: tuple[int, int, int]):
    def read(indices: Sequence[int]) -> Iterator[np.ndarray]:
        for index in indices:
            events = _checked_events(files[recordings[index]], sensor)
            yield window_events(events, int(starts[index]), window_us)
    return read


def _root(options: SourceOptions) -> Path:
    if options.data_dir is None:
        raise ConfigError("--dataset folder needs --data-dir pointing at your recordings")
    return Path(options.data_dir).expanduser()


def _samples_split(root: Path, split: str, options: SourceOptions) -> Recordings:
    """One file per sample, from ``train/`` or ``test/``."""
    if options.window_ms is not None or options.test_fraction is not None:
        option = "--window-ms" if options.window_ms is not None else "--test-fraction"
        raise ConfigError(f"{option} applies to long recordings (DIR/<class>/<file>), but "
                          f"{root} holds train/ and test/ folders of samples; leave {option} out")
    dirs = find_split_dirs(root)
    train = list_classes(dirs["train"])
    files = train if split == "train" else relabel(list_classes(dirs["test"]), train.classes,
                                                   dirs["test"])
    sensor = resolve_sensor({files.files[0]: read_file(files.files[0]).sensor_size},
                            options.sensor_size)
    return Recordings(f"folder/{split}", np.asarray(files.labels, dtype=np.int64),
                      files.classes, sensor, str(root), file_fingerprint(root, files.files),
                      _sample_reader(files.files, sensor))


def _plan(root: Path, listing: ClassFiles, options: SourceOptions) -> tuple[WindowPlan, tuple]:
    if options.window_ms is None:
        raise ConfigError(f"{root} holds long recordings (DIR/<class>/<file>): pass "
                          f"--window-ms W to cut them into windows of W ms")
    window_us = window_us_of(options.window_ms)
    fraction = check_test_fraction(options.test_fraction)
    spans = {path: recording_span(path) for path in listing.files}
    sensor = resolve_sensor({p: s[3] for p, s in spans.items()}, options.sensor_size)
    plan = plan_windows([s[:2] for s in spans.values()], window_us, fraction,
                        [str(p) for p in listing.files])
    return plan, sensor


def _recordings_split(root: Path, split: str, options: SourceOptions) -> Recordings:
    """Windows of the long recordings of every class folder."""
    listing = list_classes(root)
    plan, sensor = _plan(root, listing, options)
    windows = plan.split(split)
    labels = np.asarray(listing.labels, dtype=np.int64)[windows.recordings]
    fingerprint = {"files": file_fingerprint(root, listing.files), "window_us": plan.window_us,
                   "counts": plan.counts, "test_counts": plan.test_counts}
    reader = _window_reader(listing.files, windows.recordings, windows.starts, plan.window_us,
                            sensor)
    return Recordings(f"folder/{split}", labels, listing.classes, sensor, str(root),
                      fingerprint, reader, plan.window_us, windows.recordings.copy())


def open_folder(split: str, options: SourceOptions) -> Recordings:
    """The recordings of ``split`` (``calib`` is a class-stratified subset of train)."""
    if split == "calib":
        return calib_subset(open_folder("train", options), "folder/calib")
    root = _root(options)
    if detect_layout(root) == SAMPLES:
        return _samples_split(root, split, options)
    return _recordings_split(root, split, options)


INFO = DatasetInfo(
    name="folder",
    sensor_size=(CHANNELS, 0, 0),
    classes=(),
    default_time_bins=10,
    default_arch="conv(16, 5, stride=2) pool(2) conv(32, 3, stride=2) pool(2) dense(128) readout",
    needs_data_dir=True,
    description="your own recordings: DIR/train|test/<class>/<file> or DIR/<class>/<file> "
                "(AEDAT 2/4, npy/npz, N-MNIST bin, CSV)",
    default_downsample=1,
    open_split=open_folder,
)
