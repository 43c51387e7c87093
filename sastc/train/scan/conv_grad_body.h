/* The input gradient of a 2-D convolution over channels-last frames, for one floating type
 * (lif_scan.c includes this once per type with REAL and SFX(name) defined).
 *
 * For y = stride oy + ky - pad (and x alike):
 *
 *     dL/dx[n, y, x, :] = sum_{ky, kx, o} W[o, :, ky, kx] dL/dy[n, oy, ox, o]
 *
 * Input positions x of one row with the same remainder r = x mod stride_x are reached by the
 * same kernel columns kx, at outputs ox = x / stride_x + (r + pad_x - kx) / stride_x: four
 * such positions are done at once, their C channels in registers (C / vector width <= 4
 * vectors each), so that every weight row W[o, :, ky, kx] loaded serves four of them.
 * Weights are stored [KH, KW, O, C]. VMAC(a, b, acc) is acc + a b on vectors, fused where
 * the CPU has FMA (a gradient needs no bit-exact rounding). geo: N, C, H, W, O, KH, KW,
 * stride_y, stride_x, pad_y, pad_x, OH, OW. */

#ifndef CONV_GRAD_HELPERS
#define CONV_GRAD_HELPERS
enum { GRAD_BLOCK = 4, GRAD_MAX_VECS = 4 };
#endif

/* The taps of input row y: kernel rows ky[i] and output rows oy[i]; returns their count. */
static inline long SFX(grad_row_taps)(long y, long pad, long stride, long K, long out,
                                      long *ky, long *oy) {
    long n = 0;
    for (long k = (y + pad) % stride; k < K && k <= y + pad; k += stride) {
        const long o = (y + pad - k) / stride;
        if (o < out) { ky[n] = k; oy[n] = o; n++; }
    }
    return n;
}

/* dx[x_j] for the block of positions x_j = r + (m + j) sx, j < GRAD_BLOCK (those < W). */
static inline __attribute__((always_inline)) void SFX(grad_block)(
        const REAL *gn, const REAL *wt, REAL *dxrow, const long *geo, const long *ky,
        const long *oy, long nky, long r, long m, const REAL *zeros, const long V) {
    typedef REAL vec __attribute__((vector_size(32)));
    enum { LANES = (int)(sizeof(vec) / sizeof(REAL)) };
    const long C = geo[1], W = geo[3], O = geo[4], KW = geo[6], sx = geo[8], px = geo[10];
    const long OW = geo[12];
    vec acc[GRAD_BLOCK][GRAD_MAX_VECS];
    for (long j = 0; j < GRAD_BLOCK; j++)
        for (long v = 0; v < V; v++) acc[j][v] = (vec){0};
    for (long a = 0; a < nky; a++)
        for (long kx = (r + px) % sx; kx < KW; kx += sx) {
            const long base = (r + px - kx) / sx + m;  /* exact: sx divides r + px - kx */
            const REAL *gp[GRAD_BLOCK];
            for (long j = 0; j < GRAD_BLOCK; j++) {
                const long ox = base + j, x = r + (m + j) * sx;
                gp[j] = (x < W && ox >= 0 && ox < OW) ? gn + (oy[a] * OW + ox) * O : zeros;
            }
            const REAL *wp = wt + (ky[a] * KW + kx) * O * C;
            for (long o = 0; o < O; o++) {
                vec w[GRAD_MAX_VECS];
                for (long v = 0; v < V; v++) {
                    memcpy(&w[v], wp + o * C + v * LANES, sizeof(vec));
                    HOLD_VECTOR(w[v]);  /* else GCC reloads the row for each position */
                }
                for (long j = 0; j < GRAD_BLOCK; j++) {
                    const vec g = gp[j][o] - (vec){0};  /* a broadcast: x - 0 is x, -0 too */
                    for (long v = 0; v < V; v++) acc[j][v] = VMAC(g, w[v], acc[j][v]);
                }
            }
        }
    for (long j = 0; j < GRAD_BLOCK; j++) {
        const long x = r + (m + j) * sx;
        if (x < W)
            for (long v = 0; v < V; v++) memcpy(dxrow + x * C + v * LANES, &acc[j][v], sizeof(vec));
    }
}

static inline __attribute__((always_inline)) void SFX(conv_input_grad_frames)(
        const REAL *g, const REAL *wt, REAL *dx, const long *geo, long n0, long n1,
        const long V) {
    const long C = geo[1], H = geo[2], W = geo[3], O = geo[4], KH = geo[5];
    const long sy = geo[7], sx = geo[8], py = geo[9], OH = geo[11], OW = geo[12];
    long ky[KH], oy[KH];
    REAL zeros[O];
    for (long o = 0; o < O; o++) zeros[o] = 0;
    for (long n = n0; n < n1; n++)
        for (long y = 0; y < H; y++) {
            const long nky = SFX(grad_row_taps)(y, py, sy, KH, OH, ky, oy);
            REAL *dxrow = dx + (n * H + y) * W * C;
            for (long r = 0; r < sx && r < W; r++)
                for (long m = 0; r + m * sx < W; m += GRAD_BLOCK)
                    SFX(grad_block)(g + n * OH * OW * O, wt, dxrow, geo, ky, oy, nky, r, m,
                                    zeros, V);
        }
}

/* dL/dx [N, H, W, C] of frames [n0, n1) from dL/dy [N, OH, OW, O] and wt [KH, KW, O, C];
 * C a multiple of the vector width, at most GRAD_MAX_VECS vectors (the caller checks). */
void SFX(conv_input_grad)(const REAL *g, const REAL *wt, REAL *dx, const long *geo, long n0,
                          long n1) {
    const long lanes = (long)(32 / sizeof(REAL));
    switch (geo[1] / lanes) {
    case 1: SFX(conv_input_grad_frames)(g, wt, dx, geo, n0, n1, 1); break;
    case 2: SFX(conv_input_grad_frames)(g, wt, dx, geo, n0, n1, 2); break;
    case 3: SFX(conv_input_grad_frames)(g, wt, dx, geo, n0, n1, 3); break;
    default: SFX(conv_input_grad_frames)(g, wt, dx, geo, n0, n1, 4); break;
    }
}

#ifdef _OPENMP
void SFX(conv_input_grad_par)(const REAL *g, const REAL *wt, REAL *dx, const long *geo,
                              long threads, long align) {
    SASTC_PARALLEL(threads, geo[0], align, SFX(conv_input_grad)(g, wt, dx, geo, n0, n1))
}
#endif
