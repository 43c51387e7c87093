"""What a NIR file leaves out, settled before its nodes are read: flavour, dt, reset.

NIR carries neither the time step ``dt``, nor how a spiking neuron resets (to zero
or by subtracting the threshold), nor the framework whose discretisation it was
written for. Each is taken, in this order, from an explicit option (``--dt``,
``--reset``, ``--source-flavor`` of ``sastc compile``), the graph's metadata
(``dt``, ``reset_mode`` and, per node, ``reset_modes``, ``nir_flavor``: sastc writes them
all), and then:

* **flavour**: the NIR spec;
* **dt**: the flavour's (Norse 1e-3, snnTorch and SpikingJelly 1e-4, Sinabs 1 step),
  else the step implied by the file itself: a node with ``r != 1`` written the
  snnTorch way (unit input gain per step) states ``dt = tau / r`` (``1 / r`` for
  ``IF``), when all such nodes agree. Otherwise no ``dt`` is known, and reading a
  node that needs one raises an error naming ``--dt``;
* **reset**: nothing. A graph with spiking neurons and no stated reset is refused
  with an error naming ``--reset``: a network trained with subtraction (the default
  of snnTorch's ``Leaky`` and of Sinabs) must never compile silently as reset to zero.

Reset by subtraction means different things where ``beta < 1``: sastc, Sinabs and
Rockpool subtract the threshold before the next leak (``v <- beta (v - theta) + I``),
snnTorch after it (``v <- beta v + I - theta``). The flavour's :attr:`Flavor.subtract`
says which; a file whose flavour is not stated is refused there, naming
``--source-flavor``, and snnTorch's variant is refused (sastc cannot express it).

An option that contradicts the metadata is an error, not a silent override.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sastc.backends.nir_convention import from_h5
from sastc.backends.nir_flavors import SPEC, Flavor, get_flavor
from sastc.errors import ConfigError, InterchangeError
from sastc.ir.nodes import NeuronNode, Node
from sastc.neurons import RESETS, is_spiking

DT_AGREEMENT = 1e-6  # relative: nodes imply the same dt within float32 rounding
META_FLAVOR = "nir_flavor"
META_RESET = "reset_mode"
META_RESETS = "reset_modes"  # JSON: spiking node -> reset
PER_NODE = "per-node"


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
    resets: dict[str, str] = field(default_factory=dict)  # per node, from the metadata

    def reset_of(self, node: str) -> str | None:
        """How spiking node ``node`` resets: the file's word for it, else the stated reset."""
        return self.resets.get(node, self.reset)

    def reset_for(self, node: str, type_name: str, beta: np.ndarray) -> str:
        """:meth:`reset_of` for a node with decay ``beta`` (``zero`` where none is stated:
        :func:`check_reset` refuses those); a subtraction the flavour's framework computes
        differently from sastc raises :class:`InterchangeError` (see the module docstring)."""
        reset = self.reset_of(node) or "zero"
        if reset == "zero" or bool(np.all(np.asarray(beta) == 1.0)):
            return reset
        where = (f"node {node!r} ({type_name}) resets by subtraction with beta "
                 f"{float(np.min(beta)):g} < 1")
        if self.flavor.name == SPEC and "flavor" not in self.origin:
            raise InterchangeError(f"{where}, which frameworks compute differently: sastc, Sinabs "
                                   "and Rockpool subtract the threshold before the next leak "
                                   "(v <- beta (v - v_threshold) + I), snnTorch after it (v <- "
                                   "beta v + I - v_threshold); pass --source-flavor naming the "
                                   "framework that wrote the file (spec for the former)")
        if self.flavor.subtract != "decayed":
            rule = ("v <- beta v + I - v_threshold" if self.flavor.subtract == "after-leak"
                    else "a rule sastc was not measured against")
            raise InterchangeError(f"{where}: {self.flavor.peer} subtracts by {rule}, which "
                                   "sastc's subtract reset (v <- beta (v - v_threshold) + I, as "
                                   "Sinabs) cannot express for beta < 1; reset to zero "
                                   "(snnTorch reset_mechanism='zero') or beta = 1 compiles")
        return reset

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
    reset = None if reset == PER_NODE else reset
    if reset is not None and reset not in RESETS:
        raise ConfigError(f"--reset {reset!r} is unknown; choose {' or '.join(RESETS)}")
    dt = _checked_dt(options.dt, metadata.get("dt"), source, origin)
    if dt is None and flavor.dt is not None:
        dt, origin["dt"] = flavor.dt, f"flavor {flavor.name}"
    if dt is None:
        dt = implied_dt(nodes, source)
        if dt is not None:
            origin["dt"] = "implied by r = tau/dt"
    return Reading(source, flavor, dt, reset, origin, _node_resets(metadata, source))


def _node_resets(metadata: dict[str, Any], source: str) -> dict[str, str]:
    """The per-node resets of the metadata (``reset_modes``, JSON), checked."""
    recorded = metadata.get(META_RESETS)
    if recorded is None:
        return {}
    try:
        modes = json.loads(recorded) if isinstance(recorded, str) else from_h5(recorded)
    except json.JSONDecodeError as exc:
        raise InterchangeError(f"{source}: metadata {META_RESETS} is not valid JSON ({exc})") \
            from exc
    if not isinstance(modes, dict) or not set(modes.values()) <= set(RESETS):
        raise InterchangeError(f"{source}: metadata {META_RESETS} must map node names to "
                               f"{' or '.join(RESETS)}, got {recorded!r}")
    return {str(name): str(mode) for name, mode in modes.items()}


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
    """Every spiking neuron needs a stated reset (the converters read it with
    :meth:`Reading.reset_for`)."""
    spiking = [name for name, node in nodes.items()
               if isinstance(node, NeuronNode) and is_spiking(node.neuron)]
    unstated = [name for name in spiking if reading.reset_of(name) is None]
    if unstated:
        raise InterchangeError(
            f"{reading.source}: the file does not say how its spiking neurons ({', '.join(unstated)}) "
            "reset after a spike (NIR has no field for it); pass --reset zero if the membrane is "
            "set to 0 (snnTorch reset_mechanism='zero', Norse, SpikingJelly v_reset=0, Sinabs "
            "MembraneReset) or --reset subtract if the threshold is subtracted (the default of "
            "snnTorch Leaky and Sinabs)")
