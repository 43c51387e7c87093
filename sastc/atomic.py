"""Atomic file and directory writes: readers see the old file or the new one, never half.

Temporary files and staging directories sit beside their target and carry the
writer's process id in a recognisable name::

    .<name>.<pid>-<random>.sastc-tmp        a file being written
    .<name>.<pid>-<random>.sastc-staging    a directory being built
    .<name>.<pid>.sastc-old                 the previous directory during a swap

A writer killed half-way (SIGKILL, power loss) cannot remove its own leftovers;
:func:`clean_stale` removes those whose writer is no longer running, and puts a
directory back whose swap was interrupted. The next run calls it on its
output directory at start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sastc.errors import SastcError

TMP_SUFFIX = ".sastc-tmp"
STAGING_SUFFIX = ".sastc-staging"
OLD_SUFFIX = ".sastc-old"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:-[^.]+)?"
                       r"(?P<kind>\.sastc-tmp|\.sastc-staging|\.sastc-old)$")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _check_writable_dir(directory: Path, option: str = "output directory",
                        shown: Path | None = None) -> None:
    label = f"{option} {shown or directory}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SastcError(f"{label}: cannot create output directory {directory} "
                         f"({_reason(exc)})") from exc
    if not directory.is_dir():
        raise SastcError(f"{label}: {directory} exists and is not a directory")


def ensure_writable_dir(directory: str | os.PathLike[str], option: str = "output directory",
                        shown: str | os.PathLike[str] | None = None) -> Path:
    """Create ``directory`` if needed and prove a file can be written in it (a probe file is
    created and removed); raises :class:`SastcError` naming ``option`` and ``shown`` (the
    path the user gave, default ``directory``) otherwise."""
    directory = Path(directory)
    shown = Path(shown) if shown is not None else None
    _check_writable_dir(directory, option, shown)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}-", suffix=TMP_SUFFIX,
                                     dir=directory)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        raise SastcError(f"{option} {shown or directory}: cannot write in {directory} "
                         f"({_reason(exc)})") from exc
    return directory


def ensure_writable_file(path: str | os.PathLike[str], option: str) -> Path:
    """Check, before any work, that ``path`` can be written atomically: not a directory, and
    its folder (created if missing) accepts new files."""
    path = Path(path)
    if path.is_dir():
        raise SastcError(f"{option} {path}: is a directory; expected a file name")
    if path.name in ("", ".", ".."):
        raise SastcError(f"{option} {path!s}: expected a file name")
    ensure_writable_dir(path.parent, option, path)
    return path


def _temp_name(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    _check_writable_dir(target.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_name(target), suffix=TMP_SUFFIX,
                                        dir=target.parent)
    except OSError as exc:
        raise SastcError(f"cannot write {target}: {_reason(exc)}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh staging directory that replaces ``path`` only on success.

    An existing ``path`` is moved aside, the staged directory renamed into
    place, and the old one deleted; if anything fails the old directory stays
    (or is put back) and the staging directory is removed.
    """
    target = Path(path)
    _check_writable_dir(target.parent)
    if target.exists() and not target.is_dir():
        raise SastcError(f"output path {target} exists and is not a directory")
    try:
        staging = Path(tempfile.mkdtemp(prefix=_temp_name(target), suffix=STAGING_SUFFIX,
                                        dir=target.parent))
    except OSError as exc:
        raise SastcError(f"cannot write {target}: {_reason(exc)}") from exc
    try:
        yield staging
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path) -> None:
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.{os.getpid()}{OLD_SUFFIX}")
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    try:
        staging.rename(target)
    except OSError:
        if backup is not None:
            backup.rename(target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale(directory: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the temporary files and staging directories in ``directory`` whose writer
    process is gone (only those of ``name`` if given); a directory whose swap was
    interrupted (only ``.<name>.<pid>.sastc-old`` left) is renamed back to ``<name>``.
    Returns what was removed or restored."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    handled = []
    for entry in sorted(directory.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if match is None or process_alive(int(match["pid"])) or name not in (None,
                                                                             match["name"]):
            continue
        original = directory / match["name"]
        if match["kind"] == OLD_SUFFIX and not original.exists():
            entry.rename(original)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        handled.append(entry)
    return handled
