"""Training configuration: every option of ``sastc train``, validated in one place."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sastc.data.validation import DEFAULT_VAL_FRACTION, check_val_fraction
from sastc.errors import ConfigError
from sastc.train.steepness import parse_steepness

MODES = ("sast", "surrogate", "conventional")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step", "constant")
SAM_BATCHES = ("independent", "same")
DEVICES = ("cpu", "cuda")
DEFAULT_ASCENT_FRACTION = 0.5   # SAST's first gradient on half the minibatch: 1.5 evaluations a step


@dataclass
class TrainConfig:
    """Options of one training run (see ``sastc train --help`` for each)."""

    dataset: str = "synthetic"
    data_dir: str | None = None
    download: bool = False
    time_bins: int | None = None
    downsample: int | None = None
    cache_dir: str | None = None
    synthetic: dict[str, Any] = field(default_factory=dict)
    window_ms: float | None = None
    test_fraction: float | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION
    sensor_size: tuple[int, int] | None = None
    train_limit: int | None = None
    arch: str | None = None
    steepness: float | str = 5.0   # a number, or "auto" (sastc.train.steepness)
    mode: str = "sast"
    rho: float | str | None = None   # a number, or "auto" (sastc.train.search)
    search_budget: float = 1.0       # --rho auto: pilots' share of the main run's evaluations
    sam_batch: str = "independent"
    ascent_fraction: float | None = None   # share of the minibatch SAST's first gradient
    #     uses (a compute-matched baseline: the SAST it matches); None: the default, see below
    compute_matched: bool = False
    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    init_gain: float = 2.0
    augment_shift: int = 0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    out_dir: str = "runs/latest"
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @property
    def effective_rho(self) -> float:
        """SAM radius: ``rho`` for SAST (0.2 when not given), 0 otherwise; ``auto`` must have
        been resolved by the search first."""
        if self.mode != "sast":
            return 0.0
        if self.rho == "auto":
            raise ConfigError("--rho auto has not been resolved yet (internal: run the search)")
        return 0.2 if self.rho is None else float(self.rho)

    @property
    def rho_label(self) -> str:
        """``rho`` for messages and run names: a number or ``auto``."""
        return "auto" if self.rho == "auto" else f"{self.effective_rho:g}"

    @property
    def spike_mode(self) -> str:
        """Spike function used in the training forward pass."""
        return "conventional" if self.mode == "conventional" else "surrogate"

    @property
    def grad_evals_per_step(self) -> float:
        """Gradient evaluations per step, in whole-minibatch units: SAST's first (ascent)
        gradient costs ``ascent_fraction`` of one."""
        return 1 + self.ascent_fraction if self.effective_rho > 0 else 1

    @property
    def total_epochs(self) -> int:
        """Epochs actually run: a compute-matched baseline gets the gradient evaluations of a
        SAST run of ``epochs`` with its ``ascent_fraction`` (``1 + F`` a step), rounded up."""
        if self.compute_matched and self.effective_rho == 0:
            return matched_epochs(self.epochs, self.ascent_fraction)
        return self.epochs

    def validate(self) -> None:
        _choice("--mode", self.mode, MODES)
        _choice("--optimizer", self.optimizer, OPTIMIZERS)
        _choice("--schedule", self.schedule, SCHEDULES)
        _choice("--sam-batch", self.sam_batch, SAM_BATCHES)
        _choice("--device", self.device, DEVICES)
        if self.rho is not None and self.rho != "auto":
            self.rho = _number("--rho", self.rho, "a number >= 0 or 'auto'")
            _at_least("--rho", self.rho, 0.0)
            if self.rho > 0 and self.mode != "sast":
                raise ConfigError(f"--rho {self.rho} applies only to --mode sast "
                                  f"(--mode {self.mode} trains without SAM)")
        check_val_fraction(self.val_fraction)
        _positive("--search-budget", self.search_budget)
        self._check_ascent_fraction()
        self.steepness = parse_steepness(self.steepness)
        self._check_auto()
        _at_least("--epochs", self.epochs, 1)
        _at_least("--batch-size", self.batch_size, 1)
        _positive("--lr", self.lr)
        _positive("--init-gain", self.init_gain)
        _at_least("--weight-decay", self.weight_decay, 0.0)
        _at_least("--augment-shift", self.augment_shift, 0)
        for name, value in (("--time-bins", self.time_bins), ("--downsample", self.downsample),
                            ("--train-limit", self.train_limit), ("--threads", self.threads)):
            if value is not None:
                _at_least(name, value, 1)

    def _check_ascent_fraction(self) -> None:
        """``--ascent-fraction`` in (0, 1], and only where there is an ascent (SAST) or a
        SAST step to match (``--compute-matched``). Not given, it is
        ``DEFAULT_ASCENT_FRACTION`` there and 1 (no ascent) otherwise."""
        matters = self.mode == "sast" or self.compute_matched
        if self.ascent_fraction is None:
            self.ascent_fraction = DEFAULT_ASCENT_FRACTION if matters else 1.0
        self.ascent_fraction = _number("--ascent-fraction", self.ascent_fraction,
                                       "a number in (0, 1]")
        if not 0 < self.ascent_fraction <= 1:
            raise ConfigError(f"--ascent-fraction must be in (0, 1] (the share of the "
                              f"minibatch SAST's first gradient uses), got {self.ascent_fraction}")
        if self.ascent_fraction != 1 and not matters:
            raise ConfigError(f"--ascent-fraction {self.ascent_fraction} applies only to "
                              f"--mode sast, or to a --compute-matched baseline (the SAST step "
                              f"it matches); --mode {self.mode} has no ascent step")

    def _check_auto(self) -> None:
        """``auto`` settings choose on the validation split; ``--rho auto`` needs SAM."""
        autos = [name for name, on in (("--rho auto", self.rho == "auto"),
                                       ("-k auto", self.steepness == "auto")) if on]
        if autos and self.val_fraction == 0:
            raise ConfigError(f"{autos[0]} chooses on the validation split, but --val-fraction "
                              f"is 0; give a fraction (e.g. 0.1) or a fixed value")
        if self.rho == "auto" and self.mode != "sast":
            raise ConfigError(f"--rho auto applies to --mode sast (--mode {self.mode} trains "
                              f"without SAM)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training options {unknown}; known: {sorted(known)}")
        return cls(**data)


def _number(name: str, value: Any, expected: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be {expected}; got {value!r}") from exc


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _at_least(name: str, value: float, low: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
        raise ConfigError(f"{name} must be >= {low:g}; got {value!r}")


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number; got {value!r}")


def matched_epochs(epochs: int, ascent_fraction: float) -> int:
    """Epochs of a rho-0 run with at least the gradient evaluations of a SAST run of
    ``epochs`` whose ascent uses ``ascent_fraction`` of each minibatch:
    ``ceil(epochs * (1 + F))``.

    >>> matched_epochs(8, 0.5), matched_epochs(60, 0.5), matched_epochs(5, 0.5), matched_epochs(5, 1)
    (12, 90, 8, 10)
    """
    return math.ceil(epochs * (1 + ascent_fraction) - 1e-9)
