"""Where a second torch thread pays: one training step with 1 and 2 threads, by work size.

For the synthetic and N-MNIST default networks (random sparse input, T = 16) at several
batch sizes, one process per OpenMP wait policy (the policy is read when torch loads)
times a training step (forward, cross-entropy, backward, Adam) alternately with
``torch.set_num_threads(1)`` and ``(2)``, and prints the median times, their ratio and the
step's size in forward synapse multiply-accumulates (``sastc.threads.training_work``, the
unit of the ``train`` minimum in ``sastc/threads.py``). Each policy's process first
measures how much CPU two threads use while the program mostly pauses (:func:`idle_cpu`):
whether the OpenMP runtime honours the policy.

    python benchmarks/thread_steps.py                       # passive and spinning waits
    python benchmarks/thread_steps.py --batches 64,128,256 --policies PASSIVE --json steps.json

Only figures taken on otherwise idle cores mean anything: the cores other programs used
during each measurement are printed (``bg``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZES = {"synthetic": ((2, 32, 32), 12), "nmnist": ((2, 34, 34), 10)}
DEFAULT_POLICY = "default"  # OMP_WAIT_POLICY unset: libgomp spins a while, then sleeps


def measure(net: str, batch: int, repeats: int) -> dict[str, Any]:
    """Median step seconds with 1 and 2 threads, alternating, for one network and batch."""
    import torch
    import torch.nn.functional as F

    from sastc import cores
    from sastc.data import DATASETS
    from sastc.spec import parse_arch
    from sastc.threads import training_work
    from sastc.train.model import SpikingNet, init_weights

    shape, classes = SIZES[net]
    spec = parse_arch(DATASETS[net].default_arch, shape, classes, 5.0)
    model = SpikingNet(spec, "surrogate")
    init_weights(model, 2.0, 0)
    optimizer = torch.optim.Adam(model.parameters(), 2e-3)
    generator = torch.Generator().manual_seed(0)
    frames = (torch.rand(16, batch, *shape, generator=generator) < 0.1).float()
    labels = torch.randint(0, classes, (batch,), generator=generator)

    def step() -> float:
        started = time.perf_counter()
        optimizer.zero_grad()
        F.cross_entropy(model(frames), labels).backward()
        optimizer.step()
        return time.perf_counter() - started

    seconds: dict[int, list[float]] = {1: [], 2: []}
    for threads in (1, 2, 1, 2):  # warm-up
        torch.set_num_threads(threads)
        step()
    before = cores.sample(cores.affinity())
    for index in range(repeats):
        for threads in ((1, 2) if index % 2 == 0 else (2, 1)):
            torch.set_num_threads(threads)
            seconds[threads].append(step())
    background = cores.others_busy(before, cores.sample(cores.affinity()))
    t1, t2 = (statistics.median(seconds[t]) for t in (1, 2))
    return {"net": net, "batch": batch, "macs": training_work(spec, 16, batch),
            "t1_ms": 1000 * t1, "t2_ms": 1000 * t2, "ratio": t2 / t1, "background": background}


def idle_cpu(pauses: int = 500) -> float:
    """CPU seconds per wall second of two torch threads running one small operation then
    pausing 1 ms, over and over: how much the waiting thread spins between regions."""
    import torch

    torch.set_num_threads(2)
    x = torch.rand(200_000)
    x.mul_(0.5)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(pauses):
        x.mul_(0.5)
        time.sleep(0.001)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def worker(args: argparse.Namespace) -> None:
    from sastc.allocator import tune_allocator

    tune_allocator()
    print(json.dumps({"idle_cpu": idle_cpu()}), flush=True)
    for net in args.nets.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            print(json.dumps(measure(net, batch, args.repeats)), flush=True)


def run_policy(policy: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if policy != DEFAULT_POLICY:
        env["OMP_WAIT_POLICY"] = policy
    argv = [sys.executable, __file__, "--worker", "--nets", args.nets, "--batches", args.batches,
            "--repeats", str(args.repeats)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    first, *rows = [json.loads(line) for line in out.splitlines() if line]
    print(f"{policy}: {first['idle_cpu']:.2f} CPU s per wall s while pausing between small "
          "two-thread operations", flush=True)
    return [{"policy": policy, "idle_cpu": first["idle_cpu"], **row} for row in rows]


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'policy':<8} {'net':<10} {'batch':>5} {'MACs/step':>10} {'1 thread':>9} "
             f"{'2 threads':>10} {'2/1':>5} {'bg':>5}"]
    for r in rows:
        lines.append(f"{r['policy']:<8} {r['net']:<10} {r['batch']:>5} {r['macs']:>10.2g} "
                     f"{r['t1_ms']:>7.1f}ms {r['t2_ms']:>8.1f}ms {r['ratio']:>5.2f} "
                     f"{r['background']:>5.2f}")
    lines.append("median step times; 2/1 < 1: two threads pay; bg: cores other programs used")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", default="synthetic,nmnist")
    parser.add_argument("--batches", default="32,64,128,256,512")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--policies", default=f"PASSIVE,{DEFAULT_POLICY}",
                        help="OMP_WAIT_POLICY values; 'default' leaves it unset")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    rows = [row for policy in args.policies.split(",") for row in run_policy(policy, args)]
    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"load_average": list(os.getloadavg()),
                                               "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
