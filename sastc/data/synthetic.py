"""The built-in synthetic dataset: procedurally generated DVS-like recordings.

A bright pattern moves across a dark background: bars sweeping through the whole
field, rings growing from (or shrinking to) a point, bars turning half a turn,
squares crossing along a diagonal. It is rendered as log intensity
``L(x, y, tau) = c * coverage(x, y, tau)`` (``c``: log contrast) at ``SUBSTEPS``
sub-steps, and a tiny DVS emulator emits events where the log intensity has moved a
threshold away from the level of the pixel's last event:
``n = trunc((L - ref) / theta)`` events (ON if positive, OFF if negative), then
``ref += n * theta``. Timestamps are spread uniformly within the sub-step, and
Poisson background-noise events are added.

The 12 classes form 6 pairs that differ only in temporal order (right/left,
down/up, expanding/contracting, clockwise/counter-clockwise, opposite diagonals).
Every touched pixel is crossed by a leading and a trailing edge of the same
pattern (one ON and one OFF burst), so the time-summed frames of a pair have the
same distribution: a classifier must use the order of the frames.

Per sample (deterministic in ``seed``, split and index): position, size, speed and
start of the motion, contrast, threshold (with 5 % per-pixel mismatch) and noise rate.

>>> recs = open_synthetic("train", seed=0, params=synthetic_params({"n_train": 4}))
>>> events = next(recs.read_events([0]))
>>> recs.labels.tolist(), events.dtype.names, bool(len(events) > 0)
([0, 1, 2, 3], ('x', 'y', 't', 'p'), True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial

import numpy as np

from sastc.data.events import DatasetInfo, Recordings, SourceOptions, make_events
from sastc.errors import ConfigError

GENERATOR_VERSION = 1
SUBSTEPS = 64
CHUNK_ELEMENTS = 2**22
NUM_UNIFORMS = 12
SPLIT_STREAMS = {"train": 0, "test": 1, "calib": 2}

Grid = tuple[np.ndarray, np.ndarray]
Renderer = Callable[[Grid, np.ndarray, np.ndarray, int], np.ndarray]


def _col(u: np.ndarray, j: int, low: float, high: float) -> np.ndarray:
    """Column ``j`` of the per-sample uniforms mapped to ``[low, high]``, shaped ``[b,1,1,1]``."""
    return (low + (high - low) * u[:, j]).reshape(-1, 1, 1, 1)


def _inside(distance: np.ndarray, resolution: int) -> np.ndarray:
    """Anti-aliased coverage of a pixel whose centre is ``distance`` inside an edge."""
    return np.clip(distance * resolution + 0.5, 0.0, 1.0)


def _sweep_bar(grid: Grid, progress: np.ndarray, u: np.ndarray, res: int, axis: int,
               sign: int) -> np.ndarray:
    """A bar perpendicular to ``axis`` crossing the whole field along it (``sign`` = direction)."""
    along, across = grid if axis == 0 else grid[::-1]
    width, length, centre = _col(u, 0, 0.08, 0.18), _col(u, 1, 0.35, 0.9), _col(u, 2, 0.25, 0.75)
    outside = width / 2 + 1.0 / res
    position = -outside + (1 + 2 * outside) * progress
    position = position if sign > 0 else 1.0 - position
    return (_inside(width / 2 - np.abs(along - position), res)
            * _inside(length / 2 - np.abs(across - centre), res))


def _ring(grid: Grid, progress: np.ndarray, u: np.ndarray, res: int, sign: int) -> np.ndarray:
    """A ring growing from its centre until it has left the field (or the reverse)."""
    cx, cy, width = _col(u, 0, 0.3, 0.7), _col(u, 1, 0.3, 0.7), _col(u, 2, 0.08, 0.16)
    far = np.hypot(np.maximum(cx, 1 - cx), np.maximum(cy, 1 - cy))
    start, stop = -width / 2 - 1.0 / res, far + width / 2 + 1.0 / res
    fraction = progress if sign > 0 else 1.0 - progress
    radius = start + (stop - start) * fraction
    return _inside(width / 2 - np.abs(np.hypot(grid[0] - cx, grid[1] - cy) - radius), res)


def _rotating_bar(grid: Grid, progress: np.ndarray, u: np.ndarray, res: int,
                  sign: int) -> np.ndarray:
    """A bar through a centre turning by half a turn (so it ends where it started);
    ``sign`` > 0 is clockwise on screen (y points down)."""
    cx, cy = _col(u, 0, 0.35, 0.65), _col(u, 1, 0.35, 0.65)
    half, width = _col(u, 2, 0.25, 0.45), _col(u, 3, 0.07, 0.14)
    angle = _col(u, 4, 0, 2 * np.pi) + sign * np.pi * progress
    dx, dy = grid[0] - cx, grid[1] - cy
    across = np.abs(dy * np.cos(angle) - dx * np.sin(angle))
    along = np.abs(dx * np.cos(angle) + dy * np.sin(angle))
    return _inside(width / 2 - across, res) * _inside(half - along, res)


def _square(grid: Grid, progress: np.ndarray, u: np.ndarray, res: int, dx: int,
            dy: int) -> np.ndarray:
    """A square crossing the field along a diagonal, direction ``(dx, dy)`` (y points down)."""
    side, offset = _col(u, 0, 0.14, 0.26), _col(u, 1, -0.35, 0.35)
    reach = (0.5 + side / 2) * np.sqrt(2) + 1.0 / res
    travel = -reach + 2 * reach * progress
    x = 0.5 + (travel * dx - offset * dy) / np.sqrt(2)
    y = 0.5 + (travel * dy + offset * dx) / np.sqrt(2)
    return (_inside(side / 2 - np.abs(grid[0] - x), res)
            * _inside(side / 2 - np.abs(grid[1] - y), res))


SHAPE_CLASSES: tuple[tuple[str, Renderer], ...] = (
    ("bar_right", partial(_sweep_bar, axis=0, sign=1)),
    ("bar_left", partial(_sweep_bar, axis=0, sign=-1)),
    ("bar_down", partial(_sweep_bar, axis=1, sign=1)),
    ("bar_up", partial(_sweep_bar, axis=1, sign=-1)),
    ("ring_expanding", partial(_ring, sign=1)),
    ("ring_contracting", partial(_ring, sign=-1)),
    ("bar_rotating_cw", partial(_rotating_bar, sign=1)),
    ("bar_rotating_ccw", partial(_rotating_bar, sign=-1)),
    ("square_down_right", partial(_square, dx=1, dy=1)),
    ("square_up_left", partial(_square, dx=-1, dy=-1)),
    ("square_up_right", partial(_square, dx=1, dy=-1)),
    ("square_down_left", partial(_square, dx=-1, dy=1)),
)
CLASS_NAMES = tuple(name for name, _ in SHAPE_CLASSES)

SYNTHETIC_DEFAULTS: dict[str, int | float] = {
    "resolution": 32, "n_train": 2000, "n_test": 500, "n_calib": 200,
    "duration_us": 100_000, "noise_rate": 5.0, "num_classes": len(SHAPE_CLASSES),
}
_LIMITS: dict[str, tuple[float, float]] = {
    "resolution": (8, 256), "n_train": (1, 10**7), "n_test": (1, 10**7), "n_calib": (1, 10**7),
    "duration_us": (1_000, 10**9), "noise_rate": (0.0, 10_000.0),
    "num_classes": (2, len(SHAPE_CLASSES)),
}


def synthetic_params(overrides: dict | None) -> dict[str, int | float]:
    """The generator parameters: ``SYNTHETIC_DEFAULTS`` updated with validated ``overrides``."""
    params = dict(SYNTHETIC_DEFAULTS)
    for key, value in (overrides or {}).items():
        params[key] = _checked_param(key, value)
    return params


def _checked_param(key: str, value: object) -> int | float:
    if key not in SYNTHETIC_DEFAULTS:
        raise ConfigError(f"synthetic: unknown option {key!r}; expected one of "
                          f"{', '.join(SYNTHETIC_DEFAULTS)}")
    want_int = isinstance(SYNTHETIC_DEFAULTS[key], int)
    if isinstance(value, bool) or not isinstance(value, int if want_int else (int, float)):
        kind = "an integer" if want_int else "a number"
        raise ConfigError(f"synthetic: {key} must be {kind}, got {value!r}")
    low, high = _LIMITS[key]
    if not low <= value <= high:
        raise ConfigError(f"synthetic: {key} must be in [{low:g}, {high:g}], got {value!r}")
    return value


def synthetic_labels(count: int, num_classes: int) -> np.ndarray:
    """Labels ``i % num_classes``: balanced, and every prefix is class-stratified."""
    return np.arange(count, dtype=np.int64) % num_classes


def open_synthetic(split: str, seed: int, params: dict) -> Recordings:
    """The recordings of ``split``; train, test and calib use separate seed streams."""
    count = int(params[f"n_{split}"])
    labels = synthetic_labels(count, int(params["num_classes"]))
    resolution = int(params["resolution"])
    stream = SPLIT_STREAMS[split]
    fingerprint = {"generator": GENERATOR_VERSION, "substeps": SUBSTEPS, "stream": stream,
                   "params": params}
    read = partial(_read_generated, labels=labels, stream=stream, seed=seed, params=params)
    classes = CLASS_NAMES[: int(params["num_classes"])]
    return Recordings(f"synthetic/{split}", labels, classes, (2, resolution, resolution),
                      "generated", fingerprint, read)


def _read_generated(indices: Sequence[int], *, labels: np.ndarray, stream: int, seed: int,
                    params: dict) -> Iterator[np.ndarray]:
    """Yield the recordings at ``indices``, generating whole fixed chunks (so results do
    not depend on which other samples were asked for)."""
    chunk_size = chunk_size_for(int(params["resolution"]))
    current_chunk, generated = -1, []
    for index in indices:
        if index // chunk_size != current_chunk:
            current_chunk = index // chunk_size
            chunk = range(current_chunk * chunk_size,
                          min((current_chunk + 1) * chunk_size, len(labels)))
            generated = generate_recordings(chunk, labels[list(chunk)], stream, seed, params)
        yield generated[index - current_chunk * chunk_size]


def chunk_size_for(resolution: int) -> int:
    """Samples rendered together: about ``CHUNK_ELEMENTS`` floats per array."""
    return max(1, CHUNK_ELEMENTS // ((SUBSTEPS + 1) * resolution * resolution))


def generate_recordings(indices: Sequence[int], labels: np.ndarray, stream: int, seed: int,
                        params: dict) -> list[np.ndarray]:
    """Generate the recordings ``indices`` (with ``labels``) of one seed stream."""
    rngs = [np.random.default_rng([seed, stream, int(index)]) for index in indices]
    uniforms = np.stack([rng.random(NUM_UNIFORMS) for rng in rngs]).astype(np.float32)
    resolution = int(params["resolution"])
    log_intensity = _render(uniforms, labels, resolution)
    thresholds = _thresholds(uniforms, rngs, resolution)
    counts = emulate_dvs(log_intensity, thresholds)
    return _to_events(counts, uniforms, rngs, params)


def _render(uniforms: np.ndarray, labels: np.ndarray, resolution: int) -> np.ndarray:
    """Log intensity ``[b, SUBSTEPS + 1, H, W]`` (float32) of every sample."""
    centres = (np.arange(resolution, dtype=np.float32) + 0.5) / resolution
    grid = (centres.reshape(1, 1, 1, -1), centres.reshape(1, 1, -1, 1))
    tau = np.linspace(0.0, 1.0, SUBSTEPS + 1, dtype=np.float32).reshape(1, -1, 1, 1)
    start, stop = _col(uniforms, 6, 0.0, 0.25), _col(uniforms, 7, 0.75, 1.0)
    progress = np.clip((tau - start) / (stop - start), 0, 1)
    contrast = _col(uniforms, 9, 0.5, 1.5)
    out = np.empty((len(labels), SUBSTEPS + 1, resolution, resolution), dtype=np.float32)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        coverage = SHAPE_CLASSES[label][1](grid, progress[members], uniforms[members], resolution)
        out[members] = contrast[members] * coverage
    return out


def _thresholds(uniforms: np.ndarray, rngs: list, resolution: int) -> np.ndarray:
    """Per-pixel contrast thresholds ``theta * (1 + 0.05 * N(0, 1))``, shape ``[b, H, W]``."""
    base = _col(uniforms, 10, 0.12, 0.3)[:, 0]
    mismatch = np.stack([rng.normal(size=(resolution, resolution)) for rng in rngs])
    return np.maximum(base * (1 + 0.05 * mismatch), 0.05).astype(np.float32)


def emulate_dvs(log_intensity: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Signed event counts ``[b, S, H, W]`` between consecutive sub-steps.

    ``n[s] = trunc((L[s+1] - ref) / theta)``; ``ref += n[s] * theta`` (ref starts at ``L[0]``).
    """
    reference = log_intensity[:, 0].copy()
    steps = log_intensity.shape[1] - 1
    counts = np.empty((len(log_intensity), steps, *log_intensity.shape[2:]), dtype=np.int8)
    for step in range(steps):
        crossings = np.trunc((log_intensity[:, step + 1] - reference) / thresholds)
        reference += crossings * thresholds
        counts[:, step] = np.clip(crossings, -127, 127)
    return counts


def _to_events(counts: np.ndarray, uniforms: np.ndarray, rngs: list,
               params: dict) -> list[np.ndarray]:
    """Event arrays from signed counts: timestamps spread within the sub-step, plus noise."""
    flat = np.flatnonzero(counts)
    values = counts.ravel()[flat]
    repeats = np.abs(values).astype(np.int64)
    sample, step, y, x = np.unravel_index(np.repeat(flat, repeats), counts.shape)
    per_sample = np.bincount(sample, minlength=len(rngs))
    offsets = np.concatenate([rng.random(n) for rng, n in zip(rngs, per_sample, strict=True)])
    step_us = float(params["duration_us"]) / SUBSTEPS
    t = ((step + offsets) * step_us).astype(np.int64)
    signal = (sample, x, y, t, np.repeat(values > 0, repeats))
    noise = _noise_events(rngs, uniforms[:, 11], params)
    return _split_by_sample(signal, noise, num_samples=len(rngs))


def _split_by_sample(*parts: tuple[np.ndarray, ...], num_samples: int) -> list[np.ndarray]:
    """Concatenate ``(sample id, x, y, t, p)`` column parts and split them into per-sample
    recordings, each sorted by ``t`` (stable)."""
    sample, x, y, t, p = (np.concatenate([part[k] for part in parts]) for k in range(5))
    order = np.argsort(sample.astype(np.int64) * (int(t.max(initial=0)) + 1) + t, kind="stable")
    events = make_events(x[order], y[order], t[order], p[order])
    return np.split(events, np.cumsum(np.bincount(sample, minlength=num_samples))[:-1])


def _noise_events(rngs: list, uniforms: np.ndarray, params: dict) -> tuple[np.ndarray, ...]:
    """Background noise columns ``(sample id, x, y, t, p)``: Poisson, ``noise_rate * (0.5 + u)``
    events per pixel and second, uniform in space, time and polarity."""
    resolution, duration_us = int(params["resolution"]), int(params["duration_us"])
    rates = float(params["noise_rate"]) * (0.5 + uniforms)
    expected = rates * resolution * resolution * duration_us * 1e-6
    columns = [_noise_columns(rng, lam, resolution, duration_us)
               for rng, lam in zip(rngs, expected, strict=True)]
    sample = np.repeat(np.arange(len(rngs)), [len(c[0]) for c in columns])
    return (sample, *(np.concatenate([c[k] for c in columns]) for k in range(4)))


def _noise_columns(rng: np.random.Generator, expected: float, resolution: int,
                   duration_us: int) -> tuple[np.ndarray, ...]:
    count = rng.poisson(expected)
    x, y = rng.integers(0, resolution, count), rng.integers(0, resolution, count)
    return x, y, rng.integers(0, duration_us, count), rng.random(count) < 0.5


def _open_split(split: str, options: SourceOptions) -> Recordings:
    return open_synthetic(split, options.seed, synthetic_params(options.synthetic))


INFO = DatasetInfo(
    name="synthetic",
    sensor_size=(2, 32, 32),
    classes=CLASS_NAMES,
    default_time_bins=16,
    default_arch="conv(16, 5, stride=2) conv(32, 3, stride=2) readout",
    needs_data_dir=False,
    description="built-in DVS-like moving shapes, 12 classes in time-reversed pairs (32x32, "
                "generated, no download)",
    default_downsample=1,
    open_split=_open_split,
)
