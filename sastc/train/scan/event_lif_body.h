/* The first spiking layer in one pass: the event-driven convolution of event_conv_body.h
 * and the neuron scan of lif_scan_body.h, one sample at a time, for one floating type
 * (lif_scan.c includes this once per type after both).
 *
 * For sample b the forward walks t = 0 .. T-1: frame (t, b)'s current [OH, OW, O] is
 * scattered into a buffer that stays in cache, and the neurons' state (u, c) is stepped
 * with it at once, writing only s[t] and u_pre[t]. The backward walks t = T-1 .. 0: the
 * scan's backward step gives dL/dI of frame (t, b) into a buffer, which goes straight into
 * the weight and bias gradients. The layer's current, the largest tensor of a typical event
 * network, is never written to memory or read back. Spikes and u_pre are [T, B, OH, OW, O]
 * (channels-last frames, N = B OH OW O neurons per step), as the separate scan lays them. */

static inline __attribute__((always_inline)) void SFX(event_lif_forward_samples)(
        const REAL *x, const struct event_geometry *g, const long *tables, const REAL *wt,
        const REAL *bias, REAL *spk, REAL *upre, long T, long b0, long b1, REAL *work,
        REAL beta, REAL theta, REAL k, REAL alpha, const int SMOOTH, const int SUBTRACT,
        const int KEEP) {
    const long M = g->OH * g->OW * g->O, N = g->B * M;
    REAL *cur = work, *u = work + M, *c = work + 2 * M;
    for (long b = b0; b < b1; b++) {
        for (long i = 0; i < M; i++) u[i] = c[i] = 0;
        for (long t = 0; t < T; t++) {
            SFX(event_forward_frame)(SFX(event_frame)(x, g, t * g->B + b), g, tables, wt, bias,
                                     cur);
            REAL *s_out = spk + t * N + b * M;
            SFX(forward_step)(cur, s_out, KEEP ? upre + t * N + b * M : s_out, u, c, M, beta,
                              theta, k, alpha, SMOOTH, SUBTRACT, KEEP);
        }
    }
}

/* Spikes (and u_pre, unless NULL) of samples [b0, b1). Returns 0, or -1 when the three
 * buffers of OH OW O values could not be allocated. */
int SFX(event_lif_forward)(const REAL *x, const long *shape, const long *xs, const REAL *wt,
                           const REAL *bias, const long *conv, REAL *spk, REAL *upre,
                           long b0, long b1, double beta, double theta, double k,
                           double alpha, int smooth, int subtract) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    REAL *work = malloc(3 * sizeof(REAL) * (size_t)(g.OH * g.OW * g.O));
    if (!work) return -1;
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = smooth ? flush_denormals() : 0;
#define SASTC_EFWD(S, R, P) SFX(event_lif_forward_samples)(x, &g, tables, wt, bias, spk, upre, \
    shape[0], b0, b1, work, B, H, K, A, S, R, P)
    if (upre) {
        if (smooth) { if (subtract) SASTC_EFWD(1, 1, 1); else SASTC_EFWD(1, 0, 1); }
        else { if (subtract) SASTC_EFWD(0, 1, 1); else SASTC_EFWD(0, 0, 1); }
    } else {
        if (smooth) { if (subtract) SASTC_EFWD(1, 1, 0); else SASTC_EFWD(1, 0, 0); }
        else { if (subtract) SASTC_EFWD(0, 1, 0); else SASTC_EFWD(0, 0, 0); }
    }
#undef SASTC_EFWD
    if (smooth) restore_denormals(fp_state);
    free(work);
    return 0;
}

static inline __attribute__((always_inline)) void SFX(event_lif_backward_samples)(
        const REAL *x, const struct event_geometry *g, const long *tables, const REAL *gs,
        const REAL *upre, const REAL *spk, REAL *dwt, REAL *db, long T, long b0, long b1,
        REAL *work, REAL beta, REAL theta, REAL k, REAL alpha, const int SMOOTH,
        const int SUBTRACT) {
    const long M = g->OH * g->OW * g->O, N = g->B * M;
    REAL *gcur = work, *carry_u = work + M, *carry_c = work + 2 * M;
    for (long b = b0; b < b1; b++) {
        for (long i = 0; i < M; i++) carry_u[i] = carry_c[i] = 0;
        for (long t = T - 1; t >= 0; t--) {
            const long at = t * N + b * M;
            SFX(backward_step)(gs + at, upre + at, SMOOTH ? spk + at : upre + at, gcur,
                               carry_u, carry_c, M, beta, theta, k, alpha, SMOOTH, SUBTRACT);
            SFX(event_weight_grad_frame)(SFX(event_frame)(x, g, t * g->B + b), g, tables,
                                         gcur, dwt, db);
        }
    }
}

/* Adds samples [b0, b1)'s weight gradient to dwt [C, KH, KW, O] and bias gradient to db [O]
 * from dL/ds, u_pre and (surrogate forward) s. (Running each sample's forward again into a
 * cache-sized buffer instead of keeping u_pre was measured 1.15x slower per training step.)
 * Returns 0, or -1 as the forward. */
int SFX(event_lif_backward)(const REAL *x, const long *shape, const long *xs, const REAL *gs,
                            const REAL *upre, const REAL *spk, REAL *dwt, REAL *db,
                            const long *conv, long b0, long b1, double beta, double theta,
                            double k, double alpha, int smooth, int subtract) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    REAL *work = malloc(3 * sizeof(REAL) * (size_t)(g.OH * g.OW * g.O));
    if (!work) return -1;
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = flush_denormals();
#define SASTC_EBWD(S, R) SFX(event_lif_backward_samples)(x, &g, tables, gs, upre, spk, dwt, db, \
    shape[0], b0, b1, work, B, H, K, A, S, R)
    if (smooth) { if (subtract) SASTC_EBWD(1, 1); else SASTC_EBWD(1, 0); }
    else { if (subtract) SASTC_EBWD(0, 1); else SASTC_EBWD(0, 0); }
#undef SASTC_EBWD
    restore_denormals(fp_state);
    free(work);
    return 0;
}

#ifdef _OPENMP
/* The same over all B samples on `threads` threads; thread i adds its gradients into slot
 * dwt + i C KH KW O, db + i O. Returns -1 if any thread could not allocate. */
int SFX(event_lif_forward_par)(const REAL *x, const long *shape, const long *xs,
                               const REAL *wt, const REAL *bias, const long *conv, REAL *spk,
                               REAL *upre, long threads, long align, double beta,
                               double theta, double k, double alpha, int smooth,
                               int subtract) {
    int status = 0;
    SASTC_PARALLEL(threads, shape[1], align, {
        if (SFX(event_lif_forward)(x, shape, xs, wt, bias, conv, spk, upre, n0, n1, beta,
                                   theta, k, alpha, smooth, subtract))
            __atomic_store_n(&status, -1, __ATOMIC_RELAXED);
    })
    return status;
}

int SFX(event_lif_backward_par)(const REAL *x, const long *shape, const long *xs,
                                const REAL *gs, const REAL *upre, const REAL *spk, REAL *dwt,
                                REAL *db, const long *conv, long threads, long align,
                                double beta, double theta, double k, double alpha,
                                int smooth, int subtract) {
    const long size = shape[2] * conv[1] * conv[2] * conv[0];
    int status = 0;
    SASTC_PARALLEL(threads, shape[1], align, {
        const long slot = omp_get_thread_num();
        if (SFX(event_lif_backward)(x, shape, xs, gs, upre, spk, dwt + slot * size,
                                    db + slot * conv[0], conv, n0, n1, beta, theta, k, alpha,
                                    smooth, subtract))
            __atomic_store_n(&status, -1, __ATOMIC_RELAXED);
    })
    return status;
}
#endif
