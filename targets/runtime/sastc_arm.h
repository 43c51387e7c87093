/* sastc_arm.h - kernels for Armv7E-M cores with the DSP extension (Cortex-M4, M7, M33 ...).
 *
 * Included by sastc_rows.h and sastc_neuron.c when the compiler targets such a core
 * (__ARM_FEATURE_DSP, GCC or Clang); every other target uses the portable C beside them,
 * which the host tests compare with the simulator. These compute exactly the same values
 * (the emulated-core tests compare them with the simulator too):
 *
 * - weight blocks: a 32-bit load of packed words 2j, 2j+1 holds, in bytes 0 and 2, the
 *   8-bit weights 2j and 2j+1 of the block and, in bytes 1 and 3, weights 8+2j and 9+2j.
 *   SXTAB16 sign-extends bytes 0 and 2 (or 1 and 3, rotated by 8) and adds them to the two
 *   int16 sums of one 32-bit word: 4 weights in 2 instructions. 4-bit blocks are first
 *   made bytes: (x ^ 0x88888888) & 0x0F0F0F0F holds fields 0 and 2 offset by 8, SSUB8
 *   removes the offset per byte, and fields 1 and 3 come the same way from x >> 4.
 * - neurons: leak(u) = round_shift(u * beta_q, s) = u + round_shift(u * (beta_q - 2^s), s),
 *   and with m = (beta_q - 2^s) * 2^(32 - s) (an int32 while beta_q >= 2^(s-1)) SMMLAR
 *   gives t + ((u * m + 2^31) >> 32) = t + round_shift(u * (beta_q - 2^s), s) in one
 *   instruction; SMLABB / SMLATB give acc * 2^frac + bias from a pair of int16 sums.
 */
#ifndef SASTC_ARM_H
#define SASTC_ARM_H

#include "sastc_internal.h"

typedef uint32_t sastc_word __attribute__((may_alias)); /* two int16 sums, or two packed words */

/* sums + sign-extended bytes 0 and 2 of x, per 16-bit lane. */
SASTC_INLINE uint32_t sastc_sxtab16(uint32_t sums, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(sums), "r"(x));
    return r;
}

/* sums + sign-extended bytes 1 and 3 of x, per 16-bit lane. */
SASTC_INLINE uint32_t sastc_sxtab16_hi(uint32_t sums, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(sums), "r"(x));
    return r;
}

/* Bytes of x minus 8, each on its own (x's bytes hold 0..15). */
SASTC_INLINE uint32_t sastc_bytes_minus_8(uint32_t x)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2" : "=r"(r) : "r"(x), "r"(0x08080808u) : "cc");
    return r;
}

/* t + ((u * m + 2^31) >> 32), the 64-bit product rounded. */
SASTC_INLINE int32_t sastc_smmlar(int32_t u, int32_t m, int32_t t)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(u), "r"(m), "r"(t));
    return r;
}

/* 1 if the `count` words (a multiple of 4) at `words` are all zero. */
SASTC_INLINE int sastc_arm_words_zero(const sastc_word *words, uint32_t count)
{
    uint32_t any = 0u, j;
    for (j = 0; j < count; j += 4u)
        any |= words[j] | words[j + 1u] | words[j + 2u] | words[j + 3u];
    return any == 0u;
}

/* 16 sums += one block of 16 8-bit weights (both 4-byte aligned). */
SASTC_INLINE void sastc_arm_block_i8(int16_t *acc, const uint16_t *w)
{
    sastc_word *sums = (sastc_word *)(void *)acc;
    const sastc_word *x = (const sastc_word *)(const void *)w;
    uint32_t j;
    for (j = 0; j < 4u; ++j) {
        const uint32_t v = x[j];
        sums[j] = sastc_sxtab16(sums[j], v);
        sums[j + 4u] = sastc_sxtab16_hi(sums[j + 4u], v);
    }
}

/* acc[i] += W[i] for a run of `blocks` (>= 1) whole 8-bit blocks, sums and weights 4-byte
 * aligned: per block one LDM of its 4 weight words, and per half of its 16 sums one LDM,
 * four SXTAB16 and one STM (15 instructions for 16 weights with the loop). Fixed registers
 * (r7, the Thumb frame pointer, and r9, a platform register, are left alone). */
SASTC_INLINE void sastc_arm_run_i8(int16_t *acc, const uint16_t *w, uint32_t blocks)
{
    __asm__ volatile("1:\n\t"
                     "ldm %[w]!, {r4, r5, r6, r8}\n\t"
                     "ldm %[s]!, {r10, r11, r12, lr}\n\t"
                     "sxtab16 r10, r10, r4\n\t"
                     "sxtab16 r11, r11, r5\n\t"
                     "sxtab16 r12, r12, r6\n\t"
                     "sxtab16 lr, lr, r8\n\t"
                     "stmdb %[s], {r10, r11, r12, lr}\n\t"
                     "ldm %[s]!, {r10, r11, r12, lr}\n\t"
                     "sxtab16 r10, r10, r4, ror #8\n\t"
                     "sxtab16 r11, r11, r5, ror #8\n\t"
                     "sxtab16 r12, r12, r6, ror #8\n\t"
                     "sxtab16 lr, lr, r8, ror #8\n\t"
                     "stmdb %[s], {r10, r11, r12, lr}\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [w] "+r"(w), [s] "+r"(acc), [n] "+r"(blocks)
                     :
                     : "r4", "r5", "r6", "r8", "r10", "r11", "r12", "lr", "cc", "memory");
}

/* Sums += a 4-bit block: all 32 (fields = 4), or 16 from fields f0, f0 + 1 (fields = 2, f0 = 0
 * or 2). Fields 0 and 2 of words 2j, 2j+1 are bytes of `even`, fields 1 and 3 of `odd`. */
SASTC_INLINE void sastc_arm_block_i4(int16_t *acc, const uint16_t *w, uint32_t f0,
                                     uint32_t fields)
{
    sastc_word *sums = (sastc_word *)(void *)acc;
    const sastc_word *x = (const sastc_word *)(const void *)w;
    uint32_t j;
    for (j = 0; j < 4u; ++j) {
        const uint32_t v = x[j] ^ 0x88888888u;
        const uint32_t even = sastc_bytes_minus_8(v & 0x0F0F0F0Fu);
        const uint32_t odd = sastc_bytes_minus_8((v >> 4) & 0x0F0F0F0Fu);
        if (fields == 4u) {
            sums[j] = sastc_sxtab16(sums[j], even);
            sums[j + 4u] = sastc_sxtab16(sums[j + 4u], odd);
            sums[j + 8u] = sastc_sxtab16_hi(sums[j + 8u], even);
            sums[j + 12u] = sastc_sxtab16_hi(sums[j + 12u], odd);
        } else if (f0 == 0u) {
            sums[j] = sastc_sxtab16(sums[j], even);
            sums[j + 4u] = sastc_sxtab16(sums[j + 4u], odd);
        } else {
            sums[j] = sastc_sxtab16_hi(sums[j], even);
            sums[j + 4u] = sastc_sxtab16_hi(sums[j + 4u], odd);
        }
    }
}

/* One neuron of a pair (u in u_reg, its int16 sum the low or high half of r6): u_pre =
 * leak(u) + acc * 2^frac + bias, then a spike where u_pre >= theta1 (= theta_q + 1): u = 0
 * and bit sastc_bit of the spike word. Spikes are rare, so the common path branches past
 * those two instructions: 7 instructions per neuron. */
#define SASTC_ARM_NEURON(u_reg, half)                                                        \
    "ldrd r8, r10, [%[l]], #8\n\t"             /* bias, theta1 */                           \
    "smla" half "b r8, r6, %[scale], r8\n\t"   /* acc * 2^frac + bias */                    \
    "add r8, r8, " u_reg "\n\t"                                                              \
    "smmlar " u_reg ", " u_reg ", %[m], r8\n\t" /* u_pre */                                 \
    "cmp " u_reg ", r10\n\t"                                                                 \
    "blt 1f\n\t"                                                                             \
    "movs " u_reg ", #0\n\t"                                                                 \
    "orr %[bits], %[bits], #(1 << sastc_bit)\n\t"                                            \
    "1:\n\t"                                                                                 \
    ".set sastc_bit, sastc_bit + 1\n\t"

/* LIF rule for 32 neurons with int16 sums, u_pre unclamped: `pairs` holds bias, theta1 of
 * every lane; the sums are read and cleared. Returns the spike bits. */
SASTC_INLINE uint32_t sastc_arm_lif_narrow(int32_t *u, int16_t *acc16, const int32_t *pairs,
                                           int32_t m, int32_t scale)
{
    uint32_t bits;
    __asm__ volatile("movs %[bits], #0\n\t"
                     ".set sastc_bit, 0\n\t"
                     ".rept 16\n\t"
                     "ldrd r4, r5, [%[u]]\n\t"
                     "ldr r6, [%[s]], #4\n\t"
                     SASTC_ARM_NEURON("r4", "b")
                     SASTC_ARM_NEURON("r5", "t")
                     "strd r4, r5, [%[u]], #8\n\t"
                     ".endr\n\t"
                     "movs r4, #0\n\t"
                     "movs r5, #0\n\t"
                     "movs r6, #0\n\t"
                     "movs r8, #0\n\t"
                     "stmdb %[s]!, {r4, r5, r6, r8}\n\t"
                     "stmdb %[s]!, {r4, r5, r6, r8}\n\t"
                     "stmdb %[s]!, {r4, r5, r6, r8}\n\t"
                     "stmdb %[s]!, {r4, r5, r6, r8}"
                     : [bits] "=&r"(bits), [u] "+r"(u), [s] "+r"(acc16), [l] "+r"(pairs)
                     : [m] "r"(m), [scale] "r"(scale)
                     : "r4", "r5", "r6", "r8", "r10", "cc", "memory");
    return bits;
}

/* The same with int32 sums (after a flush), in C. */
SASTC_INLINE uint32_t sastc_arm_lif_wide(int32_t *u, int32_t *acc32, const int32_t *pairs,
                                         int32_t m, int32_t scale)
{
    uint32_t keep = 0u, j;
    for (j = 32u; j-- > 0u;) { /* lane 0 ends lowest */
        const int32_t before = u[j];
        const int32_t pre = sastc_smmlar(before, m, before + acc32[j] * scale + pairs[2u * j]);
        const int32_t t = pre - pairs[2u * j + 1u]; /* < 0: no spike */
        u[j] = pre & (t >> 31);
        keep = keep << 1 | (uint32_t)t >> 31;
        acc32[j] = 0;
    }
    return ~keep;
}

#endif /* SASTC_ARM_H */
