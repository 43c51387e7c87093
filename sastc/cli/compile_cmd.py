"""``sastc compile`` and ``sastc targets``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from sastc.backends.nir_flavors import FLAVOR_NAMES, WRITTEN_FLAVORS
from sastc.cli.options import collect_data_options, data_options, threads_option
from sastc.threads import configure as configure_threads

NIR_SOURCE_OPTIONS = {"flavor": "source_flavor", "reset": "reset", "dt": "dt"}


def nir_options(function: Callable) -> Callable:
    """``--nir-flavor`` (NIR written) and ``--source-flavor --reset --dt`` (a .nir SOURCE)."""
    decorators = [
        click.option("--nir-flavor", type=click.Choice(WRITTEN_FLAVORS), default="spec",
                     show_default=True,
                     help="NIR files written (--target nir, --emit nir): the spec, or for that "
                          "framework's own importer (docs/interchange.md)."),
        click.option("--source-flavor", type=click.Choice(FLAVOR_NAMES), default=None,
                     help=".nir SOURCE: the framework whose reading of NIR neurons applies "
                          "(default: the file's metadata, else spec)."),
        click.option("--reset", type=click.Choice(["zero", "subtract"]), default=None,
                     help=".nir SOURCE: how its spiking neurons reset, where the file does not "
                          "say."),
        click.option("--dt", type=float, default=None,
                     help=".nir SOURCE: its time step in seconds, where the file does not say."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.command("compile")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="int8-fixed", show_default=True,
              help="int8-fixed, int4-fixed, nir, onnx (see 'sastc targets').")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="build",
              show_default=True, help="Build directory (replaced atomically on success).")
@data_options
@click.option("--board", default=None, help="Check flash/RAM against a board (see 'sastc targets').")
@click.option("--weight-bits", type=int, default=None,
              help="Override the profile's weight width (within its range).")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True,
              help="Threshold calibration on the calibration split.")
@click.option("--calibrate-method", type=click.Choice(["accuracy", "rate"]), default=None,
              help="accuracy search (profile default) or firing-rate matching.")
@click.option("--calib-samples", type=int, default=None,
              help="Calibration samples (default: the whole calibration split).")
@click.option("--emit", default="", help="Extra emitters, comma-separated (npz, c-header, nir, onnx).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Simulate float and integer models on the test split and report.")
@nir_options
@click.option("--progress/--no-progress", default=True, show_default=True)
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def compile_command(source: str, target: str, out_dir: str, board: str | None,
                    weight_bits: int | None, calibrate: bool, calibrate_method: str | None,
                    calib_samples: int | None, emit: str, verify: bool, progress: bool,
                    as_json: bool, **kwargs: Any) -> None:
    """Compile SOURCE (a checkpoint or a .nir file) for a target."""
    from sastc.compile import CompileOptions, compile_model
    from sastc.report import summary_text

    configure_threads("compile", None, kwargs.pop("threads"))
    options = CompileOptions(target, out_dir, collect_data_options(kwargs), board, weight_bits,
                             calibrate, calibrate_method, calib_samples,
                             tuple(e.strip() for e in emit.split(",") if e.strip()), verify,
                             progress, kwargs.pop("nir_flavor"),
                             {key: kwargs.pop(option) for key, option in NIR_SOURCE_OPTIONS.items()})
    report = compile_model(source, options, log=lambda line: click.echo(line, err=True))
    click.echo(json.dumps(report, indent=2, default=str) if as_json else summary_text(report))


@click.command("targets")
def targets_command() -> None:
    """List compile targets, numeric profiles and boards."""
    from sastc.targets import list_boards, list_targets, load_board, load_target

    click.echo("targets:")
    for name in list_targets():
        target = load_target(name)
        click.echo(f"  {name:<14} {target.description}  [emitters: {', '.join(target.emitters)}]")
    click.echo("boards:")
    for name in list_boards():
        board = load_board(name)
        click.echo(f"  {name:<14} flash {board.flash_bytes // 1024} KiB, RAM "
                   f"{board.ram_bytes // 1024} KiB  {board.description}")
