/* firmware.c - test-vector firmware: a compiled model on frames or on raw sensor events.
 *
 * The same program runs on a host (io_stdio.c: stdin/stdout) and on an emulated Cortex-M
 * (io_semihost.c, startup.c); sastc.sim.c_stream encodes the input and decodes the output.
 * Integers are little-endian uint32 unless said otherwise.
 *
 * input:  "SAV1", mode, then
 *   mode 0 (frames): samples, steps; per sample `steps` frames [C][H][W] (uint8);
 *   mode 1 (events): window_us (0: the header's), hop_bins (0: T), flags, samples; per sample
 *     t0, t_end, count, then `count` events of 12 bytes (t uint32, x uint16, y uint16,
 *     p uint8, 3 bytes padding). The stream starts at t0 (flag bit 1: at its first event),
 *     takes the events, advances to t_end and ends. Flag bit 0: write every closed bin's frame.
 * output: "SAR1", init status, sastc_state_bytes, classes, input bytes, time bins, clock Hz
 *   (0: no clock), ring frames, then
 *   mode 0, per sample: logits (int32 [classes]), class, status, clock ticks of the inference
 *     (reset, steps, argmax; the I/O is not counted);
 *   mode 1, per sample: records tagged 1 (frame: bin, input bytes of counts), 2 (decision:
 *     first bin, last bin, end time, class, logits), then 3 (end: status, events taken,
 *     clock ticks). The status is the first error of push / advance / end.
 * The firmware stops at a malformed input or a failed init; it exits 0 if all went well.
 */
#include "firmware_io.h"
#include "model.h"
#include "sastc_events.h"

#ifndef FIRMWARE_RING_FRAMES /* frames of streaming buffer: T allows rolling decisions */
#define FIRMWARE_RING_FRAMES SASTC_MODEL_TIME_BINS
#endif
#define EVENT_CHUNK 32u
#define EVENT_BYTES 12u
#define TAG_FRAME 1u
#define TAG_DECISION 2u
#define TAG_END 3u
#define FLAG_FRAMES 1u
#define FLAG_FIRST_EVENT 2u

static uint32_t state[SASTC_MODEL_STATE_WORDS];
static uint8_t frames[FIRMWARE_RING_FRAMES * SASTC_MODEL_INPUT_BYTES];
static uint8_t wire[EVENT_CHUNK * EVENT_BYTES];
static sastc_event chunk[EVENT_CHUNK];

static void put_u32(uint32_t value)
{
    uint8_t bytes[4];
    bytes[0] = (uint8_t)value;
    bytes[1] = (uint8_t)(value >> 8);
    bytes[2] = (uint8_t)(value >> 16);
    bytes[3] = (uint8_t)(value >> 24);
    io_write(bytes, 4u);
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int get_u32(uint32_t *value)
{
    uint8_t bytes[4];
    if (!io_read(bytes, 4u))
        return 0;
    *value = le32(bytes);
    return 1;
}

static void put_logits(const int32_t *logits)
{
    uint32_t i;
    for (i = 0; i < SASTC_MODEL_NUM_CLASSES; ++i)
        put_u32(logits != NULL ? (uint32_t)logits[i] : 0u);
}

/* One sample of frames: reset, a step per frame as it arrives, argmax; clock the compute. */
static sastc_status run_frames(sastc_ctx *ctx, uint32_t steps, int *complete)
{
    const int32_t *logits = NULL;
    uint32_t t, start = io_clock(), label = 0;
    sastc_status status = sastc_reset(ctx);
    uint32_t ticks = io_ticks_since(start);
    for (t = 0; t < steps && status == SASTC_OK; ++t) {
        if (!io_read(frames, SASTC_MODEL_INPUT_BYTES)) {
            *complete = 0;
            return status;
        }
        start = io_clock();
        status = sastc_step(ctx, frames);
        ticks += io_ticks_since(start);
    }
    start = io_clock();
    if (status == SASTC_OK && sastc_logits(ctx, &logits) == SASTC_OK)
        label = sastc_argmax(logits, SASTC_MODEL_NUM_CLASSES);
    ticks += io_ticks_since(start);
    put_logits(logits);
    put_u32(label);
    put_u32((uint32_t)status);
    put_u32(ticks);
    return status;
}

static int frames_mode(sastc_ctx *ctx)
{
    uint32_t samples, steps, s;
    int complete = 1;
    if (!get_u32(&samples) || !get_u32(&steps))
        return 1;
    for (s = 0; s < samples && complete; ++s)
        if (run_frames(ctx, steps, &complete) != SASTC_OK)
            return 1;
    return complete ? 0 : 1;
}

static void on_decision(void *user, const sastc_decision *decision)
{
    (void)user;
    put_u32(TAG_DECISION);
    put_u32(decision->first_bin);
    put_u32(decision->last_bin);
    put_u32(decision->end_us);
    put_u32(decision->label);
    put_logits(decision->logits);
}

static void on_frame(void *user, uint32_t bin, const uint8_t *frame)
{
    (void)user;
    put_u32(TAG_FRAME);
    put_u32(bin);
    io_write(frame, SASTC_MODEL_INPUT_BYTES);
}

/* Read up to EVENT_CHUNK events of the wire format into `chunk`. */
static int read_events(uint32_t count)
{
    uint32_t i;
    if (!io_read(wire, count * EVENT_BYTES))
        return 0;
    for (i = 0; i < count; ++i) {
        const uint8_t *b = wire + i * EVENT_BYTES;
        chunk[i].t = le32(b);
        chunk[i].x = (uint16_t)(b[4] | b[5] << 8);
        chunk[i].y = (uint16_t)(b[6] | b[7] << 8);
        chunk[i].p = b[8];
    }
    return 1;
}

/* One stream: start, every event (all read even after an error), advance, end. */
static int run_events(sastc_events *stream, uint32_t flags)
{
    uint32_t t0, t_end, count, taken = 0, ticks = 0, start;
    sastc_status status = SASTC_OK;
    if (!get_u32(&t0) || !get_u32(&t_end) || !get_u32(&count))
        return 0;
    if (!(flags & FLAG_FIRST_EVENT))
        status = sastc_events_start(stream, t0);
    while (count > 0u) {
        const uint32_t n = count < EVENT_CHUNK ? count : EVENT_CHUNK;
        size_t used = 0;
        if (!read_events(n))
            return 0;
        start = io_clock();
        if (status == SASTC_OK)
            status = sastc_events_push_buffer(stream, chunk, n, &used);
        ticks += io_ticks_since(start);
        taken += (uint32_t)used;
        count -= n;
    }
    start = io_clock();
    if (status == SASTC_OK)
        status = sastc_events_advance(stream, t_end);
    if (status == SASTC_OK)
        status = sastc_events_end(stream);
    else
        (void)sastc_events_end(stream);
    ticks += io_ticks_since(start);
    put_u32(TAG_END);
    put_u32((uint32_t)status);
    put_u32(taken);
    put_u32(ticks);
    return 1;
}

static int events_mode(sastc_ctx *ctx)
{
    static sastc_events stream;
    sastc_binning binning = SASTC_MODEL_BINNING;
    uint32_t window, hop, flags, samples, s;
    sastc_status status;
    if (!get_u32(&window) || !get_u32(&hop) || !get_u32(&flags) || !get_u32(&samples))
        return 1;
    if (window != 0u)
        binning.window_us = window;
    if (hop == 0u)
        hop = SASTC_MODEL_TIME_BINS;
    status = sastc_events_init(&stream, ctx, &binning, hop, frames, sizeof frames, on_decision,
                               NULL);
    put_u32((uint32_t)status);
    if (status != SASTC_OK)
        return 1;
    if (flags & FLAG_FRAMES)
        stream.on_frame = on_frame;
    for (s = 0; s < samples; ++s)
        if (!run_events(&stream, flags))
            return 1;
    return 0;
}

static void put_header(sastc_status init_status)
{
    io_write("SAR1", 4u);
    put_u32((uint32_t)init_status);
    put_u32((uint32_t)sastc_state_bytes(SASTC_MODEL));
    put_u32(SASTC_MODEL_NUM_CLASSES);
    put_u32(SASTC_MODEL_INPUT_BYTES);
    put_u32(SASTC_MODEL_TIME_BINS);
    put_u32(io_clock_hz());
    put_u32(FIRMWARE_RING_FRAMES);
}

int main(void)
{
    static sastc_ctx ctx;
    uint8_t magic[4];
    uint32_t mode;
    sastc_status status;
    int failed;
    if (io_begin() != 0 || !io_read(magic, 4u) || magic[0] != 'S' || magic[1] != 'A' ||
        magic[2] != 'V' || magic[3] != '1' || !get_u32(&mode))
        return 2;
    status = sastc_init(&ctx, SASTC_MODEL, state, sizeof state);
    put_header(status);
    failed = status != SASTC_OK || mode > 1u;
    if (!failed)
        failed = mode == 0u ? frames_mode(&ctx) : events_mode(&ctx);
    io_end();
    return failed;
}
