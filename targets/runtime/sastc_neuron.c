/* sastc_neuron.c - the neuron rules of sastc_numerics.h over whole layers.
 *
 * Per neuron n of channel c (HWC order, so the per-channel bias and threshold
 * repeat every C neurons), one time step is
 *   u_pre = saturate(round_shift(u * beta_q, leak_shift) + (acc << frac_bits) + bias_q[c])
 *   LIF:  spike = u_pre > theta_q[c];  u = spike ? 0 : u_pre;  bit n of the bitmap = spike
 *   LI:   u = u_pre;  logits[n] += u_pre
 * and the accumulator is cleared for the next step. Neurons run in blocks of
 * 16 with a fixed trip count so that compilers vectorise them (the spike bits
 * of a block are an OR of per-lane masks). While the step count is below the
 * layer's unsaturated_steps the emitter proved that u_pre never leaves the
 * membrane range, and the clamp (an identity then) is skipped.
 */
#include "sastc_internal.h"
#include "sastc_numerics.h"

#define SASTC_NEURON_BLOCK 16u

/* Bit j, as a table so that the block loop needs no variable shifts. */
static const uint32_t lane_bit[SASTC_NEURON_BLOCK] = {
    1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7,
    1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15};

/* The layer's neuron parameters for one step. */
typedef struct neuron_params {
    int32_t beta_q, low, high;
    uint32_t leak_shift, frac_bits;
    const int32_t *bias, *theta;
} neuron_params;

static neuron_params params_of(const sastc_layer *layer)
{
    neuron_params p;
    p.beta_q = layer->beta_q;
    p.leak_shift = layer->leak_shift;
    p.frac_bits = layer->frac_bits;
    p.low = sastc_saturate_low(layer->membrane_bits);
    p.high = sastc_saturate_high(layer->membrane_bits);
    p.bias = layer->bias_q;
    p.theta = layer->theta_q;
    return p;
}

/* u_pre = [saturate](leak(u) + (acc << frac_bits) + bias); `clamp` is a constant after inlining. */
SASTC_INLINE int32_t u_pre_of(int32_t u, int32_t acc, int32_t bias, const neuron_params *p,
                              int clamp)
{
    const int32_t sum = sastc_leak(u, p->beta_q, p->leak_shift) +
                        sastc_drive(acc, p->frac_bits, bias);
    return clamp ? sastc_saturate(sum, p->low, p->high) : sum;
}

/* LIF rule for `len` neurons (channels c0..c0+len of one position); returns their spike bits.
 * `wide` picks the int32 or int16 sums; len, wide and clamp are constants after inlining. */
SASTC_INLINE uint32_t lif_run(int32_t *restrict u, int16_t *restrict acc16,
                              int32_t *restrict acc32, uint32_t c0, uint32_t len,
                              const neuron_params *p, int wide, int clamp)
{
    const int32_t *restrict bias = p->bias + c0, *restrict theta = p->theta + c0;
    uint32_t j, bits = 0;
    for (j = 0; j < len; ++j) {
        const int32_t acc = wide ? acc32[j] : acc16[j];
        const int32_t u_pre = u_pre_of(u[j], acc, bias[j], p, clamp);
        const int32_t spike = sastc_fire(u_pre, theta[j]);
        u[j] = sastc_reset_membrane(u_pre, spike);
        if (wide)
            acc32[j] = 0;
        else
            acc16[j] = 0;
        bits |= (0u - (uint32_t)spike) & lane_bit[j % SASTC_NEURON_BLOCK];
    }
    return bits;
}

/* OR `count` (<= 16) spike bits into the bitmap at bit `first`. */
SASTC_INLINE void put_bits(uint32_t *bitmap, uint32_t first, uint32_t bits, uint32_t count)
{
    const uint32_t shift = first % 32u;
    bitmap[first / 32u] |= bits << shift;
    if (shift + count > 32u)
        bitmap[first / 32u + 1u] |= bits >> (32u - shift);
}

/* LIF rule for neurons [n, n + len) of channels [c, c + len) (len constant). */
SASTC_INLINE uint32_t lif_at(int32_t *u, sastc_acc acc, uint32_t n, uint32_t c, uint32_t len,
                             const neuron_params *p, int wide, int clamp)
{
    return lif_run(u + n, wide ? NULL : acc.narrow + n, wide ? acc.wide + n : NULL, c, len, p,
                   wide, clamp);
}

/* LIF rule over the layer: when C is a multiple of 16, one flat run of 16-neuron blocks
 * (block n covers channels n % C .. + 15 of one position); else position by position, full
 * blocks and then one neuron at a time. */
SASTC_INLINE void lif_layer(const sastc_layer *layer, int32_t *u, sastc_acc acc,
                            uint32_t *bitmap, int wide, int clamp)
{
    const neuron_params p = params_of(layer);
    const uint32_t channels = layer->out_c, neurons = sastc_neurons(layer);
    const uint32_t full = channels - channels % SASTC_NEURON_BLOCK;
    uint32_t n, c;
    for (n = 0; n < sastc_bit_words(neurons); ++n) /* no spikes yet */
        bitmap[n] = 0u;
    if (full == channels) {
        for (n = 0, c = 0; n < neurons; n += SASTC_NEURON_BLOCK) { /* bits n..n+15 */
            bitmap[n / 32u] |= lif_at(u, acc, n, c, SASTC_NEURON_BLOCK, &p, wide, clamp)
                               << (n % 32u);
            c = c + SASTC_NEURON_BLOCK == channels ? 0u : c + SASTC_NEURON_BLOCK;
        }
        return;
    }
    for (n = 0; n < neurons; n += channels) { /* neurons [n, n + C) share one position */
        for (c = 0; c < full; c += SASTC_NEURON_BLOCK) /* channels c..c+15 */
            put_bits(bitmap, n + c,
                     lif_at(u, acc, n + c, c, SASTC_NEURON_BLOCK, &p, wide, clamp),
                     SASTC_NEURON_BLOCK);
        for (; c < channels; ++c) /* the channels left, one by one */
            put_bits(bitmap, n + c, lif_at(u, acc, n + c, c, 1u, &p, wide, clamp), 1u);
    }
}

void sastc_update_lif(const sastc_layer *layer, int32_t *u, sastc_acc acc, int wide,
                      uint32_t *bits, uint32_t step)
{
    const int clamp = step >= layer->unsaturated_steps;
    if (wide) {
        if (clamp)
            lif_layer(layer, u, acc, bits, 1, 1);
        else
            lif_layer(layer, u, acc, bits, 1, 0);
    } else if (clamp) {
        lif_layer(layer, u, acc, bits, 0, 1);
    } else {
        lif_layer(layer, u, acc, bits, 0, 0);
    }
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
