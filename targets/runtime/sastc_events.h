/* sastc_events.h - streaming input: sensor events -> fixed-duration frames -> decisions.
 *
 * The caller feeds events (x, y, polarity, timestamp in microseconds, in time order), one at
 * a time or from a buffer; the runtime bins them exactly like sastc.data.binning.bin_window
 * and steps the model each time a bin closes, so a window's decision is ready one model step
 * after its end. Windows are back to back: window k is [t0 + k W, t0 + (k + 1) W), t0 the
 * first event's time (or the time given to sastc_events_start). Bin b of a window holds the
 * events with floor((t - start) * T / W) == b, and
 *
 *     frame[b][p][y / d][x / d] = min(count, input_clip)     (one channel: p is ignored)
 *
 * No malloc, no floating point, no 64-bit arithmetic: bins are found by walking their
 * boundaries ceil((b + 1) W / T) with a quotient and a remainder (one division at init), so
 * (t - t0) * T is never formed and any W up to 2^31 - 1 us is exact.
 *
 * Timestamps are a 32-bit microsecond clock that may wrap (every 71.6 minutes): times are
 * compared modulo 2^32, so an event is "later" when it follows the previous time by less
 * than 2^31 us (35.8 minutes); a longer silence reads as an event out of order.
 *
 *   static uint8_t frame[SASTC_MODEL_INPUT_BYTES];         (T frames for a rolling window)
 *   sastc_binning binning = SASTC_MODEL_BINNING;             (window, sensor, downsampling)
 *   sastc_events_init(&stream, &ctx, &binning, SASTC_MODEL_TIME_BINS, frame, sizeof frame,
 *                     on_decision, user);
 *   sastc_events_push(&stream, x, y, p, t);  ...           (on_decision runs per window)
 *   sastc_events_end(&stream);                             (SASTC_ERR_WINDOW_INCOMPLETE if
 *                                                           the stream stopped mid-window)
 *
 * hop_bins < T gives a rolling decision: one every hop_bins bins over the last T bins (a
 * ring of T frames; the model re-runs T steps per decision: T / hop_bins times the work).
 */
#ifndef SASTC_EVENTS_H
#define SASTC_EVENTS_H

#include "sastc_rt.h"

/* One sensor event. */
typedef struct sastc_event {
    uint32_t t;       /* microseconds */
    uint16_t x, y;    /* pixel on the sensor, before downsampling */
    uint8_t p;        /* polarity: 0 = OFF, 1 = ON */
} sastc_event;

/* How events become frames; SASTC_MODEL_BINNING (model.h) holds the build's values. */
typedef struct sastc_binning {
    uint32_t window_us;          /* W: the window is T bins of W / T us (rounded per event) */
    uint16_t sensor_w, sensor_h; /* sensor size before downsampling */
    uint16_t downsample;         /* d: pixel (x, y) counts at (x / d, y / d) */
} sastc_binning;

/* One decision: the class of the window made of bins [first_bin, last_bin] (counted from t0). */
typedef struct sastc_decision {
    uint32_t first_bin, last_bin;
    uint32_t end_us;             /* when the window ended: t0 + end of last_bin (mod 2^32) */
    uint32_t label;              /* argmax of the logits, ties to the lowest index */
    const int32_t *logits;       /* num_classes values, valid during the callback */
} sastc_decision;

typedef void (*sastc_decision_fn)(void *user, const sastc_decision *decision);
/* Called with every closed bin's frame [C][H][W] before the model steps on it (optional). */
typedef void (*sastc_frame_fn)(void *user, uint32_t bin, const uint8_t *frame);

/* A stream: caller-owned, filled by sastc_events_init; read the fields, do not write them
 * (except on_frame, which may be set after init). */
typedef struct sastc_events {
    sastc_ctx *ctx;
    sastc_decision_fn on_decision;
    sastc_frame_fn on_frame;
    void *user;
    uint8_t *frames;             /* the current bin's frame, or a ring of T frames (rolling) */
    sastc_binning binning;
    uint32_t frame_bytes;        /* C * H * W of the model input */
    uint32_t ring;               /* frames in the buffer: 1 (back to back) or T (rolling) */
    uint32_t slot;               /* the ring slot of the current bin */
    uint32_t hop_bins;           /* bins between decisions: T (back to back) or fewer */
    uint32_t countdown;          /* bins to close before the next decision */
    uint32_t width_q, width_r;   /* W = width_q * T + width_r */
    uint32_t end_q, end_r;       /* (bin + 1) * W = end_q * T + end_r */
    uint32_t bin_end;            /* ceil((bin + 1) W / T): end of the bin from its window's start */
    uint32_t window_start;       /* t0 + k W */
    uint32_t now;                /* the latest time seen (an event or sastc_events_advance) */
    uint32_t last_end;           /* when the last decision's window ended (t0 before any) */
    uint32_t bin;                /* bin within the current window, 0 .. T - 1 */
    uint32_t bins;               /* bins closed since t0 */
    uint32_t pending;            /* events counted since the last decision */
    uint32_t decisions;          /* decisions made since t0 */
    uint32_t label;              /* the last decision's class */
    uint32_t shift;              /* log2(d) if d is a power of two, else 32 (divide) */
    uint32_t phase;              /* 0: not initialised, 1: waiting for t0, 2: running */
} sastc_events;

/* Check the binning against the model bound to ctx (sensor / d = model input, 1 or 2
 * channels, 1 <= W < 2^31, 1 <= hop_bins <= T, a buffer of 1 frame, or T when
 * hop_bins < T); the stream then starts at its first event. */
sastc_status sastc_events_init(sastc_events *stream, sastc_ctx *ctx, const sastc_binning *binning,
                               uint32_t hop_bins, uint8_t *buffer, size_t buffer_bytes,
                               sastc_decision_fn on_decision, void *user);

/* Start (or restart) the stream at t0: drops a window in progress. */
sastc_status sastc_events_start(sastc_events *stream, uint32_t t0);

/* Count one event; first closes (and decides) every bin that ended at or before t.
 * A rejected event (SASTC_ERR_EVENT_ORDER, SASTC_ERR_EVENT_OUTSIDE_SENSOR) changes nothing. */
sastc_status sastc_events_push(sastc_events *stream, uint16_t x, uint16_t y, uint8_t p, uint32_t t);

/* sastc_events_push on count events in order; *consumed (if not NULL) gets how many were
 * taken: all of them, or the index of the one whose status is returned. */
sastc_status sastc_events_push_buffer(sastc_events *stream, const sastc_event *events,
                                      size_t count, size_t *consumed);

/* Time has reached t with no further event before it: close every bin ending at or before t. */
sastc_status sastc_events_advance(sastc_events *stream, uint32_t t);

/* The stream ended (at the latest time seen): SASTC_OK if that is a decision's end (or
 * nothing started), else SASTC_ERR_WINDOW_INCOMPLETE and the partial window is dropped.
 * The next event starts a new stream. */
sastc_status sastc_events_end(sastc_events *stream);

#endif /* SASTC_EVENTS_H */
