/* sastc_arm.h - kernels for Armv7E-M cores with the DSP extension (Cortex-M4, M7, M33 ...).
 *
 * Included by sastc_rt.c, sastc_neuron.c and sastc_arm_runs.h when the compiler targets
 * such a core (__ARM_FEATURE_DSP, GCC or Clang); every other target uses the portable C,
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

typedef uint32_t sastc_word __attribute__((may_alias)); /* two int16 sums, or two words */
#define SASTC_UNUSED __attribute__((unused)) /* the arguments of the naked functions */

/* Assembly text written out 8 times (not .rept: the compiler sizes an asm statement by its
 * lines, and short branches around it must stay in range). */
#define SASTC_TIMES2(text) text text
#define SASTC_TIMES8(text) SASTC_TIMES2(SASTC_TIMES2(SASTC_TIMES2(text)))

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

/* 1 if the 16 words at `words` (32 int16 sums) are all zero. */
SASTC_INLINE int sastc_arm_words16_zero(const sastc_word *w)
{
    const uint32_t a = w[0] | w[1] | w[2] | w[3], b = w[4] | w[5] | w[6] | w[7];
    const uint32_t c = w[8] | w[9] | w[10] | w[11], d = w[12] | w[13] | w[14] | w[15];
    return (a | b | c | d) == 0u;
}

/* to[j] = from[j] for j < 32 (both 4-byte aligned): eight LDM / STM pairs of four words. */
SASTC_INLINE void sastc_arm_copy32(int32_t *to, const int32_t *from)
{
    __asm__ volatile(SASTC_TIMES8("ldm %[f]!, {r4, r5, r6, r8}\n\t"
                                  "stm %[t]!, {r4, r5, r6, r8}\n\t")
                     : [t] "+r"(to), [f] "+r"(from)
                     :
                     : "r4", "r5", "r6", "r8", "memory");
}

/* words[i] = 0 for i < count (count a multiple of 4, words 4-byte aligned): STM of four. */
SASTC_INLINE void sastc_arm_zero4(int32_t *words, uint32_t count)
{
    if (count == 0u)
        return;
    __asm__ volatile("movs r4, #0\n\t"
                     "movs r5, #0\n\t"
                     "movs r6, #0\n\t"
                     "movs r8, #0\n\t"
                     "1:\n\t"
                     "stm %[w]!, {r4, r5, r6, r8}\n\t"
                     "subs %[n], %[n], #4\n\t"
                     "bne 1b"
                     : [w] "+r"(words), [n] "+r"(count)
                     :
                     : "r4", "r5", "r6", "r8", "cc", "memory");
}

/* theta clamped to [-2^30, 2^30 - 1] (one SSAT). */
SASTC_INLINE int32_t sastc_ssat31(int32_t theta)
{
    int32_t r;
    __asm__("ssat %0, #31, %1" : "=r"(r) : "r"(theta) : "cc");
    return r;
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

/* One neuron (membrane in u_reg, its int16 sum the low or high half of pair_reg): u_pre =
 * leak(u) + acc * 2^frac + bias, then a spike where u_pre >= theta1 (= theta_q + 1): u =
 * (u_pre - theta_q) & reset mask (the 6th argument, on the stack: 0 resets to zero, -1
 * subtracts the threshold) and bit sastc_bit of the spike word (lr). Spikes are rare, so the
 * common path branches past those five instructions: 6 instructions. Registers: r2 lane
 * pairs (bias, theta1), r3 m, r12 2^frac, r10 and r11 scratch. */
#define SASTC_ARM_NEURON(u_reg, pair_reg, half)                                              \
    "ldrd r10, r11, [r2], #8\n\t"                                                            \
    "smla" half "b r10, " pair_reg ", r12, r10\n\t" /* acc * 2^frac + bias */               \
    "add r10, r10, " u_reg "\n\t"                                                            \
    "smmlar " u_reg ", " u_reg ", r3, r10\n\t"      /* u_pre */                             \
    "cmp " u_reg ", r11\n\t"                                                                 \
    "blt 1f\n\t"                                                                             \
    "sub " u_reg ", " u_reg ", r11\n\t"                                                      \
    "adds " u_reg ", #1\n\t"                                                                 \
    "ldr r10, [sp, #40]\n\t"                                                                 \
    "and " u_reg ", " u_reg ", r10\n\t"                                                      \
    "orr lr, lr, #(1 << sastc_bit)\n\t"                                                      \
    "1:\n\t"                                                                                 \
    ".set sastc_bit, sastc_bit + 1\n\t"

/* Neurons 4q .. 4q + 3: their membranes (LDM), their four int16 sums (two words), the rule
 * for each, the membranes back (STM). */
#define SASTC_ARM_NEURONS4                                                                   \
    "ldm r0, {r4, r5, r6, r7}\n\t"                                                           \
    "ldm r1!, {r8, r9}\n\t"                                                                  \
    SASTC_ARM_NEURON("r4", "r8", "b") SASTC_ARM_NEURON("r5", "r8", "t")                      \
    SASTC_ARM_NEURON("r6", "r9", "b") SASTC_ARM_NEURON("r7", "r9", "t")                      \
    "stm r0!, {r4, r5, r6, r7}\n\t"

/* LIF rule for 32 neurons with int16 sums, u_pre unclamped (a naked function: it saves what
 * it uses, r7 and r9 included): u, the sums, the lane pairs (bias, theta1 of every lane)
 * and m in r0..r3, 2^frac and the reset mask (0: to zero, -1: by subtraction) on the
 * stack. The sums are read and cleared; returns the spike bits. About 7 instructions per
 * neuron. */
__attribute__((naked, noinline, unused)) static uint32_t
sastc_arm_lif_narrow(int32_t *u SASTC_UNUSED, int16_t *acc16 SASTC_UNUSED,
                     const int32_t *pairs SASTC_UNUSED, int32_t m SASTC_UNUSED,
                     int32_t scale SASTC_UNUSED, int32_t reset_mask SASTC_UNUSED)
{
    __asm__("push {r4-r11, lr}\n\t"
            "ldr r12, [sp, #36]\n\t" /* 2^frac, the 5th argument */
            "movs lr, #0\n\t"
            ".set sastc_bit, 0\n\t"
            SASTC_TIMES8(SASTC_ARM_NEURONS4)
            "movs r4, #0\n\t"
            "movs r5, #0\n\t"
            "movs r6, #0\n\t"
            "movs r7, #0\n\t"
            "stmdb r1!, {r4, r5, r6, r7}\n\t"
            "stmdb r1!, {r4, r5, r6, r7}\n\t"
            "stmdb r1!, {r4, r5, r6, r7}\n\t"
            "stmdb r1!, {r4, r5, r6, r7}\n\t"
            "mov r0, lr\n\t"
            "pop {r4-r11, pc}");
}

/* The same with int32 sums (after a flush), in C. */
SASTC_INLINE uint32_t sastc_arm_lif_wide(int32_t *u, int32_t *acc32, const int32_t *pairs,
                                         int32_t m, int32_t scale, int32_t reset_mask)
{
    uint32_t keep = 0u, j;
    for (j = 32u; j-- > 0u;) { /* lane 0 ends lowest */
        const int32_t before = u[j];
        const int32_t pre = sastc_smmlar(before, m, before + acc32[j] * scale + pairs[2u * j]);
        const int32_t t = pre - pairs[2u * j + 1u]; /* < 0: no spike */
        u[j] = t < 0 ? pre : (t + 1) & reset_mask; /* u_pre - theta_q: t + 1 */
        keep = keep << 1 | (uint32_t)t >> 31;
        acc32[j] = 0;
    }
    return ~keep;
}

#endif /* SASTC_ARM_H */
