"""Graph IR nodes: small dataclasses holding float parameters only (numpy).

Names and meanings follow NIR where they coincide. The neuron nodes are
discrete-time (one step per time bin), unlike NIR's continuous-time ones; each stands
for one model of :mod:`sastc.neurons` (its ``neuron`` attribute):

- ``LIF``: ``u_pre[t] = beta * u[t-1] + I[t]``, ``s[t] = u_pre[t] > threshold``, then
  ``u[t] = 0`` (``reset="zero"``) or ``u_pre[t] - threshold`` (``"subtract"``) after a spike
- ``IF``: the same with ``beta = 1``
- ``CubaLIF``: ``c[t] = alpha * c[t-1] + I[t]`` drives the membrane in place of ``I[t]``
- ``LI``:  ``u[t] = beta * u[t-1] + I[t]`` (non-spiking readout)

Each node validates itself in ``__post_init__`` and raises :class:`GraphError`
naming the field, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sastc.errors import GraphError
from sastc.neurons import RESETS

Shape = tuple[int, ...]


def _pair(value: Any, field_name: str, node: str) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(value)).astype(int).tolist()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise GraphError(f"{node}: {field_name} must be an int or a pair, got {value!r}")
    return int(values[0]), int(values[1])


def _array(value: Any, dtype: type = np.float32) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


@dataclass(eq=False)
class Node:
    """Base class: parameters only, no state."""

    type_name: ClassVar[str] = "Node"

    def out_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, **self.params()}


@dataclass(eq=False)
class Input(Node):
    shape: Shape
    type_name: ClassVar[str] = "Input"

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in np.atleast_1d(self.shape))
        if not self.shape or min(self.shape) < 1:
            raise GraphError(f"Input: shape must have positive sizes, got {self.shape}")


@dataclass(eq=False)
class Output(Node):
    shape: Shape
    type_name: ClassVar[str] = "Output"

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in np.atleast_1d(self.shape))


@dataclass(eq=False)
class Conv2d(Node):
    """``y = conv2d(x, weight, stride, padding) + bias``; weight ``[C_out, C_in, kH, kW]``."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    type_name: ClassVar[str] = "Conv2d"

    def __post_init__(self) -> None:
        self.weight = _array(self.weight)
        if self.weight.ndim != 4:
            raise GraphError(f"Conv2d: weight must be [C_out, C_in, kH, kW], got {self.weight.shape}")
        self.bias = _array(self.bias if self.bias is not None else np.zeros(self.weight.shape[0]))
        if self.bias.shape != (self.weight.shape[0],):
            raise GraphError(f"Conv2d: bias must have shape ({self.weight.shape[0]},), "
                             f"got {self.bias.shape}")
        self.stride = _pair(self.stride, "stride", "Conv2d")
        self.padding = _pair(self.padding, "padding", "Conv2d")
        if min(self.stride) < 1 or min(self.padding) < 0:
            raise GraphError(f"Conv2d: stride must be >= 1 and padding >= 0, "
                             f"got stride {self.stride}, padding {self.padding}")

    def out_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3 or in_shape[0] != self.weight.shape[1]:
            raise GraphError(f"Conv2d: expects input (C={self.weight.shape[1]}, H, W), got {in_shape}")
        _, h, w = in_shape
        kh, kw = self.weight.shape[2:]
        oh = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if oh < 1 or ow < 1:
            raise GraphError(f"Conv2d: kernel {kh}x{kw} does not fit input {h}x{w}")
        return (self.weight.shape[0], oh, ow)


@dataclass(eq=False)
class _Pool2d(Node):
    kernel_size: tuple[int, int]
    stride: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.kernel_size = _pair(self.kernel_size, "kernel_size", self.type_name)
        self.stride = _pair(self.stride if self.stride is not None else self.kernel_size,
                            "stride", self.type_name)
        if min(self.kernel_size) < 1:
            raise GraphError(f"{self.type_name}: kernel_size must be >= 1, got {self.kernel_size}")

    def out_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            raise GraphError(f"{self.type_name}: expects a (C, H, W) input, got {in_shape}")
        c, h, w = in_shape
        oh = (h - self.kernel_size[0]) // self.stride[0] + 1
        ow = (w - self.kernel_size[1]) // self.stride[1] + 1
        if oh < 1 or ow < 1:
            raise GraphError(f"{self.type_name}: kernel {self.kernel_size} larger than input {h}x{w}")
        return (c, oh, ow)


@dataclass(eq=False)
class SumPool2d(_Pool2d):
    """Sum over each window (no padding)."""

    type_name: ClassVar[str] = "SumPool2d"


@dataclass(eq=False)
class AvgPool2d(_Pool2d):
    """Mean over each window (no padding); folded to SumPool2d + scaled weights by ``fold``."""

    type_name: ClassVar[str] = "AvgPool2d"


@dataclass(eq=False)
class Flatten(Node):
    """Flatten (C, H, W) to (C*H*W,), C-major (the order torch and NIR use)."""

    type_name: ClassVar[str] = "Flatten"

    def out_shape(self, in_shape: Shape) -> Shape:
        return (int(np.prod(in_shape)),)


@dataclass(eq=False)
class Affine(Node):
    """``y = weight @ x + bias``; weight ``[out, in]``."""

    weight: np.ndarray
    bias: np.ndarray
    type_name: ClassVar[str] = "Affine"

    def __post_init__(self) -> None:
        self.weight = _array(self.weight)
        if self.weight.ndim != 2:
            raise GraphError(f"Affine: weight must be [out, in], got shape {self.weight.shape}")
        self.bias = _array(self.bias if self.bias is not None else np.zeros(self.weight.shape[0]))
        if self.bias.shape != (self.weight.shape[0],):
            raise GraphError(f"Affine: bias must have shape ({self.weight.shape[0]},), "
                             f"got {self.bias.shape}")

    def out_shape(self, in_shape: Shape) -> Shape:
        size = int(np.prod(in_shape))
        if size != self.weight.shape[1]:
            raise GraphError(f"Affine: expects {self.weight.shape[1]} inputs, got shape {in_shape} "
                             f"({size} values)")
        return (self.weight.shape[0],)


def _neuron_param(value: Any, name: str, node: str, low: float, high: float,
                  strict_low: bool = False) -> np.ndarray:
    array = _array(value, np.float64)
    bad = ~np.isfinite(array) | (array <= low if strict_low else array < low) | (array > high)
    if bad.any():
        first = float(array[bad].flat[0])
        bound = f"> {low}" if strict_low else f">= {low}"
        raise GraphError(f"{node}: {name} must be {bound} and <= {high}, got {first}")
    return array


def _reset(value: Any, node: str) -> str:
    reset = value.decode() if isinstance(value, bytes) else str(value)
    if reset not in RESETS:
        raise GraphError(f"{node}: reset must be one of {', '.join(RESETS)}, got {value!r}")
    return reset


@dataclass(eq=False)
class NeuronNode(Node):
    """Base class of the neuron nodes: ``neuron`` names the model in :mod:`sastc.neurons`."""

    neuron: ClassVar[str] = ""

    def layer_params(self) -> dict[str, Any]:
        """The fused layer's neuron fields: model, ``beta``, ``threshold``, ``reset``, ``alpha``
        (None where the node has no such parameter)."""
        return {"neuron": self.neuron, "beta": getattr(self, "beta", np.asarray(1.0)),
                "threshold": getattr(self, "threshold", None),
                "reset": getattr(self, "reset", "zero"),
                "alpha": getattr(self, "alpha", np.asarray(0.0))}


@dataclass(eq=False)
class LIF(NeuronNode):
    """Discrete LIF; ``beta`` and ``threshold`` scalar or per neuron/channel."""

    beta: np.ndarray
    threshold: np.ndarray
    reset: str = "zero"
    type_name: ClassVar[str] = "LIF"
    neuron: ClassVar[str] = "lif"

    def __post_init__(self) -> None:
        self.beta = _neuron_param(self.beta, "beta", "LIF", 0.0, 1.0)
        self.threshold = _neuron_param(self.threshold, "threshold", "LIF", 0.0, np.inf, True)
        self.reset = _reset(self.reset, "LIF")


@dataclass(eq=False)
class IF(NeuronNode):
    """Discrete integrate-and-fire (no leak); ``threshold`` scalar or per neuron/channel."""

    threshold: np.ndarray
    reset: str = "zero"
    type_name: ClassVar[str] = "IF"
    neuron: ClassVar[str] = "if"

    def __post_init__(self) -> None:
        self.threshold = _neuron_param(self.threshold, "threshold", "IF", 0.0, np.inf, True)
        self.reset = _reset(self.reset, "IF")


@dataclass(eq=False)
class CubaLIF(NeuronNode):
    """Discrete current-based LIF: a synaptic current with decay ``alpha`` drives the LIF."""

    beta: np.ndarray
    alpha: np.ndarray
    threshold: np.ndarray
    reset: str = "zero"
    type_name: ClassVar[str] = "CubaLIF"
    neuron: ClassVar[str] = "cuba"

    def __post_init__(self) -> None:
        self.beta = _neuron_param(self.beta, "beta", "CubaLIF", 0.0, 1.0)
        self.alpha = _neuron_param(self.alpha, "alpha", "CubaLIF", 0.0, 1.0)
        self.threshold = _neuron_param(self.threshold, "threshold", "CubaLIF", 0.0, np.inf, True)
        self.reset = _reset(self.reset, "CubaLIF")


@dataclass(eq=False)
class LI(NeuronNode):
    """Discrete non-spiking leaky integrator (readout)."""

    beta: np.ndarray
    type_name: ClassVar[str] = "LI"
    neuron: ClassVar[str] = "li"

    def __post_init__(self) -> None:
        self.beta = _neuron_param(self.beta, "beta", "LI", 0.0, 1.0)


NEURON_NODES: dict[str, type[NeuronNode]] = {cls.neuron: cls for cls in (LIF, IF, CubaLIF, LI)}
NODE_TYPES: dict[str, type[Node]] = {
    cls.type_name: cls
    for cls in (Input, Output, Conv2d, SumPool2d, AvgPool2d, Flatten, Affine, LIF, IF, CubaLIF,
                LI)
}


def node_from_dict(data: dict[str, Any]) -> Node:
    """Rebuild a node from :meth:`Node.to_dict` output."""
    params = dict(data)
    type_name = params.pop("type", None)
    if type_name not in NODE_TYPES:
        raise GraphError(f"unknown node type {type_name!r}; expected one of {sorted(NODE_TYPES)}")
    try:
        return NODE_TYPES[type_name](**params)
    except TypeError as exc:
        raise GraphError(f"{type_name}: {exc}") from exc
