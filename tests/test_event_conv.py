"""The event-driven convolution of sparse input frames, and the first layer fused with its
neuron scan, against torch's convolution and the separate scan (float64, every rule, both
ways of splitting over threads), and where the model uses them."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sastc.spec import parse_arch
from sastc.train import event_conv
from sastc.train.model import SpikingNet, init_weights
from sastc.train.scan import cpu_kernel
from sastc.train.scan.rule import ScanRule
from tests.test_cpu_scan import split_over_two_threads

pytestmark = pytest.mark.skipif(not cpu_kernel.available(), reason="no C compiler here")


@pytest.fixture(params=["team", "pool"])
def threads(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    yield from split_over_two_threads(monkeypatch, request.param)


def _events(*shape: int, density: float = 0.08, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(*shape, generator=generator, dtype=torch.float64) < density
    counts = torch.randint(1, 3, shape, generator=generator).to(torch.float64)
    return mask * counts


def _reference_conv(frames: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    steps, batch = frames.shape[:2]
    out = conv(frames.reshape(steps * batch, *frames.shape[2:]))
    return out.reshape(steps, batch, *out.shape[1:])


def _grads(conv: nn.Conv2d, output: torch.Tensor, weights: torch.Tensor) -> list[torch.Tensor]:
    conv.zero_grad()
    (output * weights).sum().backward()
    return [p.grad.clone() for p in conv.parameters()]


def _assert_channels_last_with_equal_grads(conv: nn.Conv2d, output: torch.Tensor,
                                           expected: torch.Tensor) -> None:
    """``output`` is laid out as channels-last frames, and gives ``conv`` the gradients that
    ``expected`` gives it."""
    assert output.permute(0, 1, 3, 4, 2).is_contiguous()
    weights = torch.randn_like(expected)
    for got, want in zip(_grads(conv, output, weights), _grads(conv, expected, weights),
                         strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


GEOMETRIES = [  # in_channels, out_channels, kernel, stride, padding, bias
    (2, 16, 5, 2, 2, True), (2, 16, 3, 1, 0, False), (3, 12, 3, 2, 1, True),
    (1, 8, 4, 3, 0, True), (2, 32, 1, 1, 0, True), (2, 5, 2, 1, 1, False)]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_event_conv_equals_conv2d(threads: None, geometry: tuple, transposed: bool) -> None:
    cin, cout, kernel, stride, pad, bias = geometry
    conv = nn.Conv2d(cin, cout, kernel, stride, pad, bias=bias).double()
    batch = _events(5, 9, cin, 13, 19)  # rows of 19: two whole blocks of 8 and a tail
    frames = batch[:, 2:7]  # a slice of a larger batch: frames are not contiguous
    if transposed:  # pixels of a row are not adjacent in memory
        frames = frames.transpose(3, 4)
    assert event_conv.takes(frames, conv) and event_conv.sparse_enough(frames)
    out = event_conv.event_conv(frames, conv)
    expected = _reference_conv(frames, conv)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    _assert_channels_last_with_equal_grads(conv, out, expected)


@pytest.mark.parametrize("pool", [1, 2, 3])
@pytest.mark.parametrize(("mode", "reset", "alpha"),
                         list(itertools.product(("surrogate", "hard", "conventional"),
                                                ("zero", "subtract"), (0.0, 0.5))))
def test_fused_layer_equals_conv_then_scan(threads: None, mode: str, reset: str,
                                           alpha: float, pool: int) -> None:
    rule = ScanRule(0.9, 1.0, 4.0, mode, reset, alpha)
    conv = nn.Conv2d(2, 16, 5, 2, 2).double()
    frames = _events(6, 7, 2, 18, 18, seed=1)  # 9 x 9 outputs: pool 2 drops a row and column
    spikes = event_conv.event_lif(frames, conv, rule, pool)
    expected = cpu_kernel.FusedScan.apply(_reference_conv(frames, conv), rule)
    if pool > 1:
        expected = F.avg_pool2d(expected.flatten(0, 1), pool).unflatten(0, (6, 7)) * pool**2
    if mode != "surrogate":
        assert torch.equal(spikes, expected)
    torch.testing.assert_close(spikes, expected, rtol=1e-9, atol=1e-12)
    _assert_channels_last_with_equal_grads(conv, spikes, expected)


def test_fused_layer_without_gradients_keeps_no_membranes() -> None:
    conv = nn.Conv2d(2, 8, 3).double()
    frames = _events(4, 3, 2, 9, 9)
    rule = ScanRule(0.8, 1.0, 5.0, "hard")
    with torch.no_grad():
        spikes = event_conv.event_lif(frames, conv, rule)
    assert torch.equal(spikes, cpu_kernel.forward(_reference_conv(frames, conv).detach(),
                                                  rule)[0])


def _net(arch: str, size: int) -> SpikingNet:
    model = SpikingNet(parse_arch(arch, (2, size, size), 10)).double()
    init_weights(model, 2.0, 0)
    return model


def _logits_and_grads(model: SpikingNet, frames: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    logits = model(frames)
    logits.square().sum().backward()
    return [logits.detach(), *(p.grad.clone() for p in model.parameters())]


def _first_layer_kind(model: SpikingNet, frames: torch.Tensor) -> str:
    """"dense" where the first layer's module ran (torch's convolution), else "event"."""
    seen: list[str] = []
    handle = model.layers[0].register_forward_hook(lambda *a: seen.append("dense"))
    with torch.no_grad():
        model(frames)
    handle.remove()
    return seen[0] if seen else "event"


@pytest.mark.parametrize("arch", ["conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout",
                                  "conv(8, 3, neuron=cuba, alpha=0.5) readout"])
def test_the_model_runs_its_first_layer_event_driven(monkeypatch: pytest.MonkeyPatch,
                                                     arch: str) -> None:
    model = _net(arch, 20)
    frames = _events(5, 4, 2, 20, 20, density=0.05)
    assert _first_layer_kind(model, frames).startswith("event")
    event = _logits_and_grads(model, frames)
    monkeypatch.setenv("SASTC_EVENT_CONV", "0")
    assert _first_layer_kind(model, frames) == "dense"
    dense = _logits_and_grads(model, frames)
    for got, want in zip(event, dense, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_which_frames_go_event_driven(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _net("conv(8, 3, stride=2) readout", 16)
    sparse = _events(4, 2, 2, 16, 16, density=0.05)
    assert _first_layer_kind(model, sparse).startswith("event")
    assert _first_layer_kind(model, torch.rand(4, 2, 2, 16, 16, dtype=torch.float64)) == "dense"
    monkeypatch.setenv("SASTC_EVENT_CONV", "off")
    assert _first_layer_kind(model, sparse) == "dense"
    monkeypatch.setenv("SASTC_EVENT_CONV", "1")
    monkeypatch.setenv("SASTC_SCAN", "torch")  # the fused layer needs the C scan
    assert _first_layer_kind(model, sparse) == "event"  # the plain event convolution, then


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_event_conv_input_gradient_equals_conv2d(threads: None, geometry: tuple,
                                                  channels_last: bool) -> None:
    cin, cout, kernel, stride, pad, bias = geometry
    conv = nn.Conv2d(cin, cout, kernel, stride, pad, bias=bias).double()
    frames = _events(4, 6, cin, 11, 13, seed=2)
    if channels_last:  # as a hidden layer's spikes are laid out
        frames = frames.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    frames.requires_grad_()
    out = event_conv.event_conv(frames, conv)
    reference = frames.detach().clone().requires_grad_()
    expected = _reference_conv(reference, conv)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(expected)
    got = torch.autograd.grad((out * weights).sum(), [frames, *conv.parameters()])
    want = torch.autograd.grad((expected * weights).sum(), [reference, *conv.parameters()])
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_hidden_layers_with_binary_spikes_go_event_driven(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    model = _net("conv(8, 3, stride=2) conv(16, 3, stride=2) readout", 20)
    model.spike_mode = "conventional"
    frames = _events(5, 4, 2, 20, 20, density=0.05)
    calls: list[bool] = []
    real = event_conv.event_conv
    monkeypatch.setattr(event_conv, "event_conv",
                        lambda x, conv: calls.append(x.requires_grad) or real(x, conv))
    event = _logits_and_grads(model, frames)
    assert True in calls  # the second layer, whose input needs a gradient
    monkeypatch.setenv("SASTC_EVENT_CONV", "0")
    dense = _logits_and_grads(model, frames)
    for got, want in zip(event, dense, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_a_failed_allocation_is_a_memory_error() -> None:
    with pytest.raises(MemoryError, match="could not allocate"):
        event_conv._check([0, -1])
    event_conv._check([0, 0])


def test_a_dense_layer_reads_channels_last_input_without_a_copy() -> None:
    from sastc.train.model import _dense_channels_last

    dense = nn.Linear(3 * 4 * 5, 7).double()
    x = torch.randn(6, 3, 4, 5, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    out = _dense_channels_last(x, dense)
    expected = dense(x.flatten(1))
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), [x, dense.weight, dense.bias])
    expected_grads = torch.autograd.grad((expected * weights).sum(),
                                         [x, dense.weight, dense.bias])
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert grads[0].stride() == x.stride()  # the gradient comes back channels-last too


@pytest.mark.parametrize("mode", ["surrogate", "conventional"])
@pytest.mark.parametrize("pool", [1, 2])
def test_float32_first_layer_equals_float64(threads: None, mode: str, pool: int) -> None:
    """float32 runs the copy of the fused layer specialised for conv(16, 5, stride=2) on two
    channels (the presets' first layer), float64 the general code: they must agree."""
    conv = nn.Conv2d(2, 16, 5, 2, 2).double()
    rule = ScanRule(0.9, 1.0, 5.0, mode)
    frames = _events(6, 5, 2, 34, 34, density=0.06, seed=3)
    outputs = []
    for dtype in (torch.float64, torch.float32):
        layer = nn.Conv2d(2, 16, 5, 2, 2).to(dtype)
        layer.load_state_dict(conv.state_dict())
        spikes = event_conv.event_lif(frames.to(dtype), layer, rule, pool)
        spikes.backward(torch.linspace(-1, 1, spikes.numel(), dtype=dtype).view_as(spikes))
        outputs.append([spikes.detach().double(), layer.weight.grad.double(),
                        layer.bias.grad.double()])
    for got, want in zip(outputs[1], outputs[0], strict=True):
        torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-4)
