"""Compiling the fused scan's C source on first use, into a per-user cache, and loading it.

The library is ``$XDG_CACHE_HOME/sastc/kernels/lif_scan-<key>.so`` (``~/.cache`` when the
variable is unset), where ``<key>`` hashes the sources, the flags and the compiler's
identity: its ``--version`` and the macros it predefines for this machine under
``-march=native`` (they name the instruction sets), so a changed source, another compiler
or another CPU sharing the home directory each get their own file. The compiler writes to
a temporary name that is then renamed into place, so processes compiling at once each load
a complete file. A cache directory that cannot be written falls back to a temporary
directory; no compiler, or a failed compile, raises :class:`BuildFailed` with the reason.

Where torch runs on GNU OpenMP (``libgomp``, as the Linux wheels do) and the compiler is
GCC, the library is built with ``-fopenmp``: it then needs ``libgomp.so.1``, which the
loader resolves to the copy torch already loaded, so the kernels' ``_par`` entries run on
torch's own threads (:mod:`sastc.train.scan.parallel`). If loading it maps a second OpenMP
runtime after all, the build without OpenMP is loaded instead.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from sastc.atomic import atomic_path, clean_stale
from sastc.errors import SastcError

SOURCE = Path(__file__).with_name("lif_scan.c")
HEADERS = (Path(__file__).with_name("lif_scan_body.h"),
           Path(__file__).with_name("event_conv_body.h"),
           Path(__file__).with_name("event_lif_body.h"),
           Path(__file__).with_name("conv_grad_body.h"))
# no fused multiply-add (bit-exact hard spikes); -fno-trapping-math lets the step
# comparison vectorise; neither changes a result
BASE_FLAGS = ("-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno", "-fPIC",
              "-shared")
NATIVE_FLAGS = ("-march=native",)
OPENMP_FLAGS = ("-fopenmp",)
OPENMP_RUNTIME = re.compile(r"/lib(?:gomp|omp|iomp5)[^/]*\.so")
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


def openmp_runtimes() -> set[str]:
    """Files of the OpenMP runtimes mapped into this process (from ``/proc/self/maps``;
    empty where there is none)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in maps.splitlines() if OPENMP_RUNTIME.search(line)}


def shares_torch_openmp(macros: str) -> bool:
    """Whether ``-fopenmp`` code from the compiler that predefines ``macros`` would run on
    torch's threads: torch has GNU ``libgomp`` loaded, and the compiler is GCC (clang's
    ``-fopenmp`` links another runtime)."""
    runtimes = openmp_runtimes()
    return (len(runtimes) == 1 and "libgomp" in Path(next(iter(runtimes))).name
            and "__GNUC__" in macros and "__clang__" not in macros)


def choose_flags(cc: list[str], openmp: bool = True) -> tuple[tuple[str, ...], str]:
    """``(flags, identity)``: ``-march=native`` where the compiler takes it, ``-fopenmp``
    where ``openmp`` and :func:`shares_torch_openmp`, and the text (version and predefined
    macros) that identifies what these flags produce."""
    version = _run([*cc, "--version"])
    probe = ["-dM", "-E", "-x", "c", os.devnull]
    try:
        flags = BASE_FLAGS + NATIVE_FLAGS
        macros = _run([*cc, *NATIVE_FLAGS, *probe])
    except BuildFailed:
        flags, macros = BASE_FLAGS, _run([*cc, *probe])
    if openmp and shares_torch_openmp(macros):
        try:
            macros = _run([*cc, *flags[len(BASE_FLAGS):], *OPENMP_FLAGS, *probe])
            flags += OPENMP_FLAGS
        except BuildFailed:
            pass
    return flags, version + macros


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


def load_library(openmp: bool = True) -> ctypes.CDLL:
    """The compiled kernel library, built first if the cache does not hold it yet (with
    OpenMP where :func:`choose_flags` gives it and ``openmp``)."""
    cc = compiler_command()
    flags, identity = choose_flags(cc, openmp)
    library = _load(cc, flags, f"lif_scan-{build_key(flags, identity)[:24]}.so")
    if OPENMP_FLAGS[0] in flags and len(openmp_runtimes()) > 1:
        _LOG.info("fused CPU kernels: the OpenMP build maps a second OpenMP runtime (%s); "
                  "loading the build without OpenMP", ", ".join(sorted(openmp_runtimes())))
        return load_library(openmp=False)
    return library


def _load(cc: list[str], flags: tuple[str, ...], name: str) -> ctypes.CDLL:
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
