"""What a NIR file leaves out, settled before its nodes are read: flavour, dt, reset.

NIR carries neither the time step ``dt``, nor how a spiking neuron resets (to zero
or by subtracting the threshold), nor the framework whose discretisation it was
written for. Each is taken, in this order, from an explicit option (``--dt``,
``--reset``, ``--source-flavor`` of ``sastc compile``), the graph's metadata
(``dt``, ``reset_mode``, ``nir_flavor``: sastc writes all three), and then:

* **flavour**: the NIR spec;
* **dt**: the flavour's (Norse 1e-3, snnTorch and SpikingJelly 1e-4, Sinabs 1 step),
  else the step implied by the file itself: a node with ``r != 1`` written the
  snnTorch way (unit input gain per step) states ``dt = tau / r`` (``1 / r`` for
  ``IF``), when all such nodes agree. Otherwise no ``dt`` is known, and reading a
  node that needs one raises an error naming ``--dt``;
* **reset**: nothing. A graph with spiking neurons and no stated reset is refused
  with an error naming ``--reset``: a network trained with subtraction (the default
  of snnTorch's ``Leaky`` and of Sinabs) must never compile silently as reset to zero.

An option that contradicts the metadata is an error, not a silent override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sastc.backends.nir_flavors import Flavor, get_flavor
from sastc.errors import ConfigError, InterchangeError
from sastc.ir.nodes import LIF, Node

RESETS = ("zero", "subtract")
DT_AGREEMENT = 1e-6  # relative: nodes imply the same dt within float32 rounding
META_FLAVOR = "nir_flavor"
META_RESET = "reset_mode"


@dataclass(frozen=True)
class NirOptions:
    """What the user stated about a NIR source (None: not stated)."""

    flavor: str | None = None
    reset: str | None = None
    dt: float | None = None


@dataclass
class Reading:
    """How the nodes of one file are read, and where each choice came from."""

    source: str
    flavor: Flavor
    dt: float | None
    reset: str | None
    origin: dict[str, str] = field(default_factory=dict)

    def require_dt(self, node: str, type_name: str) -> float:
        """``dt``, or an :class:`InterchangeError` naming ``--dt`` when it is not known."""
        if self.dt is None:
            raise InterchangeError(
                f"node {node!r} ({type_name}) needs the time step dt, which the file does not "
                "record (no 'dt' metadata) nor imply (its neurons have r = 1); pass "
                "--source-flavor norse|sinabs|snntorch|spikingjelly naming the framework that "
                "wrote it, or --dt SECONDS for a file that follows the NIR spec")
        return self.dt

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor.name, "dt": self.dt, "reset": self.reset,
                "from": dict(self.origin)}


def resolve_reading(metadata: dict[str, Any], nodes: dict[str, Any], options: NirOptions,
                    source: str) -> Reading:
    """The flavour, dt and reset mode to read ``nodes`` with (see the module docstring)."""
    origin: dict[str, str] = {}
    flavor_name = _stated("flavor", "--source-flavor", options.flavor,
                          metadata.get(META_FLAVOR), source, origin)
    flavor = get_flavor(flavor_name)
    reset = _stated("reset", "--reset", options.reset, metadata.get(META_RESET), source, origin)
    if reset is not None and reset not in RESETS:
        raise ConfigError(f"--reset {reset!r} is unknown; choose {' or '.join(RESETS)}")
    dt = _checked_dt(options.dt, metadata.get("dt"), source, origin)
    if dt is None and flavor.dt is not None:
        dt, origin["dt"] = flavor.dt, f"flavor {flavor.name}"
    if dt is None:
        dt = implied_dt(nodes, source)
        if dt is not None:
            origin["dt"] = "implied by r = tau/dt"
    return Reading(source, flavor, dt, reset, origin)


def _stated(what: str, option: str, given: Any, recorded: Any, source: str,
            origin: dict[str, str]) -> Any:
    """The option's value or the metadata's; both, differing: ConfigError."""
    if recorded is not None and given is not None and str(recorded) != str(given):
        raise ConfigError(f"{option} {given} contradicts the {what} {recorded!r} recorded in "
                          f"{source}; leave the option out")
    if given is not None:
        origin[what] = option
        return given
    if recorded is not None:
        origin[what] = "metadata"
    return recorded


def _checked_dt(given: float | None, recorded: Any, source: str,
                origin: dict[str, str]) -> float | None:
    values = {}
    for name, value in (("--dt", given), ("metadata dt", recorded)):
        if value is None:
            continue
        try:
            values[name] = float(value)
        except (TypeError, ValueError) as exc:
            raise InterchangeError(f"{source}: {name} must be a number, got {value!r}") from exc
        if not np.isfinite(values[name]) or values[name] <= 0:
            raise ConfigError(f"{source}: {name} must be a positive number of seconds, got "
                              f"{value!r}")
    if len(values) == 2 and not _agree(values["--dt"], values["metadata dt"]):
        raise ConfigError(f"--dt {given:g} contradicts the dt {values['metadata dt']:g} "
                          f"recorded in {source}; leave the option out")
    for name, value in values.items():
        origin["dt"] = name
        return value
    return None


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= DT_AGREEMENT * max(abs(a), abs(b))


def implied_dt(nodes: dict[str, Any], source: str) -> float | None:
    """The ``dt`` for which every neuron with ``r != 1`` has unit input gain, if they agree.

    ``LIF``/``LI``: ``dt = tau / r``; ``IF``/``I``: ``dt = 1 / r``; ``CubaLIF``:
    ``tau_mem / r``. Nodes with ``r = 1`` say nothing (Norse and Sinabs write 1).
    """
    implied: dict[str, float] = {}
    for name, node in nodes.items():
        r = np.asarray(getattr(node, "r", 1.0), np.float64)
        if r.size == 0 or np.all(r == 1.0):
            continue
        tau = getattr(node, "tau", getattr(node, "tau_mem", None))
        values = (np.asarray(tau, np.float64) if tau is not None else 1.0) / r
        if np.all(np.isfinite(values)) and np.all(values > 0):
            implied[name] = float(np.median(values))
    if not implied:
        return None
    first = next(iter(implied.values()))
    if not all(_agree(v, first) for v in implied.values()):
        shown = ", ".join(f"{name}: {value:g}" for name, value in implied.items())
        raise InterchangeError(f"{source}: the neurons imply different time steps dt = tau/r "
                               f"({shown}); pass --dt SECONDS")
    return first


def check_reset(nodes: dict[str, Node], reading: Reading) -> None:
    """Spiking neurons need a stated reset, and sastc compiles reset to zero only."""
    spiking = [name for name, node in nodes.items() if isinstance(node, LIF)]
    if not spiking:
        return
    if reading.reset is None:
        raise InterchangeError(
            f"{reading.source}: the file does not say how its spiking neurons ({', '.join(spiking)}) "
            "reset after a spike (NIR has no field for it); pass --reset zero if the membrane is "
            "set to 0 (snnTorch reset_mechanism='zero', Norse, SpikingJelly v_reset=0, Sinabs "
            "MembraneReset) or --reset subtract if the threshold is subtracted (the default of "
            "snnTorch Leaky and Sinabs)")
    if reading.reset == "subtract":
        raise InterchangeError(
            f"{reading.source}: node {spiking[0]!r} (LIF) resets by subtraction (--reset "
            "subtract: v <- v - v_threshold after a spike), which sastc's integer neuron cannot "
            "express yet; sastc compiles reset to zero (v <- 0): retrain with snnTorch "
            "reset_mechanism='zero', Sinabs MembraneReset or SpikingJelly v_reset=0")
