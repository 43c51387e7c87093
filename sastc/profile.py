"""Typed numeric profiles: the ``[numerics]`` and ``[calibrate]`` tables of a profile TOML.

Every key is read by the compiler, and every value is checked when the profile
is loaded: a missing or unknown key, a value of the wrong type, out of range or
not supported by the integer semantics (``sastc.numerics``, the C runtime) is a
:class:`~sastc.errors.TargetError` that names the key and lists what is
accepted. Some keys have a single supported value (``rounding``, ``threshold``,
``weight_range``); they state the semantics in the profile and refuse a profile
asking for another. ``reset`` says which resets the target compiles: ``per-layer``
(each layer's neuron model chooses: to zero or by subtraction) or ``zero`` (a layer
that subtracts is refused).

Both classes are read-only mappings too (``dict(numerics)``, ``numerics["leak_shift"]``),
which is how reports and emitters record them.

>>> Numerics.from_dict({**EXAMPLE, "rounding": "even"}, "example")
Traceback (most recent call last):
...
sastc.errors.TargetError: profile 'example': numerics.rounding 'even' is not supported; supported: half-up
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sastc.errors import TargetError

MAX_WEIGHT_BITS = 8          # the C runtime packs 2..8-bit fields (docs/numerics.md)
CHOICES: dict[str, tuple[str, ...]] = {
    "weight_range": ("symmetric",),
    "weight_granularity": ("per-channel", "per-tensor"),
    "readout_granularity": ("per-channel", "per-tensor"),
    "rounding": ("half-up",),
    "overflow": ("saturate", "error"),
    "threshold": ("greater",),
    "reset": ("per-layer", "zero"),
    "clip_search": ("mse", "max"),
}
INT_RANGES: dict[str, tuple[int, int]] = {
    "weight_bits": (2, MAX_WEIGHT_BITS),
    "accumulator_bits": (8, 32),
    "membrane_bits": (2, 31),
    "leak_shift": (0, 30),
    "max_frac_bits": (0, 30),
}
CALIBRATION_METHODS = ("accuracy", "rate")
CALIBRATION_OBJECTIVES = ("agreement", "labels")
EXAMPLE: dict[str, Any] = {
    "weight_bits": 8, "weight_bits_range": [2, 8], "weight_range": "symmetric",
    "weight_granularity": "per-channel", "readout_granularity": "per-tensor",
    "accumulator_bits": 32, "membrane_bits": 24, "leak_shift": 8, "max_frac_bits": 12,
    "rounding": "half-up", "overflow": "saturate", "threshold": "greater", "reset": "zero",
    "clip_search": "mse"}


class _ReadOnlyMapping(Mapping):
    """The fields of a frozen dataclass as a read-only mapping."""

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]


def _fail(profile: str, message: str) -> TargetError:
    return TargetError(f"profile {profile!r}: {message}")


def _keys(cls: type, data: Mapping[str, Any], profile: str, table: str,
          optional: tuple[str, ...] = ()) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    missing = sorted(names - set(data) - set(optional))
    if unknown:
        raise _fail(profile, f"unknown key(s) {unknown} in [{table}]; known: {sorted(names)}")
    if missing:
        raise _fail(profile, f"[{table}] is missing {missing}")


def _int(value: Any, key: str, profile: str) -> int:
    low, high = INT_RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(profile, f"numerics.{key} must be an integer in [{low}, {high}]; "
                             f"got {value!r}")
    return value


def _choice(value: Any, key: str, profile: str) -> str:
    if value not in CHOICES[key]:
        raise _fail(profile, f"numerics.{key} {value!r} is not supported; supported: "
                             f"{', '.join(CHOICES[key])}")
    return value


def _bits_range(value: Any, bits: int, profile: str) -> tuple[int, int]:
    low_limit, high_limit = INT_RANGES["weight_bits"]
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or not low_limit <= value[0] <= value[1] <= high_limit:
        raise _fail(profile, f"numerics.weight_bits_range must be [low, high] with "
                             f"{low_limit} <= low <= high <= {high_limit}; got {value!r}")
    if not value[0] <= bits <= value[1]:
        raise _fail(profile, f"numerics.weight_bits {bits} is outside weight_bits_range "
                             f"{list(value)}")
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class Numerics(_ReadOnlyMapping):
    """How floats become integers; docs/numerics.md states what each field means."""

    weight_bits: int
    weight_bits_range: tuple[int, int]
    weight_range: str
    weight_granularity: str
    readout_granularity: str
    accumulator_bits: int
    membrane_bits: int
    leak_shift: int
    max_frac_bits: int
    rounding: str
    overflow: str
    threshold: str
    reset: str
    clip_search: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], profile: str) -> Numerics:
        """The checked numerics of ``profile`` (raises :class:`TargetError`)."""
        _keys(cls, data, profile, "numerics")
        values = {key: _int(data[key], key, profile) for key in INT_RANGES}
        values |= {key: _choice(data[key], key, profile) for key in CHOICES}
        values["weight_bits_range"] = _bits_range(data["weight_bits_range"],
                                                  values["weight_bits"], profile)
        if values["membrane_bits"] - 1 + values["leak_shift"] > 31:
            raise _fail(profile, f"numerics.membrane_bits - 1 + leak_shift must be <= 31 (the "
                                 f"leak multiply is 32-bit); got {values['membrane_bits']} and "
                                 f"{values['leak_shift']}")
        return cls(**values)

    def with_weight_bits(self, bits: int, profile: str) -> Numerics:
        """These numerics with another weight width (within ``weight_bits_range``)."""
        low, high = self.weight_bits_range
        if isinstance(bits, bool) or not isinstance(bits, int) or not low <= bits <= high:
            raise TargetError(f"--weight-bits {bits} is outside profile {profile!r}'s range "
                              f"[{low}, {high}]")
        return dataclasses.replace(self, weight_bits=bits)


@dataclass(frozen=True)
class Calibration(_ReadOnlyMapping):
    """Threshold calibration settings (``sastc.passes.calibrate``)."""

    method: str = "accuracy"
    scales: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)
    rounds: int = 2
    min_gain: float = 1.0
    objective: str = "agreement"   # what "accuracy" scores: float-hard decisions or labels

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], profile: str) -> Calibration:
        """The checked settings; keys left out take the defaults above."""
        _keys(cls, data, profile, "calibrate", optional=tuple(f.name for f in
                                                              dataclasses.fields(cls)))
        merged = {**dataclasses.asdict(cls()), **data}
        if merged["method"] not in CALIBRATION_METHODS:
            raise _fail(profile, f"calibrate.method {merged['method']!r} is not supported; "
                                 f"supported: {', '.join(CALIBRATION_METHODS)}")
        scales = merged["scales"]
        if not isinstance(scales, (list, tuple)) or not scales or not all(
                _number(s) and s > 0 for s in scales):
            raise _fail(profile, f"calibrate.scales must be a non-empty list of positive "
                                 f"numbers; got {scales!r}")
        rounds, gain = merged["rounds"], merged["min_gain"]
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise _fail(profile, f"calibrate.rounds must be an integer >= 1; got {rounds!r}")
        if not _number(gain) or gain < 0:
            raise _fail(profile, f"calibrate.min_gain must be a number >= 0; got {gain!r}")
        if merged["objective"] not in CALIBRATION_OBJECTIVES:
            raise _fail(profile, f"calibrate.objective {merged['objective']!r} is not "
                                 f"supported; supported: {', '.join(CALIBRATION_OBJECTIVES)}")
        return cls(merged["method"], tuple(float(s) for s in scales), rounds, float(gain),
                   merged["objective"])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and abs(value) != float("inf")
