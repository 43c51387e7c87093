/* main.c - minimal firmware: classify samples with a compiled sastc model.
 *
 * Everything is static: the model (model.h, flash), the runtime state and one
 * input frame (RAM). Samples arrive on stdin as SASTC_MODEL_TIME_BINS frames
 * of SASTC_MODEL_INPUT_BYTES bytes each (uint8 counts [C][H][W]); each frame
 * is one time step as it arrives (an event sensor would fill it), and after
 * the last one the class index and name are printed on a line. On a
 * microcontroller getchar/putchar go to the board's UART (newlib: implement
 * _read/_write); nothing else of the C library is used.
 */
#include <stdio.h>

#include "model.h"
#include "put.h"

static uint32_t state[SASTC_MODEL_STATE_WORDS]; /* caller-owned runtime state */
static uint8_t frame[SASTC_MODEL_INPUT_BYTES];  /* one time step: [C][H][W] */

/* Fill `frame` from stdin; 0 at the end of the input. */
static int read_frame(void)
{
    uint32_t i;
    for (i = 0; i < SASTC_MODEL_INPUT_BYTES; ++i) {
        const int c = getchar();
        if (c == EOF)
            return 0;
        frame[i] = (uint8_t)c;
    }
    return 1;
}

/* One sample: reset, one step per frame, then the class with the largest logit. */
static sastc_status classify_stream(sastc_ctx *ctx, uint32_t *label, int *done)
{
    const int32_t *logits;
    sastc_status status = sastc_reset(ctx);
    uint32_t t;
    for (t = 0; t < SASTC_MODEL_TIME_BINS && status == SASTC_OK; ++t) {
        if (!read_frame()) {
            *done = 1;
            return SASTC_OK;
        }
        status = sastc_step(ctx, frame);
    }
    if (status == SASTC_OK)
        status = sastc_logits(ctx, &logits);
    if (status == SASTC_OK)
        *label = sastc_argmax(logits, SASTC_MODEL_NUM_CLASSES);
    return status;
}

int main(void)
{
    sastc_ctx ctx;
    uint32_t label = 0;
    int done = 0;
    sastc_status status = sastc_init(&ctx, SASTC_MODEL, state, sizeof state);
    while (status == SASTC_OK && !done) {
        status = classify_stream(&ctx, &label, &done);
        if (status == SASTC_OK && !done) {
            put_number(label);
            putchar(' ');
            put_text(SASTC_MODEL->class_names[label]);
            putchar('\n');
        }
    }
    if (status != SASTC_OK) {
        put_text("sastc error: ");
        put_text(sastc_status_string(status));
        putchar('\n');
        return 1;
    }
    return 0;
}
