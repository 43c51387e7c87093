"""Step an exported one-step ONNX model (``sastc.backends.onnx_export``) with onnxruntime.

:meth:`OnnxRunner.run` feeds the frames of each time bin with the state of the
previous step (membranes, and the synaptic currents of CubaLIF layers) and returns a
:class:`SimOutput` laid out as the simulators': spikes ``bool [T, B, *out_shape]`` of
every spiking layer, the readout membrane ``[T, B, classes]``
and logits ``[B, classes]`` (float LI: mean over time; integer LI: sum over
time; spiking readout: summed spikes). onnxruntime is imported on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sastc.errors import DataError, InterchangeError
from sastc.neurons import is_spiking
from sastc.sim.common import SimOutput

META_PREFIX = "sastc."
REQUIRED_META = ("format", "kind", "layers", "time_bins", "input_clip", "readout")
STATE_DTYPES = {"float": np.float32, "integer": np.int64}


def _load_model(path: Path) -> Any:
    """The parsed and checked ONNX model; any failure names the file."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise InterchangeError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, OSError, ValueError, RuntimeError) as exc:
        raise InterchangeError(f"{path}: not a valid ONNX model ({type(exc).__name__}: "
                               f"{str(exc).strip()[:200]})") from exc
    return model


def _step_metadata(model: Any, path: Path) -> dict[str, str]:
    props = {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
             if p.key.startswith(META_PREFIX)}
    missing = [key for key in REQUIRED_META if key not in props]
    if missing or props.get("format") != "sastc-step" or props["kind"] not in STATE_DTYPES:
        raise InterchangeError(f"{path}: not a sastc one-step model (metadata {META_PREFIX}* "
                               f"missing {missing or 'a valid format/kind'}); export it with "
                               "`sastc compile --target onnx`")
    return props


def _ort_errors() -> tuple[type[BaseException], ...]:
    """onnxruntime's own exception classes (they derive from Exception directly)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile",
             "NotImplemented", "RuntimeException", "EngineError", "EPFail")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


def _session(model: Any, path: Path) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except _ort_errors() as exc:
        raise InterchangeError(f"{path}: onnxruntime cannot load the model "
                               f"({type(exc).__name__}: {str(exc).strip()[:200]})") from exc


class OnnxRunner:
    """Runs a sastc one-step ONNX file over frames ``uint8 [B, T, C, H, W]``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        model = _load_model(self.path)
        meta = _step_metadata(model, self.path)
        self.kind = meta["kind"]
        self.layers: list[dict[str, Any]] = json.loads(meta["layers"])
        self.readout = meta["readout"]
        self.session = _session(model, self.path)
        self.dtype = STATE_DTYPES[self.kind]

    def _initial_state(self, batch: int) -> dict[str, np.ndarray]:
        states = {name: np.zeros((batch, *layer["out_shape"]), self.dtype)
                  for i, layer in enumerate(self.layers)
                  for name in layer.get("states", [f"state_{i}"])}
        states["logits"] = np.zeros((batch, *self.layers[-1]["out_shape"]), self.dtype)
        return states

    def run(self, frames: np.ndarray, record: bool = False) -> SimOutput:
        """Step over the T bins of ``frames``; returns logits and, if asked, per-layer records."""
        self._check_frames(frames)
        batch, steps = frames.shape[:2]
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        state = self._initial_state(batch)
        names = [out.name for out in self.session.get_outputs()]
        traces: list[list[np.ndarray]] = [[] for _ in self.layers]
        for t in range(steps):
            values = dict(zip(names, self.session.run(names, {"frame": frames[:, t], **state}),
                              strict=True))
            state = {key: values[f"{key}_next"] for key in state}
            if record:
                for index, trace in enumerate(traces):
                    trace.append(self._record(values, index))
        records = [np.stack(trace) for trace in traces] if record else []
        return SimOutput(self._logits(state["logits"], steps), records)

    def _check_frames(self, frames: np.ndarray) -> None:
        frame = next(arg for arg in self.session.get_inputs() if arg.name == "frame")
        expected = tuple(frame.shape[1:])
        if frames.ndim != 5 or tuple(frames.shape[2:]) != expected:
            raise DataError(f"{self.path}: frames must be [B, T, *{expected}], got shape "
                            f"{tuple(frames.shape)}")

    def _record(self, values: dict[str, np.ndarray], index: int) -> np.ndarray:
        layer = self.layers[index]
        if layer.get("spiking", is_spiking(layer["neuron"])):
            return values[f"spikes_{index}"]
        return values[f"state_{index}_next"]

    def _logits(self, summed: np.ndarray, steps: int) -> np.ndarray:
        flat = summed.reshape(summed.shape[0], -1)
        if self.kind == "float" and not is_spiking(self.readout):
            return flat / np.float32(steps)
        return flat
