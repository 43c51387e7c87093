"""What a synapse op is: its shape rules, and its computation in every backend.

A fused layer (:mod:`sastc.ir.layers`) is ``[pool] -> synapse -> neuron``: a pooling
*stage* in front of the layer's *synapse* op. A :class:`SynapseOp` is data: a name, the
rule it computes, its stage, and one entry per backend (``None`` where a backend does not
implement it, which makes that backend refuse the op with the list of ops it does implement):

===============  ====================================================================
``flat_input``   shape rule: it reads its input flattened C-H-W (NIR: after a ``Flatten``)
``fan_in``       ``geometry -> int``: weights per output neuron
``weight_shape`` ``geometry -> shape`` of the (quantized) weight array
``float_forward`` numpy, float32: the float simulator's synaptic sum
``int_forward``  numpy, exact small integers: the integer simulator's (``sastc.ir.ranges``
                 bounds every partial sum below the float mantissa, so BLAS is exact)
``fanout``       ``(geometry, nonzero mask) -> [pooled input]``: non-zero weights each input
                 reaches; SynOps in both conventions (:mod:`sastc.sim.synops`) count with it
``c_name``       the C runtime's ``SASTC_OP_*`` constant (a pool: the ``sastc_layer`` field
                 holding its kernel)
``onnx_float``   the ONNX ops of the float synaptic sum (:mod:`sastc.synapses.onnx_ops`)
``onnx_int``     the ONNX ops of the exact int64 sum
``nir_node``     the NIR node type it is written as and read from
``ir_node``      the IR node type (:mod:`sastc.ir.nodes`) that lowering fuses into it
===============  ====================================================================

Signatures (``geometry`` is a :class:`sastc.ir.layers.Geometry`, ``layer`` a fused layer)::

    synapse: float_forward(geometry, pooled [N, *pooled_shape], weight) -> [N, *out_shape]
             onnx_float(g, layer, pooled) -> name;  onnx_int(g, layer, pooled, max_input) -> name
    pool:    float_forward(geometry, x [N, *in_shape], dtype) -> [N, *pooled_shape]
             onnx_float(g, x, geometry) -> name (both flavours: exact on small integers)

A pool has no weights: NeuroBench counts no SynOps for it (``fanout`` is ``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SYNAPSE = "synapse"
POOL_STAGE = "pool"
STAGES = (SYNAPSE, POOL_STAGE)


@dataclass(frozen=True)
class SynapseOp:
    """One synapse op or pooling stage (see the module docstring for the backend entries)."""

    name: str
    rule: str                      # what it computes, in one line (docs, error messages)
    stage: str = SYNAPSE
    flat_input: bool = False       # reads its input flattened (C-H-W): NIR writes a Flatten
    fan_in: Callable[[Any], int] | None = None
    weight_shape: Callable[[Any], tuple[int, ...]] | None = None
    float_forward: Callable[..., Any] | None = None
    int_forward: Callable[..., Any] | None = None
    fanout: Callable[[Any, Any], Any] | None = None
    c_name: str | None = None
    onnx_float: Callable[..., str] | None = None
    onnx_int: Callable[..., str] | None = None
    nir_node: str | None = None
    ir_node: str | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"synapse op {self.name!r}: stage must be one of {STAGES}, "
                             f"got {self.stage!r}")
