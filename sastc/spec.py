"""Architecture specs: a small, validated description of a feed-forward spiking network.

A spec is written as text, one layer per call, for example::

    conv(16, 5, stride=2) pool(2) conv(32, 3, neuron=if, reset=subtract) dense(128) readout

- ``conv(channels, kernel, stride=1, padding=kernel//2)``: 2-D convolution + spiking neurons
- ``pool(kernel)``: sum pooling of spikes (stride = kernel), no neurons
- ``dense(units)``: fully connected + spiking neurons (flattens a spatial input, C-H-W order)
- ``readout``: fully connected + non-spiking leaky integrator, one unit per class

Every spiking layer takes ``neuron`` (a model of :mod:`sastc.neurons`: ``lif``, the
default, ``if`` or ``cuba``), ``reset`` (``zero``, the default, or ``subtract``),
``beta`` (leak, 0..1; 0.9 unless given, fixed to 1 for ``if``), ``alpha`` (the synaptic
current's decay, ``cuba`` only, 0.5 unless given), ``threshold`` (> 0) and ``bias``
(True/False); the readout takes ``beta`` and ``bias``. The rule, with ``I = W s_in + b``::

    c[t] = alpha * c[t-1] + I[t]     (cuba; otherwise c[t] = I[t])
    u_pre[t] = beta * u[t-1] + c[t],  s[t] = u_pre[t] > threshold
    u[t] = 0 (zero) or u_pre[t] - threshold (subtract) after a spike, else u_pre[t]

>>> spec = parse_arch("conv(8, 3, stride=2) pool(2) dense(32) readout", (2, 32, 32), 10)
>>> [layer.kind for layer in spec.layers]
['conv', 'pool', 'dense', 'readout']
>>> spec.shapes()
[(2, 32, 32), (8, 16, 16), (8, 8, 8), (32,), (10,)]
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from sastc.errors import ConfigError
from sastc.neurons import NEURONS, neuron_model

Shape = tuple[int, ...]

DEFAULT_BETA = 0.9
DEFAULT_THRESHOLD = 1.0
DEFAULT_STEEPNESS = 5.0


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {message}")


@dataclass(frozen=True)
class Conv:
    """2-D convolution followed by spiking neurons (``neuron``, ``reset``, ``beta``, ``alpha``,
    ``threshold``: see the module docstring)."""

    channels: int
    kernel: int
    stride: int = 1
    padding: int | None = None
    bias: bool = True
    beta: float | None = None
    threshold: float = DEFAULT_THRESHOLD
    neuron: str = "lif"
    reset: str = "zero"
    alpha: float | None = None
    kind: str = field(default="conv", init=False)

    def __post_init__(self) -> None:
        _resolve_defaults(self)

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding

    def validate(self, where: str) -> None:
        _require(self.channels >= 1, where, f"channels must be >= 1, got {self.channels}")
        _require(self.kernel >= 1, where, f"kernel must be >= 1, got {self.kernel}")
        _require(self.stride >= 1, where, f"stride must be >= 1, got {self.stride}")
        _require(0 <= self.pad < self.kernel, where,
                 f"padding must be in [0, kernel - 1] = [0, {self.kernel - 1}], got {self.pad}")
        _validate_neuron(self, where)

    def out_shape(self, in_shape: Shape, where: str) -> Shape:
        _require(len(in_shape) == 3, where, f"conv needs a (C, H, W) input, got shape {in_shape}")
        _c, h, w = in_shape
        _require(self.kernel <= h and self.kernel <= w, where,
                 f"kernel {self.kernel} does not fit input {h}x{w} (larger than the input)")
        oh = (h + 2 * self.pad - self.kernel) // self.stride + 1
        ow = (w + 2 * self.pad - self.kernel) // self.stride + 1
        _require(oh >= 1 and ow >= 1, where, f"kernel {self.kernel} does not fit input {h}x{w}")
        return (self.channels, oh, ow)


@dataclass(frozen=True)
class Pool:
    """Sum pooling of spikes over ``kernel x kernel`` windows (stride = kernel)."""

    kernel: int
    kind: str = field(default="pool", init=False)

    def validate(self, where: str) -> None:
        _require(self.kernel >= 2, where, f"pool kernel must be >= 2, got {self.kernel}")

    def out_shape(self, in_shape: Shape, where: str) -> Shape:
        _require(len(in_shape) == 3, where, f"pool needs a (C, H, W) input, got shape {in_shape}")
        c, h, w = in_shape
        _require(h >= self.kernel and w >= self.kernel, where,
                 f"pool kernel {self.kernel} is larger than its input {h}x{w}")
        return (c, h // self.kernel, w // self.kernel)


@dataclass(frozen=True)
class Dense:
    """Fully connected layer followed by spiking neurons (as :class:`Conv`)."""

    units: int
    bias: bool = True
    beta: float | None = None
    threshold: float = DEFAULT_THRESHOLD
    neuron: str = "lif"
    reset: str = "zero"
    alpha: float | None = None
    kind: str = field(default="dense", init=False)

    def __post_init__(self) -> None:
        _resolve_defaults(self)

    def validate(self, where: str) -> None:
        _require(self.units >= 1, where, f"units must be >= 1, got {self.units}")
        _validate_neuron(self, where)

    def out_shape(self, in_shape: Shape, where: str) -> Shape:
        return (self.units,)


@dataclass(frozen=True)
class Readout:
    """Fully connected layer into non-spiking leaky integrators (one per class)."""

    units: int = 0
    bias: bool = True
    beta: float = DEFAULT_BETA
    kind: str = field(default="readout", init=False)

    def validate(self, where: str) -> None:
        _require(self.units >= 2, where, f"readout needs at least 2 classes, got {self.units}")
        _require(0.0 <= self.beta <= 1.0, where, f"beta must be in [0, 1], got {self.beta}")

    def out_shape(self, in_shape: Shape, where: str) -> Shape:
        return (self.units,)


Layer = Conv | Pool | Dense | Readout
LAYER_KINDS: dict[str, type] = {"conv": Conv, "pool": Pool, "dense": Dense, "readout": Readout}


def _resolve_defaults(layer: Conv | Dense) -> None:
    """``beta`` and ``alpha`` left out take the neuron model's defaults."""
    model = NEURONS.get(layer.neuron) if isinstance(layer.neuron, str) else None
    if layer.beta is None:
        object.__setattr__(layer, "beta", model.beta_default if model else DEFAULT_BETA)
    if layer.alpha is None:
        object.__setattr__(layer, "alpha", model.default_alpha if model else 0.0)


def _validate_neuron(layer: Conv | Dense, where: str) -> None:
    try:
        model = neuron_model(layer.neuron)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    _require(model.spiking, where, f"neuron {layer.neuron!r} does not spike; a {layer.kind} "
             f"layer takes one of {', '.join(n for n, m in NEURONS.items() if m.spiking)}")
    _require(isinstance(layer.threshold, (int, float)) and math.isfinite(layer.threshold)
             and layer.threshold > 0, where,
             f"threshold must be a positive number, got {layer.threshold}")
    for problem in model.problems(layer.beta, layer.alpha, layer.threshold, layer.reset):
        raise ConfigError(f"{where}: {problem}")


@dataclass(frozen=True)
class ArchSpec:
    """A validated network: input shape, layers, classes and surrogate steepness ``k``."""

    input_shape: Shape
    layers: tuple[Layer, ...]
    steepness: float = DEFAULT_STEEPNESS

    def __post_init__(self) -> None:
        _require(len(self.input_shape) == 3 and all(d >= 1 for d in self.input_shape),
                 "input", f"input shape must be (C, H, W) with positive sizes, got {self.input_shape}")
        _require(self.steepness > 0, "spec", f"surrogate steepness k must be > 0, got {self.steepness}")
        _require(len(self.layers) >= 1, "spec", "a network needs at least a readout layer")
        for index, layer in enumerate(self.layers):
            where = f"layer {index} ({layer.kind})"
            layer.validate(where)
            is_last = index == len(self.layers) - 1
            _require(isinstance(layer, Readout) == is_last, where,
                     "the readout must be the last layer, and the last layer must be a readout")
        self.shapes()

    @property
    def num_classes(self) -> int:
        return self.layers[-1].units

    def shapes(self) -> list[Shape]:
        """Activation shapes: the input, then the output of every layer."""
        shapes: list[Shape] = [tuple(self.input_shape)]
        for index, layer in enumerate(self.layers):
            shapes.append(layer.out_shape(shapes[-1], f"layer {index} ({layer.kind})"))
        return shapes

    def to_dict(self) -> dict[str, Any]:
        layers = []
        for layer in self.layers:
            entry = dataclasses.asdict(layer)
            layers.append(entry)
        return {"input_shape": list(self.input_shape), "layers": layers, "steepness": self.steepness}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchSpec:
        try:
            layers = tuple(_layer_from_dict(dict(entry), i) for i, entry in enumerate(data["layers"]))
            return cls(tuple(int(d) for d in data["input_shape"]), layers,
                       float(data.get("steepness", DEFAULT_STEEPNESS)))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"invalid architecture spec: missing or malformed field {exc}") from exc

    def describe(self) -> str:
        """The spec as text that :func:`parse_arch` reads back."""
        return " ".join(_describe_layer(layer) for layer in self.layers)


def _layer_from_dict(entry: dict[str, Any], index: int) -> Layer:
    kind = entry.pop("kind", None)
    if kind not in LAYER_KINDS:
        raise ConfigError(f"layer {index}: unknown kind {kind!r}; expected one of {sorted(LAYER_KINDS)}")
    try:
        return LAYER_KINDS[kind](**entry)
    except TypeError as exc:
        raise ConfigError(f"layer {index} ({kind}): {exc}") from exc


def _describe_layer(layer: Layer) -> str:
    positional = {"conv": ("channels", "kernel"), "pool": ("kernel",), "dense": ("units",),
                  "readout": ()}[layer.kind]
    defaults = {f.name: f.default for f in dataclasses.fields(layer)}
    if isinstance(layer, (Conv, Dense)):
        model = neuron_model(layer.neuron)
        defaults |= {"beta": model.beta_default, "alpha": model.default_alpha}
    args = [str(getattr(layer, name)) for name in positional]
    for f in dataclasses.fields(layer):
        value = getattr(layer, f.name)
        if f.name in positional or f.name in ("kind", "units") or value == defaults[f.name]:
            continue
        args.append(f"{f.name}={value}")
    return f"{layer.kind}({', '.join(args)})" if args else layer.kind


_CALL = re.compile(r"\s*([a-z]+)\s*(?:\(([^()]*)\))?\s*,?")
_NAMED_VALUE = re.compile(r"\b(neuron|reset)\s*=\s*([A-Za-z_]\w*)")  # neuron=if: a name, not code
_NEURON_ARGS = "neuron=lif|if|cuba, reset=zero|subtract, beta=, alpha=, threshold=, bias="
USAGE = {"conv": f"conv(channels, kernel, stride=1, padding=kernel//2, {_NEURON_ARGS})",
         "pool": "pool(kernel)", "dense": f"dense(units, {_NEURON_ARGS})",
         "readout": "readout or readout(beta=, bias=)"}


def parse_arch(text: str, input_shape: Shape, num_classes: int,
               steepness: float = DEFAULT_STEEPNESS) -> ArchSpec:
    """Parse the layer text (see module docstring) for a dataset's shape and classes."""
    layers: list[Layer] = []
    position = 0
    text = text.strip()
    if not text:
        raise ConfigError("architecture spec is empty; expected calls like "
                          "conv(16, 5) pool(2) dense(128) readout (or leave --arch out for the "
                          "dataset's default)")
    while position < len(text):
        match = _CALL.match(text, position)
        if not match or match.end() == position or text[match.end():match.end() + 1] == "(":
            raise ConfigError(f"architecture spec: cannot parse {text[position:]!r}; "
                              "expected calls like conv(16, 5) pool(2) dense(128) readout")
        layers.append(_parse_call(match.group(1), match.group(2) or "", len(layers), num_classes))
        position = match.end()
    if not layers or layers[-1].kind != "readout":
        layers.append(Readout(units=num_classes))
    return ArchSpec(tuple(input_shape), tuple(layers), steepness)


def _parse_call(kind: str, arg_text: str, index: int, num_classes: int) -> Layer:
    if kind not in LAYER_KINDS:
        raise ConfigError(f"architecture spec, layer {index}: unknown layer {kind!r}; "
                          f"expected one of {sorted(LAYER_KINDS)}")
    quoted = _NAMED_VALUE.sub(r'\1="\2"', arg_text)
    try:
        call = ast.parse(f"f({quoted})", mode="eval").body
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError) as exc:
        raise ConfigError(f"architecture spec, layer {index} ({kind}): cannot read arguments "
                          f"{arg_text!r}") from exc
    if kind == "readout":
        kwargs.setdefault("units", num_classes)
    try:
        return LAYER_KINDS[kind](*args, **kwargs)
    except TypeError as exc:
        reason = str(exc).split(".__init__()")[-1].strip()
        raise ConfigError(f"architecture spec, layer {index} ({kind}): {reason}; "
                          f"expected {USAGE[kind]}") from exc
