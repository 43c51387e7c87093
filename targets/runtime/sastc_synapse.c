/* sastc_synapse.c - event-driven synapses: acc += W x, work proportional to input events.
 *
 * Every input event (a spike, or one count of an input pixel) at input
 * position (c, y, x) is mapped through the layer's sum pooling to
 * (c, y / k, x / k) (events in edges that do not fill a pooling window are
 * dropped) and scatters weight rows into the accumulators:
 *   conv:  acc[oy][ox][:] += W[c][ky][kx][:]  for every output whose window covers it,
 *          ky = y + p - s * oy, kx = x + p - s * ox
 *   dense: acc[:] += W[(y * W + x) * C + c][:]
 * A pooled count of n is n events, so acc equals the simulator's
 * sum_i W[o, i] * pooled[i] exactly. The outputs an input position reaches
 * (its window, from the layer's span tables) are found once per position and
 * reused by all its channels.
 *
 * Sums are kept in int16: one event changes an accumulator by at most
 * max|W|, so after the layer's flush_events events (32767 / max|W|, from the
 * emitter) the int16 sums are added into the int32 accumulators and cleared.
 * The result is the exact int32 sum either way.
 */
#include "sastc_rows.h"

/* acc32[i] += acc16[i]; acc16[i] = 0 for i < 16 (both 16-byte aligned). */
SASTC_INLINE void move_block(int32_t *restrict acc32_block, int16_t *restrict acc16_block)
{
    int32_t *restrict acc32 = SASTC_ALIGNED(acc32_block);
    int16_t *restrict acc16 = SASTC_ALIGNED(acc16_block);
    uint32_t i;
    for (i = 0; i < 16u; ++i) {
        acc32[i] += acc16[i];
        acc16[i] = 0;
    }
}

/* acc32[i] += acc16[i]; acc16[i] = 0 for i < n: blocks of 16, then one by one. */
static void move_sums(int32_t *acc32, int16_t *acc16, uint32_t n)
{
    uint32_t i;
    for (i = 0; i + 16u <= n; i += 16u)
        move_block(acc32 + i, acc16 + i);
    for (; i < n; ++i) {
        acc32[i] += acc16[i];
        acc16[i] = 0;
    }
}

/* The int16 sums of the layer move into int32 (nothing to do if they provably fit int16:
 * flush_events UINT32_MAX, which a step would need 2^32 - 1 events to reach). */
SASTC_NOINLINE void flush(plan *p)
{
    p->budget = p->flush_events;
    if (p->flush_events == UINT32_MAX)
        return;
    move_sums(p->acc32, p->acc16, p->neurons);
    p->flushed = 1;
}

/* One event through a window, flushing the int16 sums before they could overflow. */
SASTC_INLINE void event(plan *p, const window *win, uint32_t c, enum row_kind kind)
{
    sastc_apply_window(p, win, c, kind);
    if (--p->budget == 0u)
        flush(p);
}

/* Bit 7 of byte j set where byte j of word is non-zero. */
SASTC_INLINE uint64_t nonzero_bytes(uint64_t word)
{
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
    return (((word & low7) + low7) | word) & ~low7;
}

/* Pixel `index` of channel c holding `count` events: min(count, clip) events. */
SASTC_INLINE void pixel_events(plan *p, uint32_t c, uint32_t index, uint32_t count,
                               uint32_t clip, enum row_kind kind)
{
    window win;
    uint32_t n = count < clip ? count : clip;
    if (sastc_window(p, index / p->in_w, index % p->in_w, &win))
        for (; n > 0u; --n) /* a count of n is n events */
            event(p, &win, c, kind);
}

#if defined(__arm__)
#if defined(__ARM_FEATURE_UNALIGNED) && defined(__GNUC__)
typedef uint32_t sastc_unaligned_u32 __attribute__((aligned(1), may_alias));
#endif

/* Four bytes as a little-endian uint32 (one load where the core allows unaligned loads). */
SASTC_INLINE uint32_t sastc_load_u32(const uint8_t *bytes)
{
#if defined(__ARM_FEATURE_UNALIGNED) && defined(__GNUC__) && defined(__ARMEL__)
    return *(const sastc_unaligned_u32 *)(const void *)bytes;
#else
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
#endif
}

/* Where a plane scan is: the row of pixel `row_start` (rows are followed, not divided out). */
typedef struct scan_row {
    uint32_t row, row_start;
} scan_row;

/* Pixel `index` of channel c (count `count`): min(count, clip) events through its window. */
SASTC_INLINE void scan_pixel(plan *p, scan_row *at, uint32_t c, uint32_t index, uint32_t count,
                             uint32_t clip, enum row_kind kind)
{
    window win;
    uint32_t n = count < clip ? count : clip;
    while (index >= at->row_start + p->in_w) {
        at->row_start += p->in_w;
        at->row += 1u;
    }
    if (sastc_window(p, at->row, index - at->row_start, &win))
        for (; n > 0u; --n) /* a count of n is n events */
            event(p, &win, c, kind);
}

/* The non-zero pixels i..i+3 (bytes, little-endian, in `bytes`). */
SASTC_INLINE void scan_word(plan *p, scan_row *at, uint32_t c, const uint8_t *frame, uint32_t i,
                            uint32_t bytes, uint32_t clip, enum row_kind kind)
{
    const uint32_t low7 = 0x7F7F7F7Fu;
    uint32_t nonzero = (((bytes & low7) + low7) | bytes) & ~low7; /* bit 7 of non-zero bytes */
    for (; nonzero != 0u; nonzero &= nonzero - 1u) {
        const uint32_t index = i + (sastc_ctz32(nonzero) >> 3);
        scan_pixel(p, at, c, index, frame[index], clip, kind);
    }
}

/* 32-bit cores: every non-zero pixel of the frame [C][H][W], skipping sixteen empty pixels
 * at a time (bytes combined into words: one load each where unaligned loads exist). */
SASTC_INLINE void frame_events(plan *p, const uint8_t *frame, uint32_t plane, uint32_t clip,
                               enum row_kind kind)
{
    uint32_t c, i;
    for (c = 0; c < p->in_c; ++c, frame += plane) { /* plane c of [C][H][W] */
        scan_row at = {0u, 0u};
        for (i = 0; i + 16u <= plane; i += 16u) { /* pixels i..i+15 */
            const uint32_t a = sastc_load_u32(frame + i), b = sastc_load_u32(frame + i + 4u);
            const uint32_t d = sastc_load_u32(frame + i + 8u), e = sastc_load_u32(frame + i + 12u);
            if ((a | b | d | e) == 0u)
                continue;
            scan_word(p, &at, c, frame, i, a, clip, kind);
            scan_word(p, &at, c, frame, i + 4u, b, clip, kind);
            scan_word(p, &at, c, frame, i + 8u, d, clip, kind);
            scan_word(p, &at, c, frame, i + 12u, e, clip, kind);
        }
        for (; i < plane; ++i) /* the last pixels, one by one */
            if (frame[i] != 0u)
                scan_pixel(p, &at, c, i, frame[i], clip, kind);
    }
}
#else
/* Every non-zero pixel of the frame [C][H][W], skipping eight empty pixels at a time. */
SASTC_INLINE void frame_events(plan *p, const uint8_t *frame, uint32_t plane, uint32_t clip,
                               enum row_kind kind)
{
    uint32_t c, i;
    for (c = 0; c < p->in_c; ++c, frame += plane) { /* plane c of [C][H][W] */
        for (i = 0; i + 8u <= plane; i += 8u) { /* pixels i..i+7; non-zero ones by ctz */
            const uint64_t bytes = sastc_load_u64(frame + i);
            uint64_t nonzero = bytes != 0u ? nonzero_bytes(bytes) : 0u;
            for (; nonzero != 0u; nonzero &= nonzero - 1u) {
                const uint32_t index = i + (sastc_ctz64(nonzero) >> 3);
                pixel_events(p, c, index, frame[index], clip, kind);
            }
        }
        for (; i < plane; ++i) /* the last pixels, one by one */
            if (frame[i] != 0u)
                pixel_events(p, c, i, frame[i], clip, kind);
    }
}
#endif

/* Dense layer without pooling: spike n is input row n, acc[:] += W[n][:]. */
SASTC_INLINE void row_events(plan *p, const uint32_t *bits, uint32_t words, enum row_kind kind)
{
    window win = {1u, 1u, 0u, 0u};
    uint32_t w;
    for (w = 0; w < words; ++w) { /* set bits of word w: spikes 32 w + b */
        uint32_t word = bits[w];
        for (; word != 0u; word &= word - 1u) {
            win.tap_first = (32u * w + sastc_ctz32(word)) * p->cout;
            event(p, &win, 0u, kind);
        }
    }
}

/* Any layer: spike n = position * C + c, one window per position (spikes come in HWC order). */
SASTC_INLINE void position_events(plan *p, const uint32_t *bits, uint32_t words,
                                  enum row_kind kind)
{
    uint32_t w, position = UINT32_MAX;
    int reaches = 0;
    window win;
    for (w = 0; w < words; ++w) { /* set bits of word w: spikes 32 w + b */
        uint32_t word = bits[w];
        for (; word != 0u; word &= word - 1u) {
            const uint32_t n = 32u * w + sastc_ctz32(word), here = n / p->in_c;
            if (here != position) {
                position = here;
                reaches = sastc_window(p, here / p->in_w, here % p->in_w, &win);
            }
            if (reaches)
                event(p, &win, n - here * p->in_c, kind);
        }
    }
}

/* The event loops, one inlined copy per row kind (kind is a constant in each call). */
static void frame_loop(plan *p, const uint8_t *frame, uint32_t plane, uint32_t clip)
{
    switch (p->kind) {
    case I8_BLOCKS: frame_events(p, frame, plane, clip, I8_BLOCKS); break;
    case I8_ANY: frame_events(p, frame, plane, clip, I8_ANY); break;
    case I4_HALVES: frame_events(p, frame, plane, clip, I4_HALVES); break;
    case I4_ANY: frame_events(p, frame, plane, clip, I4_ANY); break;
    }
}

static void spike_rows_loop(plan *p, const uint32_t *bits, uint32_t words)
{
    switch (p->kind) {
    case I8_BLOCKS: row_events(p, bits, words, I8_BLOCKS); break;
    case I8_ANY: row_events(p, bits, words, I8_ANY); break;
    case I4_HALVES: row_events(p, bits, words, I4_HALVES); break;
    case I4_ANY: row_events(p, bits, words, I4_ANY); break;
    }
}

static void spike_positions_loop(plan *p, const uint32_t *bits, uint32_t words)
{
    switch (p->kind) {
    case I8_BLOCKS: position_events(p, bits, words, I8_BLOCKS); break;
    case I8_ANY: position_events(p, bits, words, I8_ANY); break;
    case I4_HALVES: position_events(p, bits, words, I4_HALVES); break;
    case I4_ANY: position_events(p, bits, words, I4_ANY); break;
    }
}

/* Where the step's sums are: int32 if any flush happened (then all of them are moved). */
static int finish(plan *p)
{
    if (p->flushed && p->budget != p->flush_events) /* events since the last flush */
        flush(p);
    return p->flushed;
}

int sastc_scatter_frame(const sastc_layer *layer, sastc_acc acc, const uint8_t *frame,
                        uint32_t clip)
{
    plan p;
    sastc_make_plan(layer, acc, &p);
    frame_loop(&p, frame, (uint32_t)layer->in_h * layer->in_w, clip);
    return finish(&p);
}

int sastc_scatter_spikes(const sastc_layer *layer, sastc_acc acc, const uint32_t *bits)
{
    const uint32_t words = sastc_bit_words((uint32_t)layer->in_c * layer->in_h * layer->in_w);
    plan p;
    sastc_make_plan(layer, acc, &p);
    if (layer->op == SASTC_OP_DENSE && layer->pool == 1u)
        spike_rows_loop(&p, bits, words);
    else
        spike_positions_loop(&p, bits, words);
    return finish(&p);
}

void sastc_make_plan(const sastc_layer *layer, sastc_acc acc, plan *p)
{
    const uint32_t taps = layer->out_c;
    const int blocks = taps % SASTC_I8_BLOCK == 0u; /* whole (half) blocks per run */
    p->words = layer->weights;
    p->row_spans = layer->row_spans;
    p->col_spans = layer->col_spans;
    p->acc16 = acc.narrow;
    p->acc32 = acc.wide;
    p->kind = layer->weight_bits <= 4u ? (blocks ? I4_HALVES : I4_ANY)
                                       : (blocks ? I8_BLOCKS : I8_ANY);
    p->cout = taps;
    p->in_c = layer->in_c;
    p->in_w = layer->in_w;
    p->channel_step = layer->op == SASTC_OP_CONV ? (uint32_t)layer->kernel * layer->kernel * taps
                                                 : taps;
    p->tap_row_step = (uint32_t)layer->stride * layer->kernel * taps;
    p->acc_row_step = (uint32_t)layer->out_w * taps;
    p->neurons = sastc_neurons(layer);
    p->flush_events = layer->flush_events;
    p->budget = layer->flush_events;
    p->flushed = 0;
}
