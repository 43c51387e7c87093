/* sastc_synapse.h - the synapse's per-step plan and windows (internal to the runtime). */
#ifndef SASTC_SYNAPSE_H
#define SASTC_SYNAPSE_H

#include "sastc_internal.h"

/* Weight format x row shape: each has its own inlined copy of the event loops. */
enum row_kind { I8_BLOCKS, I8_ANY, I4_BLOCKS, I4_ANY };

/* Outputs reached by one input position: rows x cols output positions. */
typedef struct window {
    uint32_t rows, cols;
    uint32_t acc_first; /* accumulator index of the first output (oy0, ox0), channel 0 */
    uint32_t tap_first; /* weight element of its tap (ky0, kx0) for input channel 0 */
} window;

/* A layer's constants for one step, read once instead of per event. */
typedef struct plan {
    const int8_t *w8;
    const uint8_t *w4;
    const sastc_span *row_spans, *col_spans;
    int16_t *acc16;        /* int16 partial sums */
    int32_t *acc32;        /* int32 sums, used once the int16 ones are flushed */
    enum row_kind kind;
    uint32_t op, cout, k, in_c, in_w, out_w, pooled_w;
    uint32_t channel_step; /* weight elements from input channel c to c + 1 */
    uint32_t tap_row_step; /* from tap (ky, kx) to (ky - s, kx): s * k * cout */
    uint32_t acc_row_step; /* from output (oy, ox) to (oy + 1, ox): out_w * cout */
    uint32_t weights;      /* number of weights (INT4: to find the last, shorter block) */
    uint32_t neurons, flush_events;
    uint32_t events;       /* events since the last flush */
    int flushed;           /* 1 once the sums have moved to acc32 */
} plan;

/* Fill the plan of `layer` for one step. */
void sastc_make_plan(const sastc_layer *layer, sastc_acc acc, plan *p);

/* The window of input position (y, x) from the layer's span tables; 0 if it reaches nothing. */
static inline int sastc_window(const plan *p, uint32_t y, uint32_t x, window *win)
{
    const sastc_span row = p->row_spans[y], col = p->col_spans[x];
    win->rows = row.count;
    win->cols = col.count;
    if (p->op == SASTC_OP_DENSE) { /* input row ((y * W + x) * C + c) of the pooled grid */
        win->acc_first = 0u;
        win->tap_first = (row.first * p->pooled_w + col.first) * p->in_c * p->cout;
    } else {
        win->acc_first = (row.first * p->out_w + col.first) * p->cout;
        win->tap_first = (row.tap * p->k + col.tap) * p->cout;
    }
    return row.count != 0u && col.count != 0u;
}

#endif /* SASTC_SYNAPSE_H */
