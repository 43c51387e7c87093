"""Layouts the fused scans take in place: contiguous and channels-last time-major views."""

from __future__ import annotations

import torch

from sastc.train.scan.layout import same_layout, time_major, time_major_dense


def channels_last_time_major(steps: int = 3, batch: int = 2) -> torch.Tensor:
    folded = torch.randn(steps * batch, 4, 5, 6).contiguous(memory_format=torch.channels_last)
    return folded.reshape(steps, batch, 4, 5, 6)


def test_contiguous_and_channels_last_views_are_taken_as_they_are() -> None:
    x = channels_last_time_major()
    assert not x.is_contiguous() and time_major_dense(x)
    assert time_major(x) is x
    assert time_major_dense(torch.zeros(4, 3, 2)) and time_major_dense(torch.zeros(1, 7))


def test_other_layouts_are_copied() -> None:
    x = torch.randn(3, 4, 5)
    for view in (x.transpose(0, 1), x[:, :, ::2], x.transpose(0, 2)):
        assert not time_major_dense(view)
        assert time_major(view).is_contiguous()
        assert torch.equal(time_major(view), view)


def test_same_layout_copies_only_when_strides_differ() -> None:
    like = channels_last_time_major()
    grad = torch.randn(like.shape)
    moved = same_layout(grad, like)
    assert moved.stride() == like.stride() and torch.equal(moved, grad)
    assert same_layout(moved, like) is moved
