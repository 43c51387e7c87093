"""The Triton scan kernels against the autograd reference, run through Triton's interpreter
on CPU tensors (the same kernels run compiled on CUDA tensors)."""

from __future__ import annotations

import pytest
import torch

from sastc.train.lif import lif_scan, lif_scan_reference
from sastc.train.scan import triton_kernel
from sastc.train.scan.dispatch import chosen_backend

RULES = [("surrogate", "zero", 0.0), ("conventional", "zero", 0.0), ("hard", "zero", 0.0),
         ("surrogate", "subtract", 0.0), ("conventional", "subtract", 0.0),
         ("surrogate", "zero", 0.6), ("conventional", "subtract", 0.4)]


@pytest.fixture
def interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("triton", reason="Triton is in the test extra")
    monkeypatch.setenv("TRITON_INTERPRET", "1")


@pytest.mark.parametrize(("mode", "reset", "alpha"), RULES)
@pytest.mark.parametrize("beta", [0.0, 0.9, 1.0])
def test_kernels_equal_the_reference(interpreter: None, mode: str, reset: str, alpha: float,
                                     beta: float) -> None:
    torch.manual_seed(3)
    current = (torch.randn(6, 3, 5, 67, dtype=torch.float64) * 0.9).requires_grad_()
    reference = current.detach().clone().requires_grad_()
    spikes = lif_scan(current, beta, 1.0, 4.0, mode, reset, alpha, backend="triton")
    expected = lif_scan_reference(reference, beta, 1.0, 4.0, mode, reset, alpha)
    weights = torch.randn_like(expected)
    (spikes * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(spikes, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(current.grad, reference.grad, rtol=1e-9, atol=1e-12)
    assert 0.0 < float(spikes.detach().mean()) < 1.0


def test_float32_membranes_and_hard_spikes_match_the_torch_scan(interpreter: None) -> None:
    torch.manual_seed(4)
    current = torch.randn(16, 4, 300) * 0.7
    rule = triton_kernel.ScanRule(0.9, 1.0, 5.0, "hard")
    spikes, u_pre = triton_kernel.forward(current, rule)
    expected = lif_scan(current, 0.9, 1.0, 5.0, "hard", backend="torch")
    assert torch.equal(spikes, expected)
    assert float(u_pre.abs().max()) > 1.0


def test_non_contiguous_input_and_one_step(interpreter: None) -> None:
    current = torch.randn(5, 8, 9).transpose(1, 2)
    assert not current.is_contiguous()
    torch.testing.assert_close(lif_scan(current, 0.8, 0.5, 3.0, "surrogate", backend="triton"),
                               lif_scan_reference(current, 0.8, 0.5, 3.0, "surrogate"))
    one = torch.randn(1, 33)
    torch.testing.assert_close(lif_scan(one, 0.8, 0.5, 3.0, "hard", backend="triton"),
                               (one > 0.5).float())


def test_auto_never_sends_cpu_tensors_to_triton(interpreter: None) -> None:
    assert chosen_backend(torch.zeros(2, 3)) != "triton"


def test_triton_refuses_what_it_does_not_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match=r"does not take a torch\.float32 tensor on cpu"):
        lif_scan(torch.zeros(2, 3), 0.9, 1.0, 5.0, "hard", backend="triton")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (compiled kernels)")
@pytest.mark.parametrize(("mode", "reset", "alpha"), RULES)
def test_compiled_kernels_equal_the_torch_scan_on_cuda(mode: str, reset: str,
                                                        alpha: float) -> None:
    torch.manual_seed(5)
    current = (torch.randn(16, 32, 16, 17, 17, device="cuda") * 0.7).requires_grad_()
    twin = current.detach().clone().requires_grad_()
    spikes = lif_scan(current, 0.9, 1.0, 5.0, mode, reset, alpha)
    expected = lif_scan(twin, 0.9, 1.0, 5.0, mode, reset, alpha, backend="torch")
    assert chosen_backend(current) == "triton"
    weights = torch.randn_like(expected)
    (spikes * weights).sum().backward()
    (expected * weights).sum().backward()
    flips = float((spikes.detach().round() != expected.detach().round()).float().mean())
    assert flips <= 1e-5  # a spike may flip where u_pre is within rounding of theta (fma)
    if mode == "surrogate":
        torch.testing.assert_close(spikes, expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(current.grad, twin.grad, rtol=1e-4, atol=1e-4)


def test_channels_last_views_keep_their_layout(interpreter: None) -> None:
    folded = torch.randn(4 * 2, 3, 5, 5).contiguous(memory_format=torch.channels_last)
    current = folded.reshape(4, 2, 3, 5, 5).requires_grad_()
    spikes = lif_scan(current, 0.9, 0.5, 4.0, "surrogate", backend="triton")
    assert spikes.stride() == current.stride()
    expected = lif_scan_reference(current.detach().contiguous(), 0.9, 0.5, 4.0, "surrogate")
    torch.testing.assert_close(spikes, expected)
    spikes.sum().backward()
    assert current.grad is not None and current.grad.shape == current.shape


def _signature(wide: bool) -> dict[str, str]:
    pointer = "*fp64" if wide else "*fp32"
    return {"a": pointer, "b": pointer, "c": pointer, "neurons": "i32", "beta": "fp32",
            "theta": "fp32", "k": "fp32", "alpha": "fp32", "SMOOTH": "constexpr",
            "SUBTRACT": "constexpr", "CUBA": "constexpr", "WIDE": "constexpr",
            "STEPS": "constexpr", "BLOCK": "constexpr"}


@pytest.mark.parametrize("wide", [False, True])
def test_every_kernel_variant_compiles_for_hopper(monkeypatch: pytest.MonkeyPatch,
                                                  wide: bool) -> None:
    """The compiled (not interpreted) kernels build to sm_90 machine code here, with Triton's
    own ptxas and no GPU: the CUDA path cannot fail to compile on a user's H100/H200."""
    pytest.importorskip("triton", reason="Triton is in the test extra")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from sastc.train.scan import triton_source

    for kernel in triton_source.build():
        names = list(kernel.arg_names)
        for smooth, subtract, cuba in [(s, r, c) for s in (True, False) for r in (True, False)
                                       for c in (True, False)]:
            signature = dict(zip(names, _signature(wide).values(), strict=True))
            constants = {"SMOOTH": smooth, "SUBTRACT": subtract, "CUBA": cuba, "WIDE": wide,
                         "STEPS": 16, "BLOCK": 256}
            compiled = triton.compile(ASTSource(fn=kernel, signature=signature,
                                                constexprs=constants),
                                      target=GPUTarget("cuda", 90, 32))
            assert len(compiled.asm["cubin"]) > 1000


def test_self_check_passes_through_the_interpreter(interpreter: None) -> None:
    triton_kernel.works_on.cache_clear()
    assert triton_kernel.works_on(torch.device("cpu"))
    triton_kernel.works_on.cache_clear()


def test_a_kernel_that_fails_is_reported_and_not_used(interpreter: None,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(triton_kernel, "forward", broken)
    triton_kernel.works_on.cache_clear()
    try:
        assert not triton_kernel.works_on(torch.device("cpu"))
    finally:
        triton_kernel.works_on.cache_clear()
    assert "does not run on cpu (RuntimeError: no kernel image" in caplog.text
