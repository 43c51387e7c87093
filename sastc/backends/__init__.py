"""Emitters: turn a compiled model into files (C header, npz, NIR, ONNX).

Each emitter is a function ``emit(model: EmitInput, out_dir: Path) -> list[Path]``
registered in :data:`EMITTERS`; a target names the emitters it runs. Emitters
import their heavy dependencies (nir, onnx) lazily, so the registry itself is
cheap to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sastc.errors import TargetError
from sastc.ir.graph import Graph
from sastc.ir.layers import FloatNet
from sastc.ir.quantized import QNet


@dataclass
class EmitInput:
    """Everything an emitter may need: the float graph and net, and the integer net if any."""

    graph: Graph
    float_net: FloatNet
    qnet: QNet | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    name: str = "model"
    nir_flavor: str = "spec"  # the NIR emitter's flavour (sastc.backends.nir_flavors)


Emitter = Callable[[EmitInput, Path], list[Path]]

# name -> "module:function", imported on first use
_EMITTER_PATHS: dict[str, str] = {
    "npz": "sastc.backends.npz:emit_npz",
    "c-header": "sastc.backends.c_header:emit_c_header",
    "nir": "sastc.backends.nir_export:emit_nir",
    "onnx": "sastc.backends.onnx_export:emit_onnx",
}
EMITTERS = tuple(_EMITTER_PATHS)


def get_emitter(name: str) -> Emitter:
    """The emitter function registered as ``name``."""
    if name not in _EMITTER_PATHS:
        raise TargetError(f"unknown emitter {name!r}; available: {', '.join(EMITTERS)}")
    module_name, function = _EMITTER_PATHS[name].split(":")
    return getattr(importlib.import_module(module_name), function)
