/* The fused scan for one floating type; lif_scan.c includes this once per type with
 * REAL (the type), SFX(name) (the exported name's suffix) and EXP (its exp) defined.
 *
 * Memory is [T, N] (time-major, neuron n of step t at t * N + n). Neurons are walked in
 * blocks of BLOCK whose state (u, c or the backward carries) stays in cache while the loop
 * runs over all T steps; the inner loop over a block's neurons is what the compiler
 * vectorises. Each thread gets its own range [n0, n1) of neurons. */

#define BLOCK ((long)(BLOCK_BYTES / sizeof(REAL)))

/* One time step of m neurons: state u (and c) updated in place from input x; spikes to
 * s_out and, if KEEP, u_pre to p_out. */
static inline __attribute__((always_inline)) void SFX(forward_step)(
        const REAL *restrict x, REAL *restrict s_out, REAL *restrict p_out, REAL *restrict u,
        REAL *restrict c, long m, REAL beta, REAL theta, REAL k, REAL alpha,
        const int SMOOTH, const int SUBTRACT, const int KEEP) {
    EXP_BOUNDS;
    for (long i = 0; i < m; i++) {
        const REAL ci = alpha * c[i] + x[i];
        const REAL bu = beta * u[i];
        const REAL up = bu + ci; /* two roundings: built with -ffp-contract=off */
        const REAL s = SMOOTH ? 1 / (1 + EXP(-((up - theta) * k)))
                              : (up > theta ? (REAL)1 : (REAL)0);
        u[i] = SUBTRACT ? up - theta * s : up * (1 - s);
        c[i] = ci;
        s_out[i] = s;
        if (KEEP) p_out[i] = up;
    }
}

/* Forward over neurons [n0, n1): spikes s[t], and u_pre[t] unless KEEP is 0. */
static inline __attribute__((always_inline)) void SFX(forward_range)(
        const REAL *restrict cur, REAL *restrict spk, REAL *restrict upre, long T, long N,
        long n0, long n1, REAL beta, REAL theta, REAL k, REAL alpha,
        const int SMOOTH, const int SUBTRACT, const int KEEP) {
    REAL u[BLOCK], c[BLOCK];
    for (long b = n0; b < n1; b += BLOCK) {
        const long m = n1 - b < BLOCK ? n1 - b : BLOCK;
        for (long i = 0; i < m; i++) u[i] = c[i] = 0;
        for (long t = 0; t < T; t++)
            SFX(forward_step)(cur + t * N + b, spk + t * N + b,
                              KEEP ? upre + t * N + b : spk + t * N + b, u, c, m, beta, theta,
                              k, alpha, SMOOTH, SUBTRACT, KEEP);
    }
}

/* One backward step of m neurons: dL/dI to out from dL/ds (g), u_pre (p) and, for the
 * surrogate forward, s; the carries a = dL/du, b = dL/dc of the later steps in place. */
static inline __attribute__((always_inline)) void SFX(backward_step)(
        const REAL *restrict g, const REAL *restrict p, const REAL *restrict s,
        REAL *restrict out, REAL *restrict carry_u, REAL *restrict carry_c, long m,
        REAL beta, REAL theta, REAL k, REAL alpha, const int SMOOTH, const int SUBTRACT) {
    EXP_BOUNDS;
    for (long i = 0; i < m; i++) {
        /* a step spike is recomputed from u_pre (the forward's own comparison) */
        const REAL si = SMOOTH ? s[i] : (p[i] > theta ? (REAL)1 : (REAL)0);
        const REAL sig = SMOOTH ? si : 1 / (1 + EXP(-((p[i] - theta) * k)));
        const REAL slope = (sig - sig * sig) * k;
        const REAL keep = SUBTRACT ? 1 - theta * slope : (1 - si) - p[i] * slope;
        const REAL d = g[i] * slope + carry_u[i] * keep;
        const REAL grad = d + carry_c[i];
        carry_u[i] = beta * d;
        carry_c[i] = alpha * grad;
        out[i] = grad;
    }
}

/* Backward over neurons [n0, n1): dL/dI[t] from dL/ds[t], u_pre[t] and (SMOOTH only) s[t],
 * for t = T-1 .. 0. */
static inline __attribute__((always_inline)) void SFX(backward_range)(
        const REAL *restrict gs, const REAL *restrict upre, const REAL *restrict spk,
        REAL *restrict gcur, long T, long N, long n0, long n1, REAL beta, REAL theta, REAL k,
        REAL alpha, const int SMOOTH, const int SUBTRACT) {
    REAL carry_u[BLOCK], carry_c[BLOCK];
    for (long b = n0; b < n1; b += BLOCK) {
        const long m = n1 - b < BLOCK ? n1 - b : BLOCK;
        for (long i = 0; i < m; i++) carry_u[i] = carry_c[i] = 0;
        for (long t = T - 1; t >= 0; t--)
            SFX(backward_step)(gs + t * N + b, upre + t * N + b,
                               SMOOTH ? spk + t * N + b : upre + t * N + b, gcur + t * N + b,
                               carry_u, carry_c, m, beta, theta, k, alpha, SMOOTH, SUBTRACT);
    }
}

/* Exported: smooth = surrogate forward (else a step), subtract = reset by subtraction (else
 * to zero); upre may be NULL when the backward pass will not run, spk in the backward
 * when the forward was a step. */
void SFX(lif_forward)(const REAL *cur, REAL *spk, REAL *upre, long T, long N, long n0,
                      long n1, double beta, double theta, double k, double alpha, int smooth,
                      int subtract) {
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = smooth ? flush_denormals() : 0;
#define SASTC_FWD(S, R, P) SFX(forward_range)(cur, spk, upre, T, N, n0, n1, B, H, K, A, S, R, P)
    SASTC_BY_RULE_KEEP(SASTC_FWD, smooth, subtract, upre);
#undef SASTC_FWD
    if (smooth) restore_denormals(fp_state);
}

void SFX(lif_backward)(const REAL *gs, const REAL *upre, const REAL *spk, REAL *gcur, long T,
                       long N, long n0, long n1, double beta, double theta, double k,
                       double alpha, int smooth, int subtract) {
    const REAL B = (REAL)beta, H = (REAL)theta, K = (REAL)k, A = (REAL)alpha;
    const unsigned fp_state = flush_denormals();
#define SASTC_BWD(S, R) SFX(backward_range)(gs, upre, spk, gcur, T, N, n0, n1, B, H, K, A, S, R)
    SASTC_BY_RULE(SASTC_BWD, smooth, subtract);
#undef SASTC_BWD
    restore_denormals(fp_state);
}



#ifdef _OPENMP
/* The same over [0, N) on `threads` threads of the OpenMP team (blocks of `align`). */
void SFX(lif_forward_par)(const REAL *cur, REAL *spk, REAL *upre, long T, long N,
                          long threads, long align, double beta, double theta, double k,
                          double alpha, int smooth, int subtract) {
    SASTC_PARALLEL(threads, N, align, SFX(lif_forward)(cur, spk, upre, T, N, n0, n1, beta,
                                                       theta, k, alpha, smooth, subtract))
}

void SFX(lif_backward_par)(const REAL *gs, const REAL *upre, const REAL *spk, REAL *gcur,
                           long T, long N, long threads, long align, double beta,
                           double theta, double k, double alpha, int smooth, int subtract) {
    SASTC_PARALLEL(threads, N, align, SFX(lif_backward)(gs, upre, spk, gcur, T, N, n0, n1,
                                                        beta, theta, k, alpha, smooth,
                                                        subtract))
}
#endif
#undef BLOCK
