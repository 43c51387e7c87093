/* sastc_rows.h - weight-row kernels: acc[i] += W[first + i] for one row of n outputs.
 *
 * Accumulators are int16 partial sums (see sastc_synapse.c: they are flushed
 * into int32 before they could overflow). Full blocks of 16 outputs run a loop
 * with a fixed trip count, which compilers vectorise even with a cheap cost
 * model; "_blocks" variants serve rows whose length is a multiple of 16.
 * INT4 weights come in blocks of 32 in 16 bytes: low nibbles hold elements
 * 0..15, high nibbles 16..31, so 16 aligned weights are one 16-byte load.
 */
#ifndef SASTC_ROWS_H
#define SASTC_ROWS_H

#include "sastc_synapse.h"

#define SASTC_ROW_BLOCK 16u

/* Two's-complement value of the low nibble of b: ((b & 15) ^ 8) - 8. */
SASTC_INLINE int32_t sastc_low_nibble(uint32_t b)
{
    return (int32_t)((b & 15u) ^ 8u) - 8;
}

/* Two's-complement value of the high nibble of a byte b. */
SASTC_INLINE int32_t sastc_high_nibble(uint32_t b)
{
    return (int32_t)((b >> 4) ^ 8u) - 8;
}

#define SASTC_I4_BLOCK 32u

/* INT4 element e of `count` packed in blocks of 32: in a block of m elements and h = ceil(m / 2)
 * bytes, element j < h is the low nibble of byte j, element j >= h the high nibble of j - h. */
SASTC_INLINE int32_t sastc_nibble_at(const uint8_t *packed, uint32_t e, uint32_t count)
{
    const uint32_t start = e - e % SASTC_I4_BLOCK, j = e % SASTC_I4_BLOCK;
    const uint32_t left = count - start;
    const uint32_t half = (left < SASTC_I4_BLOCK ? left + 1u : SASTC_I4_BLOCK) / 2u;
    return j < half ? sastc_low_nibble(packed[start / 2u + j])
                    : sastc_high_nibble(packed[start / 2u + j - half]);
}

/* acc[j] += w[j] for j < len (a constant after inlining): INT8 weights. */
SASTC_INLINE void block_i8(int16_t *restrict acc, const int8_t *restrict w, uint32_t len)
{
    uint32_t j;
    for (j = 0; j < len; ++j)
        acc[j] = (int16_t)(acc[j] + w[j]);
}

/* acc[i] += w[i] for i < n, n a multiple of 16. */
SASTC_INLINE void row_i8_blocks(int16_t *restrict acc, const int8_t *restrict w, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i += SASTC_ROW_BLOCK)
        block_i8(acc + i, w + i, SASTC_ROW_BLOCK);
}

/* acc[i] += w[i] for i < n, any n: blocks of 16, one of 8, then single weights. */
SASTC_INLINE void row_i8_any(int16_t *restrict acc, const int8_t *restrict w, uint32_t n)
{
    uint32_t i = n - n % SASTC_ROW_BLOCK;
    row_i8_blocks(acc, w, i);
    if (i + 8u <= n) {
        block_i8(acc + i, w + i, 8u);
        i += 8u;
    }
    for (; i < n; ++i)
        acc[i] = (int16_t)(acc[i] + w[i]);
}

/* INT4 element e in a full block: byte e % 16 of block e / 32, low nibble for e % 32 < 16. */
SASTC_INLINE int32_t sastc_nibble_full(const uint8_t *packed, uint32_t e)
{
    const uint32_t b = packed[e / SASTC_I4_BLOCK * (SASTC_I4_BLOCK / 2u) + e % 16u];
    return (e & 16u) ? sastc_high_nibble(b) : sastc_low_nibble(b);
}

/* acc[j] += low(w[j]) for j < 16: the first half of a full block of 32 INT4 weights. */
SASTC_INLINE void lows_i4(int16_t *restrict acc, const uint8_t *restrict w)
{
    uint32_t j;
    for (j = 0; j < SASTC_ROW_BLOCK; ++j)
        acc[j] = (int16_t)(acc[j] + sastc_low_nibble(w[j]));
}

/* acc[j] += high(w[j]) for j < 16: the second half of a full block. */
SASTC_INLINE void highs_i4(int16_t *restrict acc, const uint8_t *restrict w)
{
    uint32_t j;
    for (j = 0; j < SASTC_ROW_BLOCK; ++j)
        acc[j] = (int16_t)(acc[j] + sastc_high_nibble(w[j]));
}

/* acc[i] += W[e + i] for i < 16, e a multiple of 16, of `count` packed weights; the blocks
 * before `full_end` (count rounded down to 32) are full. */
SASTC_INLINE void chunk_i4(int16_t *restrict acc, const uint8_t *restrict packed, uint32_t e,
                           uint32_t count, uint32_t full_end)
{
    const uint8_t *w = packed + e / SASTC_I4_BLOCK * (SASTC_I4_BLOCK / 2u);
    uint32_t i;
    if (e + SASTC_ROW_BLOCK > full_end) /* in the last, shorter block */
        for (i = 0; i < SASTC_ROW_BLOCK; ++i)
            acc[i] = (int16_t)(acc[i] + sastc_nibble_at(packed, e + i, count));
    else if (e % SASTC_I4_BLOCK == 0u)
        lows_i4(acc, w);
    else
        highs_i4(acc, w);
}

/* acc[i] += W[first + i] for i < n; first and n multiples of 16. */
SASTC_INLINE void row_i4_blocks(int16_t *restrict acc, const uint8_t *restrict packed,
                                uint32_t first, uint32_t n, uint32_t count)
{
    const uint32_t full_end = count - count % SASTC_I4_BLOCK;
    uint32_t i;
    for (i = 0; i < n; i += SASTC_ROW_BLOCK)
        chunk_i4(acc + i, packed, first + i, count, full_end);
}

/* acc[i] += W[first + i] for i < n, any first and n. */
SASTC_INLINE void row_i4_any(int16_t *restrict acc, const uint8_t *restrict packed,
                             uint32_t first, uint32_t n, uint32_t count)
{
    const uint32_t full_end = count - count % SASTC_I4_BLOCK;
    uint32_t i = 0;
    while (i < n) { /* aligned chunks of 16 where the row covers one, else element by element */
        const uint32_t e = first + i;
        if (e % SASTC_ROW_BLOCK == 0u && i + SASTC_ROW_BLOCK <= n) {
            chunk_i4(acc + i, packed, e, count, full_end);
            i += SASTC_ROW_BLOCK;
        } else {
            acc[i] = (int16_t)(acc[i] + (e < full_end ? sastc_nibble_full(packed, e)
                                                      : sastc_nibble_at(packed, e, count)));
            i += 1u;
        }
    }
}

/* acc[i] += W[tap + i] for i < n, in the kind's weight format and row shape. */
SASTC_INLINE void sastc_add_row(const plan *p, enum row_kind kind, int16_t *acc, uint32_t tap,
                                uint32_t n)
{
    switch (kind) {
    case I8_BLOCKS: row_i8_blocks(acc, p->w8 + tap, n); break;
    case I8_ANY: row_i8_any(acc, p->w8 + tap, n); break;
    case I4_BLOCKS: row_i4_blocks(acc, p->w4, tap, n, p->weights); break;
    case I4_ANY: row_i4_any(acc, p->w4, tap, n, p->weights); break;
    }
}

/* acc[oy0 + r][ox0 + q][:] += W[c][ky0 - s r][kx0 - s q][:] for every output of the window.
 * The kernel columns kx0, kx0 - s, ... are consecutive weight slots and the outputs
 * ox0, ox0 + 1, ... consecutive accumulators, so each window row is one run of
 * cols * cout weights; the next window row is out_w * cout accumulators and s * k * cout
 * weights (ky - s) further. */
SASTC_INLINE void sastc_apply_window(const plan *p, const window *win, uint32_t c,
                                     enum row_kind kind)
{
    const uint32_t run = win->cols * p->cout;
    const uint32_t acc_row_step = p->acc_row_step, tap_row_step = p->tap_row_step;
    int16_t *acc = p->acc16 + win->acc_first;
    uint32_t tap = win->tap_first + c * p->channel_step, r;
    for (r = 0; r < win->rows; ++r, acc += acc_row_step, tap -= tap_row_step)
        sastc_add_row(p, kind, acc, tap, run);
}

#endif /* SASTC_ROWS_H */
