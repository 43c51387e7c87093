"""The first spiking layer of an event network three ways, forward and backward, on CPU.

- ``dense``: torch's convolution over all ``T x B`` frames (channels-last), then the fused
  C scan (``sastc/train/scan/lif_scan.c``) and ``avg_pool2d``, as sastc ran it before the
  event-driven layer;
- ``event conv``: the event-driven convolution (``event_conv_body.h``), then the same scan
  and pooling;
- ``fused``: the event-driven layer with the scan and pooling in one pass
  (``event_lif_body.h``), what ``SpikingNet`` runs for sparse input frames.

Frames are N-MNIST-sized (2 x 34 x 34) with a given share of non-zero pixels, the layer is
the N-MNIST network's first (``conv(16, 5, stride=2)``, surrogate LIF, ``pool(2)``). Median
of ``--repeats`` interleaved runs per variant.

    python benchmarks/event_layer.py                       # T = 16, 52 samples, 2 threads
    python benchmarks/event_layer.py --threads 1 --density 0.025 --steps 64 --batch 13
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from speed_timing import prepare_cpu_timing
from torch import nn

from sastc.train import event_conv
from sastc.train.scan import cpu_kernel
from sastc.train.scan.rule import ScanRule


def _dense(frames: torch.Tensor, conv: nn.Conv2d, rule: ScanRule) -> torch.Tensor:
    steps, batch = frames.shape[:2]
    inputs = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last)
    current = conv(inputs).unflatten(0, (steps, batch))
    spikes = cpu_kernel.FusedScan.apply(current, rule)
    return F.avg_pool2d(spikes.flatten(0, 1), 2).unflatten(0, (steps, batch)) * 4


def _event_conv(frames: torch.Tensor, conv: nn.Conv2d, rule: ScanRule) -> torch.Tensor:
    steps, batch = frames.shape[:2]
    spikes = cpu_kernel.FusedScan.apply(event_conv.event_conv(frames, conv), rule)
    return F.avg_pool2d(spikes.flatten(0, 1), 2).unflatten(0, (steps, batch)) * 4


def _fused(frames: torch.Tensor, conv: nn.Conv2d, rule: ScanRule) -> torch.Tensor:
    return event_conv.event_lif(frames, conv, rule, pool=2)


VARIANTS: dict[str, Callable[[torch.Tensor, nn.Conv2d, ScanRule], torch.Tensor]] = {
    "dense": _dense, "event conv": _event_conv, "fused": _fused}


def time_variants(frames: torch.Tensor, conv: nn.Conv2d, rule: ScanRule, repeats: int
                  ) -> dict[str, dict[str, float]]:
    """Median milliseconds of each variant's forward and forward + backward."""
    times: dict[str, dict[str, list[float]]] = {name: {"forward": [], "forward+backward": []}
                                                for name in VARIANTS}
    for repeat in range(repeats + 1):
        for name, variant in VARIANTS.items():
            start = time.perf_counter()
            out = variant(frames, conv, rule)
            middle = time.perf_counter()
            out.backward(torch.ones_like(out))
            end = time.perf_counter()
            if repeat:  # the first round warms up
                times[name]["forward"].append(middle - start)
                times[name]["forward+backward"].append(end - start)
    return {name: {part: 1e3 * statistics.median(values) for part, values in parts.items()}
            for name, parts in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--density", type=float, default=0.057,
                        help="share of non-zero pixels (N-MNIST: 0.057 at T = 16)")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--batch", type=int, default=52)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    prepare_cpu_timing(args.threads)
    frames = (torch.rand(args.steps, args.batch, 2, 34, 34) < args.density).float()
    conv = nn.Conv2d(2, 16, 5, 2, 2)
    rule = ScanRule(0.9, 1.0, 5.0, "surrogate")
    print(f"T = {args.steps}, {args.batch} samples, {args.density:.1%} non-zero, "
          f"{args.threads} threads, median of {args.repeats}")
    for name, parts in time_variants(frames, conv, rule, args.repeats).items():
        print(f"  {name:10s} forward {parts['forward']:6.2f} ms   "
              f"forward + backward {parts['forward+backward']:6.2f} ms")


if __name__ == "__main__":
    main()
