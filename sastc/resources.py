"""Memory estimates, checked before work starts against what the machine has free.

A run that cannot fit is refused up front with the numbers and the option to
change, instead of growing until the machine swaps or the kernel kills it.
The estimates are deliberately simple upper-end figures (bytes):

- frames of one split: ``N * T * C * H * W`` (uint8), counted from the split's
  recordings (listed or generated lazily, nothing is binned);
- training activations of one batch: ``T * B * 4 * (3 * input + 6 * sum_l n_l)``
  (float32 conv outputs, membranes and spikes kept for the backward pass, and
  their gradients); evaluation needs ``T * B * 4 * (input + 3 * max_l n_l)``;
- the integer simulator on one batch: ``T * B * max_l (8 * in_l + 24 * n_l)``
  (pooled input, accumulator, membrane trace) plus its 16 MiB im2col block.

``n_l`` is the number of neurons of layer ``l``. The free memory is
``MemAvailable`` of ``/proc/meminfo``; where that is unknown nothing is checked.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sastc.errors import ConfigError

MEMINFO = Path("/proc/meminfo")
IM2COL_BLOCK = 16 << 20
DATA_FIELDS = ("data_dir", "time_bins", "downsample", "download", "synthetic", "window_ms",
               "test_fraction", "val_fraction", "sensor_size")
Shape = tuple[int, ...]


def available_memory() -> int | None:
    """``MemAvailable`` in bytes, or None where the kernel does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def format_bytes(count: float) -> str:
    """``1536 -> '1.5 KiB'``.

    >>> format_bytes(3 * 2**30), format_bytes(100)
    ('3.0 GiB', '100 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


@dataclass(frozen=True)
class Need:
    """One part of a memory estimate, and the options that shrink it."""

    what: str
    bytes: int
    options: str


def require(needs: Sequence[Need], task: str) -> None:
    """Raise :class:`ConfigError` when ``needs`` add up to more than the free memory,
    naming the largest part and the options that reduce it."""
    available = available_memory()
    total = sum(need.bytes for need in needs)
    if available is None or total <= available:
        return
    largest = max(needs, key=lambda need: need.bytes)
    parts = "; ".join(f"{need.what} {format_bytes(need.bytes)}" for need in needs)
    raise ConfigError(f"{task} would need about {format_bytes(total)} of memory ({parts}) but "
                      f"only {format_bytes(available)} is available; the largest part is "
                      f"{largest.what}: reduce {largest.options}")


@dataclass(frozen=True)
class SplitSize:
    """How many frames a split would give, and their shape, before any binning."""

    samples: int
    time_bins: int
    sample_shape: Shape
    classes: int

    @property
    def bytes(self) -> int:
        return self.samples * self.time_bins * math.prod(self.sample_shape)

    def describe(self) -> str:
        c, h, w = self.sample_shape
        return f"{self.samples} x {self.time_bins} x {c}x{h}x{w}"


def _source_options(data: dict[str, Any]) -> Any:
    """``SourceOptions`` for listing a split (the folder-dataset fields where it has them)."""
    from sastc.data.events import SourceOptions

    directory = data.get("data_dir")
    known = {f.name for f in dataclasses.fields(SourceOptions)}
    extra = {key: data.get(key) for key in ("window_ms", "test_fraction") if key in known}
    if "sensor_size" in known:
        extra["sensor_size"] = None if data.get("sensor_size") is None \
            else tuple(data["sensor_size"])
    return SourceOptions(None if directory is None else Path(directory).expanduser(),
                         bool(data.get("download")), 0, dict(data.get("synthetic") or {}),
                         **extra)


def split_size(dataset: str, split: str, data: dict[str, Any], limit: int | None = None
               ) -> SplitSize:
    """Sample count, time bins, frame shape and classes of one split, from a listing of its
    recordings (``data``: the options ``load_frames`` takes: data_dir, time_bins,
    downsample, download, synthetic and the folder dataset's). A validation split carved
    out of train is counted as part of train (an upper bound)."""
    from sastc.data import dataset_info
    from sastc.data.frames import downsampled_size

    info = dataset_info(dataset)
    for key, option in (("time_bins", "--time-bins"), ("downsample", "--downsample")):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f"{option} must be an integer >= 1; got {value!r}")
    listed = "train" if split in ("val", "calib") and data.get("val_fraction") else split
    recordings = info.open_split(listed, _source_options(data))
    samples = len(recordings) if limit is None else min(len(recordings), max(int(limit), 0))
    downsample = data.get("downsample") or info.default_downsample
    time_bins = data.get("time_bins") or info.default_time_bins
    return SplitSize(samples, int(time_bins), downsampled_size(recordings.sensor_size, downsample),
                     len(recordings.classes))


def frames_need(size: SplitSize, split: str, options: str) -> Need:
    return Need(f"{split} frames ({size.describe()} bytes)", size.bytes, options)


def training_activations(shapes: Sequence[Shape], time_bins: int, batch: int) -> int:
    """Bytes of one training batch's activations (see the module docstring)."""
    neurons = sum(math.prod(shape) for shape in shapes[1:])
    return time_bins * batch * 4 * (3 * math.prod(shapes[0]) + 6 * neurons)


def evaluation_activations(shapes: Sequence[Shape], time_bins: int, batch: int) -> int:
    """Bytes of one evaluation batch (no gradients)."""
    widest = max(math.prod(shape) for shape in shapes[1:])
    return time_bins * batch * 4 * (math.prod(shapes[0]) + 3 * widest)


def simulator_buffers(layers: Sequence[tuple[Shape, Shape]], time_bins: int, batch: int) -> int:
    """Bytes the integer or float simulator holds for one batch: the widest layer's
    ``(in_shape, out_shape)`` buffers and one im2col block."""
    widest = max(8 * math.prod(shape_in) + 24 * math.prod(shape_out)
                 for shape_in, shape_out in layers)
    return time_bins * batch * widest + IM2COL_BLOCK


def check_training(config: Any) -> None:
    """Refuse a training run whose frames and batch activations cannot fit (``config``: a
    ``TrainConfig``), before any data is read. An explicit ``--arch`` is parsed here too, so
    a malformed one fails before the data is loaded."""
    from sastc.data import dataset_info
    from sastc.spec import parse_arch

    data = {name: getattr(config, name, None) for name in DATA_FIELDS}
    train = split_size(config.dataset, "train", data, config.train_limit)
    test = split_size(config.dataset, "test", data)
    frames = "--time-bins/-T, --train-limit or the dataset's size"
    needs = [frames_need(train, "train", frames), frames_need(test, "test", frames)]
    arch = config.arch if config.arch is not None else dataset_info(config.dataset).default_arch
    if arch is not None and (arch or config.arch is not None):  # else: data_setup says --arch
        shapes = parse_arch(arch, train.sample_shape, train.classes).shapes()
        needs.append(Need(f"activations of one batch of {config.batch_size}",
                          training_activations(shapes, train.time_bins, config.batch_size),
                          "--batch-size or --time-bins/-T"))
    require(needs, "training")


def check_matches(input_shape: Shape, classes: int, size: SplitSize, model: str,
                  data: str) -> None:
    """The data's frame shape and class count are the model's, before anything runs."""
    if tuple(size.sample_shape) != tuple(input_shape) or size.classes != classes:
        shape = "x".join(map(str, size.sample_shape))
        want = "x".join(map(str, input_shape))
        raise ConfigError(f"{data} gives {shape} frames with {size.classes} classes, but {model} "
                          f"takes {want} frames with {classes} classes; use the dataset (and "
                          "--downsample) it was trained on")


def check_evaluation(spec: Any, data: dict[str, Any], split: str, batch: int,
                     model: str) -> None:
    """Refuse an evaluation of an ``ArchSpec`` whose data does not match it, or whose frames
    and batch activations cannot fit (``data``: merged options with the dataset ``name``)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"--batch-size must be an integer >= 1; got {batch!r}")
    size = split_size(data["name"], split, data)
    check_matches(spec.input_shape, spec.num_classes, size, model, f"{data['name']}/{split}")
    require([frames_need(size, split, "--time-bins/-T or the split's size"),
             Need(f"activations of one batch of {batch}",
                  evaluation_activations(spec.shapes(), size.time_bins, batch),
                  "--batch-size or --time-bins/-T")], "evaluation")


def check_simulation(layers: Sequence[tuple[Shape, Shape]], sizes: dict[str, SplitSize],
                     batch: int, task: str, options: str) -> None:
    """Refuse a simulation (``sastc simulate``, compile's calibration and verification) whose
    frames and simulator buffers cannot fit; ``sizes`` maps split names to their sizes."""
    needs = [frames_need(size, split, options) for split, size in sizes.items()]
    largest = max(sizes.values(), key=lambda size: size.bytes)
    count = min(batch, largest.samples)
    needs.append(Need(f"simulator buffers of one batch of {count}",
                      simulator_buffers(layers, largest.time_bins, count), options))
    require(needs, task)


def net_layers(net: Any) -> list[tuple[Shape, Shape]]:
    """``(in_shape, out_shape)`` of every fused layer of a ``FloatNet`` or ``QNet``."""
    return [(tuple(layer.geometry.in_shape), tuple(layer.geometry.out_shape))
            for layer in net.layers]


def check_compile(graph: Any, data: dict[str, Any], calibrates: bool,
                  calib_samples: int | None, verify: bool) -> None:
    """Refuse a compile whose calibration (the whole calibration split is simulated at once)
    or verification (batches of 64) cannot fit; nothing to check without a dataset."""
    if not data.get("name") or not (calibrates or verify):
        return
    from sastc.ir.lower import fuse

    data = {**data, "time_bins": data.get("time_bins") or graph.metadata.get("time_bins")}
    sizes = {}
    if calibrates:
        sizes["calib"] = split_size(data["name"], "calib", data, calib_samples)
    if verify:
        sizes["test"] = split_size(data["name"], "test", data)
    batch = sizes["calib"].samples if calibrates else 64
    check_simulation(net_layers(fuse(graph)), sizes, batch, "compile",
                     "--time-bins/-T or --calib-samples")


def check_simulate(net: Any, data: dict[str, Any], split: str, limit: int | None,
                   batch: int, build: str) -> None:
    """``sastc simulate``: the data matches the build's ``FloatNet``, and frames and simulator
    buffers fit."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"--batch-size must be an integer >= 1; got {batch!r}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1; got {limit}")
    data = {**data, "time_bins": data.get("time_bins") or net.time_bins}
    size = split_size(data["name"], split, data, limit)
    check_matches(net.input_shape, len(net.classes), size, f"build {build}",
                  f"{data['name']}/{split}")
    check_simulation(net_layers(net), {split: size}, batch, "simulation",
                     "--limit, --batch-size or --time-bins/-T")
