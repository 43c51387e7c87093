"""Would a fused C kernel speed up the LIF scan? A probe, not part of sastc.

Compiles ``fused_lif_scan.c`` (one pass over ``[T, N]`` per call, neurons in
cache-sized blocks, ``-O3 -march=native -ffast-math`` so ``expf`` is vectorised)
and times it against sastc's torch scan (``sastc.train.lif``) on the largest
layer of the N-MNIST network, forward and backward, both on 2 threads; it first
checks that both give the same spikes (hard) and gradients (within float
rounding). See docs/benchmarks.md, section 7, for what it showed.

    python benchmarks/fused_lif_probe.py
"""

from __future__ import annotations

import ctypes
import itertools
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from sastc.train.lif import _forward_scan, _LIFScan, lif_scan

SOURCE = Path(__file__).with_name("fused_lif_scan.c")
SHAPE = (16, 32, 16, 17, 17)  # T, batch, channels, height, width of conv0's output
BETA, THETA, K = 0.9, 1.0, 3.0
THREADS = 2


def load_kernel(work: Path) -> ctypes.CDLL:
    library = work / "fused_lif_scan.so"
    subprocess.run(["gcc", "-O3", "-march=native", "-ffast-math", "-fopenmp-simd", "-shared",
                    "-fPIC", str(SOURCE), "-o", str(library), "-lm", "-lmvec"], check=True)
    lib = ctypes.CDLL(str(library))
    f, n, p = ctypes.c_float, ctypes.c_long, ctypes.c_void_p
    lib.lif_forward.argtypes = [p, p, p, n, n, n, n, f, f, f, ctypes.c_int]
    lib.lif_backward.argtypes = [p, p, p, p, n, n, n, n, f, f, f, ctypes.c_int]
    return lib


def halves(count: int) -> list[tuple[int, int]]:
    bounds = [round(i * count / THREADS) for i in range(THREADS + 1)]
    return list(itertools.pairwise(bounds))


class FusedScan:
    """The C kernel, with the neurons split over a thread pool (ctypes releases the GIL)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib, self.pool = lib, ThreadPoolExecutor(THREADS)

    def forward(self, current: torch.Tensor, smooth: bool) -> tuple[torch.Tensor, torch.Tensor]:
        steps, neurons = current.shape[0], current[0].numel()
        spikes, u_pre = torch.empty_like(current), torch.empty_like(current)
        list(self.pool.map(lambda r: self.lib.lif_forward(
            current.data_ptr(), spikes.data_ptr(), u_pre.data_ptr(), steps, neurons, r[0], r[1],
            BETA, THETA, K, int(smooth)), halves(neurons)))
        return spikes, u_pre

    def backward(self, grad: torch.Tensor, u_pre: torch.Tensor, spikes: torch.Tensor,
                 smooth: bool) -> torch.Tensor:
        steps, neurons = u_pre.shape[0], u_pre[0].numel()
        out = torch.empty_like(u_pre)
        list(self.pool.map(lambda r: self.lib.lif_backward(
            grad.data_ptr(), u_pre.data_ptr(), spikes.data_ptr(), out.data_ptr(), steps, neurons,
            r[0], r[1], BETA, THETA, K, int(smooth)), halves(neurons)))
        return out


def median_ms(run: Callable[[], object], repeats: int = 15) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[repeats // 2]


class _Ctx:
    def __init__(self, u_pre: torch.Tensor, spikes: torch.Tensor, smooth: bool) -> None:
        self.saved_tensors, self.constants = (u_pre, spikes), (BETA, THETA, K, smooth)


def probe(fused: FusedScan, smooth: bool) -> None:
    torch.manual_seed(0)
    current = torch.randn(SHAPE) * 0.6
    grad = torch.randn(SHAPE)
    spikes, u_pre = _forward_scan(current, BETA, THETA, K, smooth)
    c_spikes, _ = fused.forward(current, smooth)
    leaf = current.clone().requires_grad_(True)
    lif_scan(leaf, BETA, THETA, K, "surrogate" if smooth else "conventional").backward(grad)
    c_grad = fused.backward(grad, u_pre, spikes, smooth)
    mode = "surrogate" if smooth else "hard"
    print(f"{mode:<10} max |spike diff| {float((c_spikes - spikes).abs().max()):.1e}, "
          f"max |grad diff| {float((c_grad - leaf.grad).abs().max()):.1e}")
    ctx = _Ctx(u_pre, spikes, smooth)
    rows = [("forward", lambda: _forward_scan(current, BETA, THETA, K, smooth),
             lambda: fused.forward(current, smooth)),
            ("backward", lambda: _LIFScan.backward(ctx, grad),
             lambda: fused.backward(grad, u_pre, spikes, smooth))]
    for name, torch_run, c_run in rows:
        print(f"  {name:<9} torch {median_ms(torch_run):6.2f} ms   fused C {median_ms(c_run):6.2f} ms")


def main() -> None:
    torch.set_num_threads(THREADS)
    print(f"LIF scan on {list(SHAPE)} (T, batch, C, H, W), {THREADS} threads, median of 15")
    with tempfile.TemporaryDirectory() as work:
        fused = FusedScan(load_kernel(Path(work)))
        for smooth in (True, False):
            probe(fused, smooth)


if __name__ == "__main__":
    main()
