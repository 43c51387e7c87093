"""Your own recordings: how a folder of event files is laid out and labelled.

Two layouts are recognised:

- **samples**: ``DIR/train/<class>/<file>`` and ``DIR/test/<class>/<file>`` (the split
  folders in any letter case, e.g. tonic's ``Train``/``Test``): one file, one sample;
- **recordings**: ``DIR/<class>/<file>``: long recordings, cut into windows.

Class names are the folder names, in sorted order; a class is a folder holding at
least one event file of a supported format (``sastc.data.formats``). Files whose
name starts with a dot are ignored; any other file of an unknown format is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sastc.errors import DataError

SAMPLES, RECORDINGS = "samples", "recordings"
SPLIT_NAMES = ("train", "test")
LAYOUT_HELP = ("DIR/train/<class>/<file> and DIR/test/<class>/<file> (samples), or "
               "DIR/<class>/<file> (long recordings, cut with --window-ms)")


@dataclass(frozen=True)
class ClassFiles:
    """The event files of one split, by class: ``files[i]`` has label ``labels[i]``."""

    files: tuple[Path, ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...]


def supported_extensions() -> tuple[str, ...]:
    from sastc.data.formats import SUPPORTED_EXTENSIONS

    return tuple(SUPPORTED_EXTENSIONS)


def find_split_dirs(root: Path) -> dict[str, Path] | None:
    """``{"train": ..., "test": ...}`` when ``root`` has both split folders, else None."""
    found = {child.name.lower(): child for child in _subdirs(root)
             if child.name.lower() in SPLIT_NAMES}
    if len(found) == len(SPLIT_NAMES):
        return found
    if found:
        missing = next(name for name in SPLIT_NAMES if name not in found)
        raise DataError(f"{root} has a {next(iter(found.values())).name}/ folder but no "
                        f"{missing}/ folder; expected {LAYOUT_HELP}")
    return None


def detect_layout(root: Path) -> str:
    """``samples`` or ``recordings`` (see the module docstring)."""
    if not root.is_dir():
        raise DataError(f"data dir {root} does not exist or is not a folder; expected "
                        f"{LAYOUT_HELP}")
    return SAMPLES if find_split_dirs(root) is not None else RECORDINGS


def list_classes(folder: Path) -> ClassFiles:
    """The class folders of ``folder`` and their event files (sorted by name)."""
    class_dirs = _subdirs(folder)
    if len(class_dirs) < 2:
        names = ", ".join(d.name for d in class_dirs) or "none"
        raise DataError(f"{folder} holds {len(class_dirs)} class folder(s) ({names}); a "
                        f"classifier needs at least 2, laid out as {LAYOUT_HELP}")
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        members = event_files(class_dir)
        files += members
        labels += [label] * len(members)
    return ClassFiles(tuple(files), tuple(labels), tuple(d.name for d in class_dirs))


def event_files(class_dir: Path) -> list[Path]:
    """The event files of one class folder; an unknown format or none at all is an error."""
    extensions = supported_extensions()
    files = sorted(p for p in class_dir.iterdir() if not p.name.startswith(".") and p.is_file())
    unknown = [p for p in files if p.suffix.lower() not in extensions]
    if unknown:
        raise DataError(f"{unknown[0]}: unknown event-file extension {unknown[0].suffix!r}; "
                        f"expected one of {', '.join(extensions)}")
    if not files:
        raise DataError(f"class folder {class_dir} holds no event files; expected files "
                        f"ending in {', '.join(extensions)}")
    return files


def relabel(split: ClassFiles, classes: tuple[str, ...], where: Path) -> ClassFiles:
    """``split`` with labels indexing ``classes`` (the training split's class names)."""
    unknown = [name for name in split.classes if name not in classes]
    if unknown:
        raise DataError(f"{where}: class folder(s) {', '.join(unknown)} do not exist in the "
                        f"train split (classes: {', '.join(classes)})")
    labels = tuple(classes.index(split.classes[label]) for label in split.labels)
    return ClassFiles(split.files, labels, classes)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
