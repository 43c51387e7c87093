"""The neuron rule every scan computes, and its parameters.

Forward, per time step ``t`` from zero state::

    c[t]     = alpha * c[t-1] + I[t]          (synaptic current; alpha = 0: c = I)
    u_pre[t] = beta * u[t-1] + c[t]
    s[t]     = f(u_pre[t] - theta)
    u[t]     = u_pre[t] * (1 - s[t])          (reset "zero")
             | u_pre[t] - theta * s[t]        (reset "subtract")

``beta = 1`` is the IF neuron, ``alpha > 0`` the current-based LIF (CubaLIF). ``f`` is
the spike function of the mode:

- ``surrogate``: ``f(x) = sigmoid(k x)`` (smooth forward, exact gradient);
- ``hard``: ``f(x) = [x > 0]`` (the integer targets' comparison and reset);
- ``conventional``: hard forward, ``sigmoid(k x)``'s derivative backward.

Backward, with ``g[t] = dL/ds[t]``, ``a[t] = dL/du[t]``, ``b[t] = dL/dc[t]`` from later
steps (both 0 at ``T-1``) and ``f'(t) = k sigma(k x)(1 - sigma(k x))``::

    d[t]         = dL/du_pre[t] = g[t] f'(t) + a[t] du[t]/du_pre[t]
    du/du_pre    = (1 - s[t]) - u_pre[t] f'(t)      (zero)  |  1 - theta f'(t)  (subtract)
    dL/dI[t]     = d[t] + b[t]
    a[t-1]       = beta * d[t],    b[t-1] = alpha * dL/dI[t]

A scan needs to keep only ``u_pre`` and ``s`` for the backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

SPIKE_MODES = ("surrogate", "hard", "conventional")
RESETS = ("zero", "subtract")


@dataclass(frozen=True)
class ScanRule:
    """Constants of one layer's scan (see the module docstring for the equations)."""

    beta: float
    theta: float
    k: float
    mode: str = "surrogate"
    reset: str = "zero"
    alpha: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in SPIKE_MODES:
            raise ValueError(f"spike mode must be one of {SPIKE_MODES}, got {self.mode!r}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")

    @property
    def smooth(self) -> bool:
        """Whether the forward spike is the sigmoid (surrogate mode) rather than a step."""
        return self.mode == "surrogate"
