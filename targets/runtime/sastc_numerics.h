/* sastc_numerics.h - the integer primitives of a compiled sastc layer.
 *
 * Line-for-line mirror of sastc/numerics.py (the one definition of the
 * semantics); tests/test_c_primitives.py checks every function here against
 * it over all int4 and int8 operand pairs and a sweep of shifts and widths.
 *
 *   round_shift(x, n) = floor((x + 2^(n-1)) / 2^n)     (n = 0: x)
 *   saturate(x, b)    = clamp(x, -2^(b-1), 2^(b-1) - 1)
 *   leak(u)           = round_shift(u * beta_q, leak_shift)
 *   u_pre             = saturate(leak(u) + (acc << frac_bits) + bias_q, b)
 *   spike             = u_pre > theta_q
 *   u                 = spike ? 0 : u_pre           (reset to zero)
 *                     = spike ? u_pre - theta_q : u_pre   (reset by subtraction)
 *   CUBA current      c = saturate(round_shift(c * alpha_q, leak_shift) + (acc << frac_bits)
 *                         + bias_q, b), which then drives u_pre in place of the synaptic sum
 *
 * Everything is int32. The emitter (sastc/backends/c_header.py) proves for
 * every layer that no intermediate value leaves int32:
 * |u * beta_q| <= 2^(membrane_bits - 1 + leak_shift) <= 2^31 and
 * 2^(membrane_bits-1) + max|acc| * 2^frac_bits + max|bias_q| < 2^31.
 *
 * Two implementation-defined behaviours of C99 are relied on, as every
 * mainstream compiler provides them: >> of a negative int32 is an arithmetic
 * shift (checked below at compile time) and converting a uint32 to int32 wraps
 * modulo 2^32 (used for the left shift, which is undefined for negative values
 * when written on signed operands).
 */
#ifndef SASTC_NUMERICS_H
#define SASTC_NUMERICS_H

#include <stdint.h>

/* Compile-time check: a negative value shifted right stays negative (arithmetic shift). */
typedef char sastc_requires_arithmetic_shift[((-8) >> 1) == -4 ? 1 : -1];

/* 2^(shift-1), the half unit added before a rounding shift; 0 for shift 0. */
static inline int32_t sastc_half(uint32_t shift)
{
    return shift == 0u ? 0 : (int32_t)(1u << (shift - 1u));
}

/* round_shift(x, n) = floor((x + 2^(n-1)) / 2^n): round half up; n in [0, 30]. */
static inline int32_t sastc_round_shift(int32_t x, uint32_t shift)
{
    return (x + sastc_half(shift)) >> shift;
}

/* round_shift(x * multiplier, shift): multiply by multiplier / 2^shift, rounded half up. */
static inline int32_t sastc_multiply_shift(int32_t x, int32_t multiplier, uint32_t shift)
{
    return sastc_round_shift(x * multiplier, shift);
}

/* Smallest value of a signed `bits`-wide integer, bits in [1, 31]: -2^(bits-1). */
static inline int32_t sastc_saturate_low(uint32_t bits)
{
    return -(int32_t)(1u << (bits - 1u));
}

/* Largest value of a signed `bits`-wide integer, bits in [1, 31]: 2^(bits-1) - 1. */
static inline int32_t sastc_saturate_high(uint32_t bits)
{
    return (int32_t)((1u << (bits - 1u)) - 1u);
}

/* saturate(x) = min(max(x, low), high). */
static inline int32_t sastc_saturate(int32_t x, int32_t low, int32_t high)
{
    const int32_t raised = x < low ? low : x;
    return raised > high ? high : raised;
}

/* leak(u) = round_shift(u * beta_q, leak_shift): decay by beta = beta_q / 2^leak_shift. */
static inline int32_t sastc_leak(int32_t u, int32_t beta_q, uint32_t leak_shift)
{
    return sastc_multiply_shift(u, beta_q, leak_shift);
}

/* drive = (acc << frac_bits) + bias_q, the shift done on uint32 (defined for negative acc). */
static inline int32_t sastc_drive(int32_t acc, uint32_t frac_bits, int32_t bias_q)
{
    return (int32_t)((uint32_t)acc << frac_bits) + bias_q;
}

/* u_pre = saturate(leak(u) + (acc << frac_bits) + bias_q) to [low, high]. */
static inline int32_t sastc_integrate(int32_t u, int32_t acc, int32_t bias_q, int32_t beta_q,
                                      uint32_t leak_shift, uint32_t frac_bits, int32_t low,
                                      int32_t high)
{
    const int32_t sum = sastc_leak(u, beta_q, leak_shift) + sastc_drive(acc, frac_bits, bias_q);
    return sastc_saturate(sum, low, high);
}

/* spike = u_pre > theta_q (strict comparison): 1 or 0. */
static inline int32_t sastc_fire(int32_t u_pre, int32_t theta_q)
{
    return u_pre > theta_q;
}

/* u = 0 where a spike was emitted, u_pre elsewhere. */
static inline int32_t sastc_reset_membrane(int32_t u_pre, int32_t spike)
{
    return spike ? 0 : u_pre;
}

/* u after a step with reset `subtract` 0 (to zero: u = 0) or 1 (u = u_pre - theta_q) where a
 * spike was emitted, u_pre elsewhere. A spike means theta_q < u_pre, so with theta_q >= 0
 * the difference lies in (0, u_pre): it cannot overflow. */
static inline int32_t sastc_reset_by(int32_t u_pre, int32_t spike, int32_t theta_q,
                                     uint32_t subtract)
{
    if (!spike)
        return u_pre;
    return subtract ? u_pre - theta_q : 0;
}

#endif /* SASTC_NUMERICS_H */
