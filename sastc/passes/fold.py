"""``fold``: lower the graph into fused float layers.

Contract: afterwards ``ctx.float_net`` holds one :class:`FloatLayer` per
synapse+neuron pair, average pooling folded into the following weights
(``avgpool_k = sumpool_k / k^2``) and flatten made implicit, so every later
pass sees integer spike counts at every synapse input.
"""

from __future__ import annotations

from sastc.ir.lower import fuse
from sastc.passes.context import CompileContext


def fold_pass(ctx: CompileContext) -> None:
    ctx.float_net = fuse(ctx.graph)
    ctx.report["fold"] = {
        "layers": [{"name": layer.name, "op": layer.geometry.op, "neuron": layer.neuron,
                    "reset": layer.reset,
                    "pool": layer.geometry.pool, "in_shape": list(layer.geometry.in_shape),
                    "out_shape": list(layer.geometry.out_shape), "fan_in": layer.geometry.fan_in}
                   for layer in ctx.float_net.layers]}
