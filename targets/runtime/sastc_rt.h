/* sastc_rt.h - portable C99 runtime for spiking networks compiled by sastc.
 *
 * A compiled model is data only (model.h, emitted by sastc): weights in flash,
 * a layer table and a sastc_model. This runtime runs it with integer
 * arithmetic only (no floating point, no malloc) on a state buffer the caller
 * owns: SASTC_MODEL_STATE_BYTES from model.h sizes a static buffer, and
 * sastc_state_bytes() returns the same number at run time.
 *
 *   static uint32_t state[SASTC_MODEL_STATE_WORDS];
 *   sastc_ctx ctx;
 *   sastc_init(&ctx, SASTC_MODEL, state, sizeof state);
 *   sastc_classify(&ctx, frames, &label);     (or sastc_reset + sastc_step ...)
 *
 * Layouts (the emitter permutes the sastc QNet into these; docs/runtime.md):
 * - input frame: uint8 counts [C][H][W], clipped to the model's input_clip;
 * - conv weights [C_in][ky][slot][C_out]: kernel columns in slot order, by
 *   phase kx % stride, then kx descending (kx = 4 2 0 3 1 for k 5, stride 2),
 *   so that one input event updates a row of outputs from one weight run;
 * - dense weights [in][out]; a dense input of shape (C, H, W) is flattened
 *   as ((y * W + x) * C + c);
 * - membranes, accumulators and spike bits of every layer: HWC order,
 *   neuron n = (y * W_out + x) * C_out + c; spike bit n is bit (n % 32) of
 *   word n / 32;
 * - weights are packed in uint16_t words, in blocks of 8 words (one 16-byte
 *   vector): a word holds two 8-bit fields (weight_bits 5..8) or four 4-bit
 *   fields (weight_bits 2..4) in two's complement, and field f (bits
 *   [16 f / lanes, 16 (f + 1) / lanes)) of word k of a block is weight 8 f + k
 *   of the block. A block is 16 (8-bit) or 32 (4-bit) weights; the last one
 *   is padded with zero weights.
 *
 * The state buffer is accessed as 32-bit words and 16-bit partial sums:
 * declare it uint32_t state[SASTC_MODEL_STATE_WORDS] (4-byte aligned; the
 * runtime starts its arrays at the first 16-byte boundary inside it).
 */
#ifndef SASTC_RT_H
#define SASTC_RT_H

#include <stddef.h>
#include <stdint.h>

#define SASTC_ABI_VERSION 3u

/* model.h puts this before its weight arrays: 4-byte aligned, so that 32-bit cores load two
 * packed words at a time (GCC, Clang; sastc_init checks it where it matters). */
#if defined(__GNUC__)
#define SASTC_ALIGNED_DATA __attribute__((aligned(4)))
#else
#define SASTC_ALIGNED_DATA
#endif

/* Status codes, generated from the one list in sastc_status.def. */
typedef enum sastc_status {
#define SASTC_STATUS(name, value, message) name = value,
#include "sastc_status.def"
#undef SASTC_STATUS
    SASTC_STATUS_END /* not a status: one past the list */
} sastc_status;

enum { SASTC_OP_CONV = 0, SASTC_OP_DENSE = 1 };
/* Neuron models (sastc/neurons): LI is the non-spiking readout; LIF, IF (no leak) and CUBA (a
 * synaptic current with decay alpha_q drives the membrane) spike, then reset by `reset`. */
enum { SASTC_NEURON_LIF = 0, SASTC_NEURON_LI = 1, SASTC_NEURON_CUBA = 2, SASTC_NEURON_IF = 3 };
enum { SASTC_RESET_ZERO = 0, SASTC_RESET_SUBTRACT = 1 }; /* u = 0, or u = u_pre - theta_q */

/* Where input coordinate y (or x) of a layer lands, after pooling: a table per axis. An input
 * event at (c, y, x) reaches rows[y].count x cols[x].count outputs; the sums of the first one
 * start at rows[y].sums + cols[x].sums (channel 0) and its weights at element
 * rows[y].weights + cols[x].weights + c * (k * k * out_c conv, out_c dense).
 * conv rows:    sums = first * out_w * out_c, weights = ky * k * out_c (the next output rows
 *               use ky - stride, ky - 2 stride, ...);
 * conv columns: sums = first * out_c, weights = slot(kx) * out_c (the next output columns
 *               use slot + 1, slot + 2, ...);
 * dense:        sums = 0, weights = pooled y * (W / pool) * C * out_c for rows,
 *               pooled x * C * out_c for columns, count 1;
 * count 0: y lies in an edge that does not fill a pooling window (dropped). */
typedef struct sastc_span {
    uint32_t sums;
    uint32_t weights;
    uint32_t count;
} sastc_span;

/* One compiled layer: [sum pool] -> conv | dense -> neuron (LIF, IF, CUBA or the LI readout). */
typedef struct sastc_layer {
    uint8_t op;              /* SASTC_OP_CONV or SASTC_OP_DENSE */
    uint8_t neuron;          /* SASTC_NEURON_LIF, _IF, _CUBA or _LI */
    uint8_t weight_bits;     /* 2..4: 4-bit fields in `weights`, 5..8: 8-bit fields */
    uint8_t pool;            /* sum pooling k x k, stride k, applied to the input first */
    uint8_t kernel, stride, padding;
    uint8_t leak_shift;      /* beta = beta_q / 2^leak_shift */
    uint8_t frac_bits;       /* drive = (acc << frac_bits) + bias_q */
    uint8_t membrane_bits;   /* membranes (and synaptic currents) saturate to this signed width */
    uint8_t reset;           /* SASTC_RESET_ZERO or SASTC_RESET_SUBTRACT (spiking layers) */
    uint16_t in_c, in_h, in_w;     /* input before pooling; a vector input is (N, 1, 1) */
    uint16_t out_c, out_h, out_w;  /* a dense layer is (N, 1, 1) */
    int32_t beta_q;
    int32_t alpha_q;               /* synaptic current decay alpha_q / 2^leak_shift (CUBA; else 0) */
    uint32_t unsaturated_steps;    /* steps after a reset in which u_pre provably stays in range */
    uint32_t flush_events;         /* events after which int16 partial sums move to int32
                                      (32767 / max|W|); UINT32_MAX: |acc| < 2^15 always */
    const uint16_t *weights;       /* packed words, see the top of this file */
    const int32_t *bias_q;         /* [out_c] */
    const int32_t *theta_q;        /* [out_c]; unused by an LI layer */
    const sastc_span *row_spans;   /* [in_h] */
    const sastc_span *col_spans;   /* [in_w] */
} sastc_layer;

/* A compiled network: layers in order, the last one is the readout. */
typedef struct sastc_model {
    uint32_t abi_version;    /* SASTC_ABI_VERSION of the emitter */
    uint32_t num_layers;
    uint32_t time_bins;      /* steps per sample for sastc_classify */
    uint32_t num_classes;
    uint32_t input_clip;     /* input counts are clipped to this */
    uint32_t max_steps;      /* steps after a reset for which the int32 logits are exact */
    uint32_t state_bytes;    /* SASTC_MODEL_STATE_BYTES, checked against sastc_state_bytes */
    const sastc_layer *layers;
    const char *const *class_names;
} sastc_model;

/* Caller-owned context: a model bound to a caller-owned state buffer. */
typedef struct sastc_ctx {
    const sastc_model *model;
    int32_t *state;          /* the caller's buffer from its first 16-byte boundary */
    uint32_t steps;          /* time steps since the last reset */
    uint32_t ready;          /* set by a successful sastc_init */
} sastc_ctx;

/* Bytes of state `model` needs (0 for an inconsistent model). */
size_t sastc_state_bytes(const sastc_model *model);

/* Check the model, bind it and `state` (4-byte aligned, >= sastc_state_bytes) to ctx, reset. */
sastc_status sastc_init(sastc_ctx *ctx, const sastc_model *model, void *state, size_t state_bytes);

/* Zero membranes and logits: the start of a new sample. */
sastc_status sastc_reset(sastc_ctx *ctx);

/* One time step on an input frame uint8 [C][H][W]. */
sastc_status sastc_step(sastc_ctx *ctx, const uint8_t *frame);

/* Logits accumulated since the reset (num_classes values): sum of readout u_pre (LI) or spikes. */
sastc_status sastc_logits(const sastc_ctx *ctx, const int32_t **logits);

/* Index of the largest of `count` values; ties go to the lowest index. */
uint32_t sastc_argmax(const int32_t *values, uint32_t count);

/* Reset, run time_bins steps on frames uint8 [T][C][H][W], write the argmax of the logits. */
sastc_status sastc_classify(sastc_ctx *ctx, const uint8_t *frames, uint32_t *class_index);

/* Message of a status code. */
const char *sastc_status_string(sastc_status status);

/* Spike bits of a spiking layer after the last step (HWC order, 32 per word). */
sastc_status sastc_layer_spikes(const sastc_ctx *ctx, uint32_t layer, const uint32_t **bits);

/* Membranes of a layer after the last step (HWC): post-reset u (spiking) or u_pre (LI). A CUBA
 * layer's synaptic currents follow them, from the next multiple of 4 values. */
sastc_status sastc_layer_membranes(const sastc_ctx *ctx, uint32_t layer, const int32_t **u);

#endif /* SASTC_RT_H */
