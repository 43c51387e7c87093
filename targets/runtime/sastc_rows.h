/* sastc_rows.h - weight-run kernels: acc[i] += W[e + i] for the n outputs of one run.
 *
 * Accumulators are int16 partial sums (see sastc_synapse.c: they are flushed
 * into int32 before they could overflow). Weights are packed in uint16_t
 * words, in blocks of 8 words (sastc_rt.h): field f of word k of a block is
 * weight 8 f + k. So a block's 8 words give 8 consecutive weights per field,
 * each by one shift left (the field's top bit to bit 15) and one arithmetic
 * shift right: a whole 8-bit block is 16 sums, a 4-bit block 32 sums, from one
 * 16-byte load, with fixed trip counts that compilers vectorise.
 *
 * Runs whose start and length are whole blocks (8-bit) or half blocks (4-bit:
 * fields 0-1 or 2-3) take the vector kernels on 16-byte aligned sums; any
 * other run adds the whole blocks it covers and the rest weight by weight.
 */
#ifndef SASTC_ROWS_H
#define SASTC_ROWS_H

#include "sastc_synapse.h"
#if defined(SASTC_ARM_DSP)
#include "sastc_arm_runs.h"
#endif

#define SASTC_BLOCK_WORDS 8u /* words per block: one 16-byte vector */
#define SASTC_I8_BLOCK 16u   /* 8-bit weights per block */
#define SASTC_I4_BLOCK 32u   /* 4-bit weights per block */
#define SASTC_HALF_BLOCK 16u /* 4-bit weights per half block */

/* Compile-time check: converting an out-of-range value to int16_t wraps modulo 2^16. */
typedef char sastc_requires_wrapping_int16[(int16_t)(uint16_t)0xFF80u == -128 ? 1 : -1];

/* Field f (width 4 or 8 bits) of packed word `word`, sign-extended: the field is moved to the
 * top of 16 bits, then shifted down arithmetically. */
SASTC_INLINE int32_t sastc_field(uint32_t word, uint32_t f, uint32_t width)
{
    return (int16_t)(uint16_t)(word << (16u - width * (f + 1u))) >> (16u - width);
}

/* acc[k] += field f0 of w[k], acc[8 + k] += field f0 + 1 (k < 8), fields `bits` wide: a
 * block of 16 8-bit weights (f0 = 0, bits = 8) or half a block of 4-bit weights, fields 0-1
 * (f0 = 0) or 2-3 (f0 = 2). f0, bits and `aligned` (acc is 16-byte aligned) are constants
 * after inlining. */
SASTC_INLINE void field_pair(int16_t *restrict acc, const uint16_t *restrict w, uint32_t f0,
                             uint32_t bits, int aligned)
{
    int16_t *restrict a = aligned ? SASTC_ALIGNED(acc) : acc;
    uint32_t k;
    for (k = 0; k < SASTC_BLOCK_WORDS; ++k) {
        a[k] = (int16_t)(a[k] + sastc_field(w[k], f0, bits));
        a[k + 8u] = (int16_t)(a[k + 8u] + sastc_field(w[k], f0 + 1u, bits));
    }
}

/* One block of 16 8-bit weights. */
SASTC_INLINE void block_i8(int16_t *restrict acc, const uint16_t *restrict w, int aligned)
{
#if defined(SASTC_ARM_DSP)
    if (aligned) { /* sums and (checked by sastc_init) weights 4-byte aligned */
        sastc_arm_block_i8(acc, w);
        return;
    }
#endif
    field_pair(acc, w, 0u, 8u, aligned);
}

/* Half a block of 4-bit weights (see field_pair). */
SASTC_INLINE void half_i4(int16_t *restrict acc, const uint16_t *restrict w, uint32_t f0,
                          int aligned)
{
#if defined(SASTC_ARM_DSP)
    if (aligned) {
        sastc_arm_block_i4(acc, w, f0, 2u);
        return;
    }
#endif
    field_pair(acc, w, f0, 4u, aligned);
}

/* acc[8 f + k] += field f of w[k] (f < 4, k < 8): one block of 32 4-bit weights. */
SASTC_INLINE void block_i4(int16_t *restrict acc, const uint16_t *restrict w, int aligned)
{
    int16_t *restrict a = aligned ? SASTC_ALIGNED(acc) : acc;
    uint32_t k;
#if defined(SASTC_ARM_DSP)
    if (aligned) {
        sastc_arm_block_i4(acc, w, 0u, 4u);
        return;
    }
#endif
    for (k = 0; k < SASTC_BLOCK_WORDS; ++k) {
        a[k] = (int16_t)(a[k] + sastc_field(w[k], 0u, 4u));
        a[k + 8u] = (int16_t)(a[k + 8u] + sastc_field(w[k], 1u, 4u));
        a[k + 16u] = (int16_t)(a[k + 16u] + sastc_field(w[k], 2u, 4u));
        a[k + 24u] = (int16_t)(a[k + 24u] + sastc_field(w[k], 3u, 4u));
    }
}

/* acc[i] += W[e + i] for i < n, 8-bit weights, e and n multiples of 16, acc aligned: an odd
 * block first, then two blocks at a time. */
SASTC_INLINE void run_i8_blocks(int16_t *acc, const uint16_t *words, uint32_t e, uint32_t n)
{
    const uint16_t *w = words + e / 2u, *const end = w + n / 2u;
    if (n % (2u * SASTC_I8_BLOCK) != 0u) { /* 16 sums from 8 words */
        block_i8(acc, w, 1);
        acc += SASTC_I8_BLOCK;
        w += SASTC_BLOCK_WORDS;
    }
    for (; w != end; w += 2u * SASTC_BLOCK_WORDS) { /* 32 sums from 16 words */
        block_i8(acc, w, 1);
        block_i8(acc + SASTC_I8_BLOCK, w + SASTC_BLOCK_WORDS, 1);
        acc += 2u * SASTC_I8_BLOCK;
    }
}

/* acc[i] += W[e + i] for i < n, 4-bit weights, e and n multiples of 16, acc aligned: an upper
 * half block if e starts one, whole blocks, then a lower half block if one is left. */
SASTC_INLINE void run_i4_halves(int16_t *acc, const uint16_t *words, uint32_t e, uint32_t n)
{
    const uint16_t *w = words + e / SASTC_I4_BLOCK * SASTC_BLOCK_WORDS;
    const uint32_t end = e + n;
    if (e % SASTC_I4_BLOCK != 0u) { /* weights 16..31 of a block: fields 2 and 3 */
        half_i4(acc, w, 2u, 1);
        acc += SASTC_HALF_BLOCK;
        w += SASTC_BLOCK_WORDS;
        e += SASTC_HALF_BLOCK;
    }
    for (; e + SASTC_I4_BLOCK <= end; e += SASTC_I4_BLOCK) { /* whole blocks: 32 sums */
        block_i4(acc, w, 1);
        acc += SASTC_I4_BLOCK;
        w += SASTC_BLOCK_WORDS;
    }
    if (e < end) /* weights 0..15 of a block: fields 0 and 1 */
        half_i4(acc, w, 0u, 1);
}

/* acc[j] += from[j] for j < 8 (any alignment). */
SASTC_INLINE void add8(int16_t *restrict acc, const int16_t *restrict from)
{
    uint32_t j;
    for (j = 0; j < 8u; ++j)
        acc[j] = (int16_t)(acc[j] + from[j]);
}

/* buffer[j] = weight j of the block at w, j < 16 (8-bit) or 32 (4-bit); buffer aligned. */
SASTC_INLINE void decode_block(int16_t *buffer, const uint16_t *w, uint32_t width)
{
    uint32_t j;
#if defined(SASTC_ARM_DSP)
    (void)j;
    sastc_arm_zero4((int32_t *)(void *)buffer, SASTC_I4_BLOCK / 2u);
#else
    for (j = 0; j < SASTC_I4_BLOCK; ++j)
        buffer[j] = 0;
#endif
    if (width == 8u)
        block_i8(buffer, w, 1);
    else
        block_i4(buffer, w, 1);
}

/* acc[i] += W[e + i] for i < n, any e and n, `width`-bit weights (a constant), acc of any
 * alignment: a block the run covers whole goes straight into the sums; otherwise the block
 * of weight e + i and the next are decoded into an aligned buffer and up to the rest of
 * both is added from there, 8 sums at a time. */
SASTC_INLINE void run_any_blocks(int16_t *acc, const uint16_t *words, uint32_t e, uint32_t n,
                                 uint32_t width)
{
    const uint32_t block = SASTC_BLOCK_WORDS * (16u / width);
    int16_t buffer[2u * SASTC_I4_BLOCK] SASTC_ALIGN16;
    uint32_t i = 0, j;
    while (i < n) { /* weight e + i is weight `at` of its block */
        const uint32_t at = (e + i) % block;
        const uint16_t *w = words + (e + i) / block * SASTC_BLOCK_WORDS;
        uint32_t take = n - i;
        if (at == 0u && take >= block) { /* a whole block */
            if (width == 8u)
                block_i8(acc + i, w, 0);
            else
                block_i4(acc + i, w, 0);
            i += block;
            continue;
        }
        decode_block(buffer, w, width);
        if (at + take > block) /* the run goes on into the next block */
            decode_block(buffer + block, w + SASTC_BLOCK_WORDS, width);
        if (at + take > 2u * block)
            take = 2u * block - at;
        for (j = 0; j + 8u <= take; j += 8u) /* 8 sums at a time, then one by one */
            add8(acc + i + j, buffer + at + j);
        for (; j < take; ++j)
            acc[i + j] = (int16_t)(acc[i + j] + buffer[at + j]);
        i += take;
    }
}

/* run_any_blocks out of line, one copy per width (the general path, kept small). */
SASTC_NOINLINE void run_any_i8(int16_t *acc, const uint16_t *words, uint32_t e, uint32_t n)
{
    run_any_blocks(acc, words, e, n, 8u);
}

SASTC_NOINLINE void run_any_i4(int16_t *acc, const uint16_t *words, uint32_t e, uint32_t n)
{
    run_any_blocks(acc, words, e, n, 4u);
}

/* acc[i] += W[e + i] for i < n, in the kind's weight format and run shape. */
SASTC_INLINE void sastc_add_run(const plan *p, enum row_kind kind, int16_t *acc, uint32_t e,
                                uint32_t n)
{
    switch (kind) {
    case I8_BLOCKS: run_i8_blocks(acc, p->words, e, n); break;
    case I8_ANY: run_any_i8(acc, p->words, e, n); break;
    case I4_HALVES: run_i4_halves(acc, p->words, e, n); break;
    case I4_ANY: run_any_i4(acc, p->words, e, n); break;
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
#if defined(SASTC_ARM_DSP)
    if (kind == I8_BLOCKS) { /* whole blocks: run and steps are multiples of 16 weights */
        sastc_arm_window_i8(acc, p->words + tap / 2u, run / SASTC_I8_BLOCK << 8 | win->rows,
                            (int32_t)(2u * (acc_row_step - run)),
                            -(int32_t)(tap_row_step + run));
        return;
    }
    if (kind == I4_HALVES) { /* runs of half blocks: 16 weights each */
        for (r = 0; r < win->rows; ++r, acc += acc_row_step, tap -= tap_row_step)
            sastc_arm_run_i4(acc, p->words + tap / SASTC_I4_BLOCK * SASTC_BLOCK_WORDS,
                             run / SASTC_HALF_BLOCK, tap / SASTC_HALF_BLOCK % 2u);
        return;
    }
#endif
    for (r = 0; r < win->rows; ++r, acc += acc_row_step, tap -= tap_row_step)
        sastc_add_run(p, kind, acc, tap, run);
}

#endif /* SASTC_ROWS_H */
