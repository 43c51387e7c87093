/* sastc_arm_runs.h - weight runs on Armv7E-M cores with the DSP extension (see sastc_arm.h):
 * a whole event window of 8-bit runs, and one run of 4-bit half blocks, each an assembly
 * function. Included by sastc_rows.h (sastc_synapse.c only) when SASTC_ARM_DSP is set. */
#ifndef SASTC_ARM_RUNS_H
#define SASTC_ARM_RUNS_H

#include "sastc_arm.h"

/* A window of 8-bit runs, in assembly (a naked function: it saves what it uses, r7 and r9
 * included, whatever the frame pointer): `shape` = blocks << 8 | rows (rows < 256); run r
 * adds `blocks` blocks of weights to the sums that follow the previous run's by acc_delta
 * bytes, its weights follow by w_delta bytes (both relative to where the last run ended).
 * Per block of 16 weights one LDM of its 4 weight words and, per half of its 16 sums, one
 * LDM, four SXTAB16 and one STM: 15 instructions with the loop; per run 6, per window 4. */
__attribute__((naked, noinline, unused)) static void
sastc_arm_window_i8(int16_t *acc SASTC_UNUSED, const uint16_t *w SASTC_UNUSED,
                    uint32_t shape SASTC_UNUSED, int32_t acc_delta SASTC_UNUSED,
                    int32_t w_delta SASTC_UNUSED)
{
    __asm__("push {r4-r11, lr}\n\t"
            "ldr r9, [sp, #36]\n\t"           /* w_delta, the 5th argument */
            "mov r7, r3\n\t"                   /* acc_delta */
            "mov r3, r2\n\t"                   /* blocks << 8 | rows */
            "1:\n\t"
            "lsrs r2, r3, #8\n\t"              /* blocks of this run */
            "2:\n\t"
            "ldm r1!, {r4, r5, r6, r8}\n\t"
            "ldm r0!, {r10, r11, r12, lr}\n\t"
            "sxtab16 r10, r10, r4\n\t"
            "sxtab16 r11, r11, r5\n\t"
            "sxtab16 r12, r12, r6\n\t"
            "sxtab16 lr, lr, r8\n\t"
            "stmdb r0, {r10, r11, r12, lr}\n\t"
            "ldm r0!, {r10, r11, r12, lr}\n\t"
            "sxtab16 r10, r10, r4, ror #8\n\t"
            "sxtab16 r11, r11, r5, ror #8\n\t"
            "sxtab16 r12, r12, r6, ror #8\n\t"
            "sxtab16 lr, lr, r8, ror #8\n\t"
            "stmdb r0, {r10, r11, r12, lr}\n\t"
            "subs r2, r2, #1\n\t"
            "bne 2b\n\t"
            "add r0, r0, r7\n\t"
            "add r1, r1, r9\n\t"
            "subs r3, r3, #1\n\t"
            "tst r3, #255\n\t"
            "bne 1b\n\t"
            "pop {r4-r11, pc}");
}

/* Unpack the two words at [r1, #off] (packed words 2j .. 2j + 3 of a 4-bit block) into
 * bytes: r4, r5 fields 0 and 2, r6, r8 fields 1 and 3, sign-extended (r10 = 0x08080808,
 * r11 = 0x0F0F0F0F). */
#define SASTC_ARM_I4_UNPACK(off)                                                             \
    "ldrd r4, r5, [r1, #" off "]\n\t"                                                        \
    "eor r4, r4, #0x88888888\n\t"                                                            \
    "eor r5, r5, #0x88888888\n\t"                                                            \
    "and r6, r11, r4, lsr #4\n\t"                                                            \
    "and r8, r11, r5, lsr #4\n\t"                                                            \
    "and r4, r4, r11\n\t"                                                                    \
    "and r5, r5, r11\n\t"                                                                    \
    "ssub8 r4, r4, r10\n\t"                                                                  \
    "ssub8 r5, r5, r10\n\t"                                                                  \
    "ssub8 r6, r6, r10\n\t"                                                                  \
    "ssub8 r8, r8, r10\n\t"

/* Two sum words at [r0, #off] += bytes 0, 2 (rot "") or 1, 3 (rot ", ror #8") of ra, rb. */
#define SASTC_ARM_I4_ADD(off, ra, rb, rot)                                                   \
    "ldrd r12, lr, [r0, #" off "]\n\t"                                                       \
    "sxtab16 r12, r12, " ra rot "\n\t"                                                       \
    "sxtab16 lr, lr, " rb rot "\n\t"                                                         \
    "strd r12, lr, [r0, #" off "]\n\t"

/* Half a block: the 16 sums at r0 += fields 0, 1 (rot "") or 2, 3 (rot ", ror #8"). */
#define SASTC_ARM_I4_HALF(rot)                                                               \
    SASTC_ARM_I4_UNPACK("0") SASTC_ARM_I4_ADD("0", "r4", "r5", rot)                          \
    SASTC_ARM_I4_ADD("16", "r6", "r8", rot)                                                  \
    SASTC_ARM_I4_UNPACK("8") SASTC_ARM_I4_ADD("8", "r4", "r5", rot)                          \
    SASTC_ARM_I4_ADD("24", "r6", "r8", rot)

/* A whole block: the 32 sums at r0 += fields 0..3. */
#define SASTC_ARM_I4_BLOCK                                                                   \
    SASTC_ARM_I4_UNPACK("0") SASTC_ARM_I4_ADD("0", "r4", "r5", "")                           \
    SASTC_ARM_I4_ADD("16", "r6", "r8", "") SASTC_ARM_I4_ADD("32", "r4", "r5", ", ror #8")    \
    SASTC_ARM_I4_ADD("48", "r6", "r8", ", ror #8")                                           \
    SASTC_ARM_I4_UNPACK("8") SASTC_ARM_I4_ADD("8", "r4", "r5", "")                           \
    SASTC_ARM_I4_ADD("24", "r6", "r8", "") SASTC_ARM_I4_ADD("40", "r4", "r5", ", ror #8")    \
    SASTC_ARM_I4_ADD("56", "r6", "r8", ", ror #8")

/* One run of 4-bit weights, in assembly (naked): `halves` (>= 1) runs of 16 weights from
 * the block at w, starting at its upper half if `upper`: an upper half, whole blocks, a
 * lower half, as run_i4_halves. 54 instructions per whole block of 32 weights. */
__attribute__((naked, noinline, unused)) static void
sastc_arm_run_i4(int16_t *acc SASTC_UNUSED, const uint16_t *w SASTC_UNUSED,
                 uint32_t halves SASTC_UNUSED, uint32_t upper SASTC_UNUSED)
{
    __asm__("push {r4-r11, lr}\n\t"
            "mov r10, #0x08080808\n\t"
            "mov r11, #0x0F0F0F0F\n\t"
            "cmp r3, #0\n\t"
            "beq 1f\n\t"
            SASTC_ARM_I4_HALF(", ror #8")
            "adds r0, r0, #32\n\t"
            "adds r1, r1, #16\n\t"
            "subs r2, r2, #1\n\t"
            "1:\n\t"
            "cmp r2, #2\n\t"
            "blo 2f\n\t"
            SASTC_ARM_I4_BLOCK
            "adds r0, r0, #64\n\t"
            "adds r1, r1, #16\n\t"
            "subs r2, r2, #2\n\t"
            "b 1b\n\t"
            "2:\n\t"
            "cmp r2, #0\n\t"
            "beq 3f\n\t"
            SASTC_ARM_I4_HALF("")
            "3:\n\t"
            "pop {r4-r11, pc}");
}

#endif /* SASTC_ARM_RUNS_H */
