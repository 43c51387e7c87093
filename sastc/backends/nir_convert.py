"""NIR nodes to sastc IR nodes, one converter per NIR node type (numpy only).

The structural nodes are converted here; the neuron nodes in
:mod:`sastc.backends.nir_neurons` (each also returns its input gain and drive, which the
importer folds into the synapse before it). Adding a neuron model is one converter there
and one entry in its :data:`~sastc.backends.nir_neurons.NEURON_CONVERTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sastc.backends.nir_neurons import NEURON_CONVERTERS, Converted
from sastc.backends.nir_reading import Reading
from sastc.errors import GraphError, InterchangeError
from sastc.ir.nodes import Affine, AvgPool2d, Conv2d, Flatten, Input, Node, Output, SumPool2d

__all__ = ["CONVERTERS", "SUPPORTED_TYPES", "Converted", "convert_node", "declared_shape"]


def declared_shape(node: Any, key: str) -> tuple[int, ...] | None:
    """The NIR node's ``input_type``/``output_type`` shape, or None where it is not stated."""
    types = getattr(node, f"{key}_type", None) or {}
    value = types.get(key)
    if value is None or np.asarray(value).size == 0:
        return None
    return tuple(int(d) for d in np.asarray(value).ravel())


def _pair(value: Any, name: str, where: str) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(value)).astype(int).ravel().tolist()
    if len(values) not in (1, 2):
        raise InterchangeError(f"{where}: {name} must be an int or a pair, got {value!r}")
    return (values[0], values[-1])


def _input(name: str, node: Any, reading: Reading) -> Converted:
    return Converted(Input(declared_shape(node, "input") or ()))


def _output(name: str, node: Any, reading: Reading) -> Converted:
    return Converted(Output(declared_shape(node, "output") or ()))


def _conv_padding(node: Any, where: str) -> tuple[int, int]:
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        kernel, stride = node.weight.shape[2:], _pair(node.stride, "stride", where)
        if padding == "valid":
            return (0, 0)
        if padding == "same" and stride == (1, 1) and all(k % 2 for k in kernel):
            return (kernel[0] // 2, kernel[1] // 2)
        raise InterchangeError(f"{where}: padding {padding!r} is supported only as 'valid', or "
                               f"'same' with stride 1 and odd kernels; got kernel {kernel}")
    return _pair(padding, "padding", where)


def _conv2d(name: str, node: Any, reading: Reading) -> Converted:
    where = f"node {name!r} (Conv2d)"
    if _pair(node.dilation, "dilation", where) != (1, 1) or int(np.asarray(node.groups)) != 1:
        raise InterchangeError(f"{where}: only dilation 1 and groups 1 are supported, got "
                               f"dilation {node.dilation}, groups {node.groups}")
    weight = np.asarray(node.weight)
    bias = np.asarray(node.bias) if node.bias is not None else None
    return Converted(Conv2d(weight, bias, _pair(node.stride, "stride", where),
                            _conv_padding(node, where)))


def _pool(cls: type[Node]) -> Callable[[str, Any, Reading], Converted]:
    def convert(name: str, node: Any, reading: Reading) -> Converted:
        where = f"node {name!r} ({cls.type_name})"
        if any(_pair(node.padding, "padding", where)):
            raise InterchangeError(f"{where}: padding must be 0, got {node.padding}")
        stride = node.stride if node.stride is not None else node.kernel_size
        return Converted(cls(_pair(node.kernel_size, "kernel_size", where),
                             _pair(stride, "stride", where)))
    return convert


def _flatten(name: str, node: Any, reading: Reading) -> Converted:
    start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))
    shape = declared_shape(node, "input")
    last = len(shape) - 1 if shape else None
    starts = (0, -len(shape)) if shape else (0,)  # -ndim: what the batch-safe flavours write
    if start not in starts or end not in (-1, last):
        raise InterchangeError(f"node {name!r} (Flatten): only flattening every dimension "
                               f"(start_dim=0 or -ndim, end_dim=-1; NIR shapes have no batch "
                               f"axis) is supported, got start_dim={start}, end_dim={end}")
    return Converted(Flatten())


def _affine(name: str, node: Any, reading: Reading) -> Converted:
    return Converted(Affine(np.asarray(node.weight), np.asarray(node.bias)))


def _linear(name: str, node: Any, reading: Reading) -> Converted:
    weight = np.asarray(node.weight)
    return Converted(Affine(weight, np.zeros(weight.shape[0], dtype=np.float32)))


CONVERTERS: dict[str, Callable[[str, Any, Reading], Converted]] = {
    "Input": _input, "Output": _output, "Conv2d": _conv2d, "SumPool2d": _pool(SumPool2d),
    "AvgPool2d": _pool(AvgPool2d), "Flatten": _flatten, "Affine": _affine, "Linear": _linear,
    **NEURON_CONVERTERS,
}
SUPPORTED_TYPES = tuple(CONVERTERS)


def convert_node(name: str, node: Any, reading: Reading, source: str) -> Converted:
    """The sastc node for NIR node ``name``; unsupported types raise :class:`InterchangeError`."""
    type_name = type(node).__name__
    if type_name not in CONVERTERS:
        what = ("a nested subgraph (NIRGraph, e.g. a recurrent snnTorch layer)"
                if type_name == "NIRGraph" else f"of type {type_name}")
        raise InterchangeError(f"{source}: node {name!r} is {what}, which sastc cannot compile; "
                               f"supported node types: {', '.join(SUPPORTED_TYPES)}")
    try:
        return CONVERTERS[type_name](name, node, reading)
    except GraphError as exc:
        raise GraphError(f"{source}: node {name!r} ({type_name}): {exc}") from exc
    except InterchangeError as exc:
        raise InterchangeError(f"{source}: {exc}") from exc
