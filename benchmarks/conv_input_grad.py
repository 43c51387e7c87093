"""The input gradient of a convolution on CPU: oneDNN's backward-data pass against sastc's C
kernel (``sastc/train/conv_grad.py``), on the second convolutions of the default networks.

Channels-last tensors as in a training step; median of ``--repeats`` interleaved runs.

    python benchmarks/conv_input_grad.py
    python benchmarks/conv_input_grad.py --threads 1 --repeats 31
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from speed_timing import prepare_cpu_timing

from sastc.train import conv_grad

CASES = {  # frames, in and out channels, input size, stride, padding (3 x 3 kernels)
    "built-in conv(32, 3, stride=2), 64 samples x 16 steps": (1024, 16, 32, 16, 2, 1),
    "N-MNIST conv(32, 3), 52 samples x 16 steps": (832, 16, 32, 8, 1, 1),
}


def time_case(frames: int, cin: int, cout: int, size: int, stride: int, pad: int,
              repeats: int) -> tuple[float, float]:
    """Median milliseconds of oneDNN's and the kernel's input gradient."""
    weight = torch.randn(cout, cin, 3, 3)
    x = torch.rand(frames, cin, size, size).contiguous(memory_format=torch.channels_last)
    out = (size + 2 * pad - 3) // stride + 1
    grad = torch.randn(frames, cout, out, out).contiguous(memory_format=torch.channels_last)
    onednn = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
        grad, x, weight, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1,
        [True, False, False])
    kernel = lambda: conv_grad.input_grad(grad, weight, x.shape, (stride,) * 2,  # noqa: E731
                                           (pad,) * 2)
    times: dict[str, list[float]] = {"onednn": [], "kernel": []}
    for repeat in range(repeats + 1):
        for name, run in (("onednn", onednn), ("kernel", kernel)):
            start = time.perf_counter()
            run()
            if repeat:
                times[name].append(time.perf_counter() - start)
    return 1e3 * statistics.median(times["onednn"]), 1e3 * statistics.median(times["kernel"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    prepare_cpu_timing(args.threads)
    for name, case in CASES.items():
        onednn, kernel = time_case(*case, repeats=args.repeats)
        print(f"{name}: oneDNN {onednn:.2f} ms, kernel {kernel:.2f} ms")


if __name__ == "__main__":
    main()
