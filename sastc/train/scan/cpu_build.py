"""Compiling the fused scan's C source on first use, into a per-user cache, and loading it.

The library is ``$XDG_CACHE_HOME/sastc/kernels/lif_scan-<key>.so`` (``~/.cache`` when the
variable is unset), where ``<key>`` hashes the sources, the flags and the compiler's
identity: its ``--version`` and the macros it predefines for this machine under
``-march=native`` (they name the instruction sets), so a changed source, another compiler
or another CPU sharing the home directory each get their own file. The compiler writes to
a temporary name that is then renamed into place, so processes compiling at once each load
a complete file. A cache directory that cannot be written falls back to a temporary
directory; no compiler, or a failed compile, raises :class:`BuildFailed` with the reason.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from sastc.atomic import atomic_path, clean_stale
from sastc.errors import SastcError

SOURCE = Path(__file__).with_name("lif_scan.c")
HEADERS = (Path(__file__).with_name("lif_scan_body.h"),)
# no fused multiply-add (bit-exact hard spikes); -fno-trapping-math lets the step
# comparison vectorise; neither changes a result
BASE_FLAGS = ("-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno", "-fPIC",
              "-shared")
NATIVE_FLAGS = ("-march=native",)
COMPILE_TIMEOUT_S = 120

_LOG = logging.getLogger(__name__)


class BuildFailed(Exception):
    """The kernel cannot be built here (not the user's error: the torch scan runs instead)."""


def compiler_command() -> list[str]:
    """``$CC`` (split as a shell would), else the first of ``cc``, ``gcc``, ``clang`` on PATH."""
    if os.environ.get("CC"):
        words = shlex.split(os.environ["CC"])
        if not words or shutil.which(words[0]) is None:
            raise BuildFailed(f"no C compiler: $CC={os.environ['CC']!r} is not on PATH")
        return words
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path is not None:
            return [path]
    raise BuildFailed("no C compiler: none of cc, gcc, clang is on PATH and $CC is unset")


def _run(command: list[str]) -> str:
    """stdout of ``command``; :class:`BuildFailed` with its last error line if it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=COMPILE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildFailed(f"{shlex.join(command[:2])}: {exc}") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise BuildFailed(f"{shlex.join(command[:2])} ...: {lines[-1]}")
    return done.stdout


def choose_flags(cc: list[str]) -> tuple[tuple[str, ...], str]:
    """``(flags, identity)``: ``-march=native`` where the compiler takes it, and the text
    (version and predefined macros) that identifies what these flags produce."""
    version = _run([*cc, "--version"])
    probe = ["-dM", "-E", "-x", "c", os.devnull]
    try:
        flags = BASE_FLAGS + NATIVE_FLAGS
        return flags, version + _run([*cc, *NATIVE_FLAGS, *probe])
    except BuildFailed:
        return BASE_FLAGS, version + _run([*cc, *probe])


def build_key(flags: tuple[str, ...], identity: str) -> str:
    """SHA-256 of the sources, the flags and the compiler's identity."""
    digest = hashlib.sha256()
    for path in (SOURCE, *HEADERS):
        digest.update(path.read_bytes())
    digest.update("\0".join(flags).encode() + b"\0" + identity.encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sastc/kernels``, or ``~/.cache/sastc/kernels``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sastc" / "kernels"


def compile_to(cc: list[str], flags: tuple[str, ...], target: Path) -> None:
    """Compile :data:`SOURCE` into ``target`` atomically (:class:`SastcError` if the folder
    cannot be written, :class:`BuildFailed` if the compiler fails)."""
    with atomic_path(target) as tmp:
        _run([*cc, *flags, "-o", str(tmp), str(SOURCE), "-lm"])


def _load_from_temporary(cc: list[str], flags: tuple[str, ...], name: str,
                         why: str) -> ctypes.CDLL:
    _LOG.info("fused CPU scan: %s; compiling into a temporary directory", why)
    try:
        with tempfile.TemporaryDirectory(prefix="sastc-kernel-") as folder:
            target = Path(folder) / name
            compile_to(cc, flags, target)
            return ctypes.CDLL(str(target))  # stays mapped after the folder is removed
    except (OSError, SastcError) as exc:
        raise BuildFailed(f"{why}, and no temporary directory either ({exc})") from exc


def load_library() -> ctypes.CDLL:
    """The compiled scan library, built first if the cache does not hold it yet."""
    cc = compiler_command()
    flags, identity = choose_flags(cc)
    name = f"lif_scan-{build_key(flags, identity)[:24]}.so"
    target = cache_dir() / name
    try:
        if not target.is_file():
            clean_stale(target.parent)
            compile_to(cc, flags, target)
            _LOG.debug("fused CPU scan: compiled %s", target)
    except SastcError as exc:
        return _load_from_temporary(cc, flags, name, str(exc))
    try:
        return ctypes.CDLL(str(target))
    except OSError as exc:  # a damaged file in the cache
        return _load_from_temporary(cc, flags, name, f"cannot load {target} ({exc})")
