/* sastc_neuron.c - the neuron rules of sastc_numerics.h over whole layers.
 *
 * Per neuron n of channel c (HWC order, so the per-channel bias and threshold
 * repeat every C neurons), one time step is
 *   d     = (acc << frac_bits) + bias_q[c]
 *   CUBA: i = saturate(round_shift(i * alpha_q, leak_shift) + d), and d = i below
 *   u_pre = saturate(round_shift(u * beta_q, leak_shift) + d)
 *   LIF, IF, CUBA: spike = u_pre > theta_q[c];  bit n of the bitmap = spike;
 *         u = spike ? 0 : u_pre (reset to zero) | spike ? u_pre - theta_q[c] : u_pre (subtract)
 *   LI:   u = u_pre;  logits[n] += u_pre
 * and the accumulator is cleared for the next step. Spiking neurons run in blocks
 * of 32, one bitmap word each, as four straight-line passes of 8 lanes with a
 * fixed trip count so that compilers vectorise them (the spike bits of a block
 * are an OR of per-lane masks). The per-lane bias and threshold of a block are
 * copied once per step into an aligned table: when C divides 32 every block
 * has the same lanes, and when C is a multiple of 32 each group of 32 channels
 * has its own lanes, shared by all positions. Other channel counts, and the
 * last neurons of a layer that are not a whole block, take the same rule one
 * neuron at a time. When C divides 32, the blocks that never had a non-zero
 * sum since the reset ("quiet") all hold the same membranes: one of them is
 * computed and the others copy it. While the step count is below the layer's
 * unsaturated_steps the emitter proved that u_pre never leaves the membrane
 * range, and the clamp (an identity then) is skipped.
 */
#include "sastc_internal.h"
#include "sastc_numerics.h"
#if defined(SASTC_ARM_DSP)
#include "sastc_arm.h"
#endif

#define SASTC_LANES 32u /* neurons per block: the bits of one bitmap word */

/* The rule of a spiking layer, a constant after inlining: LIF/IF reset to zero, by
 * subtraction, or by neuron_params.reset_mask (either reset, read at run time), and CUBA
 * (either reset, by the mask). */
enum { RULE_ZERO = 0, RULE_SUBTRACT = 1, RULE_MASKED = 2, RULE_CUBA = 3 };

/* Every rule, sum width and clamp has its own copy of the block code (a constant for the
 * compiler), except on Arm cores, where code space is scarce: there LIF and IF layers share
 * the copies of RULE_MASKED, and CUBA layers run a compact loop per block (int16 sums,
 * clamp-free steps) or one neuron at a time (cuba_any; -DSASTC_SPECIALISE_RULES=0/1
 * chooses). */
#if !defined(SASTC_SPECIALISE_RULES)
#if defined(__arm__)
#define SASTC_SPECIALISE_RULES 0
#else
#define SASTC_SPECIALISE_RULES 1
#endif
#endif

/* Built with -DSASTC_NO_QUIET_BLOCKS, every block is computed (the tests compare both). */
#if defined(SASTC_NO_QUIET_BLOCKS)
#define SASTC_QUIET_BLOCKS 0
#else
#define SASTC_QUIET_BLOCKS 1
#endif

/* Bit j, as a table so that the block loop needs no variable shifts. */
static const uint32_t lane_bit[SASTC_LANES] SASTC_ALIGN16 = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

/* The layer's neuron parameters for one step. */
typedef struct neuron_params {
    int32_t beta_q, alpha_q, low, high;
    int32_t reset_mask;     /* -1: reset by subtraction, 0: to zero */
    uint32_t leak_shift, frac_bits;
    const int32_t *bias, *theta;
#if defined(SASTC_ARM_DSP)
    int arm;                /* the sastc_arm.h block applies (beta >= 1/2, frac <= 14, ...) */
    int32_t arm_m, arm_scale; /* (beta_q - 2^s) * 2^(32 - s) and 2^frac */
#endif
} neuron_params;

/* Bias and threshold + 1 of the channel of each lane of a block (16-byte aligned). */
typedef struct lane_params {
    int32_t bias[SASTC_LANES];
    int32_t theta1[SASTC_LANES]; /* min(theta_q, 2^30) + 1: u_pre > theta_q iff u_pre >= theta1 */
    int32_t half[8];             /* 2^(leak_shift - 1) (0 for shift 0) in every lane */
#if defined(SASTC_ARM_DSP)
    int32_t pairs[2u * SASTC_LANES]; /* bias, clamp(theta_q, -2^30, 2^30) + 1 of each lane */
#endif
} lane_params;

static neuron_params params_of(const sastc_layer *layer)
{
    neuron_params p;
    p.beta_q = layer->beta_q;
    p.alpha_q = layer->alpha_q;
    p.reset_mask = layer->reset == SASTC_RESET_SUBTRACT ? -1 : 0;
    p.leak_shift = layer->leak_shift;
    p.frac_bits = layer->frac_bits;
    p.low = sastc_saturate_low(layer->membrane_bits);
    p.high = sastc_saturate_high(layer->membrane_bits);
    p.bias = layer->bias_q;
    p.theta = layer->theta_q;
#if defined(SASTC_ARM_DSP)
    p.arm = !sastc_has_current(layer) && p.leak_shift >= 1u && p.leak_shift <= 30u && p.frac_bits <= 14u &&
            layer->membrane_bits <= 30u && p.beta_q >= sastc_half(p.leak_shift) &&
            p.beta_q <= (int32_t)(1u << p.leak_shift);
    p.arm_m = p.arm ? (int32_t)((uint32_t)(p.beta_q - (int32_t)(1u << p.leak_shift))
                                << (32u - p.leak_shift))
                    : 0;
    p.arm_scale = (int32_t)(1u << (p.frac_bits <= 14u ? p.frac_bits : 0u));
#endif
    return p;
}

/* x' = [saturate](round_shift(x * decay_q, leak_shift) + drive), `half` = 2^(leak_shift - 1)
 * (0 for shift 0): the membrane (decay beta_q) or the CUBA current (alpha_q); `clamp` is a
 * constant after inlining. */
SASTC_INLINE int32_t decayed(int32_t x, int32_t decay_q, int32_t half, int32_t drive,
                             const neuron_params *p, int clamp)
{
    const int32_t sum = ((x * decay_q + half) >> p->leak_shift) + drive;
    return clamp ? sastc_saturate(sum, p->low, p->high) : sum;
}

/* u after a spike (u_pre >= theta1 = theta_q + 1, as 0 <= theta_q < 2^(membrane_bits - 1)
 * <= 2^30): 0, u_pre - theta_q, or that & the layer's reset_mask. The difference is
 * computed for every lane and at least -2^31 (|u_pre| <= 2^30, theta1 <= 2^30). */
SASTC_INLINE int32_t fired(int32_t u_pre, int32_t theta1, const neuron_params *p, int rule)
{
    const int32_t less = (u_pre - theta1) + 1; /* u_pre - theta_q */
    if (rule == RULE_ZERO)
        return 0;
    return rule == RULE_SUBTRACT ? less : less & p->reset_mask;
}

/* The spiking rule for 8 neurons (u, the CUBA currents i, the sums and the lane tables at
 * them, all 16-byte aligned); the bit of every neuron that does not spike is ORed into
 * keep[j]. |u_pre| < 2^30, so spike = u_pre > theta_q is !(u_pre < theta1). `wide` picks the
 * int32 or int16 sums (the other pointer is NULL), i is NULL unless rule is RULE_CUBA; wide,
 * clamp and rule are constants after inlining. */
SASTC_INLINE void lif_lanes8(int32_t *restrict u_lanes, int32_t *restrict i_lanes,
                             int16_t *restrict acc16_lanes, int32_t *restrict acc32_lanes,
                             const int32_t *restrict bias_lanes,
                             const int32_t *restrict theta1_lanes,
                             const int32_t *restrict half_lanes,
                             const uint32_t *restrict bit_lanes, uint32_t *restrict keep_bits,
                             const neuron_params *p, int wide, int clamp, int rule)
{
    const int32_t *restrict half = SASTC_ALIGNED(half_lanes);
    int32_t *restrict u = SASTC_ALIGNED(u_lanes);
    int32_t *restrict cur = SASTC_ALIGNED(i_lanes);
    int16_t *restrict acc16 = SASTC_ALIGNED(acc16_lanes);
    int32_t *restrict acc32 = SASTC_ALIGNED(acc32_lanes);
    const int32_t *restrict bias = SASTC_ALIGNED(bias_lanes);
    const int32_t *restrict theta1 = SASTC_ALIGNED(theta1_lanes);
    const uint32_t *restrict bit = SASTC_ALIGNED(bit_lanes);
    uint32_t *restrict keep = SASTC_ALIGNED(keep_bits);
    uint32_t j;
    for (j = 0; j < 8u; ++j) { /* neuron j */
        const int32_t acc = wide ? acc32[j] : acc16[j];
        int32_t drive = sastc_drive(acc, p->frac_bits, bias[j]), u_pre, below;
        if (rule == RULE_CUBA) { /* i = [saturate](leak(i) + drive) drives u */
            cur[j] = decayed(cur[j], p->alpha_q, half[j], drive, p, clamp);
            drive = cur[j];
        }
        u_pre = decayed(u[j], p->beta_q, half[j], drive, p, clamp);
        below = u_pre < theta1[j]; /* no spike */
        u[j] = below ? u_pre : fired(u_pre, theta1[j], p, rule);
        if (wide)
            acc32[j] = 0;
        else
            acc16[j] = 0;
        keep[j] |= (0u - (uint32_t)below) & bit[j];
    }
}

/* Lanes 8 s .. 8 s + 7 of the block at u / i / acc16 / acc32 (s a constant). */
SASTC_INLINE void lif_part(int32_t *u, int32_t *i, int16_t *acc16, int32_t *acc32,
                           const lane_params *lanes, uint32_t *keep, uint32_t s,
                           const neuron_params *p, int wide, int clamp, int rule)
{
    const uint32_t j = 8u * s;
    lif_lanes8(u + j, rule == RULE_CUBA ? i + j : NULL, wide ? NULL : acc16 + j,
               wide ? acc32 + j : NULL, lanes->bias + j, lanes->theta1 + j, lanes->half,
               lane_bit + j, keep, p, wide, clamp, rule);
}

/* The spiking rule for the 32 neurons of one block; returns their spike bits and clears their
 * sums. Four straight-line passes of 8 lanes (one 16-byte vector pass each where compilers
 * vectorise) gather the bits of the neurons that do not spike in keep[], ORed at the end. */
SASTC_INLINE uint32_t lif_block(int32_t *u, int32_t *i, int16_t *acc16, int32_t *acc32,
                                const lane_params *lanes, const neuron_params *p, int wide,
                                int clamp, int rule)
{
    uint32_t keep[8] SASTC_ALIGN16 = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u};
    uint32_t j, kept = 0;
    lif_part(u, i, acc16, acc32, lanes, keep, 0u, p, wide, clamp, rule);
    lif_part(u, i, acc16, acc32, lanes, keep, 1u, p, wide, clamp, rule);
    lif_part(u, i, acc16, acc32, lanes, keep, 2u, p, wide, clamp, rule);
    lif_part(u, i, acc16, acc32, lanes, keep, 3u, p, wide, clamp, rule);
    for (j = 0; j < 8u; ++j)
        kept |= keep[j];
    return ~kept;
}

/* The spiking rule for block n .. n + 31 of the layer (n a multiple of 32). */
SASTC_INLINE uint32_t lif_block_at(int32_t *u, int32_t *i, sastc_acc acc, uint32_t n,
                                   const lane_params *lanes, const neuron_params *p, int wide,
                                   int clamp, int rule)
{
#if defined(SASTC_ARM_DSP)
    if (rule != RULE_CUBA && wide && !clamp && p->arm) /* the int16 case runs in arm_blocks */
        return sastc_arm_lif_wide(u + n, acc.wide + n, lanes->pairs, p->arm_m, p->arm_scale,
                                  p->reset_mask);
#endif
    return lif_block(u + n, rule == RULE_CUBA ? i + n : NULL, wide ? NULL : acc.narrow + n,
                     wide ? acc.wide + n : NULL, lanes, p, wide, clamp, rule);
}

/* The drive of neuron n of channel c: (acc << frac_bits) + bias_q, and it clears the sum. */
SASTC_INLINE int32_t take_drive(sastc_acc acc, uint32_t n, uint32_t c, const neuron_params *p,
                                int wide)
{
    const int32_t sum = wide ? acc.wide[n] : acc.narrow[n];
    if (wide)
        acc.wide[n] = 0;
    else
        acc.narrow[n] = 0;
    return sastc_drive(sum, p->frac_bits, p->bias[c]);
}

/* The spiking rule for neuron n of channel c, one at a time; returns its spike (0 or 1). */
SASTC_INLINE uint32_t lif_one(int32_t *u, int32_t *i, sastc_acc acc, uint32_t n, uint32_t c,
                              const neuron_params *p, int wide, int clamp, int rule)
{
    const int32_t half = sastc_half(p->leak_shift);
    int32_t drive = take_drive(acc, n, c, p, wide), u_pre, spike;
    if (rule == RULE_CUBA) {
        i[n] = decayed(i[n], p->alpha_q, half, drive, p, clamp);
        drive = i[n];
    }
    u_pre = decayed(u[n], p->beta_q, half, drive, p, clamp);
    spike = sastc_fire(u_pre, p->theta[c]);
    u[n] = sastc_reset_by(u_pre, spike, p->theta[c], p->reset_mask != 0 ? 1u : 0u);
    return (uint32_t)spike;
}

/* bias_lanes[j] = bias[j], theta1_lanes[j] = min(theta[j], 2^30) + 1 for j < count (theta
 * clipped above every u_pre); `count` is a constant after inlining. */
SASTC_INLINE void copy_lanes(int32_t *restrict bias_lanes, int32_t *restrict theta1_lanes,
                             const int32_t *restrict bias, const int32_t *restrict theta,
                             uint32_t count)
{
    const int32_t limit = (int32_t)(1u << 30);
    uint32_t j;
    for (j = 0; j < count; ++j) {
        bias_lanes[j] = bias[j];
        theta1_lanes[j] = (theta[j] < limit ? theta[j] : limit) + 1;
    }
}

#if defined(SASTC_ARM_DSP)
/* pairs[2 j] = bias, pairs[2 j + 1] = clamp(theta_q, -2^30, 2^30 - 1) + 1 of the channel of
 * lane j (c0 + j, or j % C): u_pre > theta_q iff u_pre >= theta1, as |u_pre| < 2^29 here. */
static void fill_pairs(lane_params *lanes, const neuron_params *p, uint32_t c0,
                       uint32_t channels)
{
    const uint32_t distinct = channels < SASTC_LANES ? channels : SASTC_LANES;
    uint32_t j;
    for (j = 0; j < distinct; ++j) {
        lanes->pairs[2u * j] = p->bias[c0 + j];
        lanes->pairs[2u * j + 1u] = sastc_ssat31(p->theta[c0 + j]) + 1;
    }
    for (; j < SASTC_LANES; ++j) { /* C divides 32: the same channels again */
        lanes->pairs[2u * j] = lanes->pairs[2u * (j - distinct)];
        lanes->pairs[2u * j + 1u] = lanes->pairs[2u * (j - distinct) + 1u];
    }
}
#endif

/* The lanes of channels c0 .. c0 + 31 (C a multiple of 32), or of channel j % C (C divides
 * 32, c0 = 0). */
static void fill_lanes(lane_params *lanes, const neuron_params *p, uint32_t c0, uint32_t channels,
                       int clamp)
{
    uint32_t j;
#if defined(SASTC_ARM_DSP)
    if (p->arm && !clamp) { /* sastc_arm.h reads only the pairs */
        fill_pairs(lanes, p, c0, channels);
        return;
    }
#else
    (void)clamp;
#endif
    if (channels >= SASTC_LANES) {
        copy_lanes(lanes->bias, lanes->theta1, p->bias + c0, p->theta + c0, SASTC_LANES);
    } else {
        copy_lanes(lanes->bias, lanes->theta1, p->bias, p->theta, channels);
        for (j = channels; j < SASTC_LANES; ++j) { /* the same channels again */
            lanes->bias[j] = lanes->bias[j - channels];
            lanes->theta1[j] = lanes->theta1[j - channels];
        }
    }
    for (j = 0; j < 8u; ++j)
        lanes->half[j] = sastc_half(p->leak_shift);
}

/* The spiking rule for neurons [first, neurons) one at a time (first a multiple of 32), a
 * bitmap word at a time. */
SASTC_INLINE void lif_rest(int32_t *u, int32_t *i, sastc_acc acc, uint32_t *bitmap,
                           uint32_t first, uint32_t neurons, uint32_t channels,
                           const neuron_params *p, int wide, int clamp, int rule)
{
    uint32_t n = first, c = first % channels;
    while (n < neurons) { /* word n / 32: bits of neurons n .. n + 31 */
        const uint32_t end = neurons - n < SASTC_LANES ? neurons : n + SASTC_LANES;
        uint32_t bits = 0;
        for (; n < end; ++n) {
            bits |= lif_one(u, i, acc, n, c, p, wide, clamp, rule) << (n % SASTC_LANES);
            c = c + 1u == channels ? 0u : c + 1u;
        }
        bitmap[(n - 1u) / SASTC_LANES] = bits;
    }
}

/* Sums of block n .. n + 31 all zero (16-byte aligned, int32 if wide): an OR of the 32 sums,
 * as 8 lanes of 4 (one vector each where compilers vectorise). */
SASTC_INLINE int sums_zero(sastc_acc acc, uint32_t n, int wide)
{
    uint32_t j, any = 0;
#if defined(SASTC_ARM_DSP)
    if (!wide) /* the 32 int16 sums as 16 words, four at a time */
        return sastc_arm_words16_zero((const sastc_word *)(const void *)(acc.narrow + n));
#endif
    if (wide) {
        const int32_t *sums = SASTC_ALIGNED(acc.wide + n);
        for (j = 0; j < 8u; ++j)
            any |= (uint32_t)(sums[j] | sums[j + 8u] | sums[j + 16u] | sums[j + 24u]);
    } else {
        const int16_t *sums = SASTC_ALIGNED(acc.narrow + n);
        uint16_t lanes[8];
        for (j = 0; j < 8u; ++j)
            lanes[j] = (uint16_t)(sums[j] | sums[j + 8u] | sums[j + 16u] | sums[j + 24u]);
        for (j = 0; j < 8u; ++j)
            any |= lanes[j];
    }
    return any == 0u;
}

/* u[n + j] = from[j] for j < 32 (both 16-byte aligned). */
SASTC_INLINE void copy_block(int32_t *restrict to_block, const int32_t *restrict from_block)
{
    int32_t *restrict to = SASTC_ALIGNED(to_block);
    const int32_t *restrict from = SASTC_ALIGNED(from_block);
    uint32_t j;
#if defined(SASTC_ARM_DSP)
    (void)j;
    sastc_arm_copy32(to, from);
#else
    for (j = 0; j < SASTC_LANES; ++j)
        to[j] = from[j];
#endif
}

/* Flags of blocks b0 .. b0 + 31 that exist (b < blocks). */
static uint32_t existing(uint32_t b0, uint32_t blocks)
{
    return blocks - b0 >= 32u ? 0xFFFFFFFFu : (1u << (blocks - b0)) - 1u;
}

/* Pass 1 over the quiet blocks (flag clear in `touched`): the flag is set where the sums of
 * this step are not all zero. Returns the first block that stays quiet, or UINT32_MAX. */
static uint32_t mark_touched(sastc_acc acc, uint32_t *touched, uint32_t blocks, int wide)
{
    uint32_t b0, first = UINT32_MAX;
    for (b0 = 0; b0 < blocks; b0 += 32u) { /* flag word b0 / 32: blocks b0 .. b0 + 31 */
        uint32_t quiet = ~touched[b0 / 32u] & existing(b0, blocks);
        for (; quiet != 0u; quiet &= quiet - 1u) {
            const uint32_t b = b0 + sastc_ctz32(quiet);
            if (!sums_zero(acc, b * SASTC_LANES, wide))
                touched[b0 / 32u] |= 1u << (b % 32u);
            else if (first == UINT32_MAX)
                first = b;
        }
    }
    return first;
}

/* Pass 3: every quiet block but `ref` takes the membranes, the currents (CUBA: i not NULL) and
 * the spikes of block `ref`. */
static void copy_quiet(int32_t *u, int32_t *i, uint32_t *bitmap, const uint32_t *touched,
                       uint32_t blocks, uint32_t ref)
{
    uint32_t b0;
    for (b0 = 0; b0 < blocks; b0 += 32u) {
        uint32_t quiet = ~touched[b0 / 32u] & existing(b0, blocks);
        for (; quiet != 0u; quiet &= quiet - 1u) {
            const uint32_t b = b0 + sastc_ctz32(quiet);
            if (b != ref) {
                copy_block(u + b * SASTC_LANES, u + ref * SASTC_LANES);
                if (i != NULL)
                    copy_block(i + b * SASTC_LANES, i + ref * SASTC_LANES);
                bitmap[b] = bitmap[ref];
            }
        }
    }
}

/* LIF rule for blocks b0, b0 + stride, ... (< blocks) that share one lane table. With
 * `touched` (C divides 32, stride 1), only the touched blocks and the quiet block `ref`. */
#if defined(SASTC_ARM_DSP)
/* lif_blocks with int16 sums on the sastc_arm.h block: a loop of its own, so that its few
 * values stay in registers around the calls. */
SASTC_NOINLINE void arm_blocks(int32_t *u, int16_t *acc16, uint32_t *bitmap,
                               const uint32_t *touched, uint32_t ref, uint32_t b0,
                               uint32_t stride, uint32_t blocks, const lane_params *lanes,
                               const neuron_params *p)
{
    const int32_t *pairs = lanes->pairs;
    const int32_t m = p->arm_m, scale = p->arm_scale;
    uint32_t b;
    for (b = b0; b < blocks; b += stride)
        if (touched == NULL || (touched[b / 32u] >> (b % 32u) & 1u) != 0u || b == ref)
            bitmap[b] = sastc_arm_lif_narrow(u + b * SASTC_LANES, acc16 + b * SASTC_LANES,
                                             pairs, m, scale, p->reset_mask);
}
#endif

SASTC_INLINE void lif_blocks(int32_t *u, int32_t *i, sastc_acc acc, uint32_t *bitmap,
                             const uint32_t *touched, uint32_t ref, uint32_t b0, uint32_t stride,
                             uint32_t blocks, const lane_params *lanes, const neuron_params *p,
                             int wide, int clamp, int rule)
{
    uint32_t b;
#if defined(SASTC_ARM_DSP)
    if (rule != RULE_CUBA && !wide && !clamp && p->arm) {
        arm_blocks(u, acc.narrow, bitmap, touched, ref, b0, stride, blocks, lanes, p);
        return;
    }
#endif
    for (b = b0; b < blocks; b += stride)
        if (touched == NULL || (touched[b / 32u] >> (b % 32u) & 1u) != 0u || b == ref)
            bitmap[b] = lif_block_at(u, i, acc, b * SASTC_LANES, lanes, p, wide, clamp, rule);
}

/* The spiking rule over the layer: whole blocks of 32 neurons where the channel count allows (see the
 * top of this file), the rest one by one.
 * When C divides 32 all blocks have the same lanes, and a block is "quiet" until its sums
 * are non-zero for the first time after the reset (its flag in `touched` is then set): all
 * quiet blocks started from u = 0 (and i = 0) and had the same input (none) since, so they hold
 * the same membranes (and currents). Only one of them, `ref`, is computed; the others copy
 * its state and spikes. */
SASTC_INLINE void lif_layer(const sastc_layer *layer, int32_t *u, sastc_acc acc,
                            uint32_t *bitmap, uint32_t *touched, int wide, int clamp, int rule)
{
    const neuron_params p = params_of(layer);
    const uint32_t channels = layer->out_c, neurons = sastc_neurons(layer);
    int32_t *i = rule == RULE_CUBA ? u + sastc_membrane_words(neurons) : NULL; /* currents */
    const int periodic = SASTC_LANES % channels == 0u;          /* C divides 32 */
    const int grouped = !periodic && channels % SASTC_LANES == 0u; /* C a multiple of 32 */
    const int quiet = SASTC_QUIET_BLOCKS && periodic;
    const uint32_t blocks = periodic || grouped ? neurons / SASTC_LANES : 0u; /* vector blocks */
    const uint32_t groups = grouped ? channels / SASTC_LANES : 1u;
    const uint32_t ref = quiet ? mark_touched(acc, touched, blocks, wide) : UINT32_MAX;
    lane_params lanes SASTC_ALIGN16;
    uint32_t g;
    for (g = 0; g < groups && blocks > 0u; ++g) { /* lanes: channels 32 g + j (mod C) */
        fill_lanes(&lanes, &p, g * SASTC_LANES, channels, clamp);
        lif_blocks(u, i, acc, bitmap, quiet ? touched : NULL, ref, g, groups, blocks, &lanes,
                   &p, wide, clamp, rule);
    }
    if (ref != UINT32_MAX)
        copy_quiet(u, i, bitmap, touched, blocks, ref);
    lif_rest(u, i, acc, bitmap, blocks * SASTC_LANES, neurons, channels, &p, wide, clamp, rule);
}

/* lif_layer with `rule` (a constant) and the sums' width and the clamp chosen. */
SASTC_INLINE void lif_layer_of(const sastc_layer *layer, int32_t *u, sastc_acc acc,
                               uint32_t *bits, uint32_t *touched, int wide, int clamp, int rule)
{
    if (wide) {
        if (clamp)
            lif_layer(layer, u, acc, bits, touched, 1, 1, rule);
        else
            lif_layer(layer, u, acc, bits, touched, 1, 0, rule);
    } else if (clamp) {
        lif_layer(layer, u, acc, bits, touched, 0, 1, rule);
    } else {
        lif_layer(layer, u, acc, bits, touched, 0, 0, rule);
    }
}

#if !SASTC_SPECIALISE_RULES

/* CUBA rule for the 32 neurons of block n .. n + 31 with int16 sums, clamp-free, as a loop
 * (not unrolled: small code); returns the spike bits. */
SASTC_NOINLINE uint32_t cuba_block_loop(int32_t *u, int32_t *i, int16_t *acc16,
                                        const lane_params *lanes, const neuron_params *p)
{
    const int32_t half = lanes->half[0];
    uint32_t j, bits = 0;
    for (j = 0; j < SASTC_LANES; ++j) {
        const int32_t drive = sastc_drive(acc16[j], p->frac_bits, lanes->bias[j]);
        const int32_t current = decayed(i[j], p->alpha_q, half, drive, p, 0);
        const int32_t u_pre = decayed(u[j], p->beta_q, half, current, p, 0);
        const int32_t below = u_pre < lanes->theta1[j];
        i[j] = current;
        u[j] = below ? u_pre : fired(u_pre, lanes->theta1[j], p, RULE_CUBA);
        acc16[j] = 0;
        bits |= (uint32_t)!below << j;
    }
    return bits;
}

/* CUBA: blocks (cuba_block_loop) for int16 sums and clamp-free steps where C divides 32 or is
 * a multiple of 32, else one neuron at a time. */
SASTC_NOINLINE void cuba_any(const sastc_layer *layer, int32_t *u, sastc_acc acc,
                             uint32_t *bits, int wide, int clamp)
{
    const neuron_params p = params_of(layer);
    const uint32_t channels = layer->out_c, neurons = sastc_neurons(layer);
    const int grouped = channels % SASTC_LANES == 0u;
    const uint32_t blocks = !wide && !clamp && (SASTC_LANES % channels == 0u || grouped)
                                ? neurons / SASTC_LANES
                                : 0u;
    const uint32_t groups = grouped ? channels / SASTC_LANES : 1u;
    int32_t *i = u + sastc_membrane_words(neurons);
    lane_params lanes SASTC_ALIGN16;
    uint32_t g, b;
    for (g = 0; g < groups && blocks > 0u; ++g) {
        fill_lanes(&lanes, &p, g * SASTC_LANES, channels, 1);
        for (b = g; b < blocks; b += groups)
            bits[b] = cuba_block_loop(u + b * SASTC_LANES, i + b * SASTC_LANES,
                                      acc.narrow + b * SASTC_LANES, &lanes, &p);
    }
    lif_rest(u, i, acc, bits, blocks * SASTC_LANES, neurons, channels, &p, wide, 1, RULE_CUBA);
}
#endif

void sastc_update_lif(const sastc_layer *layer, int32_t *u, sastc_acc acc, int wide,
                      uint32_t *bits, uint32_t *touched, uint32_t step)
{
    const int clamp = step >= layer->unsaturated_steps;
    const int rule = sastc_has_current(layer)                ? RULE_CUBA
                     : layer->reset == SASTC_RESET_SUBTRACT ? RULE_SUBTRACT
                                                             : RULE_ZERO;
#if SASTC_SPECIALISE_RULES
    if (rule == RULE_ZERO)
        lif_layer_of(layer, u, acc, bits, touched, wide, clamp, RULE_ZERO);
    else if (rule == RULE_SUBTRACT)
        lif_layer_of(layer, u, acc, bits, touched, wide, clamp, RULE_SUBTRACT);
    else
        lif_layer_of(layer, u, acc, bits, touched, wide, clamp, RULE_CUBA);
#else
    if (rule != RULE_CUBA)
        lif_layer_of(layer, u, acc, bits, touched, wide, clamp, RULE_MASKED);
    else
        cuba_any(layer, u, acc, bits, wide, clamp);
#endif
}

void sastc_update_li(const sastc_layer *layer, int32_t *u, sastc_acc acc, int wide,
                     int32_t *logits)
{
    const neuron_params p = params_of(layer);
    const uint32_t channels = layer->out_c, neurons = sastc_neurons(layer);
    uint32_t n;
    for (n = 0; n < neurons; ++n) { /* u = u_pre = integrate(u, acc, bias); logits += u_pre */
        const int32_t sum = wide ? acc.wide[n] : acc.narrow[n];
        u[n] = sastc_integrate(u[n], sum, p.bias[n % channels], p.beta_q, p.leak_shift,
                               p.frac_bits, p.low, p.high);
        if (wide)
            acc.wide[n] = 0;
        else
            acc.narrow[n] = 0;
        logits[n] += u[n];
    }
}

void sastc_count_spikes(const uint32_t *bits, uint32_t neurons, int32_t *logits)
{
    uint32_t n;
    for (n = 0; n < neurons; ++n) /* logits[n] += spike n */
        logits[n] += (int32_t)((bits[n / 32u] >> (n % 32u)) & 1u);
}
