"""Threshold calibration: it repairs mis-scaled thresholds and keeps a good model as is."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sastc.data import load_frames
from sastc.ir import fuse
from sastc.ir.layers import FloatNet
from sastc.passes.calibrate import calibrate_pass
from sastc.passes.context import CompileContext
from sastc.targets import Profile, load_target
from sastc.train.export import checkpoint_graph
from tests.conftest import TINY_SYNTHETIC


def _labels_profile() -> Profile:
    """int8-fixed calibrating on labels (the float model here is deliberately broken, so
    agreement with it would keep the break)."""
    profile = load_target("int8-fixed").profile
    return dataclasses.replace(profile, calibrate={**profile.calibrate, "objective": "labels"})


def _calibrate(checkpoint: Path, method: str, threshold_factor: float,
               profile: Profile | None = None, permute_labels: bool = False) -> dict:
    """Run the calibrate pass on the tiny model with its first LIF threshold scaled."""
    graph, _ = checkpoint_graph(checkpoint)
    net: FloatNet = fuse(graph)
    first_lif = next(layer for layer in net.layers if layer.neuron == "lif")
    first_lif.threshold = first_lif.threshold * threshold_factor
    calib = load_frames("synthetic", "calib", synthetic=dict(TINY_SYNTHETIC), time_bins=8,
                        progress=False)
    if permute_labels:
        calib = dataclasses.replace(calib, labels=np.roll(calib.labels, 1))
    ctx = CompileContext(graph, profile or load_target("int8-fixed").profile, calib=calib,
                         calibrate_method=method, progress=False, log=lambda _: None)
    ctx.float_net = net
    calibrate_pass(ctx)
    return ctx.report["calibrate"]


def test_accuracy_search_lowers_thresholds_that_are_too_high(trained_checkpoint: Path) -> None:
    report = _calibrate(trained_checkpoint, "accuracy", threshold_factor=3.0,
                        profile=_labels_profile())
    assert report["objective"] == "labels" and report["threshold_scale"]["conv0"] < 1.0
    assert report["accuracy_after"] >= report["accuracy_before"] + 20.0


def test_a_large_min_gain_keeps_every_scale(trained_checkpoint: Path) -> None:
    profile = _labels_profile()
    strict = dataclasses.replace(profile, calibrate={**profile.calibrate, "min_gain": 101.0})
    report = _calibrate(trained_checkpoint, "accuracy", threshold_factor=3.0, profile=strict)
    assert set(report["threshold_scale"].values()) == {1.0}
    assert report["accuracy_after"] == report["accuracy_before"]


def test_agreement_scores_the_float_models_decisions_not_the_labels(
        trained_checkpoint: Path) -> None:
    """The default objective: the same result with wrong labels, and never a lower score."""
    coarse = dataclasses.replace(load_target("int4-fixed").profile)
    honest = _calibrate(trained_checkpoint, "accuracy", 1.0, profile=coarse)
    shuffled = _calibrate(trained_checkpoint, "accuracy", 1.0, profile=coarse,
                          permute_labels=True)
    assert honest["objective"] == "agreement"
    assert honest["threshold_scale"] == shuffled["threshold_scale"]
    assert honest["accuracy_after"] == shuffled["accuracy_after"] >= honest["accuracy_before"]


@pytest.mark.parametrize("threshold_factor", [0.3, 3.0])
def test_rate_matching_reaches_the_float_hard_rates(trained_checkpoint: Path,
                                                     threshold_factor: float) -> None:
    report = _calibrate(trained_checkpoint, "rate", threshold_factor)
    for name, target in report["target_rates"].items():
        assert report["reached_rates"][name] == pytest.approx(target, rel=0.05), name
