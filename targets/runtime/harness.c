/* harness.c - host test harness: streams test vectors through a compiled model.
 *
 * Build with the model's folder on the include path (it includes model.h).
 * All integers are little-endian, 32 bits.
 *
 * stdin:  "SAI1", samples, steps, flags, then samples * steps frames of
 *         SASTC_MODEL_INPUT_BYTES uint8 each ([C][H][W]).
 *         flags bit 0: write every layer's output after every step;
 *         flags bit 1: run each sample with sastc_classify (steps must equal
 *         SASTC_MODEL_TIME_BINS) instead of reset + sastc_step.
 * stdout: "SAO1", init status, sastc_state_bytes(), SASTC_MODEL_STATE_BYTES,
 *         layers, classes, then per layer: neuron, out_c, out_h, out_w.
 *         Per sample: per step (bit 0) a status and, if it is 0, per layer
 *         either ceil(n / 32) spike words (LIF) or n membranes u_pre (LI),
 *         HWC order; then the logits (classes int32), the predicted class
 *         and the status of the sample. The harness stops at the first error.
 *
 * A header the harness cannot honour (unknown flag bits, 0 or too many steps or
 * samples, classify with steps != SASTC_MODEL_TIME_BINS, a sample larger than
 * HARNESS_MAX_SAMPLE_BYTES) is refused before anything is allocated: one line
 * "harness: ..." on stderr, exit status 2, nothing on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define FLAG_RECORD 1u
#define FLAG_CLASSIFY 2u
#define FLAGS_KNOWN (FLAG_RECORD | FLAG_CLASSIFY)
#define HARNESS_MAX_SAMPLES 16777216u        /* 2^24 samples per stream */
#define HARNESS_MAX_STEPS 1048576u           /* 2^20 steps per sample */
#define HARNESS_MAX_SAMPLE_BYTES 1073741824u /* 1 GiB of frames per sample */

static uint32_t state[SASTC_MODEL_STATE_WORDS];

static void put_u32(uint32_t value)
{
    unsigned char bytes[4];
    bytes[0] = (unsigned char)value;
    bytes[1] = (unsigned char)(value >> 8);
    bytes[2] = (unsigned char)(value >> 16);
    bytes[3] = (unsigned char)(value >> 24);
    fwrite(bytes, 1, 4, stdout);
}

static int get_u32(uint32_t *value)
{
    unsigned char b[4];
    if (fread(b, 1, 4, stdin) != 4)
        return 0;
    *value = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

static void put_header(sastc_status init_status)
{
    uint32_t l;
    fwrite("SAO1", 1, 4, stdout);
    put_u32((uint32_t)init_status);
    put_u32((uint32_t)sastc_state_bytes(SASTC_MODEL));
    put_u32((uint32_t)SASTC_MODEL_STATE_BYTES);
    put_u32(SASTC_MODEL->num_layers);
    put_u32(SASTC_MODEL->num_classes);
    for (l = 0; l < SASTC_MODEL->num_layers; ++l) {
        const sastc_layer *layer = &SASTC_MODEL->layers[l];
        put_u32(layer->neuron);
        put_u32(layer->out_c);
        put_u32(layer->out_h);
        put_u32(layer->out_w);
    }
}

/* Every layer's output after a step: spike words (spiking layers) or membranes (LI). */
static void put_layers(const sastc_ctx *ctx)
{
    uint32_t l, i;
    for (l = 0; l < SASTC_MODEL->num_layers; ++l) {
        const sastc_layer *layer = &SASTC_MODEL->layers[l];
        const uint32_t n = (uint32_t)layer->out_c * layer->out_h * layer->out_w;
        const uint32_t *bits;
        const int32_t *u;
        if (layer->neuron != SASTC_NEURON_LI && sastc_layer_spikes(ctx, l, &bits) == SASTC_OK)
            for (i = 0; i < (n + 31u) / 32u; ++i)
                put_u32(bits[i]);
        else if (sastc_layer_membranes(ctx, l, &u) == SASTC_OK)
            for (i = 0; i < n; ++i)
                put_u32((uint32_t)u[i]);
    }
}

/* Reset, then step through the sample's frames, recording if asked. */
static sastc_status run_steps(sastc_ctx *ctx, const uint8_t *frames, uint32_t steps,
                              uint32_t flags, uint32_t *label)
{
    const int32_t *logits;
    sastc_status status = sastc_reset(ctx);
    uint32_t t;
    for (t = 0; t < steps && status == SASTC_OK; ++t) {
        status = sastc_step(ctx, frames + (size_t)t * SASTC_MODEL_INPUT_BYTES);
        if (flags & FLAG_RECORD) {
            put_u32((uint32_t)status);
            if (status == SASTC_OK)
                put_layers(ctx);
        }
    }
    if (status == SASTC_OK)
        status = sastc_logits(ctx, &logits);
    if (status == SASTC_OK)
        *label = sastc_argmax(logits, SASTC_MODEL->num_classes);
    return status;
}

/* Logits, predicted class and status of one sample. */
static void put_result(const sastc_ctx *ctx, uint32_t label, sastc_status status)
{
    const int32_t *logits = NULL;
    uint32_t i;
    if (sastc_logits(ctx, &logits) != SASTC_OK)
        logits = NULL;
    for (i = 0; i < SASTC_MODEL->num_classes; ++i)
        put_u32(logits != NULL ? (uint32_t)logits[i] : 0u);
    put_u32(label);
    put_u32((uint32_t)status);
}

static int run_samples(sastc_ctx *ctx, uint32_t samples, uint32_t steps, uint32_t flags)
{
    const size_t sample_bytes = (size_t)steps * SASTC_MODEL_INPUT_BYTES;
    uint8_t *frames = (uint8_t *)malloc(sample_bytes > 0u ? sample_bytes : 1u);
    sastc_status status = SASTC_OK;
    uint32_t s, label = 0;
    if (frames == NULL)
        return 1;
    for (s = 0; s < samples && status == SASTC_OK; ++s) {
        if (fread(frames, 1, sample_bytes, stdin) != sample_bytes)
            break;
        if (flags & FLAG_CLASSIFY)
            status = sastc_classify(ctx, frames, &label);
        else
            status = run_steps(ctx, frames, steps, flags, &label);
        put_result(ctx, label, status);
    }
    free(frames);
    return s == samples && status == SASTC_OK ? 0 : 1;
}

/* Why the header cannot be honoured, or NULL when it can. sample_bytes = steps *
 * SASTC_MODEL_INPUT_BYTES is bounded by division first, so it cannot overflow. */
static const char *header_error(uint32_t samples, uint32_t steps, uint32_t flags)
{
    if ((flags & ~FLAGS_KNOWN) != 0u)
        return "unknown flag bits (known: 1 record, 2 classify)";
    if (samples == 0u || samples > HARNESS_MAX_SAMPLES)
        return "samples must be in 1..2^24";
    if (steps == 0u || steps > HARNESS_MAX_STEPS)
        return "steps must be in 1..2^20";
    if ((flags & FLAG_CLASSIFY) != 0u && steps != SASTC_MODEL_TIME_BINS)
        return "classify needs steps == SASTC_MODEL_TIME_BINS";
    if (steps > HARNESS_MAX_SAMPLE_BYTES / SASTC_MODEL_INPUT_BYTES)
        return "steps * SASTC_MODEL_INPUT_BYTES exceeds 1 GiB per sample";
    return NULL;
}

int main(void)
{
    char magic[4];
    uint32_t samples, steps, flags;
    sastc_ctx ctx;
    sastc_status status;
    const char *problem;
    int exit_code;
    if (fread(magic, 1, 4, stdin) != 4 || memcmp(magic, "SAI1", 4) != 0 || !get_u32(&samples) ||
        !get_u32(&steps) || !get_u32(&flags)) {
        fputs("harness: expected the SAI1 header on stdin\n", stderr);
        return 2;
    }
    problem = header_error(samples, steps, flags);
    if (problem != NULL) {
        fprintf(stderr, "harness: bad header (samples %lu, steps %lu, flags %lu): %s\n",
                (unsigned long)samples, (unsigned long)steps, (unsigned long)flags, problem);
        return 2;
    }
    status = sastc_init(&ctx, SASTC_MODEL, state, sizeof state);
    put_header(status);
    if (status != SASTC_OK)
        return 1;
    exit_code = run_samples(&ctx, samples, steps, flags);
    fflush(stdout);
    return exit_code;
}
