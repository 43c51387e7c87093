"""One writer per output folder: an advisory lock held for the whole run.

A run (``sastc train --out DIR``, ``sastc compile --out DIR``) takes an
exclusive ``fcntl.flock`` on a lock file before it starts working and keeps
it until it ends; a second run into the same folder is refused at once with a
message naming the folder and the pid of the run that holds it. The kernel
drops a flock when its process dies, so a lock file left behind by a killed
run is stale and simply taken over. The lock file holds the holder's pid (for
the message) and is removed on release.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     with output_lock(Path(folder) / ".lock", "--out " + folder):
...         try:
...             with output_lock(Path(folder) / ".lock", "--out " + folder):
...                 pass
...         except SastcError as exc:
...             print("refused:", "in use" in str(exc))
refused: True
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from sastc.atomic import clean_stale, ensure_writable_dir, process_alive
from sastc.errors import SastcError

LOCK_NAME = ".lock"
_ATTEMPTS = 5


class OutputLocked(SastcError):
    """Another sastc process is writing the same output folder."""


def _holder(fd: int) -> str:
    """The pid written in the lock file, or ``unknown``."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _refuse(what: str, holder: str) -> OutputLocked:
    return OutputLocked(f"{what} is in use by another sastc process (pid {holder}); wait for it "
                        "to finish, or choose another output folder")


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file ``fd`` locked (it may have been released and
    unlinked between our open and our lock)."""
    try:
        return path.stat().st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _try_flock(fd: int, what: str) -> bool:
    """Take the flock; False where the filesystem has no flock (then the pid decides)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _refuse(what, _holder(fd)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            holder = _holder(fd)
            if holder.isdigit() and int(holder) != os.getpid() and process_alive(int(holder)):
                raise _refuse(what, holder) from None
            return False
        raise
    return True


def _acquire(path: Path, what: str) -> int:
    for _ in range(_ATTEMPTS):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SastcError(f"{what}: cannot create the lock file {path} "
                             f"({exc.strerror or exc})") from exc
        try:
            _try_flock(fd, what)
            if _same_file(fd, path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise _refuse(what, "unknown")


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if missing; its folder must exist) for the
    ``with`` block; :class:`OutputLocked` naming ``what`` and the holder's pid if taken."""
    path = Path(path)
    fd = _acquire(path, what)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                path.unlink()
        os.close(fd)


def lock_beside(directory: str | os.PathLike[str]) -> Path:
    """The lock file of a directory that is replaced as a whole (a build): beside it, as
    ``.<name>.lock``, since anything inside is swapped away with the directory."""
    directory = Path(directory).resolve()
    return directory.parent / f".{directory.name}{LOCK_NAME}"


@contextlib.contextmanager
def claim_folder(directory: str | os.PathLike[str], option: str = "--out") -> Iterator[Path]:
    """Own a run folder (training) for the ``with`` block: created and proven writable, locked
    by ``<directory>/.lock``, and cleared of temporary files that killed writers left."""
    created = not Path(directory).exists()
    directory = ensure_writable_dir(directory, option)
    try:
        with output_lock(directory / LOCK_NAME, f"{option} {directory}"):
            clean_stale(directory)
            yield directory
    except BaseException:
        if created:
            _remove_if_empty(directory)  # a run that failed before writing leaves nothing
        raise


def _remove_if_empty(directory: Path) -> None:
    """Remove ``directory`` when it holds no file at any depth (only empty folders)."""
    if not any(path.is_file() for path in directory.rglob("*")):
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def claim_build(directory: str | os.PathLike[str], option: str = "--out") -> Iterator[Path]:
    """Own a folder that is replaced as a whole (a build): its parent proven writable, a lock
    beside it, and stale staging folders of killed writers removed (an interrupted swap is
    undone first)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SastcError(f"{option} {directory}: exists and is not a directory")
    resolved = directory.resolve()
    parent = ensure_writable_dir(resolved.parent, option, directory)
    with output_lock(lock_beside(directory), f"{option} {directory}"):
        clean_stale(parent, resolved.name)
        yield directory
