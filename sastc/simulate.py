"""``sastc simulate``: load a build, load matching data, compare float and integer models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sastc.backends.npz import GRAPH_FILE, QNET_FILE
from sastc.data.recorded import load_recorded_frames, merge_data_options
from sastc.errors import CheckpointError
from sastc.ir.graph import load_graph
from sastc.ir.lower import fuse
from sastc.ir.quantized import load_qnet
from sastc.report import confusion_lines, decision_lines, per_class_lines, synops_lines
from sastc.sim.compare import compare
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator


def _build_files(build: Path) -> tuple[Path, Path | None, dict[str, Any]]:
    if not build.is_dir():
        raise CheckpointError(f"{build}: no such build directory (run 'sastc compile' first)")
    graph = build / GRAPH_FILE
    if not graph.is_file():
        raise CheckpointError(f"{build}: not a sastc build (missing {GRAPH_FILE}; "
                              "compile with the npz emitter)")
    report_path = build / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    qnet = build / QNET_FILE
    return graph, qnet if qnet.is_file() else None, report


def _data(recorded: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    data = merge_data_options(recorded, overrides)
    if not data["name"]:
        raise CheckpointError("the build does not record its dataset; pass --dataset")
    return data


def simulate_build(build: str, overrides: dict[str, Any], split: str = "test",
                   limit: int | None = None, batch_size: int = 64, plot: str | None = None,
                   raster: str | None = None, confusion_plot: str | None = None
                   ) -> dict[str, Any]:
    """Compare the float and integer models of ``build`` on a data split (``sastc.sim.compare``)
    and draw the requested plots: SynOps, spike raster, confusion matrix."""
    graph_path, qnet_path, build_report = _build_files(Path(build))
    net = fuse(load_graph(graph_path))
    qnet = load_qnet(qnet_path) if qnet_path else None
    data = _data(build_report.get("dataset") or {}, overrides)
    frames = load_recorded_frames(data, split, limit=limit, time_bins=net.time_bins)
    report = compare(net, qnet, frames.frames, frames.labels, batch_size, frames.classes)
    report.update(build=str(build), dataset=data["name"], split=split)
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
                   if layer.neuron == "lif"]
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
    lines += ["", "SynOps per sample", *synops_lines(report)]
    if "per_class" in report:
        lines += _class_lines(report)
    return "\n".join(lines)
