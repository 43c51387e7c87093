"""What the C runtime needs proved before it may run a model, and what it costs.

``check_qnet`` raises :class:`CompileError` naming the layer and the violated bound
unless the runtime's int32 arithmetic is exact for the model; ``prove_layers`` derives
the facts behind the runtime's fast paths (int16 partial sums, clamp-free steps);
``model_memory`` gives flash and RAM on a 32-bit microcontroller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sastc.backends.c_codegen import (
    MODEL_STRUCT_BYTES,
    layer_data_bytes,
    state_words,
    strings_bytes,
)
from sastc.errors import CompileError
from sastc.ir.quantized import QLayer, QNet
from sastc.ir.ranges import (
    UINT32_MAX,
    accumulator_bound,
    has_current,
    max_inputs,
    unsaturated_steps,
)
from sastc.neurons import backend_entry, is_spiking

INT32_MAX = (1 << 31) - 1
INT16_MAX = (1 << 15) - 1
RUNTIME_CODE_BYTES = 24 * 1024  # runtime code, Cortex-M4 Thumb-2 -O2 (about 18 KiB at -Os)
DIM_MAX = (1 << 16) - 1
BYTE_MAX = 255
SIZE_MAX = 1 << 28  # neurons or weights of one layer (32-bit indices and byte counts)


def _fail(layer: QLayer, message: str) -> None:
    raise CompileError(f"c-header: layer {layer.name!r}: {message}")


def _check_widths(layer: QLayer) -> None:
    """Weight, membrane, leak and fraction widths the int32 runtime supports."""
    if not 2 <= layer.weight_bits <= 8:
        _fail(layer, f"weight_bits is {layer.weight_bits}; the C runtime stores 2..4-bit weights "
                     "as packed nibbles and 5..8-bit weights as int8, so expected 2..8")
    low, high = -(1 << (layer.weight_bits - 1)), (1 << (layer.weight_bits - 1)) - 1
    if layer.weight_q.size and not low <= int(layer.weight_q.min()) <= int(layer.weight_q.max()) <= high:
        _fail(layer, f"weights span [{int(layer.weight_q.min())}, {int(layer.weight_q.max())}], "
                     f"outside the {layer.weight_bits}-bit range [{low}, {high}]")
    if not 2 <= layer.membrane_bits <= 31 or not 0 <= layer.leak_shift <= 30:
        _fail(layer, f"membrane_bits {layer.membrane_bits} / leak_shift {layer.leak_shift}: "
                     "expected membrane_bits in [2, 31] and leak_shift in [0, 30]")
    if layer.membrane_bits - 1 + layer.leak_shift > 31:
        _fail(layer, f"membrane_bits - 1 + leak_shift = {layer.membrane_bits - 1 + layer.leak_shift}"
                     " > 31: the leak product u * beta_q would overflow int32")
    if not 0 <= layer.beta_q <= 1 << layer.leak_shift:
        _fail(layer, f"beta_q {layer.beta_q} is outside [0, 2^leak_shift = {1 << layer.leak_shift}]")
    if not 0 <= layer.frac_bits <= 30:
        _fail(layer, f"frac_bits {layer.frac_bits} is outside [0, 30]")


def _check_ranges(layer: QLayer, max_input: int) -> None:
    """Accumulator and the pre-saturation sum leak(u) + (acc << frac_bits) + bias fit int32."""
    acc = accumulator_bound(layer, max_input)
    bias = int(np.abs(layer.bias_q).max()) if layer.bias_q.size else 0
    total = (1 << (layer.membrane_bits - 1)) + (acc << layer.frac_bits) + bias
    if total > INT32_MAX:
        _fail(layer, f"|leak(u)| + |acc| * 2^frac_bits + |bias_q| can reach {total} "
                     f"(accumulator bound {acc}, frac_bits {layer.frac_bits}), beyond int32")
    theta = np.asarray(layer.theta_q, dtype=np.int64)
    if theta.size and (int(theta.min()) < -INT32_MAX - 1 or int(theta.max()) > INT32_MAX):
        _fail(layer, "theta_q does not fit int32")


def _check_geometry(layer: QLayer, in_shape: tuple[int, ...], is_last: bool, classes: int) -> None:
    """Shapes chain, fit the table's field widths, and the readout is a class vector."""
    g = layer.geometry
    if tuple(g.in_shape) != tuple(in_shape):
        _fail(layer, f"input shape {tuple(g.in_shape)} does not match the previous output {in_shape}")
    if any(d > DIM_MAX for d in (*g.in_shape, *g.out_shape)):
        _fail(layer, f"a dimension of {g.in_shape} -> {g.out_shape} exceeds {DIM_MAX}")
    if max(g.pool, g.kernel, g.stride, g.padding) > BYTE_MAX:
        _fail(layer, f"pool/kernel/stride/padding must be <= {BYTE_MAX}")
    if int(np.prod(g.out_shape)) > SIZE_MAX or layer.weight_q.size > SIZE_MAX:
        _fail(layer, f"{int(np.prod(g.out_shape))} neurons / {layer.weight_q.size} weights: "
                     f"the runtime indexes at most {SIZE_MAX} of each with 32-bit integers")
    if g.pool > 1 and len(g.in_shape) != 3:
        _fail(layer, f"pooling needs a (C, H, W) input, got {g.in_shape}")
    backend_entry("c_name", layer.neuron, "c-header", layer.name)
    if not is_last and not is_spiking(layer.neuron):
        _fail(layer, f"only the readout (last layer) may be {layer.neuron!r}; expected a "
                     "spiking neuron model")
    if is_last and (int(np.prod(g.out_shape)) != classes or int(np.prod(g.out_shape[1:])) != 1):
        _fail(layer, f"the readout's output {g.out_shape} must be a vector of {classes} classes")


def check_qnet(qnet: QNet) -> None:
    """Raise :class:`CompileError` unless the C runtime computes ``qnet`` exactly."""
    if not 1 <= qnet.input_clip <= BYTE_MAX:
        raise CompileError(f"c-header: input_clip {qnet.input_clip} is outside [1, {BYTE_MAX}]")
    if not qnet.layers:
        raise CompileError("c-header: the model has no layers")
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])
    in_shape = tuple(qnet.input_shape)
    for index, layer in enumerate(qnet.layers):
        is_last = index == len(qnet.layers) - 1
        _check_geometry(layer, in_shape, is_last, len(qnet.classes))
        _check_widths(layer)
        _check_ranges(layer, bounds[index])
        in_shape = tuple(layer.geometry.out_shape)
    if qnet.time_bins > max_steps(qnet):
        raise CompileError(f"c-header: {qnet.time_bins} time bins, but the int32 logits of the "
                           f"readout stay exact for at most {max_steps(qnet)} steps")


def max_steps(qnet: QNet) -> int:
    """Steps after a reset for which the int32 logits are exact: an LI readout adds ``u_pre``
    in ``[-2^(b-1), 2^(b-1) - 1]`` per step, so ``2^31 / 2^(b-1)`` steps stay in int32."""
    readout = qnet.layers[-1]
    if is_spiking(readout.neuron):
        return INT32_MAX
    return (1 << 31) // (1 << (readout.membrane_bits - 1))


def flush_events(layer: QLayer, max_input: int, narrow: bool = True) -> int:
    """Events after which the runtime's int16 partial sums must move to int32: one event
    changes a sum by at most ``max|W|``, so ``32767 // max|W|``; ``UINT32_MAX`` (never) if
    ``|acc| <= 32767`` is proved for the layer. ``narrow=False`` flushes after every event."""
    if not narrow:
        return 1
    if accumulator_bound(layer, max_input) <= INT16_MAX:
        return UINT32_MAX
    return INT16_MAX // int(np.abs(layer.weight_q).max())


def current_layers(qnet: QNet) -> list[bool]:
    """Per layer, whether it keeps a synaptic current (twice the neuron state)."""
    return [has_current(layer) for layer in qnet.layers]


@dataclass(frozen=True)
class LayerFacts:
    """What the emitter proved about a layer, for the runtime's fast paths."""

    flush_events: int
    unsaturated_steps: int


def prove_layers(qnet: QNet, narrow: bool = True, skip_clamp: bool = True) -> list[LayerFacts]:
    """Accumulator width and clamp-free steps of every layer (``False`` disables a fast path)."""
    bounds = max_inputs(qnet.input_clip, [layer.geometry.pool for layer in qnet.layers])
    return [LayerFacts(flush_events(layer, bound, narrow),
                       unsaturated_steps(layer, bound) if skip_clamp else 0)
            for layer, bound in zip(qnet.layers, bounds, strict=True)]


def model_memory(qnet: QNet) -> dict[str, int]:
    """Flash and RAM of the compiled model on a 32-bit microcontroller.

    flash = model.h data (weights, biases, thresholds, span tables, layer table, class
    names) + the runtime's code; RAM = the state buffer (``SASTC_MODEL_STATE_BYTES``) + one
    input frame for ``sastc_step``.
    """
    facts = prove_layers(qnet)
    neurons = [int(np.prod(layer.geometry.out_shape)) for layer in qnet.layers]
    state = 4 * state_words(neurons, [f.flush_events != UINT32_MAX for f in facts],
                            len(qnet.classes), current_layers(qnet))
    model = (sum(layer_data_bytes(layer) for layer in qnet.layers) + MODEL_STRUCT_BYTES
             + strings_bytes(qnet.classes))
    frame = int(np.prod(qnet.input_shape))
    return {"flash_bytes": model + RUNTIME_CODE_BYTES, "ram_bytes": state + frame,
            "model_bytes": model, "runtime_code_bytes": RUNTIME_CODE_BYTES,
            "state_bytes": state, "frame_bytes": frame}
