"""Targets as data: numeric profiles, exchange targets and boards, read from TOML.

The ``targets/`` folder ships inside the wheel (as ``sastc/_targets``) and is
found from an installed package or from a source checkout. A compile target is

- a numeric profile (``profiles/int8-fixed.toml``): bit widths, rounding,
  overflow policy, pass order and default emitters; or
- an exchange target (``nir.toml``) naming a profile and its emitters.

A board (``boards/*.toml``) adds flash and RAM limits.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sastc.errors import TargetError

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
    """A numeric profile: how floats become integers and which passes run."""

    name: str
    description: str
    numerics: dict[str, Any]
    passes: tuple[str, ...]
    emitters: tuple[str, ...]
    calibrate: dict[str, Any] = field(default_factory=dict)

    @property
    def is_integer(self) -> bool:
        return "weight_bits" in self.numerics

    def get(self, key: str) -> Any:
        try:
            return self.numerics[key]
        except KeyError as exc:
            raise TargetError(f"profile {self.name!r} has no numerics.{key}") from exc

    def with_weight_bits(self, bits: int | None) -> Profile:
        """This profile with another weight width, checked against ``weight_bits_range``."""
        if bits is None:
            return self
        if not self.is_integer:
            raise TargetError(f"profile {self.name!r} is not an integer profile; "
                              "--weight-bits applies to int8-fixed / int4-fixed")
        low, high = self.get("weight_bits_range")
        if not low <= bits <= high:
            raise TargetError(f"--weight-bits {bits} is outside profile {self.name!r}'s range "
                              f"[{low}, {high}]")
        return Profile(self.name, self.description, {**self.numerics, "weight_bits": bits},
                       self.passes, self.emitters, self.calibrate)


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


def _profile_from(data: dict[str, Any], path: Path) -> Profile:
    try:
        return Profile(data["name"], data.get("description", ""), dict(data.get("numerics", {})),
                       tuple(data["passes"]["order"]), tuple(data["emit"]["emitters"]),
                       dict(data.get("calibrate", {})))
    except KeyError as exc:
        raise TargetError(f"{path}: missing field {exc}") from exc


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
