/* sastc_internal.h - pieces common to the runtime's translation units (not public API). */
#ifndef SASTC_INTERNAL_H
#define SASTC_INTERNAL_H

#include "sastc_rt.h"

/* SASTC_INLINE / SASTC_NOINLINE: static functions always inlined / kept out of line.
 * SASTC_ALIGNED(p): p, which the caller guarantees to be 16-byte aligned, told to the
 * compiler so that vector code may use aligned loads and memory operands. SASTC_ALIGN16
 * aligns a local array to 16 bytes. Both are no-ops for compilers other than GCC/Clang. */
#if defined(__GNUC__)
#define SASTC_INLINE static inline __attribute__((always_inline))
#define SASTC_NOINLINE static __attribute__((noinline))
#define SASTC_ALIGNED(p) __builtin_assume_aligned((p), 16)
#define SASTC_ALIGN16 __attribute__((aligned(16)))
#else
#define SASTC_INLINE static inline
#define SASTC_NOINLINE static
#define SASTC_ALIGNED(p) (p)
#define SASTC_ALIGN16
#endif

/* SASTC_ARM_DSP: Armv7E-M kernels (sastc_arm.h) for cores with the DSP extension, unless
 * built with -DSASTC_NO_ARM_DSP (the portable C then runs there too). */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(SASTC_NO_ARM_DSP)
#define SASTC_ARM_DSP 1
#endif

/* State words per 16-byte boundary: membranes and accumulators start at one. */
#define SASTC_ALIGN_WORDS 4u

/* Where each part of the state lies, in 32-bit words from its first 16-byte boundary:
 * [u (then c, for CUBA) of every layer, each from a 16-byte boundary][spike bits of every layer][logits]
 * [touched flags of every layer][acc32][acc16] (both from a 16-byte boundary). The
 * accumulators are scratch reused by every layer, zero between steps. total_words counts
 * 3 words of slack for the alignment. */
typedef struct sastc_layout {
    uint32_t bits_offset;     /* spike bitmaps, ceil(n / 32) words per layer */
    uint32_t logits_offset;   /* num_classes int32 */
    uint32_t touched_offset;  /* one bit per 32-neuron block, ceil(n / 1024) words per layer */
    uint32_t acc32_offset;    /* int32 sums: max n of the layers that may flush */
    uint32_t acc16_offset;    /* int16 partial sums: max n of all layers */
    uint32_t total_words;
} sastc_layout;

/* n rounded up to a multiple of SASTC_ALIGN_WORDS. */
static inline uint32_t sastc_align_words(uint32_t n)
{
    return (n + SASTC_ALIGN_WORDS - 1u) / SASTC_ALIGN_WORDS * SASTC_ALIGN_WORDS;
}

/* A layer's accumulators: int16 partial sums, and int32 sums they are flushed into. */
typedef struct sastc_acc {
    int16_t *narrow;
    int32_t *wide;
} sastc_acc;

/* Neurons of a layer's output. */
static inline uint32_t sastc_neurons(const sastc_layer *layer)
{
    return (uint32_t)layer->out_c * layer->out_h * layer->out_w;
}

/* 32-bit words holding one bit per neuron. */
static inline uint32_t sastc_bit_words(uint32_t neurons)
{
    return (neurons + 31u) / 32u;
}

/* Index of the lowest set bit of a non-zero word. */
static inline uint32_t sastc_ctz32(uint32_t word)
{
#if defined(__GNUC__)
    return (uint32_t)__builtin_ctz(word);
#else
    static const uint8_t debruijn[32] = {0,  1,  28, 2,  29, 14, 24, 3,  30, 22, 20,
                                         15, 25, 17, 4,  8,  31, 27, 13, 23, 21, 19,
                                         16, 7,  26, 12, 18, 6,  11, 5,  10, 9};
    return debruijn[((word & (0u - word)) * 0x077CB531u) >> 27];
#endif
}

/* Index of the lowest set bit of a non-zero 64-bit word. */
static inline uint32_t sastc_ctz64(uint64_t word)
{
#if defined(__GNUC__)
    return (uint32_t)__builtin_ctzll(word);
#else
    const uint32_t low = (uint32_t)word;
    return low != 0u ? sastc_ctz32(low) : 32u + sastc_ctz32((uint32_t)(word >> 32));
#endif
}

/* Words of the membranes of a layer of n neurons (16-byte aligned). */
static inline uint32_t sastc_membrane_words(uint32_t neurons)
{
    return sastc_align_words(neurons);
}

/* Whether a layer emits spikes: every neuron model but the LI readout. */
static inline int sastc_spiking(const sastc_layer *layer)
{
    return layer->neuron != SASTC_NEURON_LI;
}

/* Whether a layer keeps a synaptic current per neuron (CUBA). */
static inline int sastc_has_current(const sastc_layer *layer)
{
    return layer->neuron == SASTC_NEURON_CUBA;
}

/* Words of a layer's neuron state: its membranes, then (CUBA) its synaptic currents. */
static inline uint32_t sastc_state_words_of(const sastc_layer *layer)
{
    const uint32_t words = sastc_membrane_words(sastc_neurons(layer));
    return sastc_has_current(layer) ? 2u * words : words;
}

/* Words of the touched flags of a layer of n neurons: one bit per 32 neurons. */
static inline uint32_t sastc_flag_words(uint32_t neurons)
{
    return sastc_bit_words(sastc_bit_words(neurons));
}

/* Eight bytes as a little-endian uint64, whatever the host byte order (compilers fuse it). */
static inline uint64_t sastc_load_u64(const uint8_t *bytes)
{
    return (uint64_t)bytes[0] | (uint64_t)bytes[1] << 8 | (uint64_t)bytes[2] << 16 |
           (uint64_t)bytes[3] << 24 | (uint64_t)bytes[4] << 32 | (uint64_t)bytes[5] << 40 |
           (uint64_t)bytes[6] << 48 | (uint64_t)bytes[7] << 56;
}

void sastc_plan_layout(const sastc_model *model, sastc_layout *layout);

/* SASTC_OK if the model table is consistent (shapes chain, widths and pointers valid). */
sastc_status sastc_check_model(const sastc_model *model);

/* acc += W x for the events of an input frame uint8 [C][H][W] (counts clipped to clip).
 * Returns 1 if the sums are in acc.wide (int32), 0 if in acc.narrow (int16). */
int sastc_scatter_frame(const sastc_layer *layer, sastc_acc acc, const uint8_t *frame,
                        uint32_t clip);

/* acc += W x for the spikes of the previous layer (its bitmap, HWC order); as above. */
int sastc_scatter_spikes(const sastc_layer *layer, sastc_acc acc, const uint32_t *bits);

/* The spiking rule (LIF, IF or CUBA, reset to zero or by subtraction) on every neuron at time
 * step `step`, sums in acc.wide if `wide` else acc.narrow; `u` holds the membranes, then (CUBA)
 * the currents. Consumes (zeroes) the sums and writes the spike bitmap. `touched`: the layer's
 * flags of the 32-neuron blocks that had a non-zero sum since the reset (sastc_neuron.c). */
void sastc_update_lif(const sastc_layer *layer, int32_t *u, sastc_acc acc, int wide,
                      uint32_t *bits, uint32_t *touched, uint32_t step);

/* LI rule on every neuron; consumes (zeroes) the sums, adds u_pre to the logits. */
void sastc_update_li(const sastc_layer *layer, int32_t *u, sastc_acc acc, int wide,
                     int32_t *logits);

/* logits[n] += spike n: the spike-count logits of a LIF readout. */
void sastc_count_spikes(const uint32_t *bits, uint32_t neurons, int32_t *logits);

#endif /* SASTC_INTERNAL_H */
