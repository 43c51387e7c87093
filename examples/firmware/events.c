/* events.c - firmware that turns a stream of sensor events into decisions.
 *
 * Events arrive as text lines "t x y p" (microseconds, pixel, polarity 0/1), in time order,
 * on stdin (a board routes getchar to its UART: a serial stream); a line "t" alone says that
 * the time has reached t with no further event (it closes the windows that ended). The
 * runtime's streaming
 * input (sastc_events.h) bins them into the model's frames as they come, steps the model
 * at the end of every time bin, and calls on_decision once per window, which prints
 *
 *     window <first bin>-<last bin> ends <t> us: <class index> <class name>
 *
 * The window, sensor size and downsampling come from the build (SASTC_MODEL_BINNING); a
 * build without a recorded window (SASTC_MODEL_WINDOW_US 0) needs -DWINDOW_US=... (the
 * frames are then fixed-duration bins of WINDOW_US / T). -DHOP_BINS=h (h < T) gives a
 * rolling decision every h bins over the last T bins (a ring of T frames in RAM).
 * No malloc, no floating point, no printf.
 */
#include <stdio.h>

#include "model.h"
#include "sastc_events.h"
#include "put.h"

#ifndef WINDOW_US
#define WINDOW_US SASTC_MODEL_WINDOW_US
#endif
#if WINDOW_US == 0
#error "this build records no window: give one, e.g. make events WINDOW_US=300000"
#endif
#ifndef HOP_BINS
#define HOP_BINS SASTC_MODEL_TIME_BINS
#endif
#define RING_FRAMES (HOP_BINS < SASTC_MODEL_TIME_BINS ? SASTC_MODEL_TIME_BINS : 1u)

static uint32_t state[SASTC_MODEL_STATE_WORDS];               /* the model's state */
static uint8_t frames[RING_FRAMES * SASTC_MODEL_INPUT_BYTES]; /* the bins being filled */

static void on_decision(void *user, const sastc_decision *decision)
{
    (void)user;
    put_text("window ");
    put_number(decision->first_bin);
    putchar('-');
    put_number(decision->last_bin);
    put_text(" ends ");
    put_number(decision->end_us);
    put_text(" us: ");
    put_number(decision->label);
    putchar(' ');
    put_text(SASTC_MODEL->class_names[decision->label]);
    putchar('\n');
}

/* The next line's numbers: 4 (an event) or 1 (a time); 0 at the end of the input, -1 for a
 * malformed line. */
static int read_event(uint32_t values[4])
{
    int c = getchar(), count = 0, digits = 0;
    uint32_t value = 0;
    if (c == EOF)
        return 0;
    for (; c != EOF && c != '\n'; c = getchar()) {
        if (c >= '0' && c <= '9') {
            value = value * 10u + (uint32_t)(c - '0');
            ++digits;
        } else if (digits > 0 && count < 4) {
            values[count++] = value;
            value = 0;
            digits = 0;
        }
    }
    if (digits > 0 && count < 4)
        values[count++] = value;
    return count == 4 || count == 1 ? count : -1;
}

static void report(const char *what, sastc_status status)
{
    put_text(what);
    put_text(sastc_status_string(status));
    putchar('\n');
}

int main(void)
{
    static sastc_ctx ctx;
    static sastc_events stream;
    sastc_binning binning = SASTC_MODEL_BINNING;
    uint32_t event[4];
    int got;
    sastc_status status = sastc_init(&ctx, SASTC_MODEL, state, sizeof state);
    binning.window_us = WINDOW_US;
    if (status == SASTC_OK)
        status = sastc_events_init(&stream, &ctx, &binning, HOP_BINS, frames, sizeof frames,
                                   on_decision, NULL);
    if (status != SASTC_OK) {
        report("sastc error: ", status);
        return 1;
    }
    while ((got = read_event(event)) != 0) {
        if (got < 0) {
            put_text("skipped a line that is not \"t x y p\" or \"t\"\n");
            continue;
        }
        status = got == 1 ? sastc_events_advance(&stream, event[0])
                          : sastc_events_push(&stream, (uint16_t)event[1], (uint16_t)event[2],
                                              (uint8_t)event[3], event[0]);
        if (status != SASTC_OK) /* the event is dropped; the stream goes on */
            report("event dropped: ", status);
    }
    status = sastc_events_end(&stream);
    if (status != SASTC_OK)
        report("end of input: ", status);
    return 0;
}
