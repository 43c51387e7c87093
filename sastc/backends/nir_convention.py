"""How sastc's discrete-time neurons map onto NIR's continuous-time ones.

NIR's LIF is ``tau dv/dt = (v_leak - v) + r I``. One forward-Euler step of
length ``dt`` gives::

    v <- (1 - dt/tau) * v  +  (dt/tau) * v_leak  +  (dt * r / tau) * I

sastc (like snnTorch) steps ``u <- beta * u + I``, so it writes, with ``dt = 1e-4``::

    tau = dt / (1 - beta),  r = tau / dt,  v_leak = 0,  v_reset = 0,  v_threshold = threshold

and reads ``beta = 1 - dt/tau``, an input gain ``g = dt * r / tau`` (folded into
the synapse before the neuron) and a constant drive ``dt * v_leak / tau`` per
step (folded into its bias). ``beta = 1`` (no leak) is written as
``tau = dt * 2**60``: every step of the conversion is exact and ``1 - dt/tau``
rounds to exactly 1.0.

>>> float(beta_from_tau(tau_from_beta(np.array(0.5), 1e-4), 1e-4))
0.5
>>> float(beta_from_tau(tau_from_beta(np.array(1.0), 1e-4), 1e-4))
1.0
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

DEFAULT_DT = 1e-4
NO_LEAK_TAU_STEPS = 2.0**60
GAIN_TOLERANCE = 1e-6  # |g - 1| below this is float32 rounding of (tau, r): taken as 1

# graph metadata written on export (and read back when present)
META_DT = "dt"
META_TIME_BINS = "time_bins"
META_CLASSES = "classes"  # JSON list of class names
META_INPUT_CLIP = "input_clip"
META_STEEPNESS = "steepness"
META_SPEC = "spec"  # JSON of the architecture spec
META_QUANTIZATION = "quantization"
RESTORED_KEYS = (META_TIME_BINS, META_CLASSES, META_INPUT_CLIP, META_STEEPNESS, META_SPEC)
JSON_KEYS = (META_CLASSES, META_SPEC)

SEMANTICS = {
    "producer": "sastc",
    "neuron_model": "discrete: [CubaLIF: c[t] = alpha*c[t-1] + I[t], alpha = 1 - dt/tau_syn, "
                    "I = (dt*w_in/tau_syn) * synaptic input, then (dt*r/tau_mem) * c drives v]; "
                    "u_pre[t] = beta*u[t-1] + I[t], s[t] = u_pre[t] > v_threshold, "
                    "beta = 1 - dt/tau, I = (dt*r/tau) * synaptic input (IF: dt*r); after a "
                    "spike u[t] = 0 (reset zero) or u_pre[t] - v_threshold (subtract)",
    "threshold_comparison": ">",
    "reset_timing": "a spike at t resets u before the leak of step t+1 (snnTorch Leaky "
                    "reset_mechanism='zero'; Sinabs MembraneSubtract for subtract)",
}
READOUTS = {"li": "mean_t(LI.v)", "lif": "sum_t(LIF.spikes)"}


def readout_text(neuron: str) -> str:
    """What the logits are for a network whose last layer has model ``neuron``.

    >>> readout_text("li"), readout_text("cuba")
    ('mean_t(LI.v)', 'sum_t(spikes)')
    """
    return READOUTS.get(neuron, "sum_t(spikes)")


def tau_from_beta(beta: np.ndarray, dt: float) -> np.ndarray:
    """``tau = dt / (1 - beta)``; ``beta = 1`` gives ``dt * 2**60`` (finite, exact)."""
    beta = np.asarray(beta, dtype=np.float64)
    leak = 1.0 - beta
    return np.where(leak > 0, dt / np.where(leak > 0, leak, 1.0), dt * NO_LEAK_TAU_STEPS)


def beta_from_tau(tau: np.ndarray, dt: float) -> np.ndarray:
    """``beta = 1 - dt / tau``."""
    return 1.0 - dt / np.asarray(tau, dtype=np.float64)


def snap_to_one(gain: np.ndarray) -> np.ndarray:
    """``gain`` with values within :data:`GAIN_TOLERANCE` of 1 replaced by exactly 1.

    >>> snap_to_one(np.array([1.0000001, 2.0])).tolist()
    [1.0, 2.0]
    """
    gain = np.asarray(gain, dtype=np.float64)
    return np.where(np.abs(gain - 1.0) <= GAIN_TOLERANCE, 1.0, gain)


def leak_drive(tau: np.ndarray, v_leak: np.ndarray, dt: float) -> np.ndarray:
    """Constant input per step from a resting potential: ``dt * v_leak / tau`` (0 where
    ``v_leak = 0``, whatever ``tau``)."""
    v_leak = np.asarray(v_leak, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v_leak == 0.0, 0.0, dt * v_leak / np.asarray(tau, np.float64))


def to_h5(value: Any) -> Any:
    """``value`` as something ``nir.write`` (HDF5) stores: no None, no lists of strings."""
    if isinstance(value, dict):
        return {str(k): to_h5(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (str, dict, list)) for v in value):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value


def from_h5(value: Any) -> Any:
    """A metadata value read back by ``nir.read`` as plain Python (JSON-friendly).

    >>> from_h5(np.int64(3)), from_h5(b"zero"), from_h5(np.array([1, 2]))
    (3, 'zero', [1, 2])
    """
    if isinstance(value, dict):
        return {k: from_h5(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [from_h5(v) for v in value.tolist()] if value.ndim else from_h5(value.item())
    if isinstance(value, np.generic):
        return value.item()
    return value
