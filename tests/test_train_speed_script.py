"""Smoke test of benchmarks/train_speed.py on a tiny network: structure and equivalence, no timing
assertions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("snntorch")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_speed.py"
TINY_ARCH = "conv(4, 3, stride=2) pool(2) dense(8) readout"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_speed"] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("train_speed", None)


@pytest.fixture(scope="module")
def tiny(bench):
    case = bench.Case("tiny", TINY_ARCH, size=12, classes=3)
    settings = bench.Settings(threads=1, time_bins=4, batch_size=4, batches=2, warmup=1,
                              repeats=2, iters=1, epoch_samples=8, epoch_repeats=1)
    return case, settings, bench.case_batches(case, settings)


def test_batches_are_time_major(tiny) -> None:
    _case, settings, batches = tiny
    frames, labels = batches[0]
    assert len(batches) == settings.batches
    assert frames.shape == (4, 4, 2, 12, 12) and frames.dtype == torch.float32
    assert labels.shape == (4,) and int(labels.max()) < 3


def test_sastc_and_snntorch_agree(bench, tiny) -> None:
    case, settings, batches = tiny
    check = bench.check_equivalence(case.spec(), *batches[0], seed=settings.seed)
    assert check["ok"], check
    assert check["hard_spike_mismatches"] == 0 and check["spikes_total"] > 0
    assert check["conventional_loss_abs_diff"] <= 1e-5
    assert check["grad_rel_diff_sastc_vs_autograd_reference"] <= 1e-4
    assert check["grad_rel_diff_snntorch_vs_detached_reset_reference"] <= 1e-4
    assert "ok" in bench.equivalence_line(case.name, check)


def test_the_autograd_reference_runs_sastcs_own_convolutions(bench) -> None:
    """The reference swaps the scan only: with the first layer unfused, every convolution
    is still the event-driven one sastc runs (sparse input), so the conventional spikes of
    every layer are bit-identical to sastc's own, and only the scan is counted."""
    from sastc.train import event_conv
    from sastc.train.lif import lif_scan_reference
    from sastc.train.model import Trace

    equivalence = sys.modules["speed_equivalence"]
    case = bench.Case("two-conv", "conv(4, 3, stride=2) conv(8, 3, stride=2) readout", 16, 3)
    settings = bench.Settings(threads=1, time_bins=16, batch_size=6, batches=1)  # sparse frames
    frames, _ = bench.case_batches(case, settings)[0]
    model = bench.make_models(case.spec(), 0)["sastc-conventional"]
    own, reference, scans, event_calls = Trace(), Trace(), [], []
    with torch.no_grad():
        model(frames, own)

        def counted_scan(*args, **kwargs):
            scans.append(1)
            return lif_scan_reference(*args, **kwargs)

        real_event_conv = event_conv.event_conv

        def counted_event_conv(*args):
            event_calls.append(1)
            return real_event_conv(*args)

        with (equivalence.sastc_scan(counted_scan),
              pytest.MonkeyPatch.context() as patch):
            patch.setattr(event_conv, "event_conv", counted_event_conv)
            model(frames, reference)
    assert len(scans) == 2 and len(event_calls) == 2  # both layers: unfused, event-driven
    for a, b in zip(own.spikes, reference.spikes, strict=True):
        assert torch.equal(a, b)


def test_folded_snntorch_is_the_same_function(bench, tiny) -> None:
    case, settings, batches = tiny
    models = bench.make_models(case.spec(), settings.seed)
    frames = batches[0][0]
    with torch.no_grad():
        stepped, folded = [], []
        logits = models["snntorch"](frames, stepped)
        torch.testing.assert_close(models["snntorch-folded"](frames, folded), logits)
    assert len(stepped) == len(folded) == 2
    for a, b in zip(stepped, folded, strict=True):
        assert torch.equal(a, b)


def test_sigmoid_surrogate_is_finite_for_very_negative_membranes(bench) -> None:
    x = torch.tensor([-100.0, -1.0, 0.0, 0.5], requires_grad=True)
    spikes = bench.sigmoid_surrogate(5.0)(x)
    spikes.sum().backward()
    assert spikes.tolist() == [0.0, 0.0, 0.0, 1.0]
    sig = torch.sigmoid(5.0 * x.detach())
    torch.testing.assert_close(x.grad, 5.0 * sig * (1 - sig))


def test_throughput_structure(bench, tiny) -> None:
    case, settings, batches = tiny
    row = bench.throughput(case, settings, batches)
    sastc = {"sastc-conventional", "sastc-surrogate"}
    names = sastc | {"snntorch", "snntorch-folded"}
    if bench.spikingjelly_installed():
        names.add("spikingjelly")
        assert set(row["ratio_vs_spikingjelly"]) == sastc
    assert set(row["samples_per_s"]) == names == set(row["cpu_samples_per_s"])
    assert set(row["page_faults_per_step"]) == names
    assert set(row["ratio_vs_snntorch"]) == sastc
    assert (row["time_bins"], row["batch_size"], row["device"]) == (4, 4, "cpu")
    for summary in row["samples_per_s"].values():
        assert 0 < summary["min"] <= summary["median"] <= summary["max"]
    assert all(len(s) == settings.repeats for s in row["seconds_per_step"].values())
    table = bench.throughput_table([row])
    assert "tiny" in table and "snnTorch folded" in table


def test_epoch_cost_structure(bench, tiny) -> None:
    _case, settings, _batches = tiny
    data = bench.synthetic_set(12, 3, settings.epoch_samples, settings.time_bins)
    costs = bench.epoch_costs(data, settings.batch_size, settings.seed,
                              settings.epoch_repeats, arch=TINY_ARCH)
    assert costs["steps"] == 2 and costs["samples"] == 8
    assert set(costs["seconds"]) == set(bench.EPOCH_CONFIGS)
    assert set(costs["ratio_vs_rho0"]) == {"sast (default)", "sast same batch",
                                           "sast papers' step"}
    assert all(r > 0 for r in costs["ratio_vs_rho0"].values())
    assert "sast papers' step" in bench.epoch_table(costs)


def test_machine_info_and_arguments(bench) -> None:
    info = bench.machine_info(1)
    assert info["threads"] == 1 and info["torch"] == torch.__version__ and info["cpu"]
    args = bench.parse_args(["--quick", "--threads", "1", "--json", "out.json"])
    assert args.quick and args.threads == 1 and args.json == "out.json"
    assert args.epoch_repeats is None  # the settings' own count
    assert bench.parse_args(["--epoch-repeats", "9"]).epoch_repeats == 9
    for bad in ("0", "x"):
        with pytest.raises(SystemExit):
            bench.parse_args(["--epoch-repeats", bad])


def test_grid_and_device_arguments(bench) -> None:
    args = bench.parse_args([])
    assert args.device == "cpu" and bench.parse_grid(args.grid) == [(16, 32), (16, 256), (64, 128)]
    assert bench.parse_grid("8x4") == [(8, 4)]
    for bad in ("16", "16x0", "axb", ""):
        with pytest.raises(SystemExit, match="--grid"):
            bench.parse_grid(bad)
    assert bench.parse_args(["--device", "cuda", "--torch-scan"]).torch_scan
