"""NIR neuron nodes to sastc's neuron models, one converter per NIR node type (numpy only).

A neuron converter returns the sastc node and the neuron's input gain ``g`` and constant
drive ``d`` per step, as the file's flavour runs it (:mod:`sastc.backends.nir_flavors`,
:mod:`sastc.backends.nir_reading`); the importer folds them into the synapse before it:
``I = g * (W x + b) + d``. A ``LIF``/``IF`` whose threshold is infinite never fires: it is
read as the ``LI``/``I`` it is (flavours without an ``LI`` node write readouts that way).
A ``CubaLIF``'s two gains (into its current, and from the current into the membrane)
multiply into one, since both stages are linear. Spiking nodes take the reset the reading
states for them (:meth:`~sastc.backends.nir_reading.Reading.reset_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sastc.backends.nir_convention import GAIN_TOLERANCE, leak_drive, snap_to_one
from sastc.backends.nir_flavors import SPEC, nudge_threshold
from sastc.backends.nir_reading import Reading
from sastc.errors import InterchangeError
from sastc.ir.nodes import IF, LI, LIF, CubaLIF, Node


@dataclass
class Converted:
    """A sastc node, plus the gain and drive a neuron needs folded into its synapse."""

    node: Node
    gain: np.ndarray | None = None
    drive: np.ndarray | None = None

    @property
    def needs_folding(self) -> bool:
        gain_is_one = self.gain is None or bool(np.all(self.gain == 1.0))
        return not gain_is_one or (self.drive is not None and bool(np.any(self.drive != 0.0)))


def _array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _compact(values: np.ndarray) -> np.ndarray:
    """One value when all neurons share it (the common case), else the array.

    >>> _compact(np.full((2, 3), 0.5)).shape, _compact(np.array([[[1.0]], [[2.0]]])).shape
    ((), (2,))
    """
    values = np.asarray(values)
    flat = np.ravel(values)
    if flat.size and np.all(flat == flat[0]):
        return np.asarray(flat[0])
    if values.ndim > 1 and all(d == 1 for d in values.shape[1:]):  # per channel: [C, 1, 1]
        return values.reshape(values.shape[0])
    return values


def _checked_tau(name: str, node: Any, reading: Reading, dt: float, key: str = "tau"
                 ) -> np.ndarray:
    tau = _array(getattr(node, key))
    if reading.flavor.decay == "exp":  # beta = exp(-dt/tau): tau = 0 and inf are 0 and 1
        bad, rule = np.isnan(tau) | (tau < 0), ">= 0 (beta = exp(-dt/tau))"
    else:
        bad = ~np.isfinite(tau) | (tau < dt * (1.0 - GAIN_TOLERANCE))
        rule = f"finite and >= dt = {dt:g} (beta = 1 - dt/tau in [0, 1])"
    if np.any(bad):
        hint = NORSE_TAU_HINT if reading.flavor.name == "norse" else ""
        raise InterchangeError(f"node {name!r} ({type(node).__name__}): {key} must be {rule}, "
                               f"got {float(tau[bad].flat[0]):g}{hint}")
    return tau


NORSE_TAU_HINT = ("; Norse 1.1.0's exporter writes tau = dt / tau_mem_inv, so its files read "
                  "with --dt equal to the square of its time step (1e-6 for dt = 1e-3)")


def _beta(reading: Reading, tau: np.ndarray, dt: float) -> np.ndarray:
    """The flavour's decay, clipped to [0, 1] (a float32 rounding of ``tau = dt`` gives 0)."""
    return np.clip(reading.flavor.beta(tau, dt), 0.0, 1.0)


def _checked_reset(name: str, node: Any) -> None:
    reset = _array(node.v_reset)
    if np.any(reset != 0.0):
        raise InterchangeError(f"node {name!r} ({type(node).__name__}): v_reset must be 0 "
                               f"(sastc resets the membrane to zero), got "
                               f"{float(reset[reset != 0].flat[0]):g}")


def _threshold(reading: Reading, node: Any) -> np.ndarray:
    """``v_threshold`` for sastc's ``>`` test (one float32 step down for a ``>=`` flavour)."""
    return np.asarray(nudge_threshold(_array(node.v_threshold), reading.flavor.compare, "down"),
                      np.float64)


def _lif(name: str, node: Any, reading: Reading) -> Converted:
    _checked_reset(name, node)
    dt = reading.require_dt(name, "LIF")
    tau = _checked_tau(name, node, reading, dt)
    threshold, beta = _threshold(reading, node), _compact(_beta(reading, tau, dt))
    neuron = LI(beta) if np.all(np.isinf(threshold)) else \
        LIF(beta, _compact(threshold), reading.reset_for(name, "LIF", beta))
    return Converted(neuron, _lif_gain(reading, tau, node.r, dt), leak_drive(tau, node.v_leak, dt))


def _lif_gain(reading: Reading, tau: np.ndarray, r: Any, dt: float) -> np.ndarray:
    return snap_to_one(reading.flavor.lif_input_gain(tau, r, dt))


def _li(name: str, node: Any, reading: Reading) -> Converted:
    dt = reading.require_dt(name, "LI")
    tau = _checked_tau(name, node, reading, dt)
    neuron = LI(_compact(_beta(reading, tau, dt)))
    return Converted(neuron, _lif_gain(reading, tau, node.r, dt), leak_drive(tau, node.v_leak, dt))


def _if_gain(name: str, node: Any, reading: Reading) -> np.ndarray:
    dt = reading.require_dt(name, type(node).__name__) if reading.flavor.if_gain == "r" else 1.0
    return snap_to_one(reading.flavor.if_input_gain(node.r, dt))


def _if(name: str, node: Any, reading: Reading) -> Converted:
    _checked_reset(name, node)
    threshold = _threshold(reading, node)
    neuron = LI(1.0) if np.all(np.isinf(threshold)) else \
        IF(_compact(threshold), reading.reset_for(name, "IF", np.ones(1)))
    return Converted(neuron, _if_gain(name, node, reading))


def _integrator(name: str, node: Any, reading: Reading) -> Converted:
    return Converted(LI(1.0), _if_gain(name, node, reading))


def _cuba_lif(name: str, node: Any, reading: Reading) -> Converted:
    """``CubaLIF``: ``alpha`` and ``beta`` from ``tau_syn`` and ``tau_mem``; the current's and the
    membrane's input gains folded into the synapse together (the file's synaptic input only
    reaches the membrane through the current, and both are linear)."""
    _checked_reset(name, node)
    where = f"node {name!r} (CubaLIF)"
    if np.any(_array(node.v_leak) != 0.0):
        raise InterchangeError(f"{where}: v_leak must be 0 (a constant drive into the membrane, "
                               "behind the current, which sastc's CubaLIF does not have), got "
                               f"{float(_array(node.v_leak).max()):g}")
    threshold = _threshold(reading, node)
    if np.all(np.isinf(threshold)):
        raise InterchangeError(f"{where} never fires (v_threshold = inf): a readout behind a "
                               "synaptic current, which sastc cannot express; its readout is LI")
    dt = reading.require_dt(name, "CubaLIF")
    _check_cuba_flavor(where, reading, reading.reset_of(name) or "zero")
    tau_mem = _checked_tau(name, node, reading, dt, "tau_mem")
    tau_syn = _checked_tau(name, node, reading, dt, "tau_syn")
    beta = _compact(_beta(reading, tau_mem, dt))
    neuron = CubaLIF(beta, _compact(_beta(reading, tau_syn, dt)), _compact(threshold),
                     reading.reset_for(name, "CubaLIF", beta))
    gain = reading.flavor.current_input_gain(tau_syn, node.w_in, dt) \
        * reading.flavor.lif_input_gain(tau_mem, node.r, dt)
    return Converted(neuron, snap_to_one(gain))


def _check_cuba_flavor(where: str, reading: Reading, reset: str) -> None:
    """Frameworks run CubaLIF nodes differently (where the input enters the current, how they
    reset): the flavour must be stated and must run this reset as sastc does."""
    flavor = reading.flavor
    if flavor.name == SPEC and "flavor" not in reading.origin:
        raise InterchangeError(f"{where}: frameworks run CubaLIF differently (Norse's current "
                               "jumps by the input, Rockpool's decays after it, snnTorch's "
                               "Synaptic resets late); pass --source-flavor naming the "
                               "framework that wrote the file (spec: the NIR equations, "
                               "forward Euler)")
    if reset not in flavor.cuba_resets:
        why = f" ({flavor.cuba_note})" if flavor.cuba_note else ""
        raise InterchangeError(f"{where}: {flavor.peer} runs a CubaLIF with reset {reset} "
                               f"differently from sastc's cuba neuron{why}; sastc reads its "
                               f"CubaLIF nodes with reset {' or '.join(flavor.cuba_resets) or 'none'}")


NEURON_CONVERTERS: dict[str, Callable[[str, Any, Reading], Converted]] = {
    "LIF": _lif, "LI": _li, "IF": _if, "I": _integrator, "CubaLIF": _cuba_lif,
}
