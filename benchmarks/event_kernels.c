/* The event-driven kernels of sastc/train/scan timed directly, one thread, no Python:
 * the event convolution, the fused first layer (convolution, surrogate LIF scan and 2 x 2
 * pooling) and the plain scan, on N-MNIST-sized frames (T = 16, 52 samples, 2 x 34 x 34,
 * conv(16, 5, stride=2)) with a given share of non-zero pixels. Best of 60 runs each.
 *
 *   gcc -O3 -ffp-contract=off -fno-trapping-math -fno-math-errno -march=native \
 *       -I sastc/train/scan benchmarks/event_kernels.c -o /tmp/event_kernels -lm
 *   /tmp/event_kernels 0.057
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lif_scan.c"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const double density = argc > 1 ? atof(argv[1]) : 0.057;
    enum { T = 16, B = 52, C = 2, H = 34, W = 34, O = 16, OH = 17, OW = 17 };
    const long frame_pixels = (long)T * B * C * H * W, outputs = (long)T * B * OH * OW * O;
    long shape[5] = {T, B, C, H, W}, strides[5] = {B * C * H * W, C * H * W, H * W, W, 1};
    long conv[10] = {O, 5, 5, 2, 2, 2, 2, OH, OW, 1}, pooled[10] = {O, 5, 5, 2, 2, 2, 2, OH, OW, 2};
    float *x = calloc((size_t)frame_pixels, sizeof(float));
    float *wt = malloc(C * 25 * O * sizeof(float));
    float *out = malloc((size_t)outputs * sizeof(float));
    float *upre = malloc((size_t)outputs * sizeof(float));
    if (!x || !wt || !out || !upre) return 1;
    srand(1);
    long events = 0;
    for (long i = 0; i < frame_pixels; i++)
        if (rand() < density * RAND_MAX) { x[i] = 1; events++; }
    for (long i = 0; i < C * 25 * O; i++) wt[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    double best[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < 60; r++) {
        double t[4];
        t[0] = now();
        event_conv_forward_f32(x, shape, strides, wt, NULL, out, conv, 0, T * B);
        t[1] = now();
        event_lif_forward_f32(x, shape, strides, wt, NULL, pooled, out, upre, 0, B, 0.9, 1.0,
                              5.0, 0.0, 1, 0);
        t[2] = now();
        lif_forward_f32(out, out, upre, T, (long)B * OH * OW * O, 0, (long)B * OH * OW * O, 0.9,
                        1.0, 5.0, 0.0, 1, 0);
        t[3] = now();
        for (int k = 0; k < 3; k++)
            if (t[k + 1] - t[k] < best[k]) best[k] = t[k + 1] - t[k];
    }
    printf("%.2f %% non-zero: event convolution %.2f ms (%.1f ns per event), fused layer "
           "%.2f ms, scan alone %.2f ms\n", 100.0 * (double)events / (double)frame_pixels,
           best[0] * 1e3, best[0] * 1e9 / (double)(events ? events : 1), best[1] * 1e3,
           best[2] * 1e3);
    return 0;
}
