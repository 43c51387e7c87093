"""Gradient accumulation over slices: the same update as the whole minibatch."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sastc.data.base import FrameSet
from sastc.spec import parse_arch
from sastc.train.chunks import CPU_SLICE_BYTES, accumulate, largest_activation, slice_size
from sastc.train.epoch import event_frames
from sastc.train.model import SpikingNet, init_weights

ARCH = "conv(4, 3, stride=2) pool(2) dense(8) readout"


def tiny_net(mode: str = "conventional") -> SpikingNet:
    spec = parse_arch(ARCH, (2, 12, 12), 3)
    model = SpikingNet(spec, mode).double()
    init_weights(model, 2.0, 0)
    return model


def batch(samples: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    frames = (torch.rand(5, samples, 2, 12, 12, generator=generator) < 0.3).double()
    return frames, torch.randint(0, 3, (samples,), generator=generator)


@pytest.mark.parametrize("mode", ["surrogate", "conventional"])
@pytest.mark.parametrize("size", [1, 3, 4, 10])
def test_sliced_gradient_equals_the_whole_batch(mode: str, size: int) -> None:
    frames, labels = batch()
    whole, sliced = tiny_net(mode), tiny_net(mode)
    loss = F.cross_entropy(whole(frames), labels)
    loss.backward()
    kept: list[torch.Tensor] = []
    total = accumulate(sliced, frames, labels, size, kept)
    torch.testing.assert_close(total, loss.detach())
    torch.testing.assert_close(kept[0], whole(frames).detach())
    for a, b in zip(whole.parameters(), sliced.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-12, atol=1e-14)


def test_slices_fit_the_budget_and_are_even() -> None:
    spec = parse_arch(ARCH, (2, 34, 34), 10)
    per_sample = 4 * 16 * 2 * 34 * 34  # the input is this spec's largest layer
    size = slice_size(spec, 16, 256, "cpu")
    assert size * per_sample <= CPU_SLICE_BYTES < 2 * size * per_sample
    assert 256 % size == 0 or 256 % size > size // 2
    assert slice_size(spec, 16, 8, "cpu") == 8
    assert slice_size(spec, 4000, 256, "cpu") == 1  # at least one sample
    assert slice_size(spec, 64, 256, "cuda") == 256  # GPUs take the whole batch


def test_a_fused_first_layer_is_not_counted_but_a_plain_one_is() -> None:
    """conv + pool as the first layers runs fused (only pooled spikes are stored); without
    the pooling every output is stored."""
    fused = parse_arch("conv(16, 5, stride=2) pool(2) conv(32, 3) dense(64) readout",
                       (2, 34, 34), 10)
    plain = parse_arch("conv(16, 5, stride=2) conv(32, 3) dense(64) readout",
                       (2, 34, 34), 10)
    assert largest_activation(fused) == 2 * 34 * 34  # not the first layer's 16 x 17 x 17
    assert largest_activation(plain) == 32 * 17 * 17  # its second layer's output
    assert slice_size(fused, 16, 256, "cpu") > slice_size(plain, 16, 256, "cpu")
    # dense frames take the separate convolution, which stores the full output
    assert largest_activation(fused, event_input=False) == 16 * 17 * 17
    assert slice_size(fused, 16, 256, "cpu", event_input=False) < slice_size(fused, 16, 256,
                                                                              "cpu")


def test_epochs_size_slices_by_their_frames_sparsity() -> None:
    sparse = np.zeros((4, 3, 2, 6, 6), np.uint8)
    sparse[:, :, 0, 0, 0] = 1  # 1 of 72 pixels
    dense = np.ones_like(sparse)
    labels = np.zeros(4, np.int64)
    assert event_frames(FrameSet(sparse, labels, ("a",), "test", "train"))
    assert not event_frames(FrameSet(dense, labels, ("a",), "test", "train"))


@pytest.mark.parametrize("variable", ["SASTC_SCAN=torch", "SASTC_EVENT_CONV=0"])
def test_without_the_fused_layer_slices_count_the_first_layer(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch scan or the event kernels turned off: no fused layer, whatever the frames."""
    sparse = np.zeros((4, 3, 2, 6, 6), np.uint8)
    sparse[:, :, 0, 0, 0] = 1
    monkeypatch.setenv(*variable.split("="))
    assert not event_frames(FrameSet(sparse, np.zeros(4, np.int64), ("a",), "test", "train"))


def test_distributed_models_sync_on_the_last_slice_only() -> None:
    frames, labels = batch(6)
    model = tiny_net()
    entered: list[int] = []

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.module(x)

        @contextlib.contextmanager
        def no_sync(self):
            entered.append(1)
            yield

    accumulate(Wrapped(), frames, labels, 2)
    assert len(entered) == 2  # three slices: the first two skip the all-reduce
