"""``sastc simulate``: load a build, load matching data, compare float and integer models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sastc.atomic import ensure_writable_file
from sastc.backends.npz import GRAPH_FILE, QNET_FILE
from sastc.data.recorded import load_recorded_frames, merge_data_options
from sastc.errors import CheckpointError
from sastc.ir.graph import load_graph
from sastc.ir.lower import fuse
from sastc.ir.quantized import load_qnet
from sastc.neurons import is_spiking
from sastc.report import confusion_lines, decision_lines, per_class_lines, synops_lines
from sastc.resources import check_simulate
from sastc.sim.compare import compare
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.mcu import mcu_lines, mcu_report


def _build_files(build: Path, outputs: dict[str, str | None] | None = None
                 ) -> tuple[Path, Path | None, dict[str, Any]]:
    """The graph, the integer model (if any) and the report of a build, after checking that
    the requested ``outputs`` (option -> file) can be written."""
    for option, path in (outputs or {}).items():
        if path:
            ensure_writable_file(path, option)
    if not build.is_dir():
        raise CheckpointError(f"{build}: no such build directory (run 'sastc compile' first)")
    graph = build / GRAPH_FILE
    if not graph.is_file():
        raise CheckpointError(f"{build}: not a sastc build (missing {GRAPH_FILE}; "
                              "compile with the npz emitter)")
    qnet = build / QNET_FILE
    return graph, qnet if qnet.is_file() else None, _build_report(build / "report.json")


def _build_report(path: Path) -> dict[str, Any]:
    """The build's report.json ({} if absent); a damaged one is a clear error."""
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the build's report is unreadable ({exc}); compile the "
                              "build again, or delete report.json and pass --dataset") from exc
    if not isinstance(report, dict) or not isinstance(report.get("dataset", {}), dict | None):
        raise CheckpointError(f"{path}: the build's report is not a JSON object with a dataset "
                              "record; compile the build again")
    return report


def _data(recorded: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    data = merge_data_options(recorded, overrides)
    if not data["name"]:
        raise CheckpointError("the build does not record its dataset; pass --dataset")
    return data


def simulate_build(build: str, overrides: dict[str, Any], split: str = "test",
                   limit: int | None = None, batch_size: int = 64, plot: str | None = None,
                   raster: str | None = None, confusion_plot: str | None = None,
                   mcu: str | None = None) -> dict[str, Any]:
    """Compare the float and integer models of ``build`` on a data split (``sastc.sim.compare``)
    and draw the requested plots: SynOps, spike raster, confusion matrix."""
    graph_path, qnet_path, build_report = _build_files(
        Path(build), {"--plot": plot, "--raster": raster, "--confusion": confusion_plot})
    net = fuse(load_graph(graph_path))
    qnet = load_qnet(qnet_path) if qnet_path else None
    data = _data(build_report.get("dataset") or {}, overrides)
    check_simulate(net, data, split, limit, batch_size, build)  # shapes and memory, up front
    frames = load_recorded_frames(data, split, limit=limit, time_bins=net.time_bins)
    report = compare(net, qnet, frames.frames, frames.labels, batch_size, frames.classes)
    report.update(build=str(build), dataset=data["name"], split=split)
    if mcu:  # the firmware in an emulated microcontroller on the same frames
        report.update(mcu_report(Path(build), qnet, frames.frames, frames.labels, mcu))
    _plots(report, net, qnet, frames.frames[:1], plot, raster)
    if confusion_plot:
        _confusion_plot(report, confusion_plot)
    return report


def _plots(report: dict[str, Any], net, qnet, first, plot: str | None, raster: str | None) -> None:
    from sastc.plots import plot_raster, plot_synops

    if plot:
        models = {"float-hard": report["synops_float"]["per_layer"]}
        if "synops_int" in report:
            models["integer"] = report["synops_int"]["per_layer"]
        plot_synops(models, plot)
    if raster:
        sim = IntegerSimulator(qnet) if qnet is not None else FloatSimulator(net, "hard")
        records = sim.run(first, record=True).records
        spiking = [(layer.name, rec[:, 0]) for layer, rec in zip(net.layers, records, strict=True)
                   if is_spiking(layer.neuron)]
        plot_raster([r for _, r in spiking], [n for n, _ in spiking], raster)


def _confusion_plot(report: dict[str, Any], path: str) -> None:
    from sastc.plots import plot_confusion

    model = "integer model" if report["confusion_model"] == "integer" else "float, hard spikes"
    plot_confusion(report["confusion"], report["classes"], path,
                   f"{report['dataset']}/{report['split']}: {model}")


def _class_lines(report: dict[str, Any]) -> list[str]:
    columns = [("float hard", "per_class_float_hard")]
    if report["confusion_model"] == "integer":
        columns.insert(0, ("integer", "per_class"))
    return ["", "Per class", *per_class_lines(report, columns), "",
            f"Confusion matrix, {report['confusion_model']} model "
            "(rows: true class, columns: predicted class)",
            *confusion_lines(report["confusion"], report["classes"])]


def simulate_text(report: dict[str, Any]) -> str:
    lines = [f"sastc simulate {report['build']} on {report['dataset']}/{report['split']} "
             f"({report['samples']} samples)",
             f"  float, surrogate forward   {report['surrogate_accuracy']:.2f}%",
             f"  float, hard spikes         {report['float_hard_accuracy']:.2f}%"]
    if "int_accuracy" in report:
        lines.append(f"  integer (bit-exact)        {report['int_accuracy']:.2f}%  "
                     f"({report['int_delta']:+.2f} vs float hard)")
        lines += decision_lines(report)
    lines += ["", "SynOps per sample", *synops_lines(report), *mcu_lines(report)]
    if "per_class" in report:
        lines += _class_lines(report)
    return "\n".join(lines)
