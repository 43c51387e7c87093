"""``calibrate``: per-layer threshold scales for the quantized model, on the calibration split.

Contract: afterwards ``ctx.threshold_scales[i]`` multiplies the threshold of
layer ``i`` when ``quantize`` runs (the float model is left unchanged). The
calibration split is never the test split (``sastc.data`` draws it from the
training data or its own seed stream).

Methods:

- ``accuracy`` (default): coordinate search, layer by layer and for a few
  rounds, over the profile's scale grid; each candidate is quantized and
  simulated bit-exactly, and a scale replaces the current one only if its
  calibration score is higher by at least ``min_gain`` points (ties: the
  scale closest to 1). Layers before the one being searched are simulated
  once and cached. The score is the profile's ``objective``: ``agreement``
  (default), the share of samples where the integer model decides as the float
  hard-spike model does, or ``labels``, plain accuracy. Quantization should
  reproduce the float model, so agreement is the target; it needs no labels,
  so the calibration split may hold training samples (the float model's fit to
  them does not matter), which makes it large enough not to chase single
  samples of a small validation split.
- ``rate``: per layer in order, bisection on the scale until the integer
  model's firing rate matches the float hard-spike model's on the same data
  (the surrogate's mean activation ``sigma(k (u - theta))`` counts graded
  sub-threshold output and would pull thresholds far down).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm import tqdm

from sastc.errors import CompileError, TargetError
from sastc.ir.layers import FloatNet
from sastc.neurons import is_spiking
from sastc.passes.context import CompileContext
from sastc.passes.quantize import quantize_net
from sastc.progress import bar_disabled
from sastc.sim.common import predict
from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator

SCORE_NAMES = {"agreement": "integer decisions equal to float hard",
               "labels": "integer accuracy"}
DEFAULT_SCALES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)
RATE_RANGE = (0.25, 4.0)
RATE_STEPS = 14


class _Evaluator:
    """Simulates the quantized model for given threshold scales, caching unchanged prefixes."""

    def __init__(self, net: FloatNet, numerics: dict, frames: np.ndarray, labels: np.ndarray):
        self.net, self.numerics, self.labels = net, numerics, labels
        self.frames = frames
        self.steps = frames.shape[1]

    def simulator(self, scales: list[float]) -> IntegerSimulator:
        return IntegerSimulator(quantize_net(self.net, self.numerics, scales))

    def prefix(self, scales: list[float], layer: int) -> np.ndarray:
        """Input of ``layer`` (the outputs of the layers before it) under ``scales``."""
        sim = self.simulator(scales)
        x = sim.input_of(self.frames)
        for index in range(layer):
            x = sim.layer_forward(index, x, self.steps)[0]
        return x

    def accuracy(self, scales: list[float], layer: int, x: np.ndarray) -> float:
        sim = self.simulator(scales)
        logits = None
        for index in range(layer, len(self.net.layers)):
            x, logits, _ = sim.layer_forward(index, x, self.steps)
        return 100.0 * float((predict(logits) == self.labels).mean())

    def rate(self, scales: list[float], layer: int, x: np.ndarray) -> float:
        trace = self.simulator(scales).layer_forward(layer, x, self.steps)[2]
        return float(trace.mean())


def _lif_layers(net: FloatNet) -> list[int]:
    """The layers with thresholds: every spiking one."""
    return [i for i, layer in enumerate(net.layers) if is_spiking(layer.neuron)]


def _best_scale(evaluator: _Evaluator, scales: list[float], layer: int,
                grid: tuple[float, ...], min_gain: float) -> float:
    """The grid scale with the best calibration accuracy; the current scale is kept unless
    a candidate beats it by at least ``min_gain`` points (a small calibration split is
    noisy, and chasing single samples does not carry over to unseen data)."""
    x = evaluator.prefix(scales, layer)
    current = scales[layer]
    incumbent = evaluator.accuracy(scales, layer, x)
    best_key, best = (incumbent + min_gain, 0.0), current
    for candidate in grid:
        trial = [*scales[:layer], candidate, *scales[layer + 1:]]
        key = (evaluator.accuracy(trial, layer, x), -abs(math.log(candidate)))
        if key[0] >= best_key[0] and key > best_key:
            best_key, best = key, candidate
    return best


def by_accuracy(evaluator: _Evaluator, settings: dict, progress: bool) -> dict[str, Any]:
    grid = tuple(settings.get("scales", DEFAULT_SCALES))
    rounds = int(settings.get("rounds", 2))
    min_gain = float(settings.get("min_gain", 1.0))
    scales = [1.0] * len(evaluator.net.layers)
    layers = _lif_layers(evaluator.net)
    bar = tqdm(total=rounds * len(layers) * len(grid), desc="calibrate", unit="sim",
               leave=False, disable=bar_disabled(progress))
    for _ in range(rounds):
        for layer in layers:
            scales[layer] = _best_scale(evaluator, scales, layer, grid, min_gain)
            bar.update(len(grid))
    bar.close()
    return {"scales": scales, "grid": list(grid), "rounds": rounds, "min_gain": min_gain}


def by_rate(evaluator: _Evaluator, settings: dict, progress: bool) -> dict[str, Any]:
    records = FloatSimulator(evaluator.net, "hard").run(evaluator.frames, record=True).records
    scales = [1.0] * len(evaluator.net.layers)
    targets, reached = {}, {}
    for layer in tqdm(_lif_layers(evaluator.net), desc="calibrate", leave=False,
                      disable=bar_disabled(progress)):
        target = float(records[layer].mean())
        x = evaluator.prefix(scales, layer)
        low, high = (math.log(v) for v in RATE_RANGE)
        for _ in range(RATE_STEPS):  # rate falls as the threshold scale grows
            middle = 0.5 * (low + high)
            trial = [*scales[:layer], math.exp(middle), *scales[layer + 1:]]
            low, high = (middle, high) if evaluator.rate(trial, layer, x) > target else (low, middle)
        scales[layer] = math.exp(0.5 * (low + high))
        name = evaluator.net.layers[layer].name
        targets[name] = target
        reached[name] = evaluator.rate(scales, layer, x)
    return {"scales": scales, "target_rates": targets, "reached_rates": reached}


CALIBRATORS: dict[str, Callable[[_Evaluator, dict, bool], dict[str, Any]]] = {
    "accuracy": by_accuracy,
    "rate": by_rate,
}


def calibrate_pass(ctx: CompileContext) -> None:
    net = ctx.require_float_net("calibrate")
    if not ctx.calibrate_enabled or not ctx.profile.is_integer:
        ctx.report["calibrate"] = {"skipped": True}
        return
    method = ctx.calibrate_method or ctx.profile.calibrate.get("method", "accuracy")
    if method not in CALIBRATORS:
        raise TargetError(f"unknown calibration method {method!r}; available: "
                          f"{', '.join(CALIBRATORS)}")
    if ctx.calib is None or len(ctx.calib) == 0:
        raise CompileError("calibration needs a non-empty calibration split: pass --dataset "
                           "(and --data-dir), or --no-calibrate")
    if ctx.calib.split == "test":
        raise CompileError("calibration must not use the test split")
    objective = ctx.profile.calibrate.get("objective", "agreement")
    targets = ctx.calib.labels if objective == "labels" else \
        predict(FloatSimulator(net, "hard").run(ctx.calib.frames).logits)
    evaluator = _Evaluator(net, ctx.profile.numerics, ctx.calib.frames, targets)
    unit = [1.0] * len(net.layers)
    before = evaluator.accuracy(unit, 0, evaluator.prefix(unit, 0))
    result = CALIBRATORS[method](evaluator, dict(ctx.profile.calibrate), ctx.progress)
    after = evaluator.accuracy(result["scales"], 0, evaluator.prefix(result["scales"], 0))
    ctx.threshold_scales = result["scales"]
    ctx.report["calibrate"] = {
        "method": method, "objective": objective, "samples": len(ctx.calib),
        "split": ctx.calib.split,
        "accuracy_before": before, "accuracy_after": after,
        "threshold_scale": {layer.name: scale for layer, scale in
                            zip(net.layers, result["scales"], strict=True)
                            if is_spiking(layer.neuron)},
        **{k: v for k, v in result.items() if k != "scales"}}
    ctx.log(f"calibrate ({method}, {len(ctx.calib)} samples): {SCORE_NAMES[objective]} "
            f"{before:.1f}% -> {after:.1f}%")
