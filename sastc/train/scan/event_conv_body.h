/* Event-driven 2-D convolution of sparse frames, for one floating type: lif_scan.c includes
 * this once per type with REAL, SFX(name) and MAC(a, b, acc) (acc + a b) defined.
 *
 * A frame of events (input [C, H, W], any strides) is mostly zeros: N-MNIST binned into 16
 * steps has 5.7 % non-zero pixels, into 64 steps 2.5 %. Instead of every output gathering
 * its C KH KW inputs, every non-zero input x[c, y, x] scatters into the outputs it reaches:
 *
 *     out[oy, ox, :] += x[c, y, x] W[c, ky, kx, :]   for  y + pad_y = oy stride_y + ky,
 *                                                         x + pad_x = ox stride_x + kx,
 *
 * with the weights stored [C, KH, KW, O] so that the O outputs of one position are one
 * contiguous vector, as in a channels-last output [F, OH, OW, O]. The weight gradient walks
 * the same pairs: dW[c, ky, kx, :] += x[c, y, x] dL/dout[oy, ox, :]. A frame's output and
 * the weights stay in L1 while its events are scattered. Frames f are (t, j) with
 * t = f / B, j = f % B, so a [T, B, ...] slice of a larger batch needs no copy. */

#ifndef EVENT_CONV_HELPERS
#define EVENT_CONV_HELPERS
/* The first kernel offset k0 = (p + pad) mod stride of every position p < n along one axis,
 * and its output o0 = (p + pad - k0) / stride: the divisions done once per call. Position p
 * then reaches outputs o0, o0 - 1, ... through offsets k0, k0 + stride, ... (< K). */
static inline void event_first_taps(long n, long pad, long stride, long *k0, long *o0) {
    for (long p = 0; p < n; p++) {
        k0[p] = (p + pad) % stride;
        o0[p] = (p + pad - k0[p]) / stride;
    }
}

/* The geometry of one call, unpacked from the kernel's shape, strides and conv arrays. */
struct event_geometry {
    long B, C, H, W, xs[5], O, KH, KW, sy, sx, OH, OW;
};

static inline struct event_geometry event_geometry(const long *shape, const long *xs,
                                                   const long *conv) {
    struct event_geometry g = {shape[1], shape[2], shape[3], shape[4],
                               {xs[0], xs[1], xs[2], xs[3], xs[4]},
                               conv[0], conv[1], conv[2], conv[3], conv[4], conv[7], conv[8]};
    return g;
}

/* CALL with `gp_` pointing at g, or, for the first layer of every dataset preset on
 * two-channel event frames (conv(16, 5, stride=2)), at a copy whose channel counts, kernel
 * and strides the compiler sees as constants, so that it unrolls the taps and channel
 * loops. In float (SPECIALISE), N-MNIST-sized frames: the fused layer's forward 1.04x,
 * its backward 1.17x faster than the same code with them read at run time. Any other
 * geometry, and doubles, run the general code; -DSASTC_NO_SPECIALISED turns it off. */
#ifndef SASTC_NO_SPECIALISED
#define SASTC_SPECIALISED(g, CALL)                                                     \
    if (SPECIALISE && (g).C == 2 && (g).O == 16 && (g).KH == 5 && (g).KW == 5           \
        && (g).sy == 2 && (g).sx == 2) {                                                \
        struct event_geometry c_ = (g);                                                 \
        c_.C = 2, c_.O = 16, c_.KH = 5, c_.KW = 5, c_.sy = 2, c_.sx = 2;                \
        const struct event_geometry *gp_ = &c_;                                         \
        CALL;                                                                           \
    } else {                                                                            \
        const struct event_geometry *gp_ = &(g);                                        \
        CALL;                                                                           \
    }
#else
#define SASTC_SPECIALISED(g, CALL) { const struct event_geometry *gp_ = &(g); CALL; }
#endif

/* ky0, oy0 (H each), kx0, ox0 (W each) of event_first_taps, in one array. */
static inline void event_tap_tables(const struct event_geometry *g, const long *conv,
                                    long *tables) {
    event_first_taps(g->H, conv[5], g->sy, tables, tables + g->H);
    event_first_taps(g->W, conv[6], g->sx, tables + 2 * g->H, tables + 2 * g->H + g->W);
}
#endif

/* Every event of frame xf and every output it reaches: BODY runs with v (the input),
 * `at` (the output position's offset, oy OW + ox, times O) and `w_at` (the weights' offset,
 * ((c KH + ky) KW + kx) O). Rows of unit stride skip 8 zero pixels at a time. */
#define SFX_EVENT_TAPS(g, c, y, xx, v, ky0, oy0, kx0, ox0, O, BODY)                   \
    for (long ky = ky0[y], oy = oy0[y]; ky < g.KH && oy >= 0; ky += g.sy, oy--) {       \
        if (oy >= g.OH) continue;                                                       \
        for (long kx = kx0[xx], ox = ox0[xx]; kx < g.KW && ox >= 0; kx += g.sx, ox--) { \
            if (ox >= g.OW) continue;                                                   \
            const long at = (oy * g.OW + ox) * O;                                       \
            const long w_at = ((c * g.KH + ky) * g.KW + kx) * O;                        \
            BODY                                                                        \
        }                                                                               \
    }

#define SFX_FOR_EVENT_TAPS(g, xf, ky0, oy0, kx0, ox0, O, BODY)                          \
    for (long c = 0; c < g.C; c++)                                                      \
        for (long y = 0; y < g.H; y++) {                                                \
            const REAL *row = xf + c * g.xs[2] + y * g.xs[3];                           \
            long x0 = 0;                                                                \
            if (g.xs[4] == 1)                                                           \
                for (; x0 + 8 <= g.W; x0 += 8)                                          \
                    for (unsigned mask = SFX(nonzero8)(row + x0); mask;                 \
                         mask &= mask - 1) {                                            \
                        const long xx = x0 + __builtin_ctz(mask);                       \
                        const REAL v = row[xx];                                         \
                        SFX_EVENT_TAPS(g, c, y, xx, v, ky0, oy0, kx0, ox0, O, BODY)     \
                    }                                                                   \
            for (long xx = x0; xx < g.W; xx++) {                                        \
                const REAL v = row[xx * g.xs[4]];                                       \
                if (v == 0) continue;                                                   \
                SFX_EVENT_TAPS(g, c, y, xx, v, ky0, oy0, kx0, ox0, O, BODY)             \
            }                                                                           \
        }

/* o[i] += v w[i] for i < O, in 32-byte vectors (GCC/clang vector extensions: plain loops
 * over restrict pointers were left scalar) and a scalar tail. */
static inline __attribute__((always_inline)) void SFX(event_axpy_n)(
        REAL *restrict o, const REAL *restrict w, REAL v, const long O) {
    typedef REAL vec __attribute__((vector_size(32)));
    const long lanes = (long)(sizeof(vec) / sizeof(REAL));
    long i = 0;
    for (; i + lanes <= O; i += lanes) {
        vec a, b;
        memcpy(&a, o + i, sizeof a);
        memcpy(&b, w + i, sizeof b);
        a += v * b;
        memcpy(o + i, &a, sizeof a);
    }
    for (; i < O; i++) o[i] = MAC(v, w[i], o[i]);
}

/* The same with the common channel counts as constants, so that a tap is a few whole
 * vector operations (a branch that always goes the same way within a call). */
static inline __attribute__((always_inline)) void SFX(event_axpy)(
        REAL *restrict o, const REAL *restrict w, REAL v, const long O) {
    switch (O) {
    case 8: SFX(event_axpy_n)(o, w, v, 8); break;
    case 16: SFX(event_axpy_n)(o, w, v, 16); break;
    case 32: SFX(event_axpy_n)(o, w, v, 32); break;
    case 64: SFX(event_axpy_n)(o, w, v, 64); break;
    default: SFX(event_axpy_n)(o, w, v, O); break;
    }
}

/* Frame xf's output of, [OH, OW, O]: bias (or zeros) plus every event's scatter. */
static inline __attribute__((always_inline)) void SFX(event_forward_frame)(
        const REAL *xf, const struct event_geometry *geometry, const long *tables,
        const REAL *wt, const REAL *bias, REAL *restrict of) {
    const struct event_geometry local = *geometry, *g = &local;
    const long *ky0 = tables, *oy0 = ky0 + g->H, *kx0 = oy0 + g->H, *ox0 = kx0 + g->W;
    const long O = g->O;
    for (long p = 0; p < g->OH * g->OW; p++)
        for (long i = 0; i < O; i++) of[p * O + i] = bias ? bias[i] : 0;
    SFX_FOR_EVENT_TAPS((*g), xf, ky0, oy0, kx0, ox0, O, {
        SFX(event_axpy)(of + at, wt + w_at, v, O);
    })
}

/* Adds frame xf's weight gradient to dwt [C, KH, KW, O] and bias gradient to db [O], for
 * the gradient gf [OH, OW, O] of its output. */
static inline __attribute__((always_inline)) void SFX(event_weight_grad_frame)(
        const REAL *xf, const struct event_geometry *geometry, const long *tables,
        const REAL *gf, REAL *dwt, REAL *db) {
    const struct event_geometry local = *geometry, *g = &local;
    const long *ky0 = tables, *oy0 = ky0 + g->H, *kx0 = oy0 + g->H, *ox0 = kx0 + g->W;
    const long O = g->O;
    for (long p = 0; p < g->OH * g->OW; p++)
        for (long i = 0; i < O; i++) db[i] += gf[p * O + i];
    SFX_FOR_EVENT_TAPS((*g), xf, ky0, oy0, kx0, ox0, O, {
        SFX(event_axpy)(dwt + w_at, gf + at, v, O);
    })
}

/* Frame f of a [T, B, C, H, W] input (f = t B + b). */
static inline const REAL *SFX(event_frame)(const REAL *x, const struct event_geometry *g,
                                           long f) {
    return x + (f / g->B) * g->xs[0] + (f % g->B) * g->xs[1];
}

/* out[f] ([OH, OW, O] each) for frames [f0, f1). shape: T, B, C, H, W; xs: the input's
 * strides; conv: O, KH, KW, stride_y, stride_x, pad_y, pad_x, OH, OW; wt: the weights as
 * [C, KH, KW, O]. */
void SFX(event_conv_forward)(const REAL *x, const long *shape, const long *xs,
                             const REAL *wt, const REAL *bias, REAL *out, const long *conv,
                             long f0, long f1) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    for (long f = f0; f < f1; f++)
        SFX(event_forward_frame)(SFX(event_frame)(x, &g, f), &g, tables, wt, bias,
                                 out + f * g.OH * g.OW * g.O);
}

/* Adds frames [f0, f1)'s weight gradient to dwt [C, KH, KW, O] and bias gradient to
 * db [O] (the caller zeroes them; one pair per range). grad is [F, OH, OW, O]. */
void SFX(event_conv_weight_grad)(const REAL *x, const long *shape, const long *xs,
                                 const REAL *grad, REAL *dwt, REAL *db, const long *conv,
                                 long f0, long f1) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    for (long f = f0; f < f1; f++)
        SFX(event_weight_grad_frame)(SFX(event_frame)(x, &g, f), &g, tables,
                                     grad + f * g.OH * g.OW * g.O, dwt, db);
}

#undef SFX_FOR_EVENT_TAPS
#undef SFX_EVENT_TAPS

#ifdef _OPENMP
/* The same over all T B frames on `threads` threads; in the weight gradient thread i adds
 * into its own slot dwt + i C KH KW O, db + i O. */
void SFX(event_conv_forward_par)(const REAL *x, const long *shape, const long *xs,
                                 const REAL *wt, const REAL *bias, REAL *out,
                                 const long *conv, long threads, long unused) {
    (void)unused;
    SASTC_PARALLEL(threads, shape[0] * shape[1], 1,
                   SFX(event_conv_forward)(x, shape, xs, wt, bias, out, conv, n0, n1))
}

void SFX(event_conv_weight_grad_par)(const REAL *x, const long *shape, const long *xs,
                                     const REAL *grad, REAL *dwt, REAL *db, const long *conv,
                                     long threads, long unused) {
    (void)unused;
    const long size = shape[2] * conv[1] * conv[2] * conv[0];
    SASTC_PARALLEL(threads, shape[0] * shape[1], 1, {
        const long slot = omp_get_thread_num();
        SFX(event_conv_weight_grad)(x, shape, xs, grad, dwt + slot * size, db + slot * conv[0],
                                    conv, n0, n1);
    })
}
#endif
