"""The quantized network: integer parameters per fused layer, and its npz file.

Real-valued meaning of the integers of output channel ``c`` of a layer:

- weight ``w = weight_q * weight_scale[c]``
- membrane, bias and threshold ``v = v_q * weight_scale[c] / 2**frac_bits``
- leak ``beta = beta_q / 2**leak_shift``

so one step is exactly ``sastc.numerics.lif_step`` (or ``li_step``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sastc.ir.layers import Geometry, Shape
from sastc.ir.npzfile import load_npz, save_npz

QNET_FORMAT = "sastc-qnet"
QNET_VERSION = 1
_ARRAY_FIELDS = ("weight_q", "weight_scale", "bias_q", "theta_q")


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

    @property
    def weight_matrix(self) -> np.ndarray:
        """Integer weights as ``[C_out, fan_in]`` (int64)."""
        return self.weight_q.reshape(self.weight_q.shape[0], -1).astype(np.int64)

    def to_header(self) -> dict[str, Any]:
        return {"name": self.name, "geometry": self.geometry.to_dict(), "neuron": self.neuron,
                "beta_q": self.beta_q, "leak_shift": self.leak_shift, "frac_bits": self.frac_bits,
                "membrane_bits": self.membrane_bits, "weight_bits": self.weight_bits}


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
    """Read a file written by :func:`save_qnet`."""
    header, arrays = load_npz(path, QNET_FORMAT, "a compiled sastc model")
    layers = []
    for i, entry in enumerate(header["layers"]):
        params = {name: arrays[f"{i}/{name}"] for name in _ARRAY_FIELDS}
        geometry = Geometry.from_dict(entry.pop("geometry"))
        layers.append(QLayer(geometry=geometry, **entry, **params))
    return QNet(tuple(header["input_shape"]), layers, int(header["time_bins"]),
                tuple(header["classes"]), int(header["input_clip"]), header["profile"],
                header["metadata"])
