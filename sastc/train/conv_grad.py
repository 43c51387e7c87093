"""A 2-D convolution on CPU whose input gradient comes from ``conv_grad_body.h``.

oneDNN's backward-data pass on AVX2 CPUs runs well below its forward rate on the small
channel counts of spiking networks, and with stride 2 it was the largest single cost of a
training step of the built-in network. The C kernel gathers, per input position of
channels-last frames, every tap that reaches it, four positions at a time::

    dL/dx[n, :, y, x] = sum_{ky, kx, o} W[o, :, ky, kx] dL/dy[n, o, oy, ox],
                        y = oy stride + ky - pad,  x = ox stride + kx - pad

The forward pass and the weight gradient stay torch's (oneDNN); the bias gradient is a
plain sum. Used for convolutions whose input needs a gradient (every layer after the
first) on CPU tensors with 8, 16, 24 or 32 input channels (float32; 4-16 for float64), with the kernels built;
``SASTC_CONV_GRAD=0`` turns it off. Sums run in another order than oneDNN's, so gradients
agree to float rounding.
"""

from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F
from torch import nn

from sastc.train.scan import cpu_kernel, parallel

_GEOMETRY = ctypes.c_long * 13
VECTOR_BYTES = 32
MAX_VECTORS = 4  # GRAD_MAX_VECS in conv_grad_body.h


def enabled() -> bool:
    """Whether ``$SASTC_CONV_GRAD`` leaves the kernel on (unset or 1)."""
    return cpu_kernel.switched_on("SASTC_CONV_GRAD")


def library() -> ctypes.CDLL | None:
    """The kernels, where they are built and export the input gradient."""
    return cpu_kernel.library_with("conv_input_grad")


def channels_fit(channels: int, dtype: torch.dtype) -> bool:
    """Whether ``channels`` fill whole 32-byte vectors, at most :data:`MAX_VECTORS`."""
    size = channels * torch.empty((), dtype=dtype).element_size()
    return size % VECTOR_BYTES == 0 and 0 < size <= MAX_VECTORS * VECTOR_BYTES


def takes(x: torch.Tensor, conv: nn.Module) -> bool:
    """Whether :func:`conv2d` computes ``conv(x)`` for frames ``x [N, C, H, W]`` here: a plain
    strided ``nn.Conv2d`` (no groups, dilation or padding modes) on a CPU float32/64 input
    that needs a gradient, with channels that :func:`channels_fit`, the kernels built and
    not turned off. With stride 1 oneDNN's backward-data is a forward convolution in
    disguise and the faster one (4.5 ms against 6.2, 832 frames of 16 x 8 x 8, 32
    outputs)."""
    return (x.dim() == 4 and x.requires_grad and torch.is_grad_enabled()
            and cpu_kernel.runs_conv(x, conv) and serves(x.shape[1], x.dtype, conv.stride))


def serves(channels: int, dtype: torch.dtype, stride: tuple[int, int]) -> bool:
    """Whether the kernel computes the input gradient for ``channels`` input channels of
    ``dtype`` and this ``stride``: strided, channels that :func:`channels_fit`, the kernels
    built and not turned off."""
    return (tuple(stride) != (1, 1) and channels_fit(channels, dtype) and enabled()
            and library() is not None)


class Conv2dInputGrad(torch.autograd.Function):
    """``conv2d`` with the input gradient from the C kernel (see the module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.config = (stride, padding, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.config
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = input_grad(grad, weight, x.shape, stride, padding)
        if ctx.needs_input_grad[1]:
            grad_w = torch.ops.aten.convolution_backward(
                grad, x, weight, None, list(stride), list(padding), [1, 1], False, [0, 0], 1,
                [False, True, False])[1]
        if has_bias and ctx.needs_input_grad[2]:
            # a plain sum: 0.4 ms of oneDNN's 9.9 per call less (1,024 frames, 16 -> 32)
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def input_grad(grad: torch.Tensor, weight: torch.Tensor, shape: torch.Size,
                stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """``dL/dx [N, C, H, W]`` (channels-last) from ``dL/dy`` and the weight."""
    frames, channels, height, width = shape
    out_channels, _, kh, kw = weight.shape
    grad_cl = grad.permute(0, 2, 3, 1).contiguous()  # [N, OH, OW, O]
    weight_t = weight.detach().permute(2, 3, 0, 1).contiguous()  # [KH, KW, O, C]
    grad_x = grad.new_empty(frames, height, width, channels)
    geometry = _GEOMETRY(frames, channels, height, width, out_channels, kh, kw, *stride,
                         *padding, grad.shape[2], grad.shape[3])
    pointers = (grad_cl.data_ptr(), weight_t.data_ptr(), grad_x.data_ptr(), geometry)
    parallel.run(library(), "conv_input_grad", cpu_kernel.SUFFIXES[grad.dtype],
                 lambda slot: pointers, (), frames, grad[0].numel() * kh * kw)
    return grad_x.permute(0, 3, 1, 2)


def conv2d(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` through :class:`Conv2dInputGrad` (call where :func:`takes` holds)."""
    return Conv2dInputGrad.apply(x, conv.weight, conv.bias, tuple(conv.stride),
                                 tuple(conv.padding))
