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
 * (channels-last frames, N = B OH OW O neurons per step), as the separate scan lays them.
 *
 * With pool = conv[9] > 1 the layer's spikes go through the sum pooling of the next layer
 * (pool x pool windows, stride pool, the bottom and right rows that do not fill a window
 * dropped, as avg_pool2d times pool^2): only the pooled spikes [T, B, OH/pool, OW/pool, O]
 * are written, and the backward reads their gradient, spreads it over each window and
 * recomputes the surrogate spikes from u_pre, so the full-size spikes and their gradient
 * never go to memory either. */

/* pooled [OH/k, OW/k, O] of one frame's spikes s [OH, OW, O]: sums over k x k windows. */
static inline void SFX(pool_frame)(const REAL *restrict s, REAL *restrict pooled,
                                   const struct event_geometry *g, long k) {
    const long O = g->O, PH = g->OH / k, PW = g->OW / k;
    for (long py = 0; py < PH; py++)
        for (long px = 0; px < PW; px++) {
            REAL *restrict out = pooled + (py * PW + px) * O;
            for (long i = 0; i < O; i++) out[i] = 0;
            for (long dy = 0; dy < k; dy++)
                for (long dx = 0; dx < k; dx++) {
                    const REAL *restrict in = s + ((py * k + dy) * g->OW + px * k + dx) * O;
                    for (long i = 0; i < O; i++) out[i] += in[i];
                }
        }
}

/* dL/ds [OH, OW, O] of one frame from the pooled gradient [OH/k, OW/k, O]: each window's
 * value for its k x k spikes, zero for the dropped rows and columns. */
static inline void SFX(unpool_frame)(const REAL *restrict gp, REAL *restrict gs,
                                     const struct event_geometry *g, long k) {
    const long O = g->O, PH = g->OH / k, PW = g->OW / k;
    for (long y = 0; y < g->OH; y++)
        for (long x = 0; x < g->OW; x++) {
            REAL *restrict out = gs + (y * g->OW + x) * O;
            const int inside = y / k < PH && x / k < PW;
            const REAL *restrict in = gp + ((y / k) * PW + x / k) * O;
            for (long i = 0; i < O; i++) out[i] = inside ? in[i] : 0;
        }
}

static inline __attribute__((always_inline)) void SFX(event_lif_forward_samples)(
        const REAL *x, const struct event_geometry *g, const long *tables, const REAL *wt,
        const REAL *bias, REAL *spk, REAL *upre, long T, long b0, long b1, REAL *work,
        REAL beta, REAL theta, REAL k, REAL alpha, long pool, const int SMOOTH,
        const int SUBTRACT, const int KEEP) {
    const long M = g->OH * g->OW * g->O, N = g->B * M;
    const long MP = pool > 1 ? (g->OH / pool) * (g->OW / pool) * g->O : M, NP = g->B * MP;
    REAL *cur = work, *u = work + M, *c = work + 2 * M, *frame = work + 3 * M;
    for (long b = b0; b < b1; b++) {
        for (long i = 0; i < M; i++) u[i] = c[i] = 0;
        for (long t = 0; t < T; t++) {
            SFX(event_forward_frame)(SFX(event_frame)(x, g, t * g->B + b), g, tables, wt, bias,
                                     cur);
            REAL *s_out = pool > 1 ? frame : spk + t * N + b * M;
            SFX(forward_step)(cur, s_out, KEEP ? upre + t * N + b * M : s_out, u, c, M, beta,
                              theta, k, alpha, SMOOTH, SUBTRACT, KEEP);
            if (pool > 1) SFX(pool_frame)(frame, spk + t * NP + b * MP, g, pool);
        }
    }
}

/* Spikes, pooled where conv[9] > 1 (and u_pre, unless NULL) of samples [b0, b1). Returns
 * 0, or -1 when the four buffers of OH OW O values could not be allocated. */
int SFX(event_lif_forward)(const REAL *x, const long *shape, const long *xs, const REAL *wt,
                           const REAL *bias, const long *conv, REAL *spk, REAL *upre,
                           long b0, long b1, double beta, double theta, double k,
                           double alpha, int smooth, int subtract) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    REAL *work = malloc(4 * sizeof(REAL) * (size_t)(g.OH * g.OW * g.O));
    if (!work) return -1;
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = smooth ? flush_denormals() : 0;
#define SASTC_EFWD(S, R, P) SFX(event_lif_forward_samples)(x, gp_, tables, wt, bias, spk, upre, \
    shape[0], b0, b1, work, B, H, K, A, conv[9], S, R, P)
    SASTC_SPECIALISED(g, SASTC_BY_RULE_KEEP(SASTC_EFWD, smooth, subtract, upre))
#undef SASTC_EFWD
    if (smooth) restore_denormals(fp_state);
    free(work);
    return 0;
}

static inline __attribute__((always_inline)) void SFX(event_lif_backward_samples)(
        const REAL *x, const struct event_geometry *g, const long *tables, const REAL *gs,
        const REAL *upre, const REAL *spk, REAL *dwt, REAL *db, long T, long b0, long b1,
        REAL *work, REAL beta, REAL theta, REAL k, REAL alpha, long pool, const int SMOOTH,
        const int SUBTRACT) {
    const long M = g->OH * g->OW * g->O, N = g->B * M;
    const long MP = pool > 1 ? (g->OH / pool) * (g->OW / pool) * g->O : M, NP = g->B * MP;
    REAL *gcur = work, *carry_u = work + M, *carry_c = work + 2 * M;
    REAL *g_frame = work + 3 * M, *s_frame = work + 4 * M;
    for (long b = b0; b < b1; b++) {
        for (long i = 0; i < M; i++) carry_u[i] = carry_c[i] = 0;
        for (long t = T - 1; t >= 0; t--) {
            const long at = t * N + b * M;
            const REAL *g_s = gs + at, *s = SMOOTH ? spk + at : upre + at;
            if (pool > 1) {  /* the spikes were pooled: spread dL/ds, recompute sigmoids */
                SFX(unpool_frame)(gs + t * NP + b * MP, g_frame, g, pool);
                g_s = g_frame;
                if (SMOOTH) {
                    EXP_BOUNDS;
                    const REAL *restrict p = upre + at;
                    for (long i = 0; i < M; i++)
                        s_frame[i] = 1 / (1 + EXP(-((p[i] - theta) * k)));
                    s = s_frame;
                }
            }
            SFX(backward_step)(g_s, upre + at, s, gcur, carry_u, carry_c, M, beta, theta, k,
                               alpha, SMOOTH, SUBTRACT);
            SFX(event_weight_grad_frame)(SFX(event_frame)(x, g, t * g->B + b), g, tables,
                                         gcur, dwt, db);
        }
    }
}

/* Adds samples [b0, b1)'s weight gradient to dwt [C, KH, KW, O] and bias gradient to db [O]
 * from dL/ds (of the pooled spikes where conv[9] > 1), u_pre and (surrogate forward, not
 * pooled) s. (Running each sample's forward again into a
 * cache-sized buffer instead of keeping u_pre was measured 1.15x slower per training step.)
 * Returns 0, or -1 as the forward. */
int SFX(event_lif_backward)(const REAL *x, const long *shape, const long *xs, const REAL *gs,
                            const REAL *upre, const REAL *spk, REAL *dwt, REAL *db,
                            const long *conv, long b0, long b1, double beta, double theta,
                            double k, double alpha, int smooth, int subtract) {
    const struct event_geometry g = event_geometry(shape, xs, conv);
    long tables[2 * (g.H + g.W)];
    event_tap_tables(&g, conv, tables);
    REAL *work = malloc(5 * sizeof(REAL) * (size_t)(g.OH * g.OW * g.O));
    if (!work) return -1;
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = flush_denormals();
#define SASTC_EBWD(S, R) SFX(event_lif_backward_samples)(x, gp_, tables, gs, upre, spk, dwt, db, \
    shape[0], b0, b1, work, B, H, K, A, conv[9], S, R)
    SASTC_SPECIALISED(g, SASTC_BY_RULE(SASTC_EBWD, smooth, subtract))
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
