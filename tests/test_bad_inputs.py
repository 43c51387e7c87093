"""Bad inputs a hostile but realistic user gives every command, one table row each.

Every row must end with exit status 2, exactly one error line naming the culprit (ours:
``error: ...`` as the last line; click's own option checks: ``Error: ...``), no traceback,
and an earlier output in the same place byte-for-byte unchanged. The fixtures (one tiny
trained checkpoint, one build, broken copies of both, broken target folders) are made once
per module.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sastc.cli import main
from sastc.lock import LOCK_NAME, lock_beside, output_lock
from tests.conftest import TINY_ARCH, TINY_SYNTHETIC

TINY = [item for key, value in TINY_SYNTHETIC.items()
        for item in ("--synthetic", f"{key}={value}")] + ["-T", "8"]
TRAIN = ["train", *TINY, "--arch", TINY_ARCH, "--epochs", "1", "--batch-size", "16",
         "--no-progress"]


@dataclass(frozen=True)
class Row:
    """One bad input: command-line words (``{name}`` filled from the fixtures), the text the
    error line must contain, and what must stay untouched (``run`` or ``build``)."""

    name: str
    args: tuple[str, ...]
    culprit: str
    guard: str | None = None
    lock: str | None = None          # hold this output's lock during the command
    env: dict[str, str] = field(default_factory=dict)


def row(name: str, args: list[str], culprit: str, **options) -> Row:
    return Row(name, tuple(args), culprit, **options)


ROWS = [
    # --- train: options ------------------------------------------------------------------
    row("epochs 0", [*TRAIN, "--epochs", "0", "--out", "{root}/t"], "--epochs"),
    row("batch size 0", [*TRAIN, "--batch-size", "0", "--out", "{root}/t"], "--batch-size"),
    row("negative lr", [*TRAIN, "--lr", "-1", "--out", "{root}/t"], "--lr"),
    row("nan lr", [*TRAIN, "--lr", "nan", "--out", "{root}/t"], "--lr"),
    row("negative rho", [*TRAIN, "--rho", "-0.5", "--out", "{root}/t"], "--rho"),
    row("rho without sast", [*TRAIN, "--mode", "surrogate", "--rho", "0.1", "--out", "{root}/t"],
        "--rho 0.1 applies only to --mode sast"),
    row("time bins 0", [*TRAIN, "-T", "0", "--out", "{root}/t"], "--time-bins"),
    row("time bins that cannot fit", [*TRAIN, "-T", "100000", "--out", "{root}/t"],
        "--time-bins"),
    row("train limit 0", [*TRAIN, "--train-limit", "0", "--out", "{root}/t"], "--train-limit"),
    row("steepness 0", [*TRAIN, "-k", "0", "--out", "{root}/t"], "steepness"),
    row("negative shift", [*TRAIN, "--augment-shift", "-1", "--out", "{root}/t"],
        "--augment-shift"),
    row("threads 0", [*TRAIN, "--threads", "0", "--out", "{root}/t"], "--threads"),
    row("unknown optimizer", [*TRAIN, "--optimizer", "lbfgs", "--out", "{root}/t"],
        "--optimizer"),
    row("cuda without a GPU", [*TRAIN, "--device", "cuda", "--out", "{root}/t"],
        "--device cuda"),
    row("unknown scan backend", [*TRAIN, "--out", "{root}/t"],
        "SASTC_SCAN: scan backend must be one of", env={"SASTC_SCAN": "fastest"}),
    row("triton scan on the CPU", [*TRAIN, "--out", "{root}/t"],
        "SASTC_SCAN: scan backend 'triton' does not take a torch.float32 tensor on cpu",
        env={"SASTC_SCAN": "triton"}),
    # --- train: architecture ---------------------------------------------------------------
    row("empty arch", [*TRAIN, "--arch", "", "--out", "{root}/t"], "architecture spec is empty"),
    row("kernel larger than the input", [*TRAIN, "--arch", "conv(16, 99) readout",
                                         "--out", "{root}/t"], "kernel 99"),
    row("unknown layer", [*TRAIN, "--arch", "conv(4, 3) maxpool(2) readout", "--out", "{root}/t"],
        "maxpool"),
    row("zero channels", [*TRAIN, "--arch", "conv(0, 3) readout", "--out", "{root}/t"],
        "channels must be >= 1"),
    row("pool larger than its input", [*TRAIN, "--arch", "pool(40) readout", "--out",
                                       "{root}/t"], "pool kernel 40"),
    row("readout first", [*TRAIN, "--arch", "readout dense(4)", "--out", "{root}/t"],
        "the readout must be the last layer"),
    row("beta above 1", [*TRAIN, "--arch", "conv(4, 3, beta=2) readout", "--out", "{root}/t"],
        "beta must be in [0, 1]"),
    row("padding not below kernel", [*TRAIN, "--arch", "conv(4, 3, padding=3) readout", "--out",
                                     "{root}/t"], "padding must be in [0, kernel - 1]"),
    row("unreadable arch arguments", [*TRAIN, "--arch", "conv(4, x=) readout", "--out",
                                      "{root}/t"], "cannot read arguments"),
    # --- train: data -----------------------------------------------------------------------
    row("unknown dataset", [*TRAIN, "--dataset", "mnist", "--out", "{root}/t"], "mnist"),
    row("missing data dir", ["train", "--dataset", "nmnist", "--data-dir", "{root}/nowhere",
                             "--out", "{root}/t", "--no-progress"], "nowhere"),
    row("synthetic value not a number", [*TRAIN, "--synthetic", "n_train=many", "--out",
                                         "{root}/t"], "n_train"),
    row("unknown synthetic key", [*TRAIN, "--synthetic", "colour=3", "--out", "{root}/t"],
        "colour"),
    row("synthetic without =", [*TRAIN, "--synthetic", "n_train", "--out", "{root}/t"],
        "--synthetic expects KEY=VALUE"),
    row("synthetic out of range", [*TRAIN, "--synthetic", "resolution=4", "--out", "{root}/t"],
        "resolution must be in"),
    row("folder dataset without data dir", ["train", "--dataset", "folder", "--out", "{root}/t",
                                            "--no-progress"], "folder"),
    row("window for another dataset", [*TRAIN, "--window-ms", "100", "--out", "{root}/t"],
        "--window-ms"),
    row("sensor size zero", ["train", "--dataset", "folder", "--data-dir", "{root}",
                             "--sensor-size", "0,5", "--out", "{root}/t"], "--sensor-size"),
    row("validation fraction above 1", [*TRAIN, "--val-fraction", "1.5", "--out", "{root}/t"],
        "val"),
    # --- train: output folder --------------------------------------------------------------
    row("unwritable out", [*TRAIN, "--out", "/proc/sastc-run"], "/proc/sastc-run"),
    row("out is a file", [*TRAIN, "--out", "{text_pt}"], "text.pt"),
    row("out holds a run", [*TRAIN, "--out", "{run}"], "already holds a training run",
        guard="run"),
    row("resume with other options", [*TRAIN, "--resume", "--arch", "conv(3, 3) readout",
                                      "--out", "{run}"], "--resume", guard="run"),
    row("resume without out", [*TRAIN, "--resume"], "--resume"),
    row("out in use", [*TRAIN, "--out", "{run}", "--resume"], "is in use by another sastc "
        "process", guard="run", lock="run"),
    # --- sweep -----------------------------------------------------------------------------
    row("sweep rho not numbers", ["sweep", *TINY, "--rho", "0,big", "--out", "{root}/s"],
        "--rho"),
    row("sweep seeds not integers", ["sweep", *TINY, "--seeds", "0,1.5", "--out", "{root}/s"],
        "--seeds"),
    row("sweep empty rho list", ["sweep", *TINY, "--rho", ",", "--out", "{root}/s"], "--rho"),
    row("sweep epochs 0", ["sweep", *TINY, "--rho", "0", "--seeds", "0", "--epochs", "0",
                           "--no-conventional", "--out", "{root}/s", "--no-progress"],
        "--epochs"),
    # --- eval: files that are not checkpoints -----------------------------------------------
    row("eval missing file", ["eval", "{root}/none.pt"], "no such checkpoint file"),
    row("eval directory", ["eval", "{root}"], "is a directory"),
    row("eval empty file", ["eval", "{empty_pt}"], "the file is empty"),
    row("eval text file", ["eval", "{text_pt}"], "it is a text file"),
    row("eval random bytes", ["eval", "{random_pt}"], "neither a zip nor a pickle"),
    row("eval truncated checkpoint", ["eval", "{truncated_pt}"], "truncated.pt: not a sastc "
        "checkpoint"),
    row("eval pickled module", ["eval", "{module_pt}"], "refuses such content for safety"),
    row("eval unsafe pickle", ["eval", "{unsafe_pt}"], "refuses such content for safety"),
    row("eval torch file of another program", ["eval", "{plain_pt}"],
        "expected a file written by 'sastc train'"),
    row("eval newer format", ["eval", "{newer_pt}"], "newer sastc"),
    # --- eval: checkpoints with wrong content -----------------------------------------------
    row("eval wrong tensor shape", ["eval", "{badshape_pt}"], "layers.0.weight has shape (3, 3)"),
    row("eval missing tensor", ["eval", "{missing_pt}"], "missing ['layers.3.bias']"),
    row("eval integer weights", ["eval", "{intweights_pt}"], "must be a floating-point tensor"),
    row("eval NaN weights", ["eval", "{nan_pt}"], "NaN"),
    row("eval unknown layer kind", ["eval", "{badspec_pt}"], "maxpool"),
    row("eval class count disagrees", ["eval", "{classes_pt}"], "records 3 classes"),
    # --- eval: options and data ------------------------------------------------------------
    row("eval batch size 0", ["eval", "{ck}", "--batch-size", "0"], "--batch-size"),
    row("eval other frame size", ["eval", "{ck}", "--synthetic", "resolution=32"],
        "2x32x32 frames"),
    row("eval other class count", ["eval", "{ck}", "--synthetic", "num_classes=6"],
        "6 classes"),
    row("eval unknown split", ["eval", "{ck}", "--split", "validation"], "--split"),
    row("eval unknown corruption", ["eval", "{ck}", "--corrupt", "blur:2"], "blur"),
    row("eval corruption without severity", ["eval", "{ck}", "--corrupt", "dropout"], "dropout"),
    row("eval time bins 0", ["eval", "{ck}", "-T", "0"], "--time-bins"),
    row("eval downsample 0", ["eval", "{ck}", "--downsample", "0"], "--downsample"),
    row("eval unwritable confusion plot", ["eval", "{ck}", "--confusion", "/proc/c.png"],
        "--confusion /proc/c.png"),
    # --- compile ---------------------------------------------------------------------------
    row("compile missing source", ["compile", "{root}/none.pt", "--out", "{build}"],
        "no such file", guard="build"),
    row("compile text file", ["compile", "{text_pt}", "--out", "{build}"], "text file",
        guard="build"),
    row("compile unknown target", ["compile", "{ck}", "--target", "int16", "--out", "{build}"],
        "unknown target 'int16'", guard="build"),
    row("compile 16-bit weights", ["compile", "{ck}", "--weight-bits", "16", "--out", "{build}"],
        "--weight-bits 16", guard="build"),
    row("compile 1-bit weights", ["compile", "{ck}", "--weight-bits", "1", "--out", "{build}"],
        "--weight-bits 1", guard="build"),
    row("compile unknown board", ["compile", "{ck}", "--board", "esp32", "--out", "{build}"],
        "esp32", guard="build"),
    row("compile unknown emitter", ["compile", "{ck}", "--emit", "verilog", "--no-calibrate",
                                    "--no-verify", "--out", "{build}"], "verilog",
        guard="build"),
    row("compile calib samples 0", ["compile", "{ck}", "--calib-samples", "0", "--out",
                                    "{build}"], "--calib-samples", guard="build"),
    row("compile unknown calibration", ["compile", "{ck}", "--calibrate-method", "magic",
                                        "--out", "{build}"], "--calibrate-method",
        guard="build"),
    row("compile time bins that cannot fit", ["compile", "{ck}", "-T", "100000", "--out",
                                              "{build}"], "--time-bins", guard="build"),
    row("compile unknown dataset", ["compile", "{ck}", "--dataset", "imagenet", "--out",
                                    "{build}"], "imagenet", guard="build"),
    row("compile unwritable out", ["compile", "{ck}", "--out", "/proc/sastc-build"],
        "/proc/sastc-build"),
    row("compile out is a file", ["compile", "{ck}", "--out", "{text_pt}"], "text.pt"),
    row("compile out in use", ["compile", "{ck}", "--out", "{build}"], "is in use by another "
        "sastc process", guard="build", lock="build"),
    row("compile garbage NIR", ["compile", "{garbage_nir}", "--out", "{build}"], "garbage.nir",
        guard="build"),
    # --- simulate --------------------------------------------------------------------------
    row("simulate missing build", ["simulate", "{root}/nobuild"], "no such build directory"),
    row("simulate folder that is not a build", ["simulate", "{root}/empty"],
        "missing graph.sastc.npz"),
    row("simulate corrupt report", ["simulate", "{b_report}"], "report.json"),
    row("simulate report not an object", ["simulate", "{b_report_list}"], "not a JSON object"),
    row("simulate negative thresholds", ["simulate", "{b_theta}"],
        "theta_q holds negative thresholds"),
    row("simulate weights beyond their width", ["simulate", "{b_weight}"], "weight_q exceeds"),
    row("simulate negative weight scale", ["simulate", "{b_scale}"], "weight_scale must be"),
    row("simulate bias of the wrong shape", ["simulate", "{b_bias}"], "bias_q has shape"),
    row("simulate float thresholds", ["simulate", "{b_float}"], "theta_q must be integers"),
    row("simulate membrane too wide", ["simulate", "{b_membrane}"], "membrane_bits must be in"),
    row("simulate garbage model", ["simulate", "{b_garbage}"], "not a compiled sastc model"),
    row("simulate garbage graph", ["simulate", "{b_graph}"], "graph.sastc.npz: not a sastc graph"),
    row("simulate batch size 0", ["simulate", "{build}", "--batch-size", "0"], "--batch-size"),
    row("simulate limit 0", ["simulate", "{build}", "--limit", "0"], "--limit"),
    row("simulate other frame size", ["simulate", "{build}", "--synthetic", "resolution=32"],
        "2x32x32 frames"),
    row("simulate unwritable plot", ["simulate", "{build}", "--plot", "/proc/s.png"],
        "--plot /proc/s.png"),
    row("simulate unwritable raster", ["simulate", "{build}", "--raster", "/proc/r.png"],
        "--raster /proc/r.png"),
    row("simulate plot path is a folder", ["simulate", "{build}", "--plot", "{root}"],
        "is a directory"),
    row("simulate unknown split", ["simulate", "{build}", "--split", "dev"], "--split"),
    # --- targets ---------------------------------------------------------------------------
    row("profile asks for subtract reset", ["targets"], "numerics.reset 'subtract' is not "
        "supported; supported: per-layer, zero", env={"SASTC_TARGETS_DIR": "{t_reset}"}),
    row("profile with an unknown key", ["targets"], "unknown key(s) ['dither']",
        env={"SASTC_TARGETS_DIR": "{t_unknown}"}),
    row("profile missing a key", ["targets"], "is missing ['leak_shift']",
        env={"SASTC_TARGETS_DIR": "{t_missing}"}),
    row("profile with 16-bit weights", ["targets"], "weight_bits must be an integer in [2, 8]",
        env={"SASTC_TARGETS_DIR": "{t_bits}"}),
    row("profile with broken TOML", ["targets"], "cannot read target description",
        env={"SASTC_TARGETS_DIR": "{t_toml}"}),
    row("profile naming an unknown pass", ["targets"], "names unknown ['prune']",
        env={"SASTC_TARGETS_DIR": "{t_pass}"}),
    row("board without flash size", ["targets"], "flash_bytes",
        env={"SASTC_TARGETS_DIR": "{t_board}"}),
    row("exchange target naming no profile", ["targets"], "nir.toml: unknown profile 'float16'",
        env={"SASTC_TARGETS_DIR": "{t_exchange}"}),
]


# --- fixtures ---------------------------------------------------------------------------------

def _checkpoints(root: Path, checkpoint: Path) -> dict[str, Path]:
    """Broken copies of a real checkpoint, and files that are no checkpoint at all."""
    saved = torch.load(checkpoint, weights_only=True)
    edits: dict[str, Callable[[dict], None]] = {
        "badshape.pt": lambda d: d["state_dict"].__setitem__("layers.0.weight", torch.zeros(3, 3)),
        "missing.pt": lambda d: d["state_dict"].pop("layers.3.bias"),
        "intweights.pt": lambda d: d["state_dict"].__setitem__(
            "layers.0.weight", d["state_dict"]["layers.0.weight"].long()),
        "nan.pt": lambda d: d["state_dict"]["layers.0.weight"].view(-1).__setitem__(0, np.nan),
        "newer.pt": lambda d: d.__setitem__("format_version", 99),
        "badspec.pt": lambda d: d["spec"]["layers"].insert(1, {"kind": "maxpool", "kernel": 2}),
        "classes.pt": lambda d: d["dataset"].__setitem__("classes", ["a", "b", "c"]),
    }
    paths = {}
    for name, edit in edits.items():
        content = copy.deepcopy(saved)
        edit(content)
        torch.save(content, root / name)
        paths[name] = root / name
    raw = checkpoint.read_bytes()
    files = {"empty.pt": b"", "text.pt": b"this is a README, not a model\n",
             "random.pt": bytes(range(7, 256)), "truncated.pt": raw[: len(raw) // 2],
             "garbage.nir": b"\x89HDF\r\n\x1a\n" + bytes(64)}
    for name, content in files.items():
        (root / name).write_bytes(content)
        paths[name] = root / name
    for name, obj in (("module.pt", torch.nn.Linear(2, 2)), ("unsafe.pt", {"run": os.system}),
                      ("plain.pt", {"weights": torch.zeros(3)})):
        torch.save(obj, root / name)
        paths[name] = root / name
    return paths


def _edit_npz(path: Path, edit: Callable[[dict[str, np.ndarray], dict], None]) -> None:
    with np.load(path) as archive:
        arrays = dict(archive)
    header = json.loads(bytes(arrays["__header__"]).decode())
    edit(arrays, header)
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def _builds(root: Path, build: Path) -> dict[str, Path]:
    """Copies of a good build, each damaged in one way."""
    def membrane(arrays: dict, header: dict) -> None:
        header["layers"][0]["membrane_bits"] = 40

    model_edits: dict[str, Callable[[dict, dict], None]] = {
        "b_theta": lambda a, h: a.__setitem__("0/theta_q", -np.abs(a["0/theta_q"]) - 5),
        "b_weight": lambda a, h: a.__setitem__("0/weight_q", a["0/weight_q"].astype(np.int16) * 3),
        "b_scale": lambda a, h: a.__setitem__("1/weight_scale", -a["1/weight_scale"]),
        "b_bias": lambda a, h: a.__setitem__("0/bias_q", a["0/bias_q"][:2]),
        "b_float": lambda a, h: a.__setitem__("0/theta_q", a["0/theta_q"].astype(np.float64)),
        "b_membrane": membrane,
    }
    paths = {}
    for name, edit in model_edits.items():
        shutil.copytree(build, root / name)
        _edit_npz(root / name / "model.npz", edit)
        paths[name] = root / name
    for name, file_name, content in (("b_report", "report.json", b"{not json"),
                                     ("b_report_list", "report.json", b"[1, 2]"),
                                     ("b_garbage", "model.npz", b"PK\x03\x04 not really"),
                                     ("b_graph", "graph.sastc.npz", bytes(100))):
        shutil.copytree(build, root / name)
        (root / name / file_name).write_bytes(content)
        paths[name] = root / name
    return paths


def _targets(root: Path) -> dict[str, Path]:
    """Copies of the targets folder, each with one broken description."""
    from sastc.targets import targets_dir

    source = targets_dir()
    int8 = (source / "profiles" / "int8-fixed.toml").read_text()
    broken = {
        "t_reset": ("profiles/int8-fixed.toml", int8.replace('reset = "per-layer"', 'reset = "subtract"')),
        "t_unknown": ("profiles/int8-fixed.toml", int8.replace("[passes]", "dither = true\n\n"
                                                                          "[passes]")),
        "t_missing": ("profiles/int8-fixed.toml", "\n".join(
            line for line in int8.splitlines() if not line.startswith("leak_shift"))),
        "t_bits": ("profiles/int8-fixed.toml", int8.replace("weight_bits = 8", "weight_bits = 16")
                   .replace("weight_bits_range = [2, 8]", "weight_bits_range = [2, 16]")),
        "t_toml": ("profiles/int8-fixed.toml", int8.replace("[passes]", "[passes")),
        "t_pass": ("profiles/int8-fixed.toml", int8.replace('"quantize",', '"prune", "quantize",')),
        "t_board": ("boards/cortex-m0-32k.toml", "name = 'cortex-m0-32k'\nram_bytes = 8192\n"),
        "t_exchange": ("nir.toml", 'name = "nir"\nprofile = "float16"\nemitters = ["nir"]\n'),
    }
    paths = {}
    for name, (relative, text) in broken.items():
        folder = root / name
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("runtime", "mcu"))
        (folder / relative).write_text(text)
        paths[name] = folder
    return paths


@pytest.fixture(scope="module")
def fixtures(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, str]:
    from sastc.compile import CompileOptions, compile_model

    root = tmp_path_factory.mktemp("bad-inputs")
    run = root / "run"
    shutil.copytree(trained_checkpoint.parent, run)
    build = root / "build"
    compile_model(trained_checkpoint, CompileOptions(out_dir=str(build), calibrate=False,
                                                     verify=False, progress=False),
                  log=lambda _: None)
    (root / "empty").mkdir()
    paths = {"root": root, "run": run, "build": build, "ck": run / "checkpoint.pt",
             **_checkpoints(root, run / "checkpoint.pt"), **_builds(root, build),
             **_targets(root)}
    return {name.replace(".", "_"): str(path) for name, path in paths.items()}


# --- the test ---------------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _lock_path(fixtures: dict[str, str], which: str) -> Path:
    folder = Path(fixtures[which])
    return folder / LOCK_NAME if which == "run" else lock_beside(folder)


def test_table_covers_every_command() -> None:
    commands = {r.args[0] for r in ROWS}
    assert commands == {"train", "sweep", "eval", "compile", "simulate", "targets"}
    assert len({r.name for r in ROWS}) == len(ROWS) >= 60


@pytest.mark.parametrize("bad", ROWS, ids=[r.name for r in ROWS])
def test_bad_input_is_one_clear_error(bad: Row, fixtures: dict[str, str]) -> None:
    args = [arg.format_map(fixtures) for arg in bad.args]
    env = {key: value.format_map(fixtures) for key, value in bad.env.items()}
    guarded = Path(fixtures[bad.guard]) if bad.guard else None
    before = _snapshot(guarded) if guarded else None
    if bad.lock:
        with output_lock(_lock_path(fixtures, bad.lock), "held by the test"):
            result = CliRunner().invoke(main, args, env=env)
    else:
        result = CliRunner().invoke(main, args, env=env)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert "weights_only=False" not in output and "allow_pickle" not in output  # never advised
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error: ",
                                                                              "Error: "))]
    assert len(errors) == 1, result.stderr
    assert bad.culprit in errors[0], errors[0]
    if errors[0].startswith("error: "):  # ours: the last line, nothing after it
        assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    if guarded is not None:
        assert _snapshot(guarded) == before
