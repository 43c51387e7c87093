"""NIR nodes to sastc IR nodes, one converter per NIR node type (numpy only).

A neuron converter also returns the neuron's input gain ``g`` and constant
drive ``d`` per step (:mod:`sastc.backends.nir_convention`); the importer
folds them into the synapse before it: ``I = g * (W x + b) + d``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sastc.backends.nir_convention import (
    GAIN_TOLERANCE,
    beta_from_tau,
    leak_drive,
    lif_gain,
    snap_to_one,
)
from sastc.errors import GraphError, InterchangeError
from sastc.ir.nodes import (
    LI,
    LIF,
    Affine,
    AvgPool2d,
    Conv2d,
    Flatten,
    Input,
    Node,
    Output,
    SumPool2d,
)


@dataclass
class Converted:
    """A sastc node, plus the gain and drive a neuron needs folded into its synapse."""

    node: Node
    gain: np.ndarray | None = None
    drive: np.ndarray | None = None

    @property
    def needs_folding(self) -> bool:
        gain_is_one = self.gain is None or bool(np.all(self.gain == 1.0))
        return not gain_is_one or (self.drive is not None and bool(np.any(self.drive != 0.0)))


def declared_shape(node: Any, key: str) -> tuple[int, ...] | None:
    """The NIR node's ``input_type``/``output_type`` shape, or None where it is not stated."""
    types = getattr(node, f"{key}_type", None) or {}
    value = types.get(key)
    if value is None or np.asarray(value).size == 0:
        return None
    return tuple(int(d) for d in np.asarray(value).ravel())


def _array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _compact(values: np.ndarray) -> np.ndarray:
    """One value when all neurons share it (the common case), else the array.

    >>> _compact(np.full((2, 3), 0.5)).shape, _compact(np.array([1.0, 2.0])).shape
    ((), (2,))
    """
    flat = np.ravel(values)
    return np.asarray(flat[0]) if flat.size and np.all(flat == flat[0]) else np.asarray(values)


def _pair(value: Any, name: str, where: str) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(value)).astype(int).ravel().tolist()
    if len(values) not in (1, 2):
        raise InterchangeError(f"{where}: {name} must be an int or a pair, got {value!r}")
    return (values[0], values[-1])


def _input(name: str, node: Any, dt: float) -> Converted:
    return Converted(Input(declared_shape(node, "input") or ()))


def _output(name: str, node: Any, dt: float) -> Converted:
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


def _conv2d(name: str, node: Any, dt: float) -> Converted:
    where = f"node {name!r} (Conv2d)"
    if _pair(node.dilation, "dilation", where) != (1, 1) or int(np.asarray(node.groups)) != 1:
        raise InterchangeError(f"{where}: only dilation 1 and groups 1 are supported, got "
                               f"dilation {node.dilation}, groups {node.groups}")
    weight = np.asarray(node.weight)
    bias = np.asarray(node.bias) if node.bias is not None else None
    return Converted(Conv2d(weight, bias, _pair(node.stride, "stride", where),
                            _conv_padding(node, where)))


def _pool(cls: type[Node]) -> Callable[[str, Any, float], Converted]:
    def convert(name: str, node: Any, dt: float) -> Converted:
        where = f"node {name!r} ({cls.type_name})"
        if any(_pair(node.padding, "padding", where)):
            raise InterchangeError(f"{where}: padding must be 0, got {node.padding}")
        stride = node.stride if node.stride is not None else node.kernel_size
        return Converted(cls(_pair(node.kernel_size, "kernel_size", where),
                             _pair(stride, "stride", where)))
    return convert


def _flatten(name: str, node: Any, dt: float) -> Converted:
    start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))
    shape = declared_shape(node, "input")
    last = len(shape) - 1 if shape else None
    if start != 0 or end not in (-1, last):
        raise InterchangeError(f"node {name!r} (Flatten): only flattening every dimension "
                               f"(start_dim=0, end_dim=-1; NIR shapes have no batch axis) is "
                               f"supported, got start_dim={start}, end_dim={end}")
    return Converted(Flatten())


def _affine(name: str, node: Any, dt: float) -> Converted:
    return Converted(Affine(np.asarray(node.weight), np.asarray(node.bias)))


def _linear(name: str, node: Any, dt: float) -> Converted:
    weight = np.asarray(node.weight)
    return Converted(Affine(weight, np.zeros(weight.shape[0], dtype=np.float32)))


def _checked_tau(name: str, node: Any, dt: float) -> np.ndarray:
    tau = _array(node.tau)
    if not np.all(np.isfinite(tau)) or np.any(tau < dt * (1.0 - GAIN_TOLERANCE)):
        raise InterchangeError(f"node {name!r} ({type(node).__name__}): tau must be finite and "
                               f">= dt = {dt:g} (beta = 1 - dt/tau in [0, 1]), got "
                               f"min {float(tau.min()):g}")
    return tau


def _beta(tau: np.ndarray, dt: float) -> np.ndarray:
    """``1 - dt/tau`` clipped to [0, 1] (``tau`` a float32 rounding below ``dt`` gives 0)."""
    return np.clip(beta_from_tau(tau, dt), 0.0, 1.0)


def _checked_reset(name: str, node: Any) -> None:
    reset = _array(node.v_reset)
    if np.any(reset != 0.0):
        raise InterchangeError(f"node {name!r} ({type(node).__name__}): v_reset must be 0 "
                               f"(sastc resets the membrane to zero), got "
                               f"{float(reset[reset != 0].flat[0]):g}")


def _lif(name: str, node: Any, dt: float) -> Converted:
    _checked_reset(name, node)
    tau = _checked_tau(name, node, dt)
    neuron = LIF(_compact(_beta(tau, dt)), _compact(_array(node.v_threshold)))
    return Converted(neuron, lif_gain(tau, node.r, dt), leak_drive(tau, node.v_leak, dt))


def _li(name: str, node: Any, dt: float) -> Converted:
    tau = _checked_tau(name, node, dt)
    neuron = LI(_compact(_beta(tau, dt)))
    return Converted(neuron, lif_gain(tau, node.r, dt), leak_drive(tau, node.v_leak, dt))


def _if(name: str, node: Any, dt: float) -> Converted:
    _checked_reset(name, node)
    return Converted(LIF(1.0, _compact(_array(node.v_threshold))), snap_to_one(node.r))


def _integrator(name: str, node: Any, dt: float) -> Converted:
    return Converted(LI(1.0), snap_to_one(node.r))


CONVERTERS: dict[str, Callable[[str, Any, float], Converted]] = {
    "Input": _input, "Output": _output, "Conv2d": _conv2d, "SumPool2d": _pool(SumPool2d),
    "AvgPool2d": _pool(AvgPool2d), "Flatten": _flatten, "Affine": _affine, "Linear": _linear,
    "LIF": _lif, "LI": _li, "IF": _if, "I": _integrator,
}
SUPPORTED_TYPES = tuple(CONVERTERS)


def convert_node(name: str, node: Any, dt: float, source: str) -> Converted:
    """The sastc node for NIR node ``name``; unsupported types raise :class:`InterchangeError`."""
    type_name = type(node).__name__
    if type_name not in CONVERTERS:
        what = ("a nested subgraph (NIRGraph, e.g. a recurrent snnTorch layer)"
                if type_name == "NIRGraph" else f"of type {type_name}")
        raise InterchangeError(f"{source}: node {name!r} is {what}, which sastc cannot compile; "
                               f"supported node types: {', '.join(SUPPORTED_TYPES)}")
    try:
        return CONVERTERS[type_name](name, node, dt)
    except GraphError as exc:
        raise GraphError(f"{source}: node {name!r} ({type_name}): {exc}") from exc
    except InterchangeError as exc:
        raise InterchangeError(f"{source}: {exc}") from exc
