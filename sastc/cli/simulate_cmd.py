"""``sastc simulate``: float and integer models of a build, side by side."""

from __future__ import annotations

import json
from typing import Any

import click

from sastc.cli.options import collect_data_options, data_options, threads_option
from sastc.threads import configure as configure_threads


@click.command("simulate")
@click.argument("build", type=click.Path(file_okay=False, exists=False))
@data_options
@click.option("--split", type=click.Choice(["test", "val", "calib", "train"]), default="test",
              show_default=True)
@click.option("--limit", type=int, default=None, help="Simulate only this many samples.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write a per-layer SynOps bar chart (PNG).")
@click.option("--raster", type=click.Path(dir_okay=False), default=None,
              help="Write a spike raster of the first sample (PNG).")
@click.option("--confusion", "confusion_plot", type=click.Path(dir_okay=False), default=None,
              metavar="PATH.png",
              help="Write the confusion matrix (integer model, else float hard) as a heatmap (PNG).")
@click.option("--mcu", type=click.Choice(["cortex-m4", "cortex-m0"]), default=None,
              help="Also run the samples through the firmware on an emulated microcontroller "
                   "(qemu-system-arm): accuracy, bit-exactness, instructions per SynOp, flash/RAM.")
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate_command(build: str, split: str, limit: int | None, batch_size: int,
                     plot: str | None, raster: str | None, confusion_plot: str | None,
                     mcu: str | None, as_json: bool, **kwargs: Any) -> None:
    """Float surrogate, float hard and bit-exact integer accuracy of BUILD, with SynOps and
    per-class accuracy."""
    from sastc.simulate import simulate_build, simulate_text

    configure_threads("simulate", batch_size, kwargs.pop("threads"))
    report = simulate_build(build, collect_data_options(kwargs), split, limit, batch_size,
                            plot, raster, confusion_plot, mcu)
    click.echo(json.dumps(report, indent=2) if as_json else simulate_text(report))
