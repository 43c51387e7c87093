"""Event-driven convolution of sparse input frames on CPU (``event_conv_body.h``).

Event frames are mostly zeros (N-MNIST in 16 time bins: 5.7 % non-zero pixels; in 64:
2.5 %), yet a dense convolution multiplies every zero. The C kernel instead scatters each
non-zero input into the outputs it reaches, and its weight gradient walks the same pairs::

    out[t, b, :, oy, ox]  = bias + sum_{c, ky, kx} W[:, c, ky, kx] x[t, b, c, y, x]
    dL/dW[:, c, ky, kx]   = sum_{t, b, oy, ox} dL/dout[t, b, :, oy, ox] x[t, b, c, y, x]

over ``y = oy stride + ky - pad`` (and ``x`` alike), skipping every ``x = 0``: the work is
proportional to the events, not the pixels. It runs where the frames are at most
:data:`MAX_DENSITY` non-zero (the network's input, and the binary spikes of hidden layers
with hard or conventional spikes) and the kernels are built
(:mod:`sastc.train.scan.cpu_build`); ``SASTC_EVENT_CONV=0`` turns it off. Where the
frames need a gradient (hidden layers) it is dense, from the input-gradient kernel of
:mod:`sastc.train.conv_grad` or oneDNN's.
The output is ``[T, B, O, OH, OW]`` laid out channels-last per frame, as the convolution
it replaces writes it. Sums run in another order than oneDNN's, so results agree to float
rounding, not bit for bit.
"""

from __future__ import annotations

import ctypes

import torch
from torch import nn

from sastc.train import conv_grad
from sastc.train.scan import cpu_kernel, parallel
from sastc.train.scan.rule import ScanRule

MAX_DENSITY = 0.10  # event frames are far sparser; above it the dense convolution runs
_LONGS = ctypes.c_long * 10


def enabled() -> bool:
    """Whether ``$SASTC_EVENT_CONV`` leaves the event-driven convolution on (unset or 1)."""
    return cpu_kernel.switched_on("SASTC_EVENT_CONV")


def _library() -> ctypes.CDLL | None:
    return cpu_kernel.library_with("event_lif_forward")


def available() -> bool:
    """Whether the event-driven kernels are built and not turned off."""
    return enabled() and _library() is not None


def takes(frames: torch.Tensor, conv: nn.Module) -> bool:
    """Whether the kernel computes ``conv(frames)`` for ``frames [T, B, C, H, W]`` (CPU,
    float32/64) and a plain ``nn.Conv2d`` (no groups, dilation or padding modes), with the
    kernels built and not turned off."""
    return frames.dim() == 5 and cpu_kernel.runs_conv(frames, conv) and available()


def sparse_enough(frames: torch.Tensor, every: int = 8) -> bool:
    """Whether at most :data:`MAX_DENSITY` of ``frames [T, B, ...]`` is non-zero, judged on
    every ``every``-th sample (the choice only changes the speed, not the result)."""
    sample = frames[:, ::every]
    return int(torch.count_nonzero(sample)) <= MAX_DENSITY * sample.numel()


def output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """A convolution's output length along one axis."""
    return (size + 2 * pad - kernel) // stride + 1


def _geometry(frames: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int],
              padding: tuple[int, int], pool: int = 1
              ) -> tuple[ctypes.Array, ctypes.Array, ctypes.Array]:
    """The kernel's ``shape`` (T, B, C, H, W), input strides and ``conv`` (O, KH, KW, sy,
    sx, py, px, OH, OW, pool) arrays. With ``pool > 1`` the output is cropped to whole
    pooling windows: the bottom rows and right columns the pooling drops reach no later
    layer, so their neurons are neither scattered into nor stepped (17 x 17 -> 16 x 16 on
    N-MNIST's first layer, 11 % of its neurons)."""
    out_channels, _, kh, kw = weight.shape
    oh = output_size(frames.shape[3], kh, stride[0], padding[0]) // pool * pool
    ow = output_size(frames.shape[4], kw, stride[1], padding[1]) // pool * pool
    return (_LONGS(*frames.shape), _LONGS(*frames.stride()),
            _LONGS(out_channels, kh, kw, *stride, *padding, oh, ow, pool))


class EventConv(torch.autograd.Function):
    """``conv2d`` of frames ``[T, B, C, H, W]`` that need no gradient; gradients for the
    weight and bias."""

    @staticmethod
    def forward(ctx, frames: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
        shape, strides, conv = _geometry(frames, weight, stride, padding)
        steps, batch = frames.shape[:2]
        out_channels, oh, ow = conv[0], conv[7], conv[8]
        weight_t = weight.detach().permute(1, 2, 3, 0).contiguous()  # [C, KH, KW, O]
        out = frames.new_empty(steps, batch, oh, ow, out_channels)
        bias_c = bias.detach().contiguous() if bias is not None else None
        bias_ptr = bias_c.data_ptr() if bias_c is not None else None
        parallel.run(_library(), "event_conv_forward", cpu_kernel.SUFFIXES[frames.dtype],
                     lambda slot: (frames.data_ptr(), shape, strides, weight_t.data_ptr(),
                                   bias_ptr, out.data_ptr(), conv),
                     (), steps * batch, frames[0, 0].numel())
        ctx.save_for_backward(frames, weight)
        ctx.geometry = (shape, strides, conv, weight.shape, bias is not None, stride, padding)
        return out.permute(0, 1, 4, 2, 3)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        frames, weight = ctx.saved_tensors
        shape, strides, conv, weight_shape, has_bias, stride, padding = ctx.geometry
        grad = grad_out.permute(0, 1, 3, 4, 2).contiguous()  # [T, B, OH, OW, O]
        steps, batch = frames.shape[:2]
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _input_grad(grad, frames.shape, weight, stride, padding)
        out_channels, in_channels, kh, kw = weight_shape
        slots = len(parallel.ranges(steps * batch, frames[0, 0].numel()))
        grad_w = frames.new_zeros(slots, in_channels, kh, kw, out_channels)
        grad_b = frames.new_zeros(slots, out_channels)
        parallel.run(_library(), "event_conv_weight_grad", cpu_kernel.SUFFIXES[frames.dtype],
                     lambda slot: (frames.data_ptr(), shape, strides, grad.data_ptr(),
                                   grad_w[slot].data_ptr(), grad_b[slot].data_ptr(), conv),
                     (), steps * batch, frames[0, 0].numel())
        weight_grad = grad_w.sum(0).permute(3, 0, 1, 2).contiguous()
        return grad_x, weight_grad, grad_b.sum(0) if has_bias else None, None, None


def _input_grad(grad: torch.Tensor, shape: torch.Size, weight: torch.Tensor,
                stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """``dL/dframes [T, B, C, H, W]`` from ``dL/dout [T, B, OH, OW, O]``: dense (a gradient
    has no events), from :mod:`sastc.train.conv_grad`'s kernel where it takes the geometry,
    else oneDNN's backward-data pass."""
    steps, batch = shape[:2]
    folded = grad.flatten(0, 1).permute(0, 3, 1, 2)  # [T B, O, OH, OW], channels-last
    size = torch.Size((steps * batch, *shape[2:]))
    if conv_grad.serves(shape[2], grad.dtype, stride):
        grad_x = conv_grad.input_grad(folded, weight, size, stride, padding)
    else:
        # a channels-last weight makes oneDNN keep the gradient's layout: with a plain one it
        # converts the gradient and runs its slower plain-layout kernel (15 against 45-60 ms,
        # 4,096 frames of 32 x 8 x 8 to 16 channels, stride 1)
        weight_cl = weight.detach().contiguous(memory_format=torch.channels_last)
        grad_x = torch.nn.grad.conv2d_input(size, weight_cl, folded, stride, padding)
    return grad_x.unflatten(0, (steps, batch))


def event_conv(frames: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` applied to every frame of ``frames [T, B, C, H, W]`` by :class:`EventConv`
    (call where :func:`takes` and :func:`sparse_enough` hold)."""
    return EventConv.apply(frames, conv.weight, conv.bias, tuple(conv.stride),
                           tuple(conv.padding))


def _check(statuses: list) -> None:
    if any(statuses):
        raise MemoryError("the event-driven layer could not allocate its per-thread buffers")


class EventLIF(torch.autograd.Function):
    """A convolution of frames ``[T, B, C, H, W]`` that need no gradient and the neuron scan
    of ``rule`` in one pass (``event_lif_body.h``): spikes ``[T, B, O, OH, OW]``, or with
    ``pool > 1`` their sums over ``pool x pool`` windows ``[T, B, O, OH/pool, OW/pool]``;
    gradients for the weight and bias. The same function as :class:`EventConv` followed by
    ``sastc.train.scan.cpu_kernel.FusedScan`` (and ``avg_pool2d(s, pool) * pool^2``)."""

    @staticmethod
    def forward(ctx, frames: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                stride: tuple[int, int], padding: tuple[int, int], rule: ScanRule,
                keep_u_pre: bool, pool: int) -> torch.Tensor:
        shape, strides, conv = _geometry(frames, weight, stride, padding, pool)
        steps, batch = frames.shape[:2]
        weight_t = weight.detach().permute(1, 2, 3, 0).contiguous()  # [C, KH, KW, O]
        bias_c = bias.detach().contiguous() if bias is not None else None
        spikes = frames.new_empty(steps, batch, conv[7] // pool, conv[8] // pool, conv[0])
        bias_ptr = bias_c.data_ptr() if bias_c is not None else None
        u_pre = (frames.new_empty(steps, batch, conv[7], conv[8], conv[0]) if keep_u_pre
                 else None)
        pointers = (frames.data_ptr(), shape, strides, weight_t.data_ptr(), bias_ptr, conv,
                    spikes.data_ptr(), u_pre.data_ptr() if u_pre is not None else None)
        _check(parallel.run(_library(), "event_lif_forward", cpu_kernel.SUFFIXES[frames.dtype],
                            lambda slot: pointers, cpu_kernel.constants(rule), batch,
                            steps * frames[0, 0].numel()))
        ctx.save_for_backward(frames, u_pre, spikes)
        ctx.geometry = (shape, strides, conv, weight.shape, bias is not None, rule)
        return spikes.permute(0, 1, 4, 2, 3)

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):
        frames, u_pre, spikes = ctx.saved_tensors
        shape, strides, conv, weight_shape, has_bias, rule = ctx.geometry
        if u_pre is None:
            raise RuntimeError("EventLIF ran without keeping u_pre (no gradient was wanted)")
        grad = grad_spikes.permute(0, 1, 3, 4, 2).contiguous()  # as spikes: [T, B, OH, OW, O]
        spikes = spikes if conv[9] == 1 else u_pre  # pooled: the kernel recomputes them
        steps, batch = frames.shape[:2]
        out_channels, in_channels, kh, kw = weight_shape
        slots = len(parallel.ranges(batch, steps * frames[0, 0].numel()))
        grad_w = frames.new_zeros(slots, in_channels, kh, kw, out_channels)
        grad_b = frames.new_zeros(slots, out_channels)
        _check(parallel.run(_library(), "event_lif_backward", cpu_kernel.SUFFIXES[frames.dtype],
                            lambda slot: (frames.data_ptr(), shape, strides, grad.data_ptr(),
                                          u_pre.data_ptr(), spikes.data_ptr(),
                                          grad_w[slot].data_ptr(), grad_b[slot].data_ptr(),
                                          conv),
                            cpu_kernel.constants(rule), batch, steps * frames[0, 0].numel()))
        weight_grad = grad_w.sum(0).permute(3, 0, 1, 2).contiguous()
        return (None, weight_grad, grad_b.sum(0) if has_bias else None, None, None, None,
                None, None)


def event_lif(frames: torch.Tensor, conv: nn.Conv2d, rule: ScanRule, pool: int = 1
              ) -> torch.Tensor:
    """Spikes of ``rule``'s neurons driven by ``conv`` of ``frames [T, B, C, H, W]`` (summed
    over ``pool x pool`` windows when ``pool > 1``), by :class:`EventLIF` (call where
    :func:`takes` and :func:`sparse_enough` hold)."""
    needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in conv.parameters())
    return EventLIF.apply(frames, conv.weight, conv.bias, tuple(conv.stride),
                          tuple(conv.padding), rule, needs_grad, pool)
