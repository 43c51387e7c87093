"""How the fused CPU scan is built: the per-user cache, processes compiling at once, an
installed wheel, and the torch scan (with one log line) when no compiler can build it."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from sastc.train.lif import lif_scan, lif_scan_reference
from sastc.train.scan import cpu_build, cpu_kernel
from sastc.train.scan.dispatch import chosen_backend

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not cpu_kernel.available(), reason="no C compiler here")


@pytest.fixture
def fresh_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A kernel cache in ``tmp_path`` and no library loaded yet (restored afterwards)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cpu_kernel.library.cache_clear()
    yield tmp_path / "cache" / "sastc" / "kernels"
    cpu_kernel.library.cache_clear()


def test_without_a_compiler_the_torch_scan_runs_and_says_why_once(
        fresh_build: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang there
    current = torch.randn(4, 10)
    with caplog.at_level(logging.INFO, logger="sastc.train.scan"):
        assert chosen_backend(current, "cpu-fused") == "torch"
        assert chosen_backend(current) == "torch"
        spikes = lif_scan(current, 0.9, 0.5, 5.0, "hard", backend="cpu-fused")
    assert torch.equal(spikes, lif_scan_reference(current, 0.9, 0.5, 5.0, "hard"))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "no C compiler" in messages[0], messages
    assert not fresh_build.exists()


def test_a_failing_compiler_falls_back(fresh_build: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.setenv("CC", "false")
    assert not cpu_kernel.available()
    assert chosen_backend(torch.zeros(3, 2)) == "torch"


def _unwritable(cache: Path, how: str) -> None:
    if how == "read-only":
        cache.mkdir(parents=True)
        cache.chmod(0o500)
    else:
        cache.parent.mkdir(parents=True)
        cache.write_text("a file where the cache folder should be\n")


@pytest.mark.parametrize("how", ["read-only", "not a folder"])
def test_an_unwritable_cache_compiles_into_a_temporary_folder(
        fresh_build: Path, how: str, caplog: pytest.LogCaptureFixture) -> None:
    if how == "read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    _unwritable(fresh_build, how)
    with caplog.at_level(logging.INFO, logger="sastc.train.scan"):
        assert cpu_kernel.available()
    assert any("temporary directory" in r.getMessage() for r in caplog.records)
    current = torch.randn(3, 40)
    assert torch.equal(lif_scan(current, 0.9, 0.5, 5.0, "hard", backend="cpu-fused"),
                       lif_scan_reference(current, 0.9, 0.5, 5.0, "hard"))
    if how == "read-only":
        fresh_build.chmod(0o700)
        assert list(fresh_build.iterdir()) == []


# loads the library and runs a 2-step, 3-neuron scan through ctypes (no torch: fast to start)
CHILD = """
import ctypes
from sastc.train.scan import cpu_build
lib = cpu_build.load_library()
f = ctypes.c_float * 6
cur, spk = f(0.6, 0.2, 2.0, 0.6, 0.2, 0.0), f()
lib.lif_forward_f32.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_long] * 4 + \\
    [ctypes.c_double] * 4 + [ctypes.c_int] * 2
lib.lif_forward_f32(cur, spk, None, 2, 3, 0, 3, 1.0, 1.0, 5.0, 0.0, 0, 0)
print(list(spk))
"""


def test_processes_compiling_at_once_share_one_complete_library(fresh_build: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
    results = [child.communicate(timeout=300) for child in children]
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == "[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]"
    assert [p.suffix for p in fresh_build.iterdir()] == [".so"]


def test_the_cache_key_follows_the_source_and_flags() -> None:
    key = cpu_build.build_key(cpu_build.BASE_FLAGS, "cc 1.0")
    assert key == cpu_build.build_key(cpu_build.BASE_FLAGS, "cc 1.0")
    assert key != cpu_build.build_key(cpu_build.BASE_FLAGS, "cc 1.1")
    assert key != cpu_build.build_key(cpu_build.BASE_FLAGS[1:], "cc 1.0")


@pytest.mark.slow
def test_an_installed_wheel_ships_and_builds_the_source(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True)
    site = tmp_path / "site"
    zipfile.ZipFile(next(tmp_path.glob("sastc-*.whl"))).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", CHILD + "print(cpu_build.SOURCE)\n"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[0.0,", "0.0,", "1.0,", "1.0,", "0.0,", "0.0]",
                                  str(site / "sastc" / "train" / "scan" / "lif_scan.c")]
    assert next((tmp_path / "cache" / "sastc" / "kernels").glob("lif_scan-*.so"))


def test_a_compiler_without_march_native_builds_for_the_generic_target(
        fresh_build: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = cpu_build.compiler_command()
    wrapper = tmp_path / "cc-no-native"
    wrapper.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = -march=native ] && exit 1; done\n'
                       f'exec {real[0]} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(wrapper))
    flags = cpu_build.choose_flags([str(wrapper)])[0]
    assert flags[:len(cpu_build.BASE_FLAGS)] == cpu_build.BASE_FLAGS
    assert "-march=native" not in flags
    assert cpu_kernel.library() is not None  # the generic build compiled (no AVX assumed)
    assert next(fresh_build.glob("lif_scan-*.so"))
    current = torch.randn(4, 50)
    assert torch.equal(lif_scan(current, 0.9, 0.5, 5.0, "hard", backend="cpu-fused"),
                       lif_scan_reference(current, 0.9, 0.5, 5.0, "hard"))


def test_a_damaged_library_in_the_cache_is_not_loaded(
        fresh_build: Path, caplog: pytest.LogCaptureFixture) -> None:
    cc = cpu_build.compiler_command()
    flags, identity = cpu_build.choose_flags(cc)
    fresh_build.mkdir(parents=True)
    damaged = fresh_build / f"lif_scan-{cpu_build.build_key(flags, identity)[:24]}.so"
    damaged.write_bytes(b"\x7fELF truncated")
    with caplog.at_level(logging.INFO, logger="sastc.train.scan"):
        assert cpu_kernel.available()
    assert any("cannot load" in r.getMessage() for r in caplog.records)
