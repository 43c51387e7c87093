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


def data_options(function: Callable) -> Callable:
    """``--dataset --data-dir --download --time-bins --downsample --cache-dir --synthetic``."""
    decorators = [
        click.option("--dataset", default=None,
                     help="synthetic (built in, default), nmnist or dvsgesture."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Local copy of the dataset (tonic's layout; partial copies work)."),
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
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def collect_data_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the data options out of a command's kwargs."""
    return {"dataset": kwargs.pop("dataset"), "data_dir": kwargs.pop("data_dir"),
            "download": kwargs.pop("download"), "time_bins": kwargs.pop("time_bins"),
            "downsample": kwargs.pop("downsample"), "cache_dir": kwargs.pop("cache_dir"),
            "synthetic": _synthetic_pairs(kwargs.pop("synthetic_pairs"))}
