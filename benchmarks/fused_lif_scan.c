/* Fused LIF scan over [T, N] for benchmarks/fused_lif_probe.py (a probe, not part of sastc).
 * Forward: u_pre = I + beta u; s = sigmoid(k (u_pre - theta)) or [u_pre > theta]; u = u_pre - u_pre s.
 * Backward: the equations of sastc/train/lif.py, one pass from T-1 down to 0. */
#include <math.h>
#include <stddef.h>
#define BLOCK 256
static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }
void lif_forward(const float *cur, float *spk, float *upre, long T, long N, long n0, long n1,
                 float beta, float theta, float k, int smooth) {
    float u[BLOCK];
    for (long b = n0; b < n1; b += BLOCK) {
        long m = n1 - b < BLOCK ? n1 - b : BLOCK;
        for (long i = 0; i < m; i++) u[i] = 0.0f;
        for (long t = 0; t < T; t++) {
            const float *c = cur + t * N + b; float *s = spk + t * N + b; float *p = upre + t * N + b;
            if (smooth) {
                #pragma omp simd
                for (long i = 0; i < m; i++) {
                    float up = c[i] + beta * u[i];
                    float sv = sigm(k * (up - theta));
                    p[i] = up; s[i] = sv; u[i] = up - up * sv;
                }
            } else {
                #pragma omp simd
                for (long i = 0; i < m; i++) {
                    float up = c[i] + beta * u[i];
                    float sv = up > theta ? 1.0f : 0.0f;
                    p[i] = up; s[i] = sv; u[i] = up - up * sv;
                }
            }
        }
    }
}
void lif_backward(const float *gs, const float *upre, const float *spk, float *gcur, long T, long N,
                  long n0, long n1, float beta, float theta, float k, int smooth) {
    float carry[BLOCK];
    for (long b = n0; b < n1; b += BLOCK) {
        long m = n1 - b < BLOCK ? n1 - b : BLOCK;
        for (long i = 0; i < m; i++) carry[i] = 0.0f;
        for (long t = T - 1; t >= 0; t--) {
            const float *g = gs + t * N + b, *p = upre + t * N + b, *s = spk + t * N + b;
            float *out = gcur + t * N + b;
            #pragma omp simd
            for (long i = 0; i < m; i++) {
                float sig = smooth ? s[i] : sigm(k * (p[i] - theta));
                float slope = k * (sig - sig * sig);
                float keep = (1.0f - s[i]) - p[i] * slope;
                float grad = g[i] * slope + carry[i] * keep;
                out[i] = grad; carry[i] = grad * beta;
            }
        }
    }
}
