"""Failure behaviour: one writer per output folder, leftovers of killed writers, divergence,
quantization range warnings, typed profiles, the C harness header, the GPU count.

The bad command-line inputs themselves are the table of tests/test_bad_inputs.py.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sastc.atomic import clean_stale
from sastc.cli import main
from sastc.errors import CompileError, ConfigError, TargetError
from sastc.lock import OutputLocked, lock_beside, output_lock
from tests.conftest import TINY_ARCH, TINY_SYNTHETIC, tiny_config

TINY_ARGS = [item for key, value in TINY_SYNTHETIC.items()
             for item in ("--synthetic", f"{key}={value}")] + ["-T", "8", "--arch", TINY_ARCH,
                                                                "--batch-size", "16"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str,
             timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def sastc_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sastc", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def holds_lock(lock: Path, pid: int) -> Callable[[], bool]:
    return lambda: lock.is_file() and lock.read_text().strip() == str(pid)


# --- one writer per output folder ----------------------------------------------------------

def test_lock_names_the_holder_and_is_released(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    with output_lock(lock, "--out here"):
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(OutputLocked, match=rf"--out here is in use by another sastc "
                                               rf"process \(pid {os.getpid()}\)"), \
                output_lock(lock, "--out here"):
            pass
    assert not lock.exists()
    lock.write_text(f"{dead_pid()}\n")  # left by a killed run: no flock holds it any more
    with output_lock(lock, "--out here"):
        assert lock.read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_second_training_into_a_running_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "ct"
    first = sastc_process("train", *TINY_ARGS, "--epochs", "4", "--out", str(out),
                          "--no-progress", "--seed", "3")
    wait_for(holds_lock(out / ".lock", first.pid), first, "the first training took the lock")
    code, _, err = invoke("train", *TINY_ARGS, "--epochs", "1", "--out", str(out),
                          "--no-progress")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert code == 2 and err.strip().splitlines()[-1] == (
        f"error: --out {out} is in use by another sastc process (pid {first.pid}); wait for it "
        "to finish, or choose another output folder")
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["config"]["seed"] == 3 and saved["epoch"] == 4
    assert not (out / ".lock").exists()


@pytest.mark.slow
def test_second_compile_into_a_building_folder_is_refused(trained_checkpoint: Path,
                                                          tmp_path: Path) -> None:
    build = tmp_path / "build"
    first = sastc_process("compile", str(trained_checkpoint), "--out", str(build),
                          "--no-progress")
    wait_for(holds_lock(lock_beside(build), first.pid), first, "the first compile took the lock")
    code, _, err = invoke("compile", str(trained_checkpoint), "--out", str(build),
                          "--no-progress", "--target", "int4-fixed")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert code == 2 and f"in use by another sastc process (pid {first.pid})" in err
    assert "int8-fixed" in (build / "report.json").read_text()
    assert not lock_beside(build).exists()


# --- leftovers of killed writers -----------------------------------------------------------

SLOW_SAVE = """
import sys, time
import sastc.train.checkpoint as checkpoint

def slow_save(payload, path):
    with open(path, "wb") as handle:
        handle.write(b"PK\\x03\\x04" + bytes(1 << 16))
        handle.flush()
        time.sleep(120)

checkpoint.torch.save = slow_save
checkpoint.save_checkpoint(sys.argv[1], {"epoch": 1})
"""


def test_checkpoint_write_killed_midway_leaves_nothing_after_the_next_run(tmp_path: Path
                                                                         ) -> None:
    out = tmp_path / "run"
    out.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(out / "checkpoint.pt")],
                              stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(out.glob(".checkpoint.pt.*.sastc-tmp")), writer,
             "the temporary checkpoint appeared")
    time.sleep(0.2)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    leftover = list(out.glob(".checkpoint.pt.*.sastc-tmp"))
    assert len(leftover) == 1 and leftover[0].stat().st_size > 0
    assert not (out / "checkpoint.pt").exists()
    from sastc.train.run import train

    train(tiny_config(out, epochs=1), log=lambda _: None)
    assert (out / "checkpoint.pt").is_file()
    assert not [p for p in out.iterdir() if p.name.endswith(".sastc-tmp")]


def test_stale_leftovers_are_removed_and_an_interrupted_swap_is_undone(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / f".model.npz.{dead}-ab12.sastc-tmp").write_bytes(b"partial")
    (tmp_path / f".model.npz.{alive}-cd34.sastc-tmp").write_bytes(b"being written")
    staging = tmp_path / f".build.{dead}-ef56.sastc-staging"
    staging.mkdir()
    (staging / "model.h").write_text("half")
    old = tmp_path / f".build.{dead}.sastc-old"
    old.mkdir()
    (old / "model.h").write_text("the previous build")
    (tmp_path / ".unrelated.12.tmp").write_text("not ours")
    clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".model.npz.{alive}-cd34.sastc-tmp", "build", ".unrelated.12.tmp"])
    assert (tmp_path / "build" / "model.h").read_text() == "the previous build"


# --- divergence ----------------------------------------------------------------------------

def test_finite_divergence_stops_like_nan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    import sastc.train.epoch as epoch

    real_step, calls = epoch.train_step, []

    def exploding(*args, **kwargs):
        loss, *counts = real_step(*args, **kwargs)
        calls.append(loss)
        return (1e34 if len(calls) > 6 else loss), *counts   # 6 steps = epoch 1

    monkeypatch.setattr(epoch, "train_step", exploding)
    out = tmp_path / "run"
    code, _, err = invoke("train", *TINY_ARGS, "--epochs", "3", "--out", str(out),
                          "--no-progress")
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: the loss reached 1e+34, above the divergence bound")
    assert "during epoch 2" in line and "(epoch 1) is kept" in line
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1


def test_divergence_bound() -> None:
    from sastc.errors import TrainingDiverged
    from sastc.train.epoch import check_loss

    check_loss(2.0e5, 1.0)
    for loss in (float("nan"), float("inf"), 3e6, 1e34):
        with pytest.raises(TrainingDiverged):
            check_loss(loss, 2.0)
    with pytest.raises(TrainingDiverged, match="at most 1e"):
        check_loss(1e20, 1e20)  # a first loss this large is itself divergence


# --- quantization that cannot represent a channel ------------------------------------------

def test_a_weight_of_1e30_is_reported_not_hidden(trained_checkpoint: Path, tmp_path: Path
                                                 ) -> None:
    saved = torch.load(trained_checkpoint, weights_only=True)
    saved["state_dict"]["layers.0.weight"][0, 0, 0, 0] = 1e30
    path = tmp_path / "huge.pt"
    torch.save(saved, path)
    code, out, err = invoke("compile", str(path), "--out", str(tmp_path / "b"), "--no-progress",
                            "--no-calibrate", "--no-verify")
    assert code == 0, err
    assert "warning: layer 'conv0' channel 0: 17 of 18 non-zero weights quantize to 0" in err
    assert "threshold 1 rounds to 0" in err
    assert "Quantization warnings" in out
    code, _, err = invoke("compile", str(trained_checkpoint), "--out", str(tmp_path / "c"),
                          "--no-progress", "--no-calibrate", "--no-verify")
    assert code == 0 and "warning" not in err


# --- typed profiles ------------------------------------------------------------------------

def _numerics(**changes: object) -> dict:
    from sastc.profile import EXAMPLE

    return {**EXAMPLE, **changes}


@pytest.mark.parametrize(("changes", "message"), [
    ({"reset": "subtract"}, "numerics.reset 'subtract' is not supported; supported: per-layer, "
                            "zero"),
    ({"rounding": "nearest-even"}, "numerics.rounding 'nearest-even' is not supported"),
    ({"threshold": "greater-equal"}, "numerics.threshold 'greater-equal' is not supported"),
    ({"clip_search": "percentile"}, "supported: mse, max"),
    ({"weight_bits": 16, "weight_bits_range": [2, 16]}, "weight_bits must be an integer in"),
    ({"membrane_bits": 24, "leak_shift": 12}, "membrane_bits - 1 + leak_shift must be <= 31"),
    ({"weight_bits_range": [4, 2]}, "weight_bits_range must be [low, high]"),
    ({"shift": 3}, "unknown key(s) ['shift'] in [numerics]"),
    ({"accumulator_bits": "32"}, "accumulator_bits must be an integer"),
])
def test_profile_values_are_checked(changes: dict, message: str) -> None:
    from sastc.profile import Numerics

    with pytest.raises(TargetError, match=rf"profile 'p': .*{_escape(message)}"):
        Numerics.from_dict(_numerics(**changes), "p")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_missing_profile_key_is_named() -> None:
    from sastc.profile import Numerics

    numerics = _numerics()
    del numerics["leak_shift"]
    with pytest.raises(TargetError, match=r"\[numerics\] is missing \['leak_shift'\]"):
        Numerics.from_dict(numerics, "p")


def test_weights_wider_than_8_bits_are_refused_not_wrapped() -> None:
    from sastc.ir.layers import FloatLayer, Geometry
    from sastc.passes.quantize import quantize_weights

    layer = FloatLayer("l", Geometry("dense", (4,), (1,)), "lif",
                       np.array([[-1.0, 0.001, 0.002, 0.6]]), np.zeros(1), 0.9)
    with pytest.raises(CompileError, match="weight_bits 16 is not supported"):
        quantize_weights(layer, 16, True)
    assert quantize_weights(layer, 8, True)[0].tolist() == [[-127, 0, 0, 76]]


def test_clip_search_and_overflow_are_implemented() -> None:
    from sastc.ir import fuse
    from sastc.ir.build import graph_from_spec, random_params
    from sastc.passes.check import check_pass
    from sastc.passes.context import CompileContext
    from sastc.passes.quantize import quantize_net
    from sastc.spec import parse_arch
    from sastc.targets import load_target

    spec = parse_arch("dense(64, beta=1.0) readout", (2, 8, 8), 4)
    graph = graph_from_spec(spec, random_params(spec, 0, gain=3.0),
                            {"time_bins": 64, "classes": list("abcd"), "input_clip": 1})
    net, profile = fuse(graph), load_target("int8-fixed").profile
    mse = quantize_net(net, profile.numerics).layers[0].weight_scale
    peak = quantize_net(net, {**profile.numerics, "clip_search": "max"}).layers[0].weight_scale
    assert np.all(peak >= mse) and np.any(peak > mse)
    narrow = {**profile.numerics, "membrane_bits": 12, "max_frac_bits": 0}
    for overflow, fails in (("saturate", False), ("error", True)):
        typed = dataclasses.replace(profile, numerics={**narrow, "overflow": overflow})
        ctx = CompileContext(graph, typed, float_net=net, log=lambda _: None,
                             qnet=quantize_net(net, typed.numerics))
        if fails:
            with pytest.raises(CompileError, match="does not allow saturation"):
                check_pass(ctx)
        else:
            check_pass(ctx)
            assert ctx.report["check"]["saturation"]


def test_unknown_profile_keys_and_passes_are_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sastc.targets import load_target, targets_dir

    copy = tmp_path / "targets"
    import shutil

    shutil.copytree(targets_dir(), copy, ignore=shutil.ignore_patterns("runtime", "mcu"))
    monkeypatch.setenv("SASTC_TARGETS_DIR", str(copy))
    profile = copy / "profiles" / "int8-fixed.toml"
    text = profile.read_text()
    profile.write_text(text.replace('order = ["fold",', 'order = ["shuffle", "fold",'))
    with pytest.raises(TargetError, match=r"\[passes\] order names unknown \['shuffle'\]"):
        load_target("int8-fixed")
    profile.write_text(text + '\n[extras]\nfast = true\n')
    with pytest.raises(TargetError, match=r"unknown key\(s\) \['extras'\]"):
        load_target("int8-fixed")
    profile.write_text(text.replace("rounds = 2", "rounds = 0"))
    with pytest.raises(TargetError, match=r"calibrate\.rounds must be an integer >= 1"):
        load_target("int8-fixed")


# --- memory ---------------------------------------------------------------------------------

def test_a_batch_that_cannot_fit_names_batch_size(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sastc.resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 64 << 20)
    with pytest.raises(ConfigError, match=r"largest part is activations of one batch of 4096: "
                                          r"reduce --batch-size"):
        resources.check_training(tiny_config(tmp_path, batch_size=4096))
    resources.check_training(tiny_config(tmp_path, batch_size=16))


# --- torchrun with more processes than GPUs -----------------------------------------------

def test_more_processes_than_gpus_is_one_clear_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sastc.train import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1",
                       "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=r"torchrun started 2 processes on this machine with "
                                          r"--device cuda, but it has 1 GPU\(s\)"):
        distributed.setup("cuda")
    code, _, err = invoke("train", *TINY_ARGS, "--device", "cuda", "--out", str(tmp_path / "r"))
    assert code == 2 and err.strip().splitlines()[-1].endswith(
        "launch with --nproc_per_node 1, or train with --device cpu")
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ConfigError, match=r"\$RANK must be an integer"):
        distributed.setup("cpu")


# --- the C harness reads only what its header promises --------------------------------------

@pytest.fixture(scope="module")
def sanitized_harness(tmp_path_factory: pytest.TempPathFactory):
    """A tiny model's host harness built with AddressSanitizer and UBSan."""
    from tests.toolchains import require_tool

    require_tool("gcc", "the C harness test needs a host C compiler")
    from sastc.backends.c_header import write_build
    from sastc.ir import fuse
    from sastc.ir.build import graph_from_spec, random_params
    from sastc.passes.quantize import quantize_net
    from sastc.sim.c_runtime import SANITIZE_CFLAGS, CRuntime, build_harness
    from sastc.spec import parse_arch
    from sastc.targets import load_target

    spec = parse_arch("conv(4, 3, stride=2) dense(8) readout", (2, 24, 24), 3)
    graph = graph_from_spec(spec, random_params(spec, 0, gain=3.0),
                            {"time_bins": 6, "classes": ["a", "b", "c"], "input_clip": 1})
    qnet = quantize_net(fuse(graph), load_target("int8-fixed").profile.numerics)
    out = tmp_path_factory.mktemp("asan-build")
    write_build(qnet, out)
    executable = build_harness(out, opt="-O1", extra_flags=SANITIZE_CFLAGS)
    return CRuntime(executable, qnet)


def _header(samples: int, steps: int, flags: int) -> bytes:
    return b"SAI1" + np.array([samples, steps, flags], "<u4").tobytes()


@pytest.mark.parametrize(("header", "frames", "reason"), [
    (_header(1, 3, 2), 3, "classify needs steps == SASTC_MODEL_TIME_BINS"),  # read past the end
    (_header(1, 9, 2), 9, "classify needs steps == SASTC_MODEL_TIME_BINS"),
    (_header(1, 6, 4), 6, "unknown flag bits"),
    (_header(1, 0, 0), 0, "steps must be in 1..2^20"),
    (_header(1, 0xFFFFFFFF, 0), 0, "steps must be in 1..2^20"),       # 2^32 frames
    (_header(1, 1 << 20, 0), 0, "exceeds 1 GiB per sample"),         # 2^20 x 1152 bytes
    (_header(0, 6, 0), 0, "samples must be in 1..2^24"),
    (_header(0xFFFFFFFF, 6, 0), 0, "samples must be in 1..2^24"),
    (b"SAI1" + bytes(6), 0, "expected the SAI1 header"),
    (b"SAO1" + _header(1, 6, 0)[4:], 0, "expected the SAI1 header"),
])
def test_malformed_harness_headers_are_refused(sanitized_harness, header: bytes, frames: int,
                                               reason: str) -> None:
    frame_bytes = int(np.prod(sanitized_harness.qnet.input_shape))
    result = subprocess.run([str(sanitized_harness.executable)],
                            input=header + bytes(frames * frame_bytes),
                            capture_output=True, check=False, timeout=60)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 2 and result.stdout == b"", stderr
    assert stderr.startswith("harness: ") and reason in stderr and len(stderr.splitlines()) == 1
    assert "Sanitizer" not in stderr and "runtime error" not in stderr


def test_sanitized_harness_still_runs_valid_input(sanitized_harness) -> None:
    from sastc.sim.int_sim import IntegerSimulator

    qnet = sanitized_harness.qnet
    frames = (np.random.default_rng(0).random((3, 6, 2, 24, 24)) < 0.2).astype(np.uint8)
    classes, logits = sanitized_harness.classify(frames)
    expected = IntegerSimulator(qnet).run(frames).logits
    assert np.array_equal(logits, expected) and np.array_equal(classes, expected.argmax(1))
    assert np.array_equal(sanitized_harness.run(frames[:, :4]).logits,
                          IntegerSimulator(qnet).run(frames[:, :4]).logits)
