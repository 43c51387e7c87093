"""Option groups shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from sastc.errors import ConfigError


def _synthetic_pairs(values: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--synthetic expects KEY=VALUE (e.g. n_train=500); got {item!r}")
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"--synthetic {key}: expected a number, got {raw!r}") from exc
        options[key] = int(value) if value.is_integer() else value
    return options


def number_list(text: str, option: str, kind: type = float) -> list:
    """``"0,0.1"`` as numbers of ``kind``; ``ConfigError`` naming ``option`` otherwise.

    >>> number_list("0, 0.1", "--rho"), number_list("1,2", "--seeds", int)
    ([0.0, 0.1], [1, 2])
    """
    try:
        values = [kind(item) for item in text.split(",") if item.strip()]
    except ValueError as exc:
        raise ConfigError(f"{option} expects comma-separated {kind.__name__} values; got "
                          f"{text!r}") from exc
    if not values:
        raise ConfigError(f"{option} needs at least one value")
    return values


def data_options(function: Callable) -> Callable:
    """``--dataset --data-dir --download --time-bins --downsample --cache-dir --synthetic``."""
    decorators = [
        click.option("--dataset", default=None,
                     help="synthetic (built in, default), nmnist, dvsgesture, or folder (your own "
                          "recordings in --data-dir)."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Local copy of the dataset (tonic's layout; partial copies work), or "
                          "your recordings for --dataset folder."),
        click.option("--download", is_flag=True,
                     help="Let tonic download the dataset (needs a network)."),
        click.option("--time-bins", "-T", type=int, default=None,
                     help="Time bins per recording (dataset default if omitted)."),
        click.option("--downsample", type=int, default=None,
                     help="Spatial downsampling factor (DVS Gesture default 4)."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Where binned frames are cached ($SASTC_CACHE_DIR or ~/.cache/sastc)."),
        click.option("--synthetic", "synthetic_pairs", multiple=True, metavar="KEY=VALUE",
                     help="Synthetic dataset setting, e.g. n_train=500 resolution=32 (repeatable)."),
        click.option("--window-ms", type=float, default=None,
                     help="folder dataset, long recordings: cut them into windows of this length."),
        click.option("--test-fraction", type=float, default=None,
                     help="folder dataset, long recordings: the last part of each that is test "
                          "(default 0.3)."),
        click.option("--val-fraction", type=float, default=None,
                     help="Validation split carved from the training data (train default 0.1; "
                          "0: none)."),
        click.option("--sensor-size", default=None, metavar="W,H",
                     help="folder dataset: sensor width,height, for formats that do not record it."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def parse_sensor_size(text: str | None) -> tuple[int, int] | None:
    """``"W,H"`` as ``(W, H)``.

    >>> parse_sensor_size("128,128"), parse_sensor_size(None)
    ((128, 128), None)
    """
    if text is None:
        return None
    parts = [part.strip() for part in text.replace("x", ",").split(",")]
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ConfigError(f"--sensor-size expects WIDTH,HEIGHT in pixels (e.g. 128,128); "
                          f"got {text!r}")
    return int(parts[0]), int(parts[1])


threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None,
    help="CPU threads (default: from the free cores and the work's size; the choice is logged).")


def collect_data_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the data options out of a command's kwargs."""
    return {"dataset": kwargs.pop("dataset"), "data_dir": kwargs.pop("data_dir"),
            "download": kwargs.pop("download"), "time_bins": kwargs.pop("time_bins"),
            "downsample": kwargs.pop("downsample"), "cache_dir": kwargs.pop("cache_dir"),
            "synthetic": _synthetic_pairs(kwargs.pop("synthetic_pairs")),
            "window_ms": kwargs.pop("window_ms"), "test_fraction": kwargs.pop("test_fraction"),
            "val_fraction": kwargs.pop("val_fraction"),
            "sensor_size": parse_sensor_size(kwargs.pop("sensor_size"))}
