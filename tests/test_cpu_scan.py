"""The fused C scan for CPU tensors against the autograd reference: every rule, float64 and
float32, odd sizes, layouts, the split over threads, and what ``auto`` picks (how it is
built: tests/test_cpu_scan_build.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from sastc.train.lif import lif_scan, lif_scan_reference
from sastc.train.scan import cpu_build, cpu_kernel, parallel
from sastc.train.scan.dispatch import chosen_backend
from sastc.train.scan.rule import ScanRule
from sastc.train.scan.torch_ops import forward_scan

REPO_ROOT = Path(__file__).resolve().parents[1]
MODES = ("surrogate", "hard", "conventional")

pytestmark = pytest.mark.skipif(not cpu_kernel.available(), reason="no C compiler here")


def split_over_two_threads(monkeypatch: pytest.MonkeyPatch, threading: str):
    """Even tiny work split over two threads, on OpenMP's team (where the library has it)
    or on the Python thread pool (``threading``: "team" or "pool")."""
    monkeypatch.setattr(parallel, "MIN_PER_THREAD", 16)
    if threading == "pool":
        has_entry = parallel.has_entry
        monkeypatch.setattr(parallel, "has_entry",
                            lambda lib, name: "_par_" not in name and has_entry(lib, name))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=["team", "pool"])
def split_small(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Split even tiny layers over two threads, so the tests cover both threaded paths."""
    yield from split_over_two_threads(monkeypatch, request.param)


def _scan_and_grad(current: torch.Tensor, rule: ScanRule, weights: torch.Tensor, fused: bool
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = current.detach().clone().requires_grad_()
    args = (rule.beta, rule.theta, rule.k, rule.mode, rule.reset, rule.alpha)
    spikes = (lif_scan(leaf, *args, backend="cpu-fused") if fused
              else lif_scan_reference(leaf, *args))
    (spikes * weights).sum().backward()
    return spikes.detach(), leaf.grad


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("beta", [0.0, 0.9, 1.0])
def test_float64_spikes_membranes_and_gradients_equal_the_reference(
        split_small: None, mode: str, reset: str, alpha: float, beta: float) -> None:
    torch.manual_seed(3)
    current = torch.randn(6, 3, 5, 67, dtype=torch.float64) * 0.9
    weights = torch.randn_like(current)
    rule = ScanRule(beta, 1.0, 4.0, mode, reset, alpha)
    spikes, grad = _scan_and_grad(current, rule, weights, fused=True)
    expected, expected_grad = _scan_and_grad(current, rule, weights, fused=False)
    torch.testing.assert_close(spikes, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(cpu_kernel.forward(current, rule)[1],
                               forward_scan(current, rule)[1], rtol=1e-12, atol=1e-12)
    assert 0.0 < float(spikes.mean()) < 1.0


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_float32_step_spikes_are_bit_identical_and_gradients_close(
        split_small: None, reset: str, alpha: float) -> None:
    torch.manual_seed(4)
    current = torch.randn(16, 4, 301) * 0.7
    weights = torch.randn_like(current)
    for mode in MODES:
        rule = ScanRule(0.9, 1.0, 5.0, mode, reset, alpha)
        spikes, grad = _scan_and_grad(current, rule, weights, fused=True)
        expected, expected_grad = _scan_and_grad(current, rule, weights, fused=False)
        if mode == "surrogate":
            torch.testing.assert_close(spikes, expected, rtol=0, atol=1e-5)
        else:
            assert torch.equal(spikes, expected)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 33), (5, 1), (7, 17), (3, 2, 3, 5)])
def test_odd_sizes_and_one_step(split_small: None, shape: tuple[int, ...]) -> None:
    torch.manual_seed(5)
    current = torch.randn(shape, dtype=torch.float64) * 1.5
    for mode in MODES:
        rule = ScanRule(0.8, 0.5, 3.0, mode, "zero", 0.3)
        weights = torch.randn_like(current)
        spikes, grad = _scan_and_grad(current, rule, weights, fused=True)
        expected, expected_grad = _scan_and_grad(current, rule, weights, fused=False)
        torch.testing.assert_close(spikes, expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)


def test_far_from_threshold_and_the_callers_denormals_untouched() -> None:
    torch.manual_seed(8)
    current = torch.randn(6, 500) * torch.tensor([0.5, 30.0, 300.0, 1e30]).repeat(125)
    weights = torch.randn_like(current)
    for mode in MODES:
        rule = ScanRule(0.9, 1.0, 5.0, mode, "zero", 0.0)
        spikes, grad = _scan_and_grad(current, rule, weights, fused=True)
        expected, expected_grad = _scan_and_grad(current, rule, weights, fused=False)
        torch.testing.assert_close(spikes, expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-6)
    tiny = torch.tensor([1e-39]) * torch.tensor([1.0])  # denormal: not flushed in this thread
    assert float(tiny) > 0.0


def test_non_contiguous_inputs_and_gradients() -> None:
    torch.manual_seed(6)
    current = torch.randn(5, 8, 9, dtype=torch.float64).transpose(1, 2)
    assert not current.is_contiguous()
    leaf = current.clone().requires_grad_()
    spikes = lif_scan(leaf.transpose(1, 2), 0.8, 0.5, 3.0, "surrogate", backend="cpu-fused")
    spikes.sum().backward()  # dL/ds arrives expanded (stride 0)
    reference = current.clone().requires_grad_()
    lif_scan_reference(reference.transpose(1, 2), 0.8, 0.5, 3.0, "surrogate").sum().backward()
    torch.testing.assert_close(leaf.grad, reference.grad, rtol=1e-9, atol=1e-12)


def test_channels_last_runs_in_place_and_keeps_its_layout() -> None:
    torch.manual_seed(7)
    frames = torch.randn(4 * 3, 5, 6, 7).contiguous(memory_format=torch.channels_last)
    current = frames.reshape(4, 3, 5, 6, 7)
    assert not current.is_contiguous()
    rule = ScanRule(0.9, 1.0, 5.0, "hard")
    spikes, u_pre = cpu_kernel.forward(current, rule)
    assert spikes.stride() == current.stride() == u_pre.stride()
    assert torch.equal(spikes, lif_scan_reference(current, 0.9, 1.0, 5.0, "hard"))


def test_ranges_cover_the_neurons_in_aligned_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    parts = parallel.ranges(1000, 1000, cpu_kernel.ALIGN)
    assert parts[0][0] == 0 and parts[-1][1] == 1000 and len(parts) == 3
    assert all(a % cpu_kernel.ALIGN == 0 and a < b for a, b in parts)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(parts))
    assert parallel.ranges(1000, 1, cpu_kernel.ALIGN) == [(0, 1000)]  # too little to split
    assert parallel.ranges(20, 10**6, cpu_kernel.ALIGN) == [(0, 16), (16, 20)]


def test_the_openmp_build_runs_on_torchs_own_runtime() -> None:
    """Built with GCC next to a torch on GNU OpenMP, the kernels have team entries, and
    loading them mapped no second OpenMP runtime."""
    library = cpu_kernel.library()
    runtimes = cpu_build.openmp_runtimes()
    assert len(runtimes) <= 1, runtimes
    macros = cpu_build._run([*cpu_build.compiler_command(), "-dM", "-E", "-x", "c", "/dev/null"])
    if cpu_build.shares_torch_openmp(macros):
        assert parallel.has_entry(library, "lif_forward_par_f32")
        assert parallel.has_entry(library, "event_conv_weight_grad_par_f64")


def test_auto_picks_the_fused_scan_for_cpu_float_tensors(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.delenv("SASTC_SCAN", raising=False)
    assert chosen_backend(torch.zeros(2, 3)) == "cpu-fused"
    assert chosen_backend(torch.zeros(2, 3, dtype=torch.bfloat16)) == "torch"
    assert chosen_backend(torch.zeros(2, 3), "torch") == "torch"
    with pytest.raises(ValueError, match=r"does not take a torch\.float16 tensor on cpu"):
        lif_scan(torch.zeros(2, 3, dtype=torch.float16), 0.9, 1.0, 5.0, backend="cpu-fused")
