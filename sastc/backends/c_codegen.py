"""Helpers of the C-header emitter: C literals, weight layouts, weight packing, state size.

The runtime (``targets/runtime``) reads weights in layouts chosen for
event-driven scatter; these functions permute a QNet's arrays into them:

- conv ``[C_out, C_in, k, k]`` -> ``[C_in][ky][kx][C_out]``
- dense ``[out, C*H*W]`` (the simulator flattens C-H-W) -> ``[(y*W + x)*C + c][out]``
- packing (:func:`pack_weights`): ``uint16_t`` words in blocks of 8 words; a word holds
  ``lanes`` two's-complement fields (2 of 8 bits for 5..8-bit weights, 4 of 4 bits for
  2..4-bit weights), field ``f`` of word ``k`` of a block is weight ``8 f + k`` of the
  block, and the weights are padded with zeros to whole blocks
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from sastc.ir.quantized import QLayer
from sastc.neurons import is_spiking
from sastc.synapses import backend_entry as synapse_entry

VALUES_PER_LINE = 16
BLOCK_WORDS = 8  # words per packed block: one 16-byte vector


def word_lanes(weight_bits: int) -> int:
    """Weights per 16-bit word: 4 nibbles for 2..4-bit weights, else 2 bytes.

    >>> word_lanes(4), word_lanes(8)
    (4, 2)
    """
    return 4 if weight_bits <= 4 else 2


def packed_words(count: int, weight_bits: int) -> int:
    """``uint16_t`` words of ``count`` packed weights: whole blocks of ``8 * lanes`` weights.

    >>> packed_words(800, 4), packed_words(801, 4), packed_words(10, 8)
    (200, 208, 8)
    """
    block = BLOCK_WORDS * word_lanes(weight_bits)
    return -(-count // block) * BLOCK_WORDS


def pack_weights(values: np.ndarray, weight_bits: int) -> np.ndarray:
    """Pack signed weights into ``uint16`` words (see the module docstring): weight ``j`` of a
    block of ``8 * lanes`` is field ``j // 8`` (bits ``[F (j // 8), F (j // 8 + 1))``,
    ``F = 16 / lanes``) of the block's word ``j % 8``. With 16 lanes of int16 sums in one
    vector, a block's word vector yields sums for 8 consecutive outputs per field by one
    shift left and one arithmetic shift right.

    >>> pack_weights(np.array([1, -1, 2]), 8)[:3].tolist()   # words 0..2: (1, 0), (-1, 0), (2, 0)
    [1, 255, 2]
    >>> pack_weights(np.arange(32) % 8 - 4, 4)[0] == (0xC | 0xC << 4 | 0xC << 8 | 0xC << 12)
    np.True_
    """
    flat = np.asarray(values, dtype=np.int64).ravel()
    lanes = word_lanes(weight_bits)
    field = 16 // lanes
    padded = np.zeros(packed_words(flat.size, weight_bits) * lanes, dtype=np.int64)
    padded[:flat.size] = flat
    fields = (padded & ((1 << field) - 1)).reshape(-1, lanes, BLOCK_WORDS)  # [block, f, k]
    words = sum(fields[:, f, :] << (field * f) for f in range(lanes))
    return np.asarray(words, dtype=np.uint16).ravel()


def unpack_weights(words: np.ndarray, count: int, weight_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_weights`: the first ``count`` signed weights.

    >>> unpack_weights(pack_weights(np.array([3, -4, 7, -8, 0]), 4), 5, 4).tolist()
    [3, -4, 7, -8, 0]
    """
    lanes = word_lanes(weight_bits)
    field = 16 // lanes
    data = np.asarray(words, dtype=np.int64).reshape(-1, 1, BLOCK_WORDS)
    fields = (data >> (field * np.arange(lanes)[None, :, None])) & ((1 << field) - 1)
    signed = np.where(fields >= 1 << (field - 1), fields - (1 << field), fields)
    return signed.ravel()[:count]


def kx_order(kernel: int, stride: int) -> list[int]:
    """Kernel columns in the runtime's slot order: by phase ``kx % stride``, then ``kx``
    descending. The taps ``kx0, kx0 - s, kx0 - 2s, ...`` that consecutive output columns
    use are then consecutive slots, so one input event updates a whole window row of
    outputs with one contiguous weight run.

    >>> kx_order(5, 2), kx_order(3, 1)
    ([4, 2, 0, 3, 1], [2, 1, 0])
    """
    return [kx for phase in range(stride) for kx in reversed(range(phase, kernel, stride))]


def conv_weight_layout(weight_q: np.ndarray, stride: int) -> np.ndarray:
    """``[C_out, C_in, k, k]`` to the runtime's ``[C_in][ky][slot][C_out]`` (slots:
    :func:`kx_order`).

    >>> w = np.arange(8).reshape(2, 1, 2, 2)   # w[o, 0, ky, kx] = 4 o + 2 ky + kx
    >>> conv_weight_layout(w, 1)[0, 1].tolist()   # ky = 1, slots kx = 1, 0
    [[3, 7], [2, 6]]
    """
    kernel = np.asarray(weight_q).shape[3]
    ordered = np.asarray(weight_q)[:, :, :, kx_order(kernel, stride)]
    return np.ascontiguousarray(ordered.transpose(1, 2, 3, 0))


def dense_weight_layout(weight_q: np.ndarray, pooled_shape: Sequence[int]) -> np.ndarray:
    """``[out, fan_in]`` (fan_in flattened C-H-W) to ``[in][out]`` with rows in H-W-C order.

    >>> w = np.arange(8).reshape(2, 4)   # 2 outputs, input (C=2, H=1, W=2): c0x0 c0x1 c1x0 c1x1
    >>> dense_weight_layout(w, (2, 1, 2)).tolist()   # rows: x0c0, x0c1, x1c0, x1c1
    [[0, 4], [2, 6], [1, 5], [3, 7]]
    """
    matrix = np.asarray(weight_q).reshape(np.asarray(weight_q).shape[0], -1)
    if len(pooled_shape) == 1:
        return np.ascontiguousarray(matrix.T)
    c, h, w = pooled_shape
    return np.ascontiguousarray(matrix.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(-1,
                                                                                         matrix.shape[0]))


def spans(size: int, pool: int, op: str, kernel: int = 1, stride: int = 1, padding: int = 0,
          outputs: int = 1, slots: bool = False) -> list[tuple[int, int, int]]:
    """The runtime's span table of one axis: for every input coordinate ``y``,
    ``(first, count, tap)`` (mirror of ``expected_span`` in sastc_check.c).

    conv: outputs ``first .. first + count - 1`` cover pooled ``y``, the first through kernel
    tap ``tap`` (for columns, ``slots=True``: its slot in :func:`kx_order`); dense: ``first``
    is the pooled coordinate; count 0: ``y`` is in a pooling edge that is dropped.

    >>> spans(5, 1, "conv", kernel=3, stride=2, padding=1, outputs=3)
    [(0, 1, 1), (0, 2, 2), (1, 1, 1), (1, 2, 2), (2, 1, 1)]
    >>> spans(5, 1, "conv", kernel=3, stride=2, padding=1, outputs=3, slots=True)
    [(0, 1, 2), (0, 2, 0), (1, 1, 2), (1, 2, 0), (2, 1, 2)]
    >>> spans(5, 2, "dense")
    [(0, 1, 0), (0, 1, 0), (1, 1, 0), (1, 1, 0), (0, 0, 0)]
    """
    rule = C_OPS[op].span
    return [(0, 0, 0) if y // pool >= size // pool
            else rule(y // pool, kernel, stride, padding, outputs, slots) for y in range(size)]


def _conv_span(pooled: int, kernel: int, stride: int, padding: int, outputs: int,
               slots: bool) -> tuple[int, int, int]:
    padded = pooled + padding
    first = (padded - kernel) // stride + 1 if padded >= kernel else 0
    count = max(min(padded // stride + 1, outputs) - first, 0)
    tap = kx_order(kernel, stride).index(padded - stride * first) if slots else \
        padded - stride * first
    return (first, count, tap) if count else (0, 0, 0)


def _dense_span(pooled: int, *_: int) -> tuple[int, int, int]:
    return (pooled, 1, 0)


def span_offsets(table: Sequence[tuple[int, int, int]], axis: str, op: str, kernel: int,
                 out_c: int, out_w: int, in_c: int, pooled_w: int) -> list[tuple[int, int, int]]:
    """The span table as the runtime stores it: ``(sums, weights, count)`` per input
    coordinate, from ``(first, count, tap)`` of :func:`spans` (mirror of ``expected_span`` in
    sastc_check.c). An event at ``(c, y, x)`` reaches ``rows[y].count x cols[x].count`` outputs;
    the first one's sums start at ``rows[y].sums + cols[x].sums`` and its weights at element
    ``rows[y].weights + cols[x].weights + c * channel_step``.

    conv rows: ``(first * out_w * C_out, ky * k * C_out, count)``, conv columns:
    ``(first * C_out, slot * C_out, count)``; dense rows: ``(0, py * pooled_w * C_in * C_out,
    1)``, dense columns: ``(0, px * C_in * C_out, 1)``; a dropped coordinate is ``(0, 0, 0)``.

    >>> span_offsets([(0, 1, 2), (0, 2, 0)], "cols", "conv", 3, 4, 3, 1, 5)
    [(0, 8, 1), (0, 0, 2)]
    >>> span_offsets([(2, 1, 0), (0, 0, 0)], "rows", "dense", 1, 10, 1, 4, 3)
    [(0, 240, 1), (0, 0, 0)]
    """
    rule, rows = C_OPS[op].offsets, axis == "rows"
    return [rule(span, rows, kernel, out_c, out_w, in_c, pooled_w) if span[1] else (0, 0, 0)
            for span in table]


def _conv_offsets(span: tuple[int, int, int], rows: bool, kernel: int, out_c: int, out_w: int,
                  *_: int) -> tuple[int, int, int]:
    first, count, tap = span
    return (first * (out_w if rows else 1) * out_c, tap * (kernel if rows else 1) * out_c, count)


def _dense_offsets(span: tuple[int, int, int], rows: bool, kernel: int, out_c: int, out_w: int,
                   in_c: int, pooled_w: int) -> tuple[int, int, int]:
    first, count, _ = span
    return (0, first * (pooled_w if rows else 1) * in_c * out_c, count)


def c_struct_array(ctype: str, name: str, rows: Sequence[Sequence[int]]) -> str:
    """A ``static const`` array of structs initialised from integer tuples.

    >>> print(c_struct_array("sastc_span", "s", [(0, 1, 2), (3, 4, 5)]))
    static const sastc_span s[2] = {
        {0, 1, 2}, {3, 4, 5}
    };
    """
    items = ["{" + ", ".join(str(int(v)) for v in row) + "}" for row in rows]
    lines = [", ".join(items[i : i + 8]) for i in range(0, len(items), 8)]
    body = ",\n".join(f"    {line}" for line in lines)
    return f"static const {ctype} {name}[{len(items)}] = {{\n{body}\n}};"


def dims3(shape: Sequence[int]) -> tuple[int, int, int]:
    """A shape as the runtime's ``(C, H, W)``: a vector of ``N`` is ``(N, 1, 1)``.

    >>> dims3((10,)), dims3((16, 17, 17))
    ((10, 1, 1), (16, 17, 17))
    """
    c, h, w = (shape[0], 1, 1) if len(shape) == 1 else shape
    return int(c), int(h), int(w)


def runtime_weights(layer: QLayer) -> np.ndarray:
    """The layer's weights in the runtime's order (conv or dense layout above), flat int64."""
    return c_op(layer).weights(layer).ravel().astype(np.int64)


class COp(NamedTuple):
    """How the C runtime holds one synapse op (:mod:`sastc.synapses`; its ``c_name`` is the
    ``SASTC_OP_*`` constant): the weight layout and the span rules of :func:`spans` and
    :func:`span_offsets`."""

    order: str                                   # the weight layout, for the header's comments
    weights: Callable[[QLayer], np.ndarray]
    span: Callable[..., tuple[int, int, int]]
    offsets: Callable[..., tuple[int, int, int]]


C_OPS: dict[str, COp] = {
    "conv": COp("[C_in][ky][kx slot][C_out]",
                lambda q: conv_weight_layout(q.weight_q, q.geometry.stride), _conv_span,
                _conv_offsets),
    "dense": COp("[in (H-W-C)][out]",
                 lambda q: dense_weight_layout(q.weight_matrix, q.geometry.pooled_shape),
                 _dense_span, _dense_offsets),
}


def c_op(layer: QLayer) -> COp:
    """The runtime's rules for the layer's op; an op without a ``SASTC_OP_*`` constant is
    refused naming the layer and listing the ops the runtime runs."""
    synapse_entry("c_name", layer.geometry.op, "c-header", layer.name)
    return C_OPS[layer.geometry.op]


POINTER_BYTES = 4          # the microcontroller targets are 32-bit
LAYER_STRUCT_BYTES = 60    # sizeof(sastc_layer) with 4-byte pointers
MODEL_STRUCT_BYTES = 36    # sizeof(sastc_model)
SPAN_BYTES = 12            # sizeof(sastc_span)


def aligned(size: int, alignment: int = 4) -> int:
    """``size`` rounded up to a multiple of ``alignment``.

    >>> aligned(5), aligned(8)
    (8, 8)
    """
    return -(-size // alignment) * alignment


def layer_data_bytes(layer: QLayer) -> int:
    """Flash of one layer in model.h on a 32-bit target: packed weights (:func:`packed_words`
    ``uint16_t`` words), biases and thresholds (int32), span tables and its table entry;
    every array counted up to 4-byte alignment."""
    weights = 2 * packed_words(runtime_weights(layer).size, layer.weight_bits)
    channels = int(layer.geometry.out_shape[0])
    _, in_h, in_w = dims3(layer.geometry.in_shape)
    thresholds = 4 * channels if is_spiking(layer.neuron) else 0
    return (aligned(weights) + 4 * channels + thresholds + SPAN_BYTES * (in_h + in_w)
            + LAYER_STRUCT_BYTES)


def strings_bytes(labels: Sequence[str]) -> int:
    """Flash of the class-name table: pointers and NUL-terminated strings (each aligned to 4
    bytes, as GCC places string literals for ARM).

    >>> strings_bytes(["0", "10", "1234"])
    28
    """
    return POINTER_BYTES * len(labels) + sum(aligned(len(str(s).encode()) + 1) for s in labels)


STATE_ALIGN_WORDS = 4  # the runtime aligns its arrays to 16 bytes (4 words)


def state_words(neurons: Sequence[int], flushing: Sequence[bool], num_classes: int,
                currents: Sequence[bool] | None = None) -> int:
    """32-bit words of runtime state (mirror of ``sastc_plan_layout`` in sastc_rt.c):
    membranes per layer (each padded to 4 words; twice that for the layers with a synaptic
    current, ``currents``), spike bits per layer, logits, one flag bit
    per 32 neurons of every layer (blocks touched since the reset), the int32 sums of the
    layers whose int16 partial sums may be flushed (``flushing``) and the int16 partial sums,
    reused by every layer (both from a 4-word boundary), plus 3 words of slack so that the
    runtime can start at a 16-byte boundary of a 4-byte aligned buffer.

    >>> state_words([4624, 2592, 10], [False, False, True], 10)
    9803
    """
    def up(words: int) -> int:
        return -(-words // STATE_ALIGN_WORDS) * STATE_ALIGN_WORDS

    wide = max([n for n, flush in zip(neurons, flushing, strict=True) if flush], default=0)
    bits = sum(math.ceil(n / 32) for n in neurons)
    flags = sum(math.ceil(math.ceil(n / 32) / 32) for n in neurons)
    states = [2 if current else 1 for current in (currents or [False] * len(neurons))]
    membranes = sum(count * up(n) for n, count in zip(neurons, states, strict=True))
    offset = up(membranes + bits + num_classes + flags) + up(wide)
    return offset + math.ceil(max(neurons) / 2) + STATE_ALIGN_WORDS - 1


def c_identifier(text: str) -> str:
    """A C identifier made from ``text``.

    >>> c_identifier("conv0.weight"), c_identifier("3x")
    ('conv0_weight', '_3x')
    """
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    return f"_{name}" if not name or name[0].isdigit() else name


def c_string(text: str) -> str:
    """A C string literal (ASCII; other characters as octal escapes).

    >>> print(c_string('say "hi"\\n'))
    "say \\"hi\\"\\n"
    """
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif 32 <= ord(char) < 127:
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8"))
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """Text made safe inside a C block comment.

    >>> c_comment("a */ b")
    'a * / b'
    """
    return text.replace("*/", "* /")


def format_values(values: Iterable[int], per_line: int = VALUES_PER_LINE) -> str:
    """Integers as comma-separated lines indented by four spaces.

    >>> print(format_values(range(5), per_line=3))
        0, 1, 2,
        3, 4
    """
    items = [str(int(v)) for v in values]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(f"    {line}" for line in lines)


def c_array(ctype: str, name: str, values: np.ndarray | Sequence[int]) -> str:
    """A ``static const`` C array definition.

    >>> print(c_array("int8_t", "w", [1, -2, 3]))
    static const int8_t w[3] = {
        1, -2, 3
    };
    """
    flat = np.asarray(values).ravel()
    return f"static const {ctype} {name}[{flat.size}] = {{\n{format_values(flat)}\n}};"
