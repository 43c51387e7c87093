"""The C input gradient of strided convolutions (``conv_grad_body.h``) against torch's, in
float64 and float32, on both ways of splitting over threads, where it is used and where not,
and in a whole network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sastc.spec import parse_arch
from sastc.train import conv_grad
from sastc.train.model import SpikingNet, init_weights
from sastc.train.scan import cpu_kernel
from tests.test_cpu_scan import split_over_two_threads

pytestmark = pytest.mark.skipif(not cpu_kernel.available(), reason="no C compiler here")

GEOMETRIES = [  # in, out channels, input height, width, kernel, stride, padding
    (16, 32, 16, 16, 3, 2, 1), (8, 12, 9, 11, 3, 2, 0), (16, 5, 10, 13, 4, 3, 2),
    (8, 8, 7, 7, 1, 2, 0), (16, 16, 12, 9, 5, (2, 1), 2)]


@pytest.fixture(params=["team", "pool"])
def threads(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    yield from split_over_two_threads(monkeypatch, request.param)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_gradients_equal_torchs(threads: None, geometry: tuple, dtype: torch.dtype) -> None:
    cin, cout, height, width, kernel, stride, pad = geometry
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, kernel, stride, pad).to(dtype)
    x = torch.randn(6, cin, height, width, dtype=dtype).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    assert conv_grad.takes(x, conv)
    out = conv_grad.conv2d(x, conv)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, [x, conv.weight, conv.bias], grad)
    expected = torch.autograd.grad(conv(x), [x, conv.weight, conv.bias], grad)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)
    assert got[0].stride() == x.stride()  # channels-last, as the input


def test_where_it_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(2, 16, 8, 8).contiguous(memory_format=torch.channels_last)
    strided = nn.Conv2d(16, 8, 3, 2, 1)
    assert not conv_grad.takes(x, strided)  # no gradient wanted
    x.requires_grad_()
    assert conv_grad.takes(x, strided)
    assert not conv_grad.takes(x, nn.Conv2d(16, 8, 3, 1, 1))  # stride 1: oneDNN is faster
    assert not conv_grad.takes(torch.randn(2, 12, 8, 8, requires_grad=True),
                               nn.Conv2d(12, 8, 3, 2))  # 12 floats: not whole vectors
    assert not conv_grad.takes(torch.randn(2, 64, 8, 8, requires_grad=True),
                               nn.Conv2d(64, 8, 3, 2))  # more than 4 vectors
    assert not conv_grad.takes(x, nn.Conv2d(16, 8, 3, 2, groups=2))
    with torch.no_grad():
        assert not conv_grad.takes(x, strided)
    monkeypatch.setenv("SASTC_CONV_GRAD", "0")
    assert not conv_grad.takes(x, strided)


def test_a_network_trains_the_same_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = parse_arch("conv(16, 5, stride=2) conv(32, 3, stride=2) readout", (2, 20, 20), 10)
    model = SpikingNet(spec).double()
    init_weights(model, 2.0, 0)
    frames = torch.rand(5, 3, 2, 20, 20, dtype=torch.float64)  # dense: no event path

    def logits_and_grads() -> list[torch.Tensor]:
        model.zero_grad()
        logits = model(frames)
        logits.square().sum().backward()
        return [logits.detach(), *(p.grad.clone() for p in model.parameters())]

    calls: list[int] = []
    input_grad = conv_grad.input_grad
    monkeypatch.setattr(conv_grad, "input_grad", lambda *a: calls.append(1) or input_grad(*a))
    fast = logits_and_grads()
    assert calls == [1]  # the second convolution's input gradient came from the kernel
    monkeypatch.setenv("SASTC_CONV_GRAD", "0")
    for a, b in zip(fast, logits_and_grads(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
