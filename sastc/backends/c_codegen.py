"""Helpers of the C-header emitter: C literals, weight layouts, INT4 packing, state size.

The runtime (``targets/runtime``) reads weights in layouts chosen for
event-driven scatter; these functions permute a QNet's arrays into them:

- conv ``[C_out, C_in, k, k]`` -> ``[C_in][ky][kx][C_out]``
- dense ``[out, C*H*W]`` (the simulator flattens C-H-W) -> ``[(y*W + x)*C + c][out]``
- INT4: two's-complement nibbles, ``ceil(n / 2)`` bytes, in blocks of 32 elements (16
  bytes): element ``j < 16`` of a block in the low nibble of the block's byte ``j``, element
  ``16 + j`` in its high nibble (a last block of ``m < 32`` elements splits at
  ``ceil(m / 2)``), see :func:`int4_slots`
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

from sastc.ir.quantized import QLayer

VALUES_PER_LINE = 16


INT4_BLOCK = 32


def int4_slots(count: int) -> np.ndarray:
    """Nibble slot of each of ``count`` INT4 elements: slot ``2 * byte + (0 low, 1 high)``.

    Elements go in blocks of 32 (the last may hold ``m < 32``); with ``h = ceil(m / 2)``
    (16 for a full block), element ``j < h`` of a block is the low nibble of the block's
    byte ``j`` and element ``j >= h`` the high nibble of byte ``j - h``. A block takes ``h``
    bytes, so ``n`` weights take ``ceil(n / 2)`` bytes, and any 16 aligned weights of a
    full block are the low or the high nibbles of 16 consecutive bytes (one vector load).

    >>> int4_slots(5).tolist()   # one short block, h = 3: bytes 0,1,2 low, then 0,1 high
    [0, 2, 4, 1, 3]
    >>> int4_slots(34)[[0, 15, 16, 31, 32, 33]].tolist()
    [0, 30, 1, 31, 32, 33]
    """
    index = np.arange(count)
    start = index - index % INT4_BLOCK
    half = (np.minimum(count - start, INT4_BLOCK) + 1) // 2
    j = index - start
    high = j >= half
    return 2 * (start // 2 + np.where(high, j - half, j)) + high


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Pack signed 4-bit values (two's complement) in the order of :func:`int4_slots`.

    >>> pack_int4(np.array([1, -1, -8, 7, 3])).tolist()   # bytes: (1, 7), (-1, 3), (-8, 0)
    [113, 63, 8]
    """
    flat = np.asarray(values, dtype=np.int64).ravel()
    nibbles = np.zeros(2 * ((flat.size + 1) // 2), dtype=np.uint8)
    nibbles[int4_slots(flat.size)] = (flat & 0xF).astype(np.uint8)
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`pack_int4`: the ``count`` signed values.

    >>> unpack_int4(np.array([113, 63, 8], dtype=np.uint8), 5).tolist()
    [1, -1, -8, 7, 3]
    """
    data = np.asarray(packed, dtype=np.uint8)
    nibbles = np.stack([data & 0xF, data >> 4], axis=1).ravel()[int4_slots(count)]
    return np.where(nibbles >= 8, nibbles.astype(np.int64) - 16, nibbles.astype(np.int64))


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
    table = []
    for y in range(size):
        pooled = y // pool
        if pooled >= size // pool:
            table.append((0, 0, 0))
        elif op == "dense":
            table.append((pooled, 1, 0))
        else:
            padded = pooled + padding
            first = (padded - kernel) // stride + 1 if padded >= kernel else 0
            count = max(min(padded // stride + 1, outputs) - first, 0)
            tap = kx_order(kernel, stride).index(padded - stride * first) if slots else \
                padded - stride * first
            table.append((first, count, tap) if count else (0, 0, 0))
    return table


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
    g = layer.geometry
    if g.op == "conv":
        return conv_weight_layout(layer.weight_q, g.stride).ravel().astype(np.int64)
    return dense_weight_layout(layer.weight_matrix, g.pooled_shape).ravel().astype(np.int64)


POINTER_BYTES = 4          # the microcontroller targets are 32-bit
LAYER_STRUCT_BYTES = 60    # sizeof(sastc_layer) with 4-byte pointers
MODEL_STRUCT_BYTES = 36    # sizeof(sastc_model)
SPAN_BYTES = 4             # sizeof(sastc_span)


def aligned(size: int, alignment: int = 4) -> int:
    """``size`` rounded up to a multiple of ``alignment``.

    >>> aligned(5), aligned(8)
    (8, 8)
    """
    return -(-size // alignment) * alignment


def layer_data_bytes(layer: QLayer) -> int:
    """Flash of one layer in model.h on a 32-bit target: weights (``ceil(n / 2)`` bytes
    packed INT4, else ``n``), biases and thresholds (int32), span tables and its table
    entry; every array counted up to 4-byte alignment."""
    count = int(layer.weight_q.size)
    weights = (count + 1) // 2 if layer.weight_bits <= 4 else count
    channels = int(layer.geometry.out_shape[0])
    _, in_h, in_w = dims3(layer.geometry.in_shape)
    thresholds = 4 * channels if layer.neuron == "lif" else 0
    return (aligned(weights) + 4 * channels + thresholds + SPAN_BYTES * (in_h + in_w)
            + LAYER_STRUCT_BYTES)


def strings_bytes(labels: Sequence[str]) -> int:
    """Flash of the class-name table: pointers and NUL-terminated strings (each aligned to 4
    bytes, as GCC places string literals for ARM).

    >>> strings_bytes(["0", "10", "1234"])
    28
    """
    return POINTER_BYTES * len(labels) + sum(aligned(len(str(s).encode()) + 1) for s in labels)


def state_words(neurons: Sequence[int], flushing: Sequence[bool], num_classes: int) -> int:
    """32-bit words of runtime state (mirror of ``sastc_plan_layout`` in sastc_rt.c):
    membranes and spike bits per layer, logits, the int32 sums of the layers whose int16
    partial sums may be flushed (``flushing``) and the int16 partial sums, reused by every layer.

    >>> state_words([4624, 2592, 10], [False, False, True], 10)
    9785
    """
    wide = max([n for n, flush in zip(neurons, flushing, strict=True) if flush], default=0)
    bits = sum(math.ceil(n / 32) for n in neurons)
    return sum(neurons) + bits + num_classes + wide + math.ceil(max(neurons) / 2)


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
