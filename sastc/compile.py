"""``sastc compile``: checkpoint or NIR file -> graph -> passes -> emitters -> verification.

The whole flow on one screen (:func:`compile_model`); each step is a small
function. Outputs are staged in a temporary directory and swapped in only
when everything succeeded, so a failed compile leaves an earlier build intact.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sastc.atomic import atomic_directory, write_text_atomic
from sastc.backends import EmitInput, get_emitter
from sastc.backends.nir_flavors import get_flavor
from sastc.data import DATASETS
from sastc.data.base import FrameSet
from sastc.data.recorded import load_recorded_frames, merge_data_options
from sastc.errors import CompileError, ConfigError
from sastc.ir.graph import Graph
from sastc.lock import claim_build
from sastc.passes import run_passes
from sastc.passes.context import CompileContext, Log
from sastc.report import summary_text
from sastc.resources import check_compile
from sastc.sim.compare import compare
from sastc.targets import load_board, load_target

OPTION_NAMES = {"flavor": "source-flavor", "reset": "reset", "dt": "dt"}
REPORT_FILE = "report.json"
SUMMARY_FILE = "summary.txt"


@dataclass
class CompileOptions:
    """What ``sastc compile`` was asked to do."""

    target: str = "int8-fixed"
    out_dir: str = "build"
    data: dict[str, Any] = field(default_factory=dict)
    board: str | None = None
    weight_bits: int | None = None
    calibrate: bool = True
    calibrate_method: str | None = None
    calib_samples: int | None = None
    emit: tuple[str, ...] = ()
    verify: bool = True
    progress: bool = True
    nir_flavor: str = "spec"  # the flavour of NIR files written (sastc.backends.nir_flavors)
    nir_source: dict[str, Any] = field(default_factory=dict)  # flavor, reset, dt of a .nir SOURCE


def compile_model(source: str | Path, options: CompileOptions, log: Log = print) -> dict[str, Any]:
    """Compile ``source`` (a checkpoint or a ``.nir`` file) for ``options.target``; the build
    folder is proven writable and locked before any work (one compile per folder)."""
    with claim_build(options.out_dir):
        return _compile(source, options, log)


def _compile(source: str | Path, options: CompileOptions, log: Log) -> dict[str, Any]:
    started = time.perf_counter()
    target = load_target(options.target)
    profile = target.profile.with_weight_bits(options.weight_bits)
    graph, data = load_source(Path(source), options.data, options.nir_source)
    get_flavor(options.nir_flavor)  # an unknown flavour fails before any work
    check_compile(graph, data, _calibrates(profile.passes, options), options.calib_samples,
                  options.verify)
    board = load_board(options.board) if options.board else None
    calib = calibration_frames(data, options) if _calibrates(profile.passes, options) else None
    ctx = CompileContext(graph, profile, board, calib, options.calibrate_method, options.calibrate,
                         options.progress, log=log)
    run_passes(ctx)
    emitters = list(dict.fromkeys([*target.emitters, *options.emit]))
    numerics = dict(profile.numerics or {})
    model = EmitInput(graph, ctx.float_net, ctx.qnet, numerics, "model", options.nir_flavor)
    report = {"source": str(source), "target": target.name, "profile": profile.name,
              "numerics": numerics, "emitters": emitters, "dataset": data, **ctx.report,
              **_nir_report(graph, options, emitters)}
    with atomic_directory(options.out_dir) as staging:
        report["files"] = [p.name for e in emitters for p in get_emitter(e)(model, staging)]
        if options.verify:
            report["verification"] = verify(ctx, data, options)
        report["seconds"] = time.perf_counter() - started
        write_text_atomic(staging / REPORT_FILE, json.dumps(report, indent=2, default=_plain))
        write_text_atomic(staging / SUMMARY_FILE, summary_text(report))
    log(f"wrote {options.out_dir}: {', '.join(report['files'] + [REPORT_FILE, SUMMARY_FILE])}")
    return report


def _calibrates(passes: tuple[str, ...], options: CompileOptions) -> bool:
    return "calibrate" in passes and options.calibrate


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays in reports."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _nir_report(graph: Graph, options: CompileOptions, emitters: list[str]) -> dict[str, Any]:
    """How a .nir source was read, and the flavour of NIR files written."""
    report: dict[str, Any] = {}
    if "nir_import" in graph.metadata:
        report["nir_source"] = graph.metadata["nir_import"]
    if "nir" in emitters:
        report["nir_flavor"] = options.nir_flavor
    return report


def load_source(path: Path, overrides: dict[str, Any], nir_source: dict[str, Any] | None = None
                ) -> tuple[Graph, dict[str, Any]]:
    """The float graph of a checkpoint or NIR file, and the dataset options to use with it;
    ``nir_source``: ``flavor``, ``reset``, ``dt`` stated for a NIR file."""
    if not path.exists():
        raise CompileError(f"{path}: no such file (expected a checkpoint from 'sastc train' "
                           "or a .nir file)")
    if path.suffix == ".nir":
        return _from_nir(path, overrides, nir_source or {})
    stated = [key for key, value in (nir_source or {}).items() if value is not None]
    if stated:
        verb = "applies" if len(stated) == 1 else "apply"
        raise ConfigError(f"{path}: --{', --'.join(OPTION_NAMES[k] for k in stated)} {verb} to "
                          ".nir sources only (a checkpoint records its own neuron model)")
    from sastc.train.export import checkpoint_graph

    graph, recorded = checkpoint_graph(path)
    data = merge_data_options(recorded, overrides)
    if data["time_bins"]:
        graph.metadata["time_bins"] = int(data["time_bins"])
    return graph, data


def _from_nir(path: Path, overrides: dict[str, Any], nir_source: dict[str, Any]
              ) -> tuple[Graph, dict[str, Any]]:
    """The graph of a NIR file, read with the stated flavour, reset and dt (see
    :mod:`sastc.backends.nir_reading`); what it lacks comes from the dataset."""
    from sastc.backends.nir_import import import_nir, read_metadata
    from sastc.backends.nir_reading import NirOptions

    data = merge_data_options({}, overrides)
    if data["name"] is None and not {"time_bins", "classes"} <= set(read_metadata(path)):
        raise ConfigError(f"{path}: the NIR file does not record time_bins and classes; "
                          "pass --dataset (and --data-dir) so sastc can take them from the data")
    graph = import_nir(path, NirOptions(**nir_source))
    meta = graph.metadata
    if data["name"] is None:
        return graph, data
    info = DATASETS.get(data["name"])
    if info is None:
        raise ConfigError(f"--dataset {data['name']!r} is unknown; available: "
                          f"{', '.join(sorted(DATASETS))}")
    meta.setdefault("time_bins", data["time_bins"] or info.default_time_bins)
    if "classes" not in meta:  # the folder dataset's classes are its folder names
        meta["classes"] = list(info.classes) or list(_frames(data, "test", False).classes)
    meta.setdefault("input_clip", 1)
    return graph, data


def _frames(data: dict[str, Any], split: str, progress: bool, limit: int | None = None
            ) -> FrameSet:
    return load_recorded_frames(data, split, progress=progress, limit=limit)


def calibration_frames(data: dict[str, Any], options: CompileOptions) -> FrameSet:
    if options.calib_samples is not None and options.calib_samples < 1:
        raise ConfigError(f"--calib-samples must be >= 1; got {options.calib_samples} "
                          "(an empty calibration set cannot calibrate; use --no-calibrate)")
    if not data.get("name"):
        raise ConfigError("calibration needs data: pass --dataset (and --data-dir), "
                          "or --no-calibrate")
    return _frames(data, "calib", options.progress, options.calib_samples)


def verify(ctx: CompileContext, data: dict[str, Any], options: CompileOptions) -> dict[str, Any]:
    """Float and integer results on the test split (never used for any decision above)."""
    if not data.get("name"):
        return {"skipped": "no dataset given"}
    test = _frames(data, "test", options.progress)
    result = compare(ctx.float_net, ctx.qnet, test.frames, test.labels)
    result["split"] = "test"
    return result
