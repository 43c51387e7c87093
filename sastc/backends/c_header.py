"""The ``c-header`` emitter: ``model.h`` (data only) plus the fixed C runtime beside it.

``model.h`` holds ``static const`` weight, bias and threshold arrays in the
runtime's layouts (see :mod:`sastc.backends.c_codegen`), the layer table, the
``sastc_model`` and dimension macros, among them ``SASTC_MODEL_STATE_BYTES`` for
a static state buffer. Before writing anything the emitter proves that the
runtime's int32 arithmetic is exact for this model, and raises
:class:`CompileError` naming the layer and the violated bound otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from sastc.atomic import write_text_atomic
from sastc.backends import EmitInput
from sastc.backends.c_binning import binning_macros, stream_binning
from sastc.backends.c_checks import (
    UINT32_MAX,
    LayerFacts,
    check_qnet,
    current_layers,
    max_steps,
    prove_layers,
)
from sastc.backends.c_codegen import (
    c_array,
    c_comment,
    c_op,
    c_string,
    c_struct_array,
    dims3,
    pack_weights,
    runtime_weights,
    span_offsets,
    spans,
    state_words,
)
from sastc.errors import CompileError
from sastc.ir.quantized import QLayer, QNet
from sastc.neurons import backend_entry, is_spiking
from sastc.synapses import POOL
from sastc.synapses import backend_entry as synapse_entry
from sastc.targets import runtime_dir

HEADER_FILE = "model.h"
ABI_VERSION = 3
RESET_NAMES = {"zero": "SASTC_RESET_ZERO", "subtract": "SASTC_RESET_SUBTRACT"}
RUNTIME_FILES = ("sastc_rt.h", "sastc_internal.h", "sastc_numerics.h", "sastc_rows.h",
                 "sastc_synapse.h", "sastc_arm.h", "sastc_arm_runs.h", "sastc_status.def",
                 "sastc_events.h", "sastc_rt.c", "sastc_check.c", "sastc_synapse.c",
                 "sastc_neuron.c", "sastc_events.c")


def _layer_arrays(index: int, layer: QLayer) -> list[str]:
    prefix = f"sastc_l{index}"
    arrays = ["SASTC_ALIGNED_DATA " + c_array("uint16_t", f"{prefix}_weights",
                                              pack_weights(runtime_weights(layer),
                                                           layer.weight_bits))]
    arrays.append(c_array("int32_t", f"{prefix}_bias", layer.bias_q.astype(np.int64)))
    if is_spiking(layer.neuron):
        arrays.append(c_array("int32_t", f"{prefix}_theta", layer.theta_q.astype(np.int64)))
    g = layer.geometry
    (in_c, in_h, in_w), (out_c, out_h, out_w) = dims3(g.in_shape), dims3(g.out_shape)
    for axis, size, outputs in (("rows", in_h, out_h), ("cols", in_w, out_w)):
        table = spans(size, g.pool, g.op, g.kernel, g.stride, g.padding, outputs,
                      slots=axis == "cols")
        table = span_offsets(table, axis, g.op, g.kernel, out_c, out_w, in_c, in_w // g.pool)
        arrays.append(c_struct_array("sastc_span", f"{prefix}_{axis}", table))
    return arrays


def _layer_entry(index: int, layer: QLayer, facts: LayerFacts) -> str:
    g, prefix = layer.geometry, f"sastc_l{index}"
    (ic, ih, iw), (oc, oh, ow) = dims3(g.in_shape), dims3(g.out_shape)
    neuron = backend_entry("c_name", layer.neuron, "c-header", layer.name)
    op = synapse_entry("c_name", g.op, "c-header", layer.name)
    if g.pool > 1:  # the runtime pools inside the layer: the stage's entry names its field
        synapse_entry("c_name", POOL, "c-header", layer.name)
    fields = [f".op = {op}", f".neuron = {neuron}",
              f".weight_bits = {layer.weight_bits}", f".pool = {g.pool}", f".kernel = {g.kernel}",
              f".stride = {g.stride}", f".padding = {g.padding}",
              f".leak_shift = {layer.leak_shift}", f".frac_bits = {layer.frac_bits}",
              f".membrane_bits = {layer.membrane_bits}", f".reset = {RESET_NAMES[layer.reset]}",
              f".in_c = {ic}", f".in_h = {ih}", f".in_w = {iw}", f".out_c = {oc}",
              f".out_h = {oh}", f".out_w = {ow}", f".beta_q = {layer.beta_q}",
              f".alpha_q = {layer.alpha_q}",
              f".unsaturated_steps = {facts.unsaturated_steps}u",
              f".flush_events = {facts.flush_events}u",
              f".weights = {prefix}_weights",
              f".bias_q = {prefix}_bias",
              f".theta_q = {prefix + '_theta' if is_spiking(layer.neuron) else 'NULL'}",
              f".row_spans = {prefix}_rows", f".col_spans = {prefix}_cols"]
    return "    {" + ",\n     ".join(fields) + "}"


def _describe(index: int, layer: QLayer) -> str:
    g = layer.geometry
    order = c_op(layer).order
    packing = ("4-bit fields" if layer.weight_bits <= 4 else "8-bit fields") + " (see the top)"
    return (f"/* layer {index} {c_comment(layer.name)}: {g.op} {g.in_shape} pool {g.pool} -> "
            f"{g.out_shape}, k{g.kernel} s{g.stride} p{g.padding}, {_neuron_text(layer)}; "
            f"weights {order}, {packing} */")


def _neuron_text(layer: QLayer) -> str:
    """``LIF``, ``IF reset subtract``, ``CUBA``, ``LI``: the model and a reset other than zero."""
    reset = f" reset {layer.reset}" if layer.reset != "zero" else ""
    return layer.neuron.upper() + reset


def _macros(qnet: QNet, facts: list[LayerFacts]) -> list[str]:
    c, h, w = dims3(tuple(qnet.input_shape))
    neurons = [int(np.prod(layer.geometry.out_shape)) for layer in qnet.layers]
    words = state_words(neurons, [f.flush_events != UINT32_MAX for f in facts],
                        len(qnet.classes), current_layers(qnet))
    return [f"#define SASTC_MODEL_NUM_LAYERS {len(qnet.layers)}u",
            f"#define SASTC_MODEL_NUM_CLASSES {len(qnet.classes)}u",
            f"#define SASTC_MODEL_TIME_BINS {qnet.time_bins}u",
            f"#define SASTC_MODEL_INPUT_CLIP {qnet.input_clip}u",
            f"#define SASTC_MODEL_INPUT_C {c}u", f"#define SASTC_MODEL_INPUT_H {h}u",
            f"#define SASTC_MODEL_INPUT_W {w}u",
            f"#define SASTC_MODEL_INPUT_BYTES {c * h * w}u",
            f"#define SASTC_MODEL_STATE_WORDS {words}u",
            "#define SASTC_MODEL_STATE_BYTES (4u * SASTC_MODEL_STATE_WORDS)",
            *binning_macros(stream_binning(qnet.metadata, qnet.input_shape))]


def _model_struct(qnet: QNet) -> list[str]:
    names = ", ".join(c_string(str(label)) for label in qnet.classes)
    return [f"static const char *const sastc_class_names[{len(qnet.classes)}] = {{{names}}};", "",
            "static const sastc_model sastc_model_data = {",
            f"    .abi_version = {ABI_VERSION}u, .num_layers = SASTC_MODEL_NUM_LAYERS,",
            "    .time_bins = SASTC_MODEL_TIME_BINS, .num_classes = SASTC_MODEL_NUM_CLASSES,",
            f"    .input_clip = SASTC_MODEL_INPUT_CLIP, .max_steps = {max_steps(qnet)}u,",
            "    .state_bytes = SASTC_MODEL_STATE_BYTES, .layers = sastc_layers,",
            "    .class_names = sastc_class_names};", "",
            "#define SASTC_MODEL (&sastc_model_data)"]


LAYOUT_COMMENT = """ *
 * Layouts (docs/runtime.md): input frames uint8 [C][H][W]; neurons H-W-C; conv weights
 * [C_in][ky][kx slot][C_out] with kernel columns by phase kx % stride, then kx descending;
 * dense weights [in][out], a (C, H, W) input flattened as (y * W + x) * C + c.
 * Weights are packed in uint16_t words, in blocks of 8 words: a word holds two 8-bit
 * fields (weight_bits 5..8) or four 4-bit fields (2..4), two's complement, and field f of
 * word k of a block is weight 8 f + k of the block (blocks of 16 or 32 weights; the last
 * block is padded with zeros). Biases and thresholds are int32_t. */"""


def render_header(qnet: QNet, facts: list[LayerFacts], name: str = "model") -> str:
    """The text of ``model.h`` for a checked ``qnet``."""
    parts = [f"/* model.h - sastc compiled model {c_comment(name)}: data only, generated; do not "
             "edit.\n * Include it in exactly one .c file, next to the sastc runtime "
             "(sastc_rt.h).\n" + LAYOUT_COMMENT,
             "#ifndef SASTC_MODEL_H", "#define SASTC_MODEL_H", "", '#include "sastc_rt.h"', "",
             *_macros(qnet, facts), ""]
    for index, layer in enumerate(qnet.layers):
        parts += [_describe(index, layer), *_layer_arrays(index, layer), ""]
    entries = ",\n".join(_layer_entry(i, layer, f)
                         for i, (layer, f) in enumerate(zip(qnet.layers, facts, strict=True)))
    parts += [f"static const sastc_layer sastc_layers[{len(qnet.layers)}] = {{\n{entries}\n}};",
              "", *_model_struct(qnet), "", "#endif /* SASTC_MODEL_H */", ""]
    return "\n".join(parts)


def write_build(qnet: QNet, out_dir: Path, name: str = "model", narrow: bool = True,
                skip_clamp: bool = True) -> list[Path]:
    """Check ``qnet``, write ``model.h`` and copy the runtime sources into ``out_dir``.

    ``narrow`` / ``skip_clamp`` enable the proved int16 accumulators and clamp-free steps
    (tests turn them off to exercise the general paths).
    """
    check_qnet(qnet)
    stream_binning(qnet.metadata, qnet.input_shape)
    facts = prove_layers(qnet, narrow, skip_clamp)
    out_dir = Path(out_dir)
    written = [write_text_atomic(out_dir / HEADER_FILE, render_header(qnet, facts, name))]
    for file_name in RUNTIME_FILES:
        target = out_dir / file_name
        shutil.copyfile(runtime_dir() / file_name, target)
        written.append(target)
    return written


def emit_c_header(model: EmitInput, out_dir: Path) -> list[Path]:
    """The ``c-header`` emitter: ``model.h`` and the runtime, for ``model.qnet``."""
    if model.qnet is None:
        raise CompileError("c-header: the model has no integer network; compile it with an "
                           "integer profile (int8-fixed or int4-fixed)")
    return write_build(model.qnet, Path(out_dir), model.name)
