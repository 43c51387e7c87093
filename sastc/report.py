"""Readable summaries of compile, simulate and eval reports: accuracy, SynOps, per class."""

from __future__ import annotations

from typing import Any


def _accuracy_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"  samples                      {result['samples']} ({result.get('split', 'test')})",
             f"  float, surrogate forward     {result['surrogate_accuracy']:.2f}%",
             f"  float, hard spikes           {result['float_hard_accuracy']:.2f}%"]
    if "int_accuracy" in result:
        lines.append(f"  integer (bit-exact)          {result['int_accuracy']:.2f}%   "
                     f"({result['int_delta_vs_surrogate']:+.2f} vs surrogate, "
                     f"{result['int_delta']:+.2f} vs float hard)")
        lines += decision_lines(result, label_width=31)
    return lines


def decision_lines(result: dict[str, Any], label_width: int = 29) -> list[str]:
    """Where integer and float-hard decide differently, and how close those calls were
    (``label_width``: the column the values start at, to line up with the lines above)."""
    flips = result.get("decision_flips")
    if flips is None:
        return []
    same = result["samples"] - len(flips)
    label = "  same class as float hard"
    lines = [f"{label:<{label_width}}{same}/{result['samples']} samples"]
    if flips:
        shown = ", ".join(f"#{f['sample']} {f['float_class']}->{f['int_class']} "
                          f"(margin {f['float_margin']:.2f})" for f in flips[:5])
        more = f" and {len(flips) - 5} more" if len(flips) > 5 else ""
        lines.append(f"    differs on {shown}{more}; median float margin "
                     f"{result['float_margin_median']:.2f}")
    return lines


def synops_lines(result: dict[str, Any]) -> list[str]:
    """Per-layer SynOps of the float-hard and (if any) integer models in both conventions,
    and the spike agreement between them."""
    models = {"float-hard": result["synops_float"]}
    if result.get("synops_int"):
        models["integer"] = result["synops_int"]
    return synops_table(models, result.get("spike_agreement", {}))


def synops_table(models: dict[str, dict[str, Any]], agreement: dict[str, float] | None = None
                 ) -> list[str]:
    """SynOps per sample as text: per layer and model, NeuroBench's ``Effective_ACs``,
    ``Effective_MACs`` and ``Dense``, and the event-weighted ACs (``sastc.sim.synops``);
    ``agreement``: spike agreement per layer, shown on the last model's row."""
    agreement = agreement or {}
    lines = [f"  {'':<24}{'neurobench':-^43}  {'event_weighted':>14}",
             f"  {'layer':<12}{'model':<12}{'Effective_ACs':>15}{'Effective_MACs':>16}"
             f"{'Dense':>12}  {'ACs':>14}" + ("   spike agreement" if agreement else "")]
    layers = list(next(iter(models.values()))["per_layer"])
    for name in [*layers, "total"]:
        for i, (model, ops) in enumerate(models.items()):
            counts = ops if name == "total" else ops["per_layer"][name]
            last = i == len(models) - 1
            agree = f"{100 * agreement[name]:>17.3f}%" if last and name in agreement else ""
            lines.append(f"  {name if i == 0 else '':<12}{model:<12}"
                         f"{_synops_cells(counts)}{agree}")
    return lines


def _synops_cells(counts: dict[str, Any]) -> str:
    nb, ew = counts["neurobench"], counts["event_weighted"]
    return (f"{nb['Effective_ACs']:>15,.0f}{nb['Effective_MACs']:>16,.0f}{nb['Dense']:>12,.0f}"
            f"  {ew['ACs']:>14,.0f}")


def _layer_lines(report: dict[str, Any]) -> list[str]:
    layers = report.get("quantize", {}).get("layers", [])
    if not layers:
        return []
    scales = report.get("calibrate", {}).get("threshold_scale", {})
    lines = [f"  {'layer':<12}{'bits':>5}{'scale min..max':>22}{'frac':>6}{'beta_q':>8}"
             f"{'theta_q':>16}{'thr scale':>10}{'w err':>8}"]
    for layer in layers:
        theta = f"{layer['theta_q_min']}..{layer['theta_q_max']}"
        scale = f"{layer['weight_scale_min']:.3g}..{layer['weight_scale_max']:.3g}"
        lines.append(f"  {layer['name']:<12}{layer['weight_bits']:>5}{scale:>22}"
                     f"{layer['frac_bits']:>6}{layer['beta_q']:>8}{theta:>16}"
                     f"{scales.get(layer['name'], 1.0):>10.3g}{layer['weight_rel_error']:>8.3f}")
    return lines


def summary_text(report: dict[str, Any]) -> str:
    """The compile report as text: layers, calibration, memory, accuracy, SynOps."""
    lines = [f"sastc compile: {report['source']} -> target {report['target']} "
             f"(profile {report['profile']})", ""]
    if _layer_lines(report):
        lines += ["Layers", *_layer_lines(report), ""]
    calib = report.get("calibrate", {})
    if calib and not calib.get("skipped"):
        lines += [f"Calibration ({calib['method']}, {calib['samples']} {calib['split']} samples): "
                  f"{_score_name(calib)} {calib['accuracy_before']:.2f}% -> "
                  f"{calib['accuracy_after']:.2f}%", ""]
    check = report.get("check", {})
    if check.get("integer"):
        memory = check["memory"]
        lines += [f"Memory: flash {memory['flash_bytes']:,} B, RAM {memory['ram_bytes']:,} B"
                  + (f" (board {check['board']})" if check.get("board") else ""),
                  "Range analysis: " + ("saturation possible in " + ", ".join(check["saturation"])
                                        if check["saturation"] else "no overflow, no saturation"),
                  ""]
    warnings = report.get("quantize", {}).get("warnings", [])
    if warnings:  # what the integers cannot represent (passes/quantize.py range_warnings)
        lines += [f"Quantization warnings ({len(warnings)})",
                  *(f"  {text}" for text in warnings[:10]), ""]
    verification = report.get("verification", {})
    if "samples" in verification:
        lines += ["Accuracy", *_accuracy_lines(verification), "", "SynOps per sample",
                  *synops_lines(verification), ""]
    lines.append(f"Files: {', '.join(report.get('files', []))}")
    return "\n".join(lines) + "\n"


MAX_MATRIX_CLASSES = 20
NAME_WIDTH = 12
CORNER = "true \\ predicted"


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` cut to ``width`` characters, a ``~`` marking the cut.

    >>> short_name("Caneca"), short_name("a_very_long_class_name")
    ('Caneca', 'a_very_long~')
    """
    return name if len(name) <= width else name[:width - 1] + "~"


def _percent_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def per_class_lines(report: dict[str, Any], columns: list[tuple[str, str]]) -> list[str]:
    """One row per class: name, samples, and the accuracy of each ``(title, report key)``."""
    classes = report["classes"]
    counts = report[columns[0][1]]
    labels = _row_labels(classes)
    width = max(len("class"), *(len(label) for label in labels))
    lines = [f"  {'class':<{width}}{'samples':>9}" + "".join(f"{t:>12}" for t, _ in columns)]
    for label, name in zip(labels, classes, strict=True):
        cells = "".join(f"{_percent_text(report[key][name]['accuracy']):>12}" for _, key in columns)
        lines.append(f"  {label:<{width}}{counts[name]['samples']:>9}{cells}")
    return lines


def _row_labels(classes: list[str]) -> list[str]:
    digits = len(str(len(classes) - 1))
    return [f"{i:>{digits}} {short_name(name)}" for i, name in enumerate(classes)]


def confusion_lines(matrix: list[list[int]], classes: list[str]) -> list[str]:
    """The confusion matrix as text: rows ``<index> <name>`` (true class), columns the
    predicted class by index; only a pointer to ``--json`` for more than 20 classes."""
    if len(classes) > MAX_MATRIX_CLASSES:
        return [f"  {len(classes)} classes, too many to print: see 'confusion' in --json "
                "or draw it with --confusion PLOT.png"]
    cell = 2 + max(len(str(len(classes) - 1)), *(len(str(c)) for row in matrix for c in row))
    labels = _row_labels(classes)
    width = max(len(CORNER), *(len(label) for label in labels))
    lines = [f"  {CORNER:<{width}}" + "".join(f"{i:>{cell}}" for i in range(len(classes)))]
    for label, row in zip(labels, matrix, strict=True):
        lines.append(f"  {label:<{width}}" + "".join(f"{count:>{cell}}" for count in row))
    return lines


def _score_name(calib: dict) -> str:
    """What the calibration scored: agreement with float-hard decisions, or accuracy."""
    if calib.get("objective", "labels") == "agreement":
        return "integer decisions equal to float hard"
    return "integer accuracy"
