"""``sastc eval``: surrogate vs hard accuracy, transfer gap, spike rates, SynOps, and
per-class accuracy with the confusion matrix."""

from __future__ import annotations

import json
from typing import Any

import click

from sastc.atomic import ensure_writable_file
from sastc.cli.options import collect_data_options, data_options, threads_option
from sastc.report import confusion_lines, per_class_lines, synops_table
from sastc.threads import configure as configure_threads


def format_report(report: dict[str, Any]) -> str:
    """The evaluation as a short human-readable table."""
    synops = report["synops"]
    lines = [f"{report.get('split', 'test') + ' samples':<22}{report['samples']}",
             f"surrogate accuracy    {report['surrogate_accuracy']:.2f}%",
             f"hard-spike accuracy   {report['hard_accuracy']:.2f}%",
             f"transfer gap          {report['transfer_gap']:+.2f} points",
             "spike rate per layer:"]
    for name in synops["per_layer"]:
        rate = report["spike_rates"].get(name)
        lines.append(f"  {name:<10} {f'{rate:.4f}' if rate is not None else 'readout'}")
    lines += ["SynOps per sample (hard spikes):", *synops_table({"hard": synops})]
    if "per_class" in report:
        lines += ["per class:", *per_class_lines(report, [("hard", "per_class"),
                                                          ("surrogate", "per_class_surrogate")]),
                  "confusion matrix, hard spikes (rows: true class, columns: predicted class):",
                  *confusion_lines(report["confusion"], report["classes"])]
    return "\n".join(lines)


@click.command("eval")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@data_options
@click.option("--split", type=click.Choice(["test", "val", "train", "calib"]), default="test",
              show_default=True)
@click.option("--corrupt", default=None, metavar="KIND:SEVERITY|all",
              help="Evaluate on corrupted events, e.g. dropout:3, noise:2, jitter:1, hot_pixels:4; "
                   "all: every corruption at every severity, as a table.")
@click.option("--corrupt-plot", type=click.Path(dir_okay=False), default=None, metavar="PATH.png",
              help="With --corrupt all: plot hard-spike accuracy against severity.")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--confusion", "confusion_plot", type=click.Path(dir_okay=False), default=None,
              metavar="PATH.png", help="Write the hard-spike confusion matrix as a heatmap (PNG).")
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_command(checkpoint: str, split: str, corrupt: str | None, corrupt_plot: str | None,
                 batch_size: int, confusion_plot: str | None, as_json: bool,
                 **kwargs: Any) -> None:
    """Evaluate CHECKPOINT with surrogate and hard spikes on a dataset split."""
    from sastc.train.eval_run import evaluate_checkpoint

    configure_threads("eval", batch_size, kwargs.pop("threads"))
    data = collect_data_options(kwargs)
    if corrupt == "all" or corrupt_plot:
        _corruption_table(checkpoint, data, split, corrupt, corrupt_plot, batch_size, as_json)
        return
    report = evaluate_checkpoint(checkpoint, data, split, corrupt, batch_size, confusion_plot)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def _corruption_table(checkpoint: str, data: dict[str, Any], split: str, corrupt: str | None,
                      plot: str | None, batch_size: int, as_json: bool) -> None:
    """``--corrupt all``: every corruption at every severity, text or JSON, and the plot."""
    from sastc.errors import ConfigError
    from sastc.train.robustness import corruption_lines, corruption_sweep

    if corrupt != "all":
        raise ConfigError("--corrupt-plot needs --corrupt all")
    if plot:
        ensure_writable_file(plot, "--corrupt-plot")
    report = corruption_sweep(checkpoint, data, split, batch_size)
    if plot:
        from sastc.plots import plot_corruptions

        plot_corruptions({checkpoint: [report]}, plot)
    click.echo(json.dumps(report, indent=2) if as_json else "\n".join(corruption_lines(report)))
