/* sastc_synapse.h - the synapse's per-step plan and windows (internal to the runtime). */
#ifndef SASTC_SYNAPSE_H
#define SASTC_SYNAPSE_H

#include "sastc_internal.h"

/* Weight format x run shape (sastc_rows.h): each has its own inlined copy of the event loops.
 * I8_BLOCKS: 8-bit weights, out_c a multiple of 16; I4_HALVES: 4-bit, out_c a multiple of 16;
 * *_ANY: any out_c. */
enum row_kind { I8_BLOCKS, I8_ANY, I4_HALVES, I4_ANY };

/* Outputs reached by one input position: rows x cols output positions. */
typedef struct window {
    uint32_t rows, cols;
    uint32_t acc_first; /* accumulator index of the first output (oy0, ox0), channel 0 */
    uint32_t tap_first; /* weight element of its tap (ky0, kx0) for input channel 0 */
} window;

/* A layer's constants for one step, read once instead of per event. */
typedef struct plan {
    const uint16_t *words; /* packed weights */
    const sastc_span *row_spans, *col_spans;
    int16_t *acc16;        /* int16 partial sums */
    int32_t *acc32;        /* int32 sums, used once the int16 ones are flushed */
    enum row_kind kind;
    uint32_t cout;
    uint32_t in_c, in_w;
    uint32_t channel_step; /* weight elements from input channel c to c + 1 */
    uint32_t tap_row_step; /* from tap (ky, kx) to (ky - s, kx): s * k * cout */
    uint32_t acc_row_step; /* from output (oy, ox) to (oy + 1, ox): out_w * cout */
    uint32_t neurons, flush_events;
    uint32_t budget;       /* events left before the next flush */
    int flushed;           /* 1 once the sums have moved to acc32 */
} plan;

/* Fill the plan of `layer` for one step. */
void sastc_make_plan(const sastc_layer *layer, sastc_acc acc, plan *p);

/* The window of input position (y, x) from the layer's span tables; 0 if it reaches nothing. */
static inline int sastc_window(const plan *p, uint32_t y, uint32_t x, window *win)
{
    const sastc_span *row = &p->row_spans[y], *col = &p->col_spans[x];
    win->rows = row->count;
    win->cols = col->count;
    win->acc_first = row->sums + col->sums;
    win->tap_first = row->weights + col->weights;
    return win->rows != 0u && win->cols != 0u;
}

#endif /* SASTC_SYNAPSE_H */
