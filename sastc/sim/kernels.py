"""The simulators' synaptic sums: each layer's op (:mod:`sastc.synapses`) on a batch.

The kernels themselves (sum pooling, blocked im2col convolution, dense) are the ops'
numpy entries in :mod:`sastc.synapses.kernels`, re-exported here.
"""

from __future__ import annotations

import numpy as np

from sastc.ir.layers import Geometry
from sastc.synapses import POOL, backend_entry
from sastc.synapses.kernels import conv2d, dense, sum_pool

__all__ = ["apply_pool", "apply_synapse", "conv2d", "dense", "sum_pool"]

FORWARDS = {False: "float_forward", True: "int_forward"}


def apply_pool(geometry: Geometry, x: np.ndarray, dtype: np.dtype | type | None = None,
               integer: bool = False) -> np.ndarray:
    """The layer's input pooling (``pool`` stage) of ``[N, *in_shape]``; see :func:`sum_pool`."""
    if geometry.pool == 1:
        return x if dtype is None else x.astype(dtype, copy=False)
    forward = backend_entry(FORWARDS[integer], POOL, _simulator(integer), "pooling")
    return forward(geometry, x, dtype)


def apply_synapse(geometry: Geometry, pooled: np.ndarray, weight: np.ndarray,
                  integer: bool = False, layer: str = "?") -> np.ndarray:
    """The layer's synapse op on an already pooled batch ``[N, *pooled_shape]``."""
    forward = backend_entry(FORWARDS[integer], geometry.op, _simulator(integer), layer)
    return forward(geometry, pooled, weight)


def _simulator(integer: bool) -> str:
    return "the integer simulator" if integer else "the float simulator"
