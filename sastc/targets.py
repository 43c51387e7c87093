"""Targets as data: numeric profiles, exchange targets and boards, read from TOML.

The ``targets/`` folder ships inside the wheel (as ``sastc/_targets``) and is
found from an installed package or from a source checkout. A compile target is

- a numeric profile (``profiles/int8-fixed.toml``): bit widths, rounding,
  overflow policy, pass order and default emitters; or
- an exchange target (``nir.toml``) naming a profile and its emitters.

A board (``boards/*.toml``) adds flash and RAM limits.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sastc.errors import TargetError
from sastc.profile import Calibration, Numerics

ENV_TARGETS_DIR = "SASTC_TARGETS_DIR"


def targets_dir() -> Path:
    """The targets folder: ``$SASTC_TARGETS_DIR``, the installed copy, or the checkout's."""
    candidates = []
    if os.environ.get(ENV_TARGETS_DIR):
        candidates.append(Path(os.environ[ENV_TARGETS_DIR]))
    package = Path(__file__).resolve().parent
    candidates += [package / "_targets", package.parent / "targets"]
    for candidate in candidates:
        if (candidate / "profiles").is_dir():
            return candidate
    raise TargetError(f"cannot find the targets folder (looked in {[str(c) for c in candidates]}); "
                      f"reinstall sastc or set {ENV_TARGETS_DIR}")


def runtime_dir() -> Path:
    """The portable C runtime sources."""
    return targets_dir() / "runtime"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"{path}: cannot read target description ({exc})") from exc


@dataclass(frozen=True)
class Profile:
    """A numeric profile: how floats become integers (None: a float profile) and which
    passes and emitters run. ``numerics`` and ``calibrate`` are checked when the profile is
    made (a plain mapping given for either is converted and checked too)."""

    name: str
    description: str
    numerics: Numerics | None
    passes: tuple[str, ...]
    emitters: tuple[str, ...]
    calibrate: Calibration = field(default_factory=Calibration)

    def __post_init__(self) -> None:
        if self.numerics is not None and not isinstance(self.numerics, Numerics):
            object.__setattr__(self, "numerics", Numerics.from_dict(self.numerics, self.name))
        if not isinstance(self.calibrate, Calibration):
            object.__setattr__(self, "calibrate", Calibration.from_dict(self.calibrate,
                                                                        self.name))

    @property
    def is_integer(self) -> bool:
        return self.numerics is not None

    def with_weight_bits(self, bits: int | None) -> Profile:
        """This profile with another weight width, checked against ``weight_bits_range``."""
        if bits is None:
            return self
        if self.numerics is None:
            raise TargetError(f"profile {self.name!r} is not an integer profile; "
                              "--weight-bits applies to int8-fixed / int4-fixed")
        return dataclasses.replace(self, numerics=self.numerics.with_weight_bits(bits,
                                                                                 self.name))


@dataclass(frozen=True)
class Board:
    """Memory limits of a microcontroller board."""

    name: str
    description: str
    flash_bytes: int
    ram_bytes: int
    cflags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """What ``sastc compile --target NAME`` builds: a profile and its emitters."""

    name: str
    description: str
    profile: Profile
    emitters: tuple[str, ...]


PROFILE_KEYS = {"name", "kind", "description", "numerics", "passes", "emit", "calibrate"}
PASS_NAMES = ("fold", "calibrate", "quantize", "check")


def _names(data: dict[str, Any], table: str, key: str, allowed: tuple[str, ...],
           path: Path) -> tuple[str, ...]:
    values = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TargetError(f"{path}: [{table}] {key} must be a list of names; got {values!r}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise TargetError(f"{path}: [{table}] {key} names unknown {unknown}; available: "
                          f"{', '.join(allowed)}")
    return tuple(values)


def _profile_from(data: dict[str, Any], path: Path) -> Profile:
    from sastc.backends import EMITTERS

    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise TargetError(f"{path}: unknown key(s) {unknown}; known: {sorted(PROFILE_KEYS)}")
    if data.get("kind", "profile") != "profile" or not isinstance(data.get("name"), str):
        raise TargetError(f"{path}: expected name = \"...\" and kind = \"profile\"")
    name = data["name"]
    numerics = data.get("numerics")
    return Profile(name, str(data.get("description", "")),
                   None if numerics is None else Numerics.from_dict(numerics, name),
                   _names(data, "passes", "order", PASS_NAMES, path),
                   _names(data, "emit", "emitters", EMITTERS, path),
                   Calibration.from_dict(data.get("calibrate", {}), name))


def load_profile(name: str) -> Profile:
    path = targets_dir() / "profiles" / f"{name}.toml"
    if not path.is_file():
        raise TargetError(f"unknown profile {name!r}; available: {', '.join(list_profiles())}")
    return _profile_from(_read_toml(path), path)


def list_profiles() -> list[str]:
    return sorted(p.stem for p in (targets_dir() / "profiles").glob("*.toml"))


def list_targets() -> list[str]:
    """Every name ``--target`` accepts: integer profiles and exchange targets."""
    exchange = sorted(p.stem for p in targets_dir().glob("*.toml"))
    return [p for p in list_profiles() if p != "float"] + exchange


def load_target(name: str) -> Target:
    """Resolve ``--target NAME``; unknown names list what exists."""
    root = targets_dir()
    if (root / f"{name}.toml").is_file():
        path = root / f"{name}.toml"
        data = _read_toml(path)
        try:
            profile = load_profile(data["profile"])
            return Target(name, data.get("description", ""), profile, tuple(data["emitters"]))
        except KeyError as exc:
            raise TargetError(f"{path}: missing field {exc}") from exc
        except TargetError as exc:
            raise TargetError(f"{path}: {exc}") from exc
    if name in list_profiles() and name != "float":
        profile = load_profile(name)
        return Target(name, profile.description, profile, profile.emitters)
    raise TargetError(f"unknown target {name!r}; available: {', '.join(list_targets())}")


def list_boards() -> list[str]:
    return sorted(p.stem for p in (targets_dir() / "boards").glob("*.toml"))


def load_board(name: str) -> Board:
    path = targets_dir() / "boards" / f"{name}.toml"
    if not path.is_file():
        raise TargetError(f"unknown board {name!r}; available: {', '.join(list_boards())}")
    data = _read_toml(path)
    try:
        return Board(data["name"], data.get("description", ""), int(data["flash_bytes"]),
                     int(data["ram_bytes"]), tuple(data.get("cflags", ())))
    except (KeyError, ValueError) as exc:
        raise TargetError(f"{path}: missing or invalid field {exc}") from exc
