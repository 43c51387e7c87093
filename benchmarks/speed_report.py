"""Machine facts and tables of ``train_speed.py``."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_ticks() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat``; None where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_cpus(seconds: float = 1.0) -> float | None:
    """How many CPUs other processes kept busy during ``seconds`` (this one sleeps)."""
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def machine_info(threads: int) -> dict[str, Any]:
    import snntorch

    try:
        from importlib.metadata import version

        import spikingjelly  # noqa: F401

        spikingjelly_version = version("spikingjelly")
    except ImportError:
        spikingjelly_version = None
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"torch": torch.__version__, "snntorch": snntorch.__version__,
            "spikingjelly": spikingjelly_version, "gpu": gpu,
            "python": platform.python_version(), "threads": threads,
            "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "busy_cpus": busy_cpus()}


def _cpus(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


MODEL_LABELS = {"sastc-conventional": "sastc conventional", "sastc-surrogate": "sastc surrogate",
                "sastc-conventional-torch-scan": "sastc conv. torch-scan",
                "sastc-surrogate-torch-scan": "sastc surr. torch-scan",
                "snntorch": "snnTorch", "snntorch-folded": "snnTorch folded",
                "spikingjelly": "SpikingJelly"}


def _ratio(row: dict[str, Any], peer: str, name: str) -> str:
    ratio = row.get(f"ratio_vs_{peer}", {}).get(name)
    if ratio is None or name == peer:
        return ""
    return f"{ratio['median']:.2f}x [{ratio['min']:.2f}-{ratio['max']:.2f}]"


def throughput_table(rows: list[dict[str, Any]]) -> str:
    """One line per case, (T, batch) and model: samples/s (wall: median [slowest-fastest
    repeat]; CPU time: median), and sastc's time ratio to snnTorch and to SpikingJelly
    (paired per repeat: median [min-max])."""
    lines = [f"{'case':<10} {'T':>3} {'B':>4} {'model':<23} {'samples/s':>22} {'cpu-time':>9}  "
             f"{'x snnTorch':>20} {'x SpikingJelly':>20}"]
    for row in rows:
        where = f"{row['case']:<10} {row.get('time_bins', ''):>3} {row.get('batch_size', ''):>4}"
        for name, label in MODEL_LABELS.items():
            if name not in row["samples_per_s"]:
                continue
            rate, cpu = row["samples_per_s"][name], row["cpu_samples_per_s"][name]
            lines.append(f"{where} {label:<23} "
                         f"{rate['median']:7.1f} [{rate['min']:5.0f}-{rate['max']:5.0f}] "
                         f"{cpu['median']:9.1f}  {_ratio(row, 'snntorch', name):>20} "
                         f"{_ratio(row, 'spikingjelly', name):>20}")
            where = " " * len(where)
    return "\n".join(lines)


def epoch_table(costs: dict[str, Any]) -> str:
    lines = [f"{'config':<20} {'seconds/epoch':>26} {'ratio vs rho=0':>16}"]
    for name, s in costs["seconds"].items():
        ratio = costs["ratio_vs_rho0"].get(name, 1.0)
        lines.append(f"{name:<20} {s['median']:9.2f} [{s['min']:.2f}-{s['max']:.2f}]"
                     f"{'':>5} {ratio:15.2f}x")
    return "\n".join(lines)


def equivalence_line(case: str, check: dict[str, Any]) -> str:
    return (f"{case:<11} {'ok' if check['ok'] else 'FAILED'}: hard spikes mismatched "
            f"{check['hard_spike_mismatches']}/{check['spikes_total']} "
            f"(rates {check['spike_rate']}), |dlogits| hard "
            f"{check['hard_logits_max_abs_diff']:.1e} conv. "
            f"{check['conventional_logits_max_abs_diff']:.1e}, |dloss| "
            f"{check['conventional_loss_abs_diff']:.1e}; grad rel diff: sastc vs autograd ref "
            f"{check['grad_rel_diff_sastc_vs_autograd_reference']:.1e}, snnTorch vs "
            f"detached-reset ref {check['grad_rel_diff_snntorch_vs_detached_reset_reference']:.1e}"
            f", sastc vs snnTorch {check['grad_rel_diff_sastc_vs_snntorch']:.1e}"
            + (f"; SpikingJelly hard spikes mismatched "
               f"{check['spikingjelly_hard_spike_mismatches']}, |dlogits| "
               f"{check['spikingjelly_hard_logits_max_abs_diff']:.1e}"
               if "spikingjelly_hard_spike_mismatches" in check else ""))
