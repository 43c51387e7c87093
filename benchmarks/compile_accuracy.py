"""Integer accuracy of compiled checkpoints: INT8 and INT4, with and without calibration.

For every checkpoint given, compiles to int8-fixed and int4-fixed with and without
threshold calibration (on the calibration split) and reports, on the test split, float
surrogate, float hard and integer accuracy and the integer model's SynOps; then mean and
spread over the checkpoints (e.g. three seeds).

    python benchmarks/compile_accuracy.py runs/sweep/sast-rho0.2-seed*/checkpoint.pt \
        --data-dir /path/to/NMNIST --json compile.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from sastc.compile import CompileOptions, compile_model

VARIANTS = [("int8-fixed", True), ("int8-fixed", False), ("int4-fixed", True),
            ("int4-fixed", False)]
KEYS = ("surrogate_accuracy", "float_hard_accuracy", "int_accuracy")


def compile_one(checkpoint: str, target: str, calibrate: bool, data_dir: str | None,
                work: Path) -> dict[str, Any]:
    out = work / f"{Path(checkpoint).parent.name}-{target}-{'cal' if calibrate else 'nocal'}"
    options = CompileOptions(target=target, out_dir=str(out), calibrate=calibrate,
                             data={"data_dir": data_dir}, progress=False)
    report = compile_model(checkpoint, options, log=lambda _: None)
    result = report["verification"]
    memory = report["check"]["memory"]
    return {"checkpoint": checkpoint, "target": target, "calibrated": calibrate,
            **{k: result[k] for k in KEYS}, "samples": result["samples"],
            "int_minus_surrogate": result["int_accuracy"] - result["surrogate_accuracy"],
            "synops_int": result["synops_int"]["event_weighted"]["ACs"],
            "synops_float": result["synops_float"]["event_weighted"]["ACs"],
            "synops_int_per_layer": {k: v["event_weighted"]["ACs"]
                                     for k, v in result["synops_int"]["per_layer"].items()},
            "synops_float_per_layer": {k: v["event_weighted"]["ACs"]
                                       for k, v in result["synops_float"]["per_layer"].items()},
            "spike_agreement": result["spike_agreement"],
            "decision_flips": result["decision_flips"],
            "float_margin_median": result["float_margin_median"],
            "flash_bytes": memory["flash_bytes"], "ram_bytes": memory["ram_bytes"],
            "threshold_scale": report["calibrate"].get("threshold_scale", {})}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for target, calibrate in VARIANTS:
        group = [r for r in rows if r["target"] == target and r["calibrated"] == calibrate]
        entry: dict[str, Any] = {"target": target, "calibrated": calibrate, "runs": len(group)}
        for key in (*KEYS, "int_minus_surrogate", "synops_int", "synops_float"):
            values = [r[key] for r in group]
            entry[key] = {"mean": statistics.mean(values),
                          "std": statistics.pstdev(values) if len(values) > 1 else 0.0}
        table.append(entry)
    return table


def print_table(table: list[dict[str, Any]], samples: int) -> None:
    print(f"test samples per run: {samples}; mean ± std over runs")
    print(f"{'target':<12}{'calib':>6}{'surrogate':>14}{'float hard':>14}{'integer':>14}"
          f"{'int - surr':>14}{'SynOps int':>14}")
    for e in table:
        cells = [f"{e[k]['mean']:.2f}±{e[k]['std']:.2f}" for k in (*KEYS, "int_minus_surrogate")]
        print(f"{e['target']:<12}{'yes' if e['calibrated'] else 'no':>6}"
              + "".join(f"{c:>14}" for c in cells) + f"{e['synops_int']['mean']:>14,.0f}")


def print_flips(rows: list[dict[str, Any]]) -> None:
    """The test samples each integer model decides differently from its float-hard model."""
    print("\nsamples decided differently from float hard (float margin; median margin)")
    for r in rows:
        flips = ", ".join(f"#{f['sample']} {f['float_class']}->{f['int_class']} "
                          f"({f['float_margin']:.2f})" for f in r["decision_flips"]) or "none"
        print(f"  {Path(r['checkpoint']).parent.name:<24}{r['target']:<12}"
              f"{'cal' if r['calibrated'] else 'nocal':<7}{flips}; {r['float_margin_median']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data-dir")
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        rows = [compile_one(c, t, cal, args.data_dir, Path(work))
                for c in args.checkpoints for t, cal in VARIANTS]
    table = summarise(rows)
    print_table(table, rows[0]["samples"])
    print_flips(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": rows, "summary": table}, indent=2))


if __name__ == "__main__":
    main()
