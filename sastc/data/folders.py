"""Datasets stored as one file per recording in tonic's folder layout (N-MNIST, DVS Gesture).

A :class:`FolderLayout` says where a dataset's split folders are, how to list and label
the files of a split and how to read one file. Any local copy, complete or partial, is
read offline by walking the folders; only ``download=True`` goes through the tonic
dataset class, which downloads what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sastc.data.events import (
    CALIB_SIZE,
    Recordings,
    SourceOptions,
    calib_subset,
    file_fingerprint,
    file_reader,
)
from sastc.errors import DataError

DOWNLOAD_DIR = Path("~/.cache/sastc/datasets")
Listing = tuple[list[Path], np.ndarray]


@dataclass(frozen=True)
class FolderLayout:
    """Where one dataset's recordings live and how to read them."""

    name: str                 # registry name, e.g. "nmnist"
    title: str                # for messages, e.g. "N-MNIST"
    folder: str               # tonic's folder under save_to, e.g. "NMNIST"
    tonic_class: str          # class in tonic.datasets
    split_folders: dict[str, str]
    layout: str               # the expected layout, for messages
    classes: tuple[str, ...]
    sensor: tuple[int, int, int]
    extension: str            # of the recording files, e.g. ".bin"
    walk: Callable[[Path], Listing]   # (files, labels) of one existing split folder
    read: Callable[[Path], np.ndarray]


def find_root(layout: FolderLayout, data_dir: str | Path) -> Path:
    """The folder holding the split folders: ``data_dir`` or ``data_dir/<folder>``."""
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"{layout.title} data dir {path} does not exist; expected {layout.layout}")
    for candidate in (path, path / layout.folder):
        if any((candidate / folder).is_dir() for folder in layout.split_folders.values()):
            return candidate
    folders = " or ".join(f"{f}/" for f in layout.split_folders.values())
    raise DataError(f"{layout.title} data dir {path} has no {folders} folder; "
                    f"expected {layout.layout}")


def list_files(layout: FolderLayout, root: Path, split: str) -> Listing:
    """``(files, labels)`` of one split; an absent or empty split folder is an error."""
    split_dir = root / layout.split_folders[split]
    if not split_dir.is_dir():
        raise DataError(f"{layout.title} data dir {root} has no {layout.split_folders[split]}/ "
                        f"folder for the {split} split; expected {layout.layout}")
    files, labels = layout.walk(split_dir)
    if not files:
        raise DataError(f"{layout.title} split folder {split_dir} holds no {layout.extension} "
                        "recordings; "
                        f"expected {layout.layout}")
    return files, labels


def _download_target(layout: FolderLayout, data_dir: Path | None) -> Path:
    """tonic's ``save_to``: the parent of the dataset folder, or ``data_dir`` itself."""
    if data_dir is None:
        return DOWNLOAD_DIR.expanduser()
    data_dir = Path(data_dir).expanduser()
    return data_dir.parent if data_dir.name == layout.folder else data_dir


def _tonic_files(layout: FolderLayout, options: SourceOptions, split: str
                 ) -> tuple[Path, list[Path], np.ndarray]:
    """Files of ``split`` through tonic's dataset class, downloading what is missing."""
    from tonic import datasets

    save_to = _download_target(layout, options.data_dir)
    dataset = getattr(datasets, layout.tonic_class)(save_to=str(save_to), train=split == "train")
    files = [Path(name) for name in dataset.data]
    if not files:
        raise DataError(f"tonic found no {layout.title} {split} recordings under "
                        f"{save_to / layout.folder}")
    return save_to / layout.folder, files, np.asarray(dataset.targets, dtype=np.int64)


def _locate(layout: FolderLayout, split: str, options: SourceOptions
            ) -> tuple[Path, list[Path], np.ndarray]:
    if options.download:
        return _tonic_files(layout, options, split)
    if options.data_dir is None:
        raise DataError(f"{layout.title} needs its recordings: pass --data-dir (data_dir=) "
                        f"pointing at a local copy in {layout.layout}, or --download "
                        "(download=True) to fetch it")
    root = find_root(layout, options.data_dir)
    return (root, *list_files(layout, root, split))


def open_folder_split(layout: FolderLayout, split: str, options: SourceOptions) -> Recordings:
    """The recordings of ``split``; ``calib`` is a class-stratified subset of train."""
    if split == "calib":
        return calib_subset(open_folder_split(layout, "train", options),
                            f"{layout.name}/calib", CALIB_SIZE)
    root, files, labels = _locate(layout, split, options)
    return Recordings(f"{layout.name}/{split}", labels, layout.classes, layout.sensor, str(root),
                      file_fingerprint(root, files), file_reader(files, layout.read))
