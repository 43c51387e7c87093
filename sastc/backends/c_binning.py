"""The binning constants of ``model.h``: how the streaming input turns events into frames.

The C streaming input (``targets/runtime/sastc_events.c``) mirrors
:func:`sastc.data.binning.bin_window`: a window of ``W`` microseconds, ``T`` bins,
downsampling ``d`` and the count clip. ``T`` and the clip are the model's; ``W``, the
sensor size and ``d`` come from the metadata the build carries from its dataset:

- ``window_us`` (or ``window_ms``): the window the frames were cut with. Builds trained
  on equal-part binning (the synthetic set, N-MNIST, DVS Gesture) record none: the
  header says 0 and the caller passes a window length (equal-duration bins);
- ``sensor_size``: ``[W, H]`` (or the data's ``(C, H, W)``); default: the model input
  times ``d``;
- ``downsample``: default 1.

``ceil(sensor / d)`` must be the model's input size, else :class:`CompileError`.

>>> b = stream_binning({"window_us": 300000, "sensor_size": [128, 128], "downsample": 4},
...                    (2, 32, 32))
>>> (b.window_us, b.sensor_w, b.sensor_h, b.downsample)
(300000, 128, 128, 4)
>>> stream_binning({}, (2, 34, 34)).sensor_w
34
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sastc.backends.c_codegen import dims3
from sastc.errors import CompileError

MAX_WINDOW_US = 2**31 - 1  # the runtime compares times modulo 2^32
MAX_SENSOR = 2**16 - 1


@dataclass(frozen=True)
class StreamBinning:
    """``SASTC_MODEL_WINDOW_US`` (0: none recorded), sensor size and downsampling."""

    window_us: int
    sensor_w: int
    sensor_h: int
    downsample: int


def _window_us(meta: Mapping[str, Any]) -> int:
    if meta.get("window_us") is not None:
        return int(meta["window_us"])
    if meta.get("window_ms") is not None:
        return round(float(meta["window_ms"]) * 1000)
    return 0


def _sensor(meta: Mapping[str, Any], height: int, width: int, d: int) -> tuple[int, int]:
    """``(W, H)`` of the sensor: ``[W, H]``, or ``(C, H, W)`` as the data records it."""
    size: Sequence[int] | None = meta.get("sensor_size")
    if size is None:
        return width * d, height * d
    if len(size) == 3:
        return int(size[2]), int(size[1])
    if len(size) == 2:
        return int(size[0]), int(size[1])
    raise CompileError(f"metadata sensor_size {list(size)!r}: expected [width, height]")


def stream_binning(meta: Mapping[str, Any], input_shape: Sequence[int]) -> StreamBinning:
    """The binning of a model with ``input_shape`` from its metadata (see the module doc)."""
    _, height, width = dims3(tuple(input_shape))
    d = int(meta.get("downsample") or 1)
    window = _window_us(meta)
    if d < 1 or d > MAX_SENSOR or not 0 <= window <= MAX_WINDOW_US:
        raise CompileError(f"metadata downsample {d} / window {window} us: expected "
                           f"downsample in 1..{MAX_SENSOR} and a window in 0..{MAX_WINDOW_US} us")
    sensor_w, sensor_h = _sensor(meta, height, width, d)
    if (math.ceil(sensor_w / d), math.ceil(sensor_h / d)) != (width, height) \
            or max(sensor_w, sensor_h) > MAX_SENSOR:
        raise CompileError(f"metadata sensor {sensor_w}x{sensor_h} downsampled by {d} is not "
                           f"the model's input {width}x{height} (width x height)")
    return StreamBinning(window, sensor_w, sensor_h, d)


def binning_macros(binning: StreamBinning) -> list[str]:
    """``#define`` lines of the binning and ``SASTC_MODEL_BINNING`` (a sastc_binning)."""
    return [f"#define SASTC_MODEL_WINDOW_US {binning.window_us}u "
            "/* 0: no window recorded; pass one (equal-duration bins) */",
            f"#define SASTC_MODEL_SENSOR_W {binning.sensor_w}u",
            f"#define SASTC_MODEL_SENSOR_H {binning.sensor_h}u",
            f"#define SASTC_MODEL_DOWNSAMPLE {binning.downsample}u",
            "#define SASTC_MODEL_BINNING {SASTC_MODEL_WINDOW_US, SASTC_MODEL_SENSOR_W, "
            "SASTC_MODEL_SENSOR_H, SASTC_MODEL_DOWNSAMPLE}"]
