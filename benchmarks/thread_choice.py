"""Default thread choice against fixed counts: ``sastc train``, ``compile`` and ``simulate``
with the default, ``--threads 1`` and ``--threads 2``, on idle cores and next to busy ones.

Every command runs as its own process (``python -m sastc ...``), timed by wall clock from
start to exit, so imports, data loading and evaluation count as a user sees them. The
``busy`` condition starts ``--busy`` copies of ``yes > /dev/null`` (one program wanting a
core, like a browser tab or a compile) and kills them afterwards. Repeats alternate the
order of the settings and of the conditions; the table gives medians and the ratios
default / ``--threads 1`` and default / best fixed count.

    python benchmarks/thread_choice.py                         # about 10 minutes on 2 cores
    python benchmarks/thread_choice.py --quick                 # 1 repeat, 600 training samples
    python benchmarks/thread_choice.py --nmnist-dir PATH/TO/NMNIST --json threading.json

Other programs distort the figures: the CPU time other processes used during each run
(``/proc/stat`` minus this benchmark's children and its own ``yes``) is stored per run and
its median printed per condition; figures taken with a background above 0.2 cores are
marked as noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sastc import cores

SETTINGS = {"default": [], "threads-1": ["--threads", "1"], "threads-2": ["--threads", "2"]}
CONDITIONS = ("idle", "busy")
NOISY_BACKGROUND = 0.2


@dataclass(frozen=True)
class Case:
    """One command; ``{out}`` in ``argv`` becomes a fresh directory per run."""

    name: str
    argv: tuple[str, ...]


def cases(work: Path, checkpoint: Path, build: Path, synthetic: list[str],
          nmnist: Path | None) -> list[Case]:
    found = [Case("train", ("train", "--epochs", "1", *synthetic, "--no-progress",
                            "--out", "{out}")),
             Case("compile", ("compile", str(checkpoint), "--out", "{out}", "--no-progress")),
             Case("simulate", ("simulate", str(build)))]
    if nmnist is not None:
        found.insert(1, Case("train-nmnist", ("train", "--dataset", "nmnist", "--data-dir",
                                              str(nmnist), "--epochs", "1", "--train-limit",
                                              "300", "--no-progress", "--out", "{out}")))
    return found


def sastc(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sastc", *argv], capture_output=True,
                          text=True, check=check)


def prepare(work: Path, synthetic: list[str]) -> tuple[Path, Path]:
    """A checkpoint (one epoch on the built-in dataset) and its INT8 build."""
    run, build = work / "prep-run", work / "prep-build"
    sastc(["train", "--epochs", "1", *synthetic, "--no-progress", "--out", str(run)])
    sastc(["compile", str(run / "checkpoint.pt"), "--out", str(build), "--no-progress"])
    return run / "checkpoint.pt", build


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(case: Case, setting: str, out: Path) -> dict[str, Any]:
    """Run one command; wall seconds, the thread line it logged and the background load."""
    argv = [a.replace("{out}", str(out)) for a in case.argv] + SETTINGS[setting]
    cpus = cores.affinity()
    before, cpu_before = cores.sample(cpus), children_cpu()
    started = time.perf_counter()
    result = sastc(argv, check=False)
    seconds = time.perf_counter() - started
    after, cpu_after = cores.sample(cpus), children_cpu()
    if result.returncode:
        raise SystemExit(f"sastc {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    others = cores.busy_fraction_sum(before.stat, after.stat) - (cpu_after - cpu_before) / max(
        after.wall - before.wall, 1e-9) if before.stat else None
    line = next((ln for ln in result.stderr.splitlines() if ln.startswith("threads:")), "")
    return {"seconds": seconds, "threads_line": line, "others_busy": others}


def start_busy(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(count)]


def stop_busy(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def run_condition(condition: str, order: list[str], found: list[Case], work: Path,
                  busy: int, index: int, log) -> list[dict[str, Any]]:
    """Every case under every setting (in ``order``) under one condition."""
    hogs = start_busy(busy) if condition == "busy" else []
    rows = []
    try:
        for case in found:
            for setting in order:
                row = {"case": case.name, "condition": condition, "setting": setting,
                       "repeat": index,
                       **timed(case, setting, work / f"{case.name}-{condition}-{setting}-{index}")}
                row["background"] = (None if row["others_busy"] is None
                                     else row["others_busy"] - len(hogs))
                log(f"  {condition:<4} {case.name:<12} {setting:<9} {row['seconds']:7.2f} s  "
                    f"background {_cores(row['background'])}  {row['threads_line']}")
                rows.append(row)
    finally:
        stop_busy(hogs)
    return rows


def _cores(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median seconds per (case, condition, setting), and the default's ratios."""
    table = []
    keys = dict.fromkeys((r["case"], r["condition"]) for r in rows)
    for case, condition in keys:
        group = [r for r in rows if r["case"] == case and r["condition"] == condition]
        median = {s: statistics.median(r["seconds"] for r in group if r["setting"] == s)
                  for s in SETTINGS}
        backgrounds = [r["background"] for r in group if r["background"] is not None]
        best = min(median["threads-1"], median["threads-2"])
        chosen = next(r["threads_line"] for r in group if r["setting"] == "default")
        table.append({"case": case, "condition": condition, "median_s": median,
                      "default_vs_threads1": median["default"] / median["threads-1"],
                      "default_vs_best": median["default"] / best,
                      "background": statistics.median(backgrounds) if backgrounds else None,
                      "default_choice": chosen})
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    lines = [f"{'case':<13}{'cond':<6}{'default':>9}{'t1':>9}{'t2':>9}{'def/t1':>8}"
             f"{'def/best':>9}{'bg':>6}  default chose"]
    for row in table:
        m = row["median_s"]
        noisy = row["background"] is not None and row["background"] > NOISY_BACKGROUND
        lines.append(f"{row['case']:<13}{row['condition']:<6}{m['default']:>8.2f}s"
                     f"{m['threads-1']:>8.2f}s{m['threads-2']:>8.2f}s"
                     f"{row['default_vs_threads1']:>8.2f}{row['default_vs_best']:>9.2f}"
                     f"{_cores(row['background']):>6}{'*' if noisy else ' '} "
                     f"{row['default_choice'].removeprefix('threads: ')}")
    lines.append(f"times: median wall seconds per command; bg: cores other programs used "
                 f"(median); * noisy (bg > {NOISY_BACKGROUND})")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    return {"cpus": sorted(cores.affinity()), "usable_cores": cores.usable_cores(),
            "load_average_before": list(os.getloadavg()),
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=1, help="busy programs in the busy condition")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 600 training samples")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="synthetic training samples (default: the dataset's 2000)")
    parser.add_argument("--nmnist-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    samples = args.train_samples or (600 if args.quick else None)
    synthetic = ["--synthetic", f"n_train={samples}"] if samples else []
    info = machine_info()
    print(f"load average {info['load_average_before']}, cores {info['usable_cores']}",
          file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="sastc-thread-choice-") as tmp:
        work = Path(tmp)
        checkpoint, build = prepare(work, synthetic)
        found = cases(work, checkpoint, build, synthetic, args.nmnist_dir)
        for case in found:  # untimed: fills the frame caches and the page cache
            timed(case, "threads-1", work / f"warm-{case.name}")
        rows: list[dict[str, Any]] = []
        for index in range(repeats):
            order = list(SETTINGS) if index % 2 == 0 else list(reversed(SETTINGS))
            conditions = CONDITIONS if index % 2 == 0 else tuple(reversed(CONDITIONS))
            print(f"repeat {index + 1}/{repeats}", file=sys.stderr)
            for condition in conditions:
                rows += run_condition(condition, order, found, work, args.busy, index,
                                      lambda line: print(line, file=sys.stderr, flush=True))
    table = summarise(rows)
    print(format_table(table))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": vars(args) | {
            "nmnist_dir": None if args.nmnist_dir is None else str(args.nmnist_dir),
            "json": str(args.json)}, "summary": table, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
