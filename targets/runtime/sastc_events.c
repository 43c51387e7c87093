/* sastc_events.c - streaming input: events -> fixed-duration frames -> decisions.
 * The mirror of sastc.data.binning.bin_window; see sastc_events.h. */
#include "sastc_events.h"

#define PHASE_WAITING 1u
#define PHASE_RUNNING 2u
#define LATER_LIMIT 0x80000000u /* t follows `now` when (t - now) mod 2^32 is below this */
#define NO_SHIFT 32u

static uint32_t ceil_div(uint32_t a, uint32_t b)
{
    return a / b + (a % b != 0u ? 1u : 0u);
}

/* log2(d) if d is a power of two, else NO_SHIFT. */
static uint32_t shift_of(uint32_t d)
{
    uint32_t shift = 0;
    while ((1u << shift) < d && shift < 16u)
        ++shift;
    return (1u << shift) == d ? shift : NO_SHIFT;
}

static uint32_t time_bins(const sastc_events *s)
{
    return s->ctx->model->time_bins;
}

static uint8_t *current_frame(const sastc_events *s)
{
    return s->frames + (size_t)s->slot * s->frame_bytes;
}

static void clear_frame(uint8_t *frame, uint32_t bytes)
{
    uint32_t i;
    for (i = 0; i < bytes; ++i)
        frame[i] = 0u;
}

/* The boundary walk: bin 0 of a window ends at ceil(W / T). */
static void first_bin(sastc_events *s)
{
    s->bin = 0u;
    s->end_q = s->width_q;
    s->end_r = s->width_r;
    s->bin_end = s->end_q + (s->end_r != 0u ? 1u : 0u);
}

/* (bin + 1) W = end_q T + end_r  ->  (bin + 2) W, then its ceiling divided by T. */
static void next_bin(sastc_events *s)
{
    const uint32_t t = time_bins(s);
    s->bin += 1u;
    s->end_q += s->width_q;
    s->end_r += s->width_r; /* < 2 T: no overflow while T < 2^31 */
    if (s->end_r >= t) {
        s->end_r -= t;
        s->end_q += 1u;
    }
    s->bin_end = s->end_q + (s->end_r != 0u ? 1u : 0u);
}

static sastc_status checked_binning(const sastc_ctx *ctx, const sastc_binning *b, uint32_t hop)
{
    const sastc_layer *input = &ctx->model->layers[0];
    const uint32_t d = b->downsample;
    if (b->window_us == 0u || b->window_us >= LATER_LIMIT || d == 0u || b->sensor_w == 0u ||
        b->sensor_h == 0u || hop == 0u || hop > ctx->model->time_bins)
        return SASTC_ERR_STREAM_CONFIG;
    if (ceil_div(b->sensor_w, d) != input->in_w || ceil_div(b->sensor_h, d) != input->in_h ||
        input->in_c == 0u || input->in_c > 2u)
        return SASTC_ERR_STREAM_CONFIG;
    return SASTC_OK;
}

sastc_status sastc_events_init(sastc_events *s, sastc_ctx *ctx, const sastc_binning *binning,
                               uint32_t hop_bins, uint8_t *buffer, size_t buffer_bytes,
                               sastc_decision_fn on_decision, void *user)
{
    const sastc_layer *input;
    sastc_status status;
    if (s == NULL || ctx == NULL || binning == NULL || buffer == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    s->phase = 0u;
    status = sastc_reset(ctx); /* checks that ctx is initialised */
    if (status == SASTC_OK)
        status = checked_binning(ctx, binning, hop_bins);
    if (status != SASTC_OK)
        return status;
    input = &ctx->model->layers[0];
    s->frame_bytes = (uint32_t)input->in_c * input->in_h * input->in_w;
    s->ring = hop_bins < ctx->model->time_bins ? ctx->model->time_bins : 1u;
    if (buffer_bytes / s->ring < s->frame_bytes)
        return SASTC_ERR_STREAM_CONFIG;
    s->ctx = ctx;
    s->binning = *binning;
    s->frames = buffer;
    s->hop_bins = hop_bins;
    s->on_decision = on_decision;
    s->on_frame = NULL;
    s->user = user;
    s->width_q = binning->window_us / ctx->model->time_bins;
    s->width_r = binning->window_us % ctx->model->time_bins;
    s->shift = shift_of(binning->downsample);
    s->decisions = 0u;
    s->label = 0u;
    s->phase = PHASE_WAITING;
    return SASTC_OK;
}

sastc_status sastc_events_start(sastc_events *s, uint32_t t0)
{
    uint32_t i;
    if (s == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (s->phase == 0u)
        return SASTC_ERR_NOT_INITIALISED;
    for (i = 0; i < s->ring; ++i)
        clear_frame(s->frames + (size_t)i * s->frame_bytes, s->frame_bytes);
    s->slot = 0u;
    s->bins = 0u;
    s->countdown = time_bins(s);
    s->pending = 0u;
    s->window_start = t0;
    s->now = t0;
    s->last_end = t0;
    first_bin(s);
    s->phase = PHASE_RUNNING;
    return sastc_reset(s->ctx);
}

/* Logits and argmax of the steps since the reset: one decision for the callback. */
static sastc_status decide(sastc_events *s, uint32_t end_us)
{
    sastc_decision decision;
    const int32_t *logits;
    const sastc_status status = sastc_logits(s->ctx, &logits);
    if (status != SASTC_OK)
        return status;
    decision.last_bin = s->bins;
    decision.first_bin = s->bins + 1u - time_bins(s);
    decision.end_us = end_us;
    decision.label = sastc_argmax(logits, s->ctx->model->num_classes);
    decision.logits = logits;
    s->label = decision.label;
    s->decisions += 1u;
    s->last_end = end_us;
    s->pending = 0u;
    if (s->on_decision != NULL)
        s->on_decision(s->user, &decision);
    return SASTC_OK;
}

/* Rolling window: reset, then T steps over the ring, oldest bin first. */
static sastc_status run_ring(sastc_events *s)
{
    uint32_t i, slot = s->slot;
    sastc_status status = sastc_reset(s->ctx);
    for (i = 0; i < s->ring && status == SASTC_OK; ++i) {
        slot = slot + 1u == s->ring ? 0u : slot + 1u; /* slot + 1 is the oldest */
        status = sastc_step(s->ctx, s->frames + (size_t)slot * s->frame_bytes);
    }
    return status;
}

/* The current bin is complete: step the model on it (back to back) and decide when due. */
static sastc_status close_bin(sastc_events *s)
{
    const uint32_t end_us = s->window_start + s->bin_end;
    const int due = s->countdown == 1u;
    sastc_status status = SASTC_OK;
    if (s->on_frame != NULL)
        s->on_frame(s->user, s->bins, current_frame(s));
    if (s->ring == 1u)
        status = sastc_step(s->ctx, current_frame(s));
    else if (due)
        status = run_ring(s);
    if (status == SASTC_OK && due)
        status = decide(s, end_us);
    if (status != SASTC_OK)
        return status;
    s->countdown = due ? s->hop_bins : s->countdown - 1u;
    if (s->ring == 1u && due)
        status = sastc_reset(s->ctx);
    s->slot = s->slot + 1u == s->ring ? 0u : s->slot + 1u;
    clear_frame(current_frame(s), s->frame_bytes);
    s->bins += 1u;
    if (s->bin + 1u < time_bins(s)) {
        next_bin(s);
    } else { /* the window ended: the next one starts W later */
        s->window_start += s->binning.window_us;
        first_bin(s);
    }
    return status;
}

/* Order check, then close the bins that ended at or before t. */
static sastc_status reach(sastc_events *s, uint32_t t)
{
    sastc_status status = SASTC_OK;
    if (t - s->now >= LATER_LIMIT)
        return SASTC_ERR_EVENT_ORDER;
    while (status == SASTC_OK && t - s->window_start >= s->bin_end)
        status = close_bin(s);
    if (status == SASTC_OK)
        s->now = t;
    return status;
}

static sastc_status check_stream(const sastc_events *s)
{
    if (s == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    return s->phase == 0u ? SASTC_ERR_NOT_INITIALISED : SASTC_OK;
}

/* Cell of pixel (x, y, p) in the frame [C][H][W]. */
static uint32_t cell(const sastc_events *s, uint32_t x, uint32_t y, uint32_t p)
{
    const sastc_layer *input = &s->ctx->model->layers[0];
    const uint32_t d = s->binning.downsample;
    const uint32_t row = s->shift != NO_SHIFT ? y >> s->shift : y / d;
    const uint32_t col = s->shift != NO_SHIFT ? x >> s->shift : x / d;
    const uint32_t channel = input->in_c == 1u ? 0u : p;
    return (channel * input->in_h + row) * input->in_w + col;
}

sastc_status sastc_events_push(sastc_events *s, uint16_t x, uint16_t y, uint8_t p, uint32_t t)
{
    uint8_t *count;
    sastc_status status = check_stream(s);
    if (status != SASTC_OK)
        return status;
    if (x >= s->binning.sensor_w || y >= s->binning.sensor_h || p > 1u)
        return SASTC_ERR_EVENT_OUTSIDE_SENSOR;
    if (s->phase == PHASE_RUNNING && t - s->now >= LATER_LIMIT)
        return SASTC_ERR_EVENT_ORDER; /* before anything moves: a rejected event changes nothing */
    status = s->phase == PHASE_WAITING ? sastc_events_start(s, t) : reach(s, t);
    if (status != SASTC_OK)
        return status;
    count = current_frame(s) + cell(s, x, y, p);
    if (*count < s->ctx->model->input_clip)
        *count = (uint8_t)(*count + 1u);
    s->pending += 1u;
    return SASTC_OK;
}

sastc_status sastc_events_push_buffer(sastc_events *s, const sastc_event *events, size_t count,
                                      size_t *consumed)
{
    sastc_status status = events == NULL && count > 0u ? SASTC_ERR_NULL_ARGUMENT : SASTC_OK;
    size_t i;
    for (i = 0; i < count && status == SASTC_OK; ++i)
        status = sastc_events_push(s, events[i].x, events[i].y, events[i].p, events[i].t);
    if (consumed != NULL)
        *consumed = status == SASTC_OK ? i : i - 1u;
    return status;
}

sastc_status sastc_events_advance(sastc_events *s, uint32_t t)
{
    const sastc_status status = check_stream(s);
    if (status != SASTC_OK || s->phase == PHASE_WAITING)
        return status; /* no t0 yet: time passing closes nothing */
    return reach(s, t);
}

sastc_status sastc_events_end(sastc_events *s)
{
    const sastc_status status = check_stream(s);
    int incomplete;
    if (status != SASTC_OK)
        return status;
    incomplete = s->phase == PHASE_RUNNING && (s->pending != 0u || s->now != s->last_end);
    s->phase = PHASE_WAITING;
    return incomplete ? SASTC_ERR_WINDOW_INCOMPLETE : SASTC_OK;
}
