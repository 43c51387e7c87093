"""NIR flavours: how each peer framework's NIR importer runs a graph, as data.

NIR fixes a continuous-time neuron, ``tau dv/dt = (v_leak - v) + r I``, but every
framework discretises it its own way, and the file carries neither the time step,
the reset mode nor the spike comparison. A :class:`Flavor` states one importer's
reading (measured on nir 1.0.8, norse 1.1.0, sinabs 2.0.3, snntorch 1.0.0,
spikingjelly 2.0.0), per step of a LIF with input ``I``:

==============  ============================  ====================  =========  ==========
flavor          decay ``beta``                input gain            spike      pooling
==============  ============================  ====================  =========  ==========
spec            ``1 - dt/tau``                ``dt r / tau``        ``v > th``  SumPool2d
norse           ``1 - dt/tau`` (dt = 1e-3)    ``dt / tau`` (no r)   ``v > th``  SumPool2d
sinabs          ``exp(-1/tau)`` (tau: steps)  1 (r must be 1)       ``v >= th`` SumPool2d
snntorch        ``1 - dt/tau`` (dt = 1e-4)    ``dt r / tau``        ``v > th``  AvgPool2d
spikingjelly    ``1 - dt/tau`` (dt = 1e-4)    ``dt r / tau``        ``v >= th`` AvgPool2d
rockpool        ``exp(-dt/tau)`` (dt = 1e-3)  1 (r ignored)         ``v >= th`` (read only)
==============  ============================  ====================  =========  ==========

A ``CubaLIF`` adds a synaptic current ``i <- alpha i + g x`` before the membrane, read
per flavour: ``g = dt w_in / tau_syn`` (spec, snnTorch), ``w_in`` (Norse: the current
jumps by the input), ``alpha w_in`` (Rockpool: it decays after the input is added).
Each flavour lists the neuron models and resets it writes (:attr:`Flavor.models`,
:attr:`Flavor.resets`) and reads (:attr:`Flavor.subtract`, :attr:`Flavor.cuba_resets`);
Rockpool's is read only (sastc writes nothing for its importer).

The exporter (:mod:`sastc.backends.nir_export`) writes parameters so that the
flavour's importer computes sastc's step ``u = beta u + I``; the importer
(:mod:`sastc.backends.nir_import`) reads a file the way that framework runs it.

>>> FLAVORS["norse"].beta(np.array([1e-2]), 1e-3).tolist()
[0.9]
>>> float(FLAVORS["sinabs"].tau(np.array(np.exp(-0.5)), 1.0))
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sastc.backends.nir_convention import NO_LEAK_TAU_STEPS
from sastc.errors import ConfigError
from sastc.neurons import NEURONS, RESETS

SPEC = "spec"
BASIC_MODELS = ("lif", "if", "li")


@dataclass(frozen=True)
class Flavor:
    """One framework's reading of NIR neuron nodes (see the module docstring)."""

    name: str
    peer: str  # the framework and version this reading was measured on
    dt: float | None  # the time step it assumes; None: from the file (spec)
    decay: str  # "euler": beta = 1 - dt/tau; "exp": beta = exp(-dt/tau)
    lif_gain: str  # "r": dt*r/tau; "tau": dt/tau (r ignored); "one": 1 (r ignored)
    if_gain: str  # "r": dt*r; "one": 1 (r ignored)
    compare: str  # ">" or ">=": the spike test against v_threshold
    pool: str  # "sum": SumPool2d; "avg": AvgPool2d (k*k folded into the next weights)
    batch_safe_flatten: bool  # Flatten start_dim = -ndim: its importer keeps 0 unshifted
    has_li: bool  # the importer maps LI; else a readout is a LIF that never fires
    uniform_threshold: bool  # one threshold per layer (per-channel ones fold into weights)
    euler_if: bool  # beta = 1 is written as an IF node (LIF cannot express it)
    channel_params: bool  # neuron parameters per channel ([C, 1, 1]), not per neuron
    after_import: str = ""  # what the user must do after the peer's importer
    models: tuple[str, ...] = BASIC_MODELS  # neuron models written so that its importer agrees
    resets: tuple[str, ...] = ("zero",)  # resets written so (the file cannot say which)
    # per reset written, what the user sets on those layers after import (the file cannot say)
    reset_fixes: tuple[tuple[str, str], ...] = ()
    reset_note: str = ""  # why the resets not in ``resets`` are not written
    # how its neurons subtract the threshold, read back: "decayed" (v <- beta (v - thr) + I:
    # sastc, Sinabs, Rockpool), "after-leak" (v <- beta v + I - thr: snnTorch), "" unknown
    subtract: str = ""
    # CubaLIF input gain into the current: "w_in": dt*w_in/tau_syn; "jump": w_in (Norse);
    # "decay": w_in * alpha, the current decaying after the input is added (Rockpool)
    syn_gain: str = "w_in"
    cuba_resets: tuple[str, ...] = ()  # resets with which its CubaLIF runs as sastc's cuba
    cuba_note: str = ""  # why it does not with the others

    def beta(self, tau: np.ndarray, dt: float) -> np.ndarray:
        """The decay per step of a neuron with time constant ``tau``."""
        with np.errstate(divide="ignore"):  # tau = 0: ratio inf, exp gives beta = 0
            ratio = dt / np.asarray(tau, np.float64)
        return np.exp(-ratio) if self.decay == "exp" else 1.0 - ratio

    def tau(self, beta: np.ndarray, dt: float) -> np.ndarray:
        """The time constant this flavour writes for ``beta`` (spec: ``beta = 1`` as ``dt * 2**60``;
        exp: ``beta = 0`` as 0 and ``beta = 1`` as inf)."""
        beta = np.asarray(beta, np.float64)
        if self.decay == "exp":
            log = np.log(np.where((beta > 0) & (beta < 1), beta, 0.5))
            return np.where(beta <= 0, 0.0, np.where(beta >= 1, np.inf, -dt / log))
        leak = 1.0 - beta
        return np.where(leak > 0, dt / np.where(leak > 0, leak, 1.0), dt * NO_LEAK_TAU_STEPS)

    def lif_input_gain(self, tau: np.ndarray, r: np.ndarray, dt: float) -> np.ndarray:
        """The factor this importer multiplies a LIF/LI node's input by each step."""
        if self.lif_gain == "one":
            return np.ones_like(np.asarray(tau, np.float64))
        r = 1.0 if self.lif_gain == "tau" else np.asarray(r, np.float64)
        return dt * r / np.asarray(tau, np.float64)

    def current_input_gain(self, tau_syn: np.ndarray, w_in: np.ndarray, dt: float) -> np.ndarray:
        """The factor this importer multiplies a CubaLIF node's input by, into its current."""
        w_in = np.asarray(w_in, np.float64)
        if self.syn_gain == "jump":
            return w_in
        if self.syn_gain == "decay":  # i <- alpha (i + w_in x): the input decays once too
            return w_in * self.beta(tau_syn, dt)
        return dt * w_in / np.asarray(tau_syn, np.float64)

    def reset_fix(self, reset: str) -> str:
        """What the user sets, after this peer's importer, on layers that reset by ``reset``."""
        return dict(self.reset_fixes).get(reset, "")

    def if_input_gain(self, r: np.ndarray, dt: float) -> np.ndarray:
        """The factor this importer multiplies an IF/I node's input by each step."""
        r = np.asarray(r, np.float64)
        return np.ones_like(r) if self.if_gain == "one" else dt * r


_SINABS_BUILDS = ("sinabs.from_nir builds LIF layers with spike_fn=MultiSpike (several spikes per "
                  "step) and reset_fn=MembraneSubtract()")
_SINABS_FIXES = (("zero", "spike_fn=sinabs.activation.SingleSpike and "
                          "reset_fn=sinabs.activation.MembraneReset()"),
                 ("subtract", "spike_fn=sinabs.activation.SingleSpike (keep its MembraneSubtract)"))
_SPIKINGJELLY_BUILDS = ("nir_exchange.import_from_nir builds every LIFNode/IFNode with the file's "
                        "v_reset, 0: a hard reset")
_SPIKINGJELLY_FIXES = (("subtract", "v_reset = None on each one's LIFNode/IFNode "
                                    "(model.<node>.module; soft reset: v <- v - v_threshold)"),)
_SNNTORCH_RESET = ("snntorch's import_from_nir builds every LIF as Leaky(reset_mechanism='zero') "
                   "and an IF as Leaky(beta=0.9), and its subtraction comes after the leak")
_NORSE_RESET = "Norse's LIF resets the membrane to v_reset, never by subtraction"
_NO_LI = "the readout is a LIF with v_threshold = inf (it never fires): read its membrane"
_NORSE_CUBA = "Norse's LIFCell resets the membrane to v_reset, never by subtraction"
_SNNTORCH_CUBA = ("snnTorch's Synaptic with reset_mechanism='zero' zeroes the membrane a step "
                  "late, dropping that step's input: m[t] = (1 - s[t-1]) (beta m[t-1] + c[t])")

FLAVORS: dict[str, Flavor] = {f.name: f for f in (
    Flavor(SPEC, "NIR 1.0.8 specification", None, "euler", "r", "r", ">", "sum", False, True,
           False, False, False, models=tuple(NEURONS), resets=RESETS, subtract="decayed",
           cuba_resets=RESETS),
    Flavor("norse", "norse 1.1.0 (norse.torch.from_nir, dt=1e-3)", 1e-3, "euler", "tau", "one",
           ">", "sum", True, False, False, True, False, _NO_LI + " from the returned state",
           syn_gain="jump", cuba_resets=("zero",), cuba_note=_NORSE_CUBA, reset_note=_NORSE_RESET),
    Flavor("sinabs", "sinabs 2.0.3 (sinabs.from_nir)", 1.0, "exp", "one", "one", ">=", "sum", True,
           True, False, False, True, _SINABS_BUILDS, resets=RESETS, reset_fixes=_SINABS_FIXES,
           subtract="decayed"),
    Flavor("snntorch", "snntorch 1.0.0 (snntorch.import_nir.import_from_nir)", 1e-4, "euler", "r",
           "r", ">", "avg", True, False, True, False, False, _NO_LI + " (Leaky.mem)",
           subtract="after-leak", cuba_resets=("subtract",), cuba_note=_SNNTORCH_CUBA,
           reset_note=_SNNTORCH_RESET),
    Flavor("spikingjelly", "spikingjelly 2.0.0 (nir_exchange.import_from_nir, dt=1e-4)", 1e-4,
           "euler", "r", "r", ">=", "avg", True, False, True, True, False,
           _NO_LI + " from the returned state; " + _SPIKINGJELLY_BUILDS, resets=RESETS,
           reset_fixes=_SPIKINGJELLY_FIXES, subtract="decayed"),
    Flavor("rockpool", "rockpool 3.1.0 (LIFTorch, dt=1e-3)", 1e-3, "exp", "one", "one", ">=",
           "sum", True, False, False, False, False, models=(), resets=(), subtract="decayed",
           syn_gain="decay", cuba_resets=("subtract",),
           cuba_note="Rockpool's LIFTorch subtracts the threshold"),
)}
FLAVOR_NAMES = tuple(FLAVORS)
WRITTEN_FLAVORS = tuple(name for name, flavor in FLAVORS.items() if flavor.models)


def get_flavor(name: str | None) -> Flavor:
    """The flavour called ``name`` (None: the spec); unknown names raise :class:`ConfigError`."""
    flavor = FLAVORS.get(name or SPEC)
    if flavor is None:
        raise ConfigError(f"--nir-flavor {name!r} is unknown; choose one of "
                          f"{', '.join(FLAVOR_NAMES)}")
    return flavor


def nudge_threshold(threshold: np.ndarray, compare: str, toward: str) -> np.ndarray:
    """Thresholds in float32 that make ``>=`` and ``>`` tests agree exactly.

    For float32 ``v``: ``v > t`` iff ``v >= nextafter(t, +inf)``, so an exporter for a
    ``>=`` framework writes the next float up (``toward="up"``) and an importer of its
    files the next float down (``"down"``). ``compare=">"`` leaves ``threshold`` as is.

    >>> t = nudge_threshold(np.array([1.0]), ">=", "up")
    >>> bool(np.float32(1.0) >= t[0]), bool(np.nextafter(np.float32(1.0), np.float32(2)) >= t[0])
    (False, True)
    """
    if compare == ">":
        return np.asarray(threshold, np.float64)
    values = np.asarray(threshold, np.float32)
    target = np.float32(np.inf if toward == "up" else -np.inf)
    return np.where(np.isfinite(values), np.nextafter(values, target), values)
