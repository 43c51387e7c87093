"""The quantized network: integer parameters per fused layer, and its npz file.

Real-valued meaning of the integers of output channel ``c`` of a layer:

- weight ``w = weight_q * weight_scale[c]``
- membrane, bias and threshold ``v = v_q * weight_scale[c] / 2**frac_bits``
- leak ``beta = beta_q / 2**leak_shift``; synaptic current decay ``alpha = alpha_q /
  2**leak_shift`` (``cuba`` layers)

so one step is exactly the integer rule of the layer's neuron model (``sastc.numerics``,
``sastc.neurons``). Files written before layers named a reset or a current decay read as
reset to zero without a current.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sastc.errors import CheckpointError, CompileError, ConfigError
from sastc.ir.layers import Geometry, Shape
from sastc.ir.npzfile import load_npz, save_npz
from sastc.neurons import neuron_model
from sastc.synapses import backend_entry

QNET_FORMAT = "sastc-qnet"
QNET_VERSION = 1
_ARRAY_FIELDS = ("weight_q", "weight_scale", "bias_q", "theta_q")
_INT_FIELDS = ("beta_q", "leak_shift", "frac_bits", "membrane_bits", "weight_bits")
_INT_RANGES = {"weight_bits": (2, 8), "membrane_bits": (2, 31), "leak_shift": (0, 30),
               "frac_bits": (0, 30)}


@dataclass
class QLayer:
    """One compiled layer: geometry and integer parameters."""

    name: str
    geometry: Geometry
    neuron: str
    weight_q: np.ndarray
    weight_scale: np.ndarray
    bias_q: np.ndarray
    theta_q: np.ndarray
    beta_q: int
    leak_shift: int
    frac_bits: int
    membrane_bits: int
    weight_bits: int
    reset: str = "zero"
    alpha_q: int = 0

    @property
    def weight_matrix(self) -> np.ndarray:
        """Integer weights as ``[C_out, fan_in]`` (int64)."""
        return self.weight_q.reshape(self.weight_q.shape[0], -1).astype(np.int64)

    def to_header(self) -> dict[str, Any]:
        return {"name": self.name, "geometry": self.geometry.to_dict(), "neuron": self.neuron,
                "beta_q": self.beta_q, "leak_shift": self.leak_shift, "frac_bits": self.frac_bits,
                "membrane_bits": self.membrane_bits, "weight_bits": self.weight_bits,
                "reset": self.reset, "alpha_q": self.alpha_q}


@dataclass
class QNet:
    """A compiled network; ``profile`` holds the numeric profile it was built with."""

    input_shape: Shape
    layers: list[QLayer]
    time_bins: int
    classes: tuple[str, ...]
    input_clip: int = 1
    profile: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def readout(self) -> str:
        return self.layers[-1].neuron


def save_qnet(qnet: QNet, path: str | Path) -> Path:
    """Write ``qnet`` as an npz file atomically (the ``npz`` emitter's format)."""
    header = {"input_shape": list(qnet.input_shape), "time_bins": qnet.time_bins,
              "classes": list(qnet.classes), "input_clip": qnet.input_clip,
              "profile": qnet.profile, "metadata": qnet.metadata,
              "layers": [layer.to_header() for layer in qnet.layers]}
    arrays = {f"{i}/{name}": getattr(layer, name)
              for i, layer in enumerate(qnet.layers) for name in _ARRAY_FIELDS}
    return save_npz(path, QNET_FORMAT, QNET_VERSION, header, arrays)


def load_qnet(path: str | Path) -> QNet:
    """Read a file written by :func:`save_qnet`, checked by :func:`check_qnet`; anything
    malformed raises :class:`CheckpointError` naming the file, the layer and the field."""
    header, arrays = load_npz(path, QNET_FORMAT, "a compiled sastc model")
    try:
        layers = [_layer(entry, arrays, i) for i, entry in enumerate(header["layers"])]
        qnet = QNet(tuple(int(d) for d in header["input_shape"]), layers,
                    int(header["time_bins"]), tuple(str(c) for c in header["classes"]),
                    int(header["input_clip"]), dict(header["profile"]),
                    dict(header["metadata"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: a malformed compiled model ({type(exc).__name__}: "
                              f"{exc}); compile it again") from exc
    try:
        check_qnet(qnet)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}; the file was edited or damaged, compile it "
                              "again") from exc
    return qnet


def _layer(entry: dict[str, Any], arrays: dict[str, np.ndarray], index: int) -> QLayer:
    entry = dict(entry)
    params = {name: arrays[f"{index}/{name}"] for name in _ARRAY_FIELDS}
    geometry = Geometry.from_dict(entry.pop("geometry"))
    ints = {key: int(entry.pop(key)) for key in _INT_FIELDS}
    model = {"reset": str(entry.pop("reset", "zero")), "alpha_q": int(entry.pop("alpha_q", 0))}
    return QLayer(str(entry.pop("name")), geometry, str(entry.pop("neuron")), **ints, **params,
                  **model, **entry)


def check_qnet(qnet: QNet) -> None:
    """The invariants the integer semantics (``sastc.numerics``) and the C runtime need;
    raises ``ValueError`` with what is wrong.

    Shape and header: ``input_clip`` in 1..255, ``time_bins >= 1``, each layer reading
    what the one before writes and the last giving one output per class.
    """
    _need(len(qnet.input_shape) == 3 and min(qnet.input_shape) >= 1,
          f"input_shape must be (C, H, W), got {qnet.input_shape}")
    _need(qnet.time_bins >= 1, f"time_bins must be >= 1, got {qnet.time_bins}")
    _need(1 <= qnet.input_clip <= 255, f"input_clip must be in 1..255, got {qnet.input_clip}")
    _need(len(qnet.layers) >= 1, "the model has no layers")
    previous = tuple(qnet.input_shape)
    for layer in qnet.layers:
        _need(tuple(layer.geometry.in_shape) == previous, f"layer {layer.name!r} reads "
              f"{layer.geometry.in_shape} but receives {previous}")
        check_qlayer(layer)
        previous = tuple(layer.geometry.out_shape)
    outputs = int(np.prod(previous))
    _need(outputs == len(qnet.classes), f"the last layer has {outputs} outputs for "
          f"{len(qnet.classes)} classes")


def check_qlayer(layer: QLayer) -> None:
    """One layer: widths, signs, dtypes and shapes of its integers."""
    where = f"layer {layer.name!r}"
    for field_name, (low, high) in _INT_RANGES.items():
        value = getattr(layer, field_name)
        _need(low <= value <= high, f"{where}: {field_name} must be in {low}..{high}, got {value}")
    _check_model(layer, where)
    _need(layer.membrane_bits - 1 + layer.leak_shift <= 31, f"{where}: membrane_bits - 1 + "
          f"leak_shift must be <= 31 (32-bit leak multiply)")
    _need(0 <= layer.beta_q <= 1 << layer.leak_shift, f"{where}: beta_q {layer.beta_q} is "
          f"outside 0..2^leak_shift")
    _check_arrays(layer, where)


def _check_model(layer: QLayer, where: str) -> None:
    """A registered neuron model, with a reset it takes and a current decay only if it has a
    current."""
    try:
        model = neuron_model(layer.neuron)
    except ConfigError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    _need(layer.reset in model.resets, f"{where}: reset must be one of "
          f"{', '.join(model.resets)} for {layer.neuron}, got {layer.reset!r}")
    _need(0 <= layer.alpha_q <= 1 << layer.leak_shift, f"{where}: alpha_q {layer.alpha_q} is "
          f"outside 0..2^leak_shift")
    _need(model.has_current or layer.alpha_q == 0, f"{where}: alpha_q must be 0 for "
          f"{layer.neuron} (no synaptic current), got {layer.alpha_q}")
    fixed = model.fixed_beta
    _need(fixed is None or layer.beta_q == round(fixed * (1 << layer.leak_shift)),
          f"{where}: beta_q must be {fixed} * 2^leak_shift for {layer.neuron}, got {layer.beta_q}")


def _check_arrays(layer: QLayer, where: str) -> None:
    geometry, channels = layer.geometry, layer.geometry.out_channels
    for name in ("weight_q", "bias_q", "theta_q"):
        _need(np.issubdtype(getattr(layer, name).dtype, np.integer),
              f"{where}: {name} must be integers, got {getattr(layer, name).dtype}")
    try:
        shape = backend_entry("weight_shape", geometry.op, "the compiled model",
                              layer.name)(geometry)
    except (CompileError, ConfigError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    _need(layer.weight_q.shape == shape, f"{where}: weight_q has shape "
          f"{layer.weight_q.shape}, the geometry needs {shape}")
    levels = (1 << (layer.weight_bits - 1)) - 1
    _need(int(np.abs(layer.weight_q).max(initial=0)) <= levels, f"{where}: weight_q exceeds "
          f"+-{levels}, the {layer.weight_bits}-bit range")
    for name in ("weight_scale", "bias_q", "theta_q"):
        _need(getattr(layer, name).shape == (channels,), f"{where}: {name} has shape "
              f"{getattr(layer, name).shape}, expected ({channels},)")
    scale = layer.weight_scale
    _need(np.issubdtype(scale.dtype, np.floating) and bool(np.all(np.isfinite(scale)))
          and bool(np.all(scale > 0)), f"{where}: weight_scale must be finite and > 0")
    limit = 1 << (layer.membrane_bits - 1)
    _need(int(np.abs(layer.bias_q).max(initial=0)) < limit, f"{where}: bias_q exceeds the "
          f"{layer.membrane_bits}-bit membrane")
    if neuron_model(layer.neuron).spiking:
        low = int(layer.theta_q.min(initial=0))
        _need(low >= 0, f"{where}: theta_q holds negative thresholds (min {low}); a threshold "
              "must be >= 0")
        _need(int(layer.theta_q.max(initial=0)) < limit, f"{where}: theta_q exceeds the "
              f"{layer.membrane_bits}-bit membrane")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
