/* The fused LIF-family scan of sastc/train/scan/rule.py over [T, N], forward and backward,
 * in float (training) and double (tests). Built by sastc/train/scan/cpu_build.py with
 * -O3 -ffp-contract=off: the scan's arithmetic has no fused multiply-add, so
 * u_pre = beta u + c rounds twice as in the reference scan and snnTorch, and hard spikes
 * agree with theirs bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Neurons per block: two state arrays of 16 KiB each (4096 floats, 2048 doubles) stay in
 * L1/L2 and on any thread's stack; rows of 16 KiB keep the prefetchers streaming (measured:
 * 512 floats per block was up to 1.5x slower on the N-MNIST layers, 8192 no faster). */
#ifndef BLOCK_BYTES
#define BLOCK_BYTES 16384
#endif

/* exp(x) in float with plain arithmetic, so that the loops calling it vectorise (libm's
 * expf would not, without -ffast-math). Cephes' expf: x = n ln2 + r with n = round(x / ln2)
 * and |r| <= ln2 / 2, e^r by its degree-7 polynomial, times 2^n built in the exponent bits;
 * within 2 ulp of e^x. x is clamped to [-87, 88] so that 2^n stays a normal float: the
 * sigmoid 1 / (1 + e^-z) this feeds is then 1 for z > 87 (exactly, in float) and
 * 6e-39 instead of 0 for z < -88. */
/* The polynomial may fuse its multiply-adds where the CPU has them (a third faster
 * surrogate forward, measured); the scan's own arithmetic never does. */
#if defined(__FMA__) && !defined(SASTC_NO_FMA)
#define MADD(a, b, c) __builtin_fmaf(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif
/* A vector kept in a register (an empty asm statement that "changes" it), so that GCC does
 * not fold its load into every instruction that uses it; only where a 32-byte vector is
 * one register (AVX), else nothing. */
#if defined(__AVX__)
#define HOLD_VECTOR(v) __asm__("" : "+x"(v))
#else
#define HOLD_VECTOR(v) ((void)0)
#endif
/* The same for vectors of 8 floats (the input-gradient kernel's accumulations). */
#if defined(__FMA__) && !defined(SASTC_NO_FMA)
#define VMADD_F32(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
#define VMADD_F32(a, b, c) ((a) * (b) + (c))
#endif
static inline float exp_f32(float x, float lo, float hi) {
    x = x < lo ? lo : (x > hi ? hi : x);
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = MADD(n, 2.12194440e-4f, MADD(n, -0.693359375f, x));
    float p = 1.9875691500e-4f;
    p = MADD(p, r, 1.3981999507e-3f);
    p = MADD(p, r, 8.3334519073e-3f);
    p = MADD(p, r, 4.1665795894e-2f);
    p = MADD(p, r, 1.6666665459e-1f);
    p = MADD(p, r, 5.0000001201e-1f);
    const float y = MADD(p, r * r, r) + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* Denormal numbers flushed to zero (results and inputs) while a kernel that computes
 * sigmoids runs, restored afterwards: far below the threshold k sigma (1 - sigma) and its
 * products underflow, and denormal arithmetic made those steps 2x slower (measured).
 * This moves results by less than 1.2e-38 (float); the hard forward never flushes. */
#if defined(__SSE__)
#include <xmmintrin.h>
static inline unsigned flush_denormals(void) {
    const unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ | DAZ */
    return old;
}
static inline void restore_denormals(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned flush_denormals(void) { return 0; }
static inline void restore_denormals(unsigned old) { (void)old; }
#endif

/* Built with -fopenmp where the compiler's OpenMP runtime is the one torch loaded (GNU
 * libgomp; cpu_build.py checks), each kernel also has a `_par` entry that splits its range
 * over `threads` threads of torch's own team: the threads that just ran a convolution take
 * the scan at once instead of spinning beside a second pool. thread_range gives thread
 * `id` of `parts` its share of [0, n) in whole blocks of `align`. */
#ifdef _OPENMP
#include <omp.h>
static inline void thread_range(long n, long align, long *n0, long *n1) {
    const long parts = omp_get_num_threads(), id = omp_get_thread_num();
    const long blocks = (n + align - 1) / align;
    const long a = (id * blocks + parts - 1) / parts * align;
    const long b = ((id + 1) * blocks + parts - 1) / parts * align;
    *n0 = a < n ? a : n;
    *n1 = b < n ? b : n;
}
#define SASTC_PARALLEL(threads, n, align, CALL)                                    \
    _Pragma("omp parallel num_threads(threads)") {                                  \
        long n0, n1;                                                                \
        thread_range(n, align, &n0, &n1);                                           \
        if (n1 > n0) { CALL; }                                                      \
    }
#endif

/* CALL(S, R) with the surrogate forward (smooth) and the reset by subtraction (subtract) as
 * constants, and CALL(S, R, P) with also the u_pre output (keep): each combination compiles
 * to its own loop, with no test inside it. */
#define SASTC_BY_RULE(CALL, smooth, subtract)                                       \
    do {                                                                            \
        if (smooth) { if (subtract) CALL(1, 1); else CALL(1, 0); }                  \
        else { if (subtract) CALL(0, 1); else CALL(0, 0); }                         \
    } while (0)
#define SASTC_BY_RULE_KEEP(CALL, smooth, subtract, keep)                            \
    do {                                                                            \
        if (keep) {                                                                 \
            if (smooth) { if (subtract) CALL(1, 1, 1); else CALL(1, 0, 1); }        \
            else { if (subtract) CALL(0, 1, 1); else CALL(0, 0, 1); }               \
        } else {                                                                    \
            if (smooth) { if (subtract) CALL(1, 1, 0); else CALL(1, 0, 0); }        \
            else { if (subtract) CALL(0, 1, 0); else CALL(0, 0, 0); }               \
        }                                                                           \
    } while (0)

/* Bit j set where p[j] != 0, for j < 8 (one vector compare where AVX is there). */
#if defined(__AVX__)
#include <immintrin.h>
static inline unsigned nonzero8_f32(const float *p) {
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(),
                                                      _CMP_NEQ_UQ));
}
static inline unsigned nonzero8_f64(const double *p) {
    const __m256d zero = _mm256_setzero_pd();
    return (unsigned)(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), zero, _CMP_NEQ_UQ))
                      | _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p + 4), zero,
                                                         _CMP_NEQ_UQ)) << 4);
}
#else
static inline unsigned nonzero8_f32(const float *p) {
    unsigned mask = 0;
    for (int j = 0; j < 8; j++) mask |= (unsigned)(p[j] != 0) << j;
    return mask;
}
static inline unsigned nonzero8_f64(const double *p) {
    unsigned mask = 0;
    for (int j = 0; j < 8; j++) mask |= (unsigned)(p[j] != 0) << j;
    return mask;
}
#endif

/* The clamp's bounds pass through an empty asm statement once per loop: as constants, GCC
 * folded the two clamped cases through the whole polynomial and blended three results per
 * vector (nine blends), where two min/max instructions do. */
#define REAL float
#define SFX(name) name##_f32
#define SPECIALISE 1
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) /* "x": an FP register */
#define EXP_BOUNDS float exp_lo_ = -87.0f, exp_hi_ = 88.0f; __asm__("" : "+x"(exp_lo_), "+x"(exp_hi_))
#else
#define EXP_BOUNDS const float exp_lo_ = -87.0f, exp_hi_ = 88.0f
#endif
#define EXP(x) exp_f32(x, exp_lo_, exp_hi_)
#define MAC(a, b, acc) MADD(a, b, acc)
#define VMAC(a, b, acc) VMADD_F32(a, b, acc)
#include "lif_scan_body.h"
#include "event_conv_body.h"
#include "event_lif_body.h"
#include "conv_grad_body.h"
#undef REAL
#undef SFX
#undef EXP
#undef EXP_BOUNDS
#undef SPECIALISE
#undef MAC
#undef VMAC

#define REAL double
#define SFX(name) name##_f64
#define SPECIALISE 0 /* doubles are for tests: no second copy of the bodies */
#define EXP_BOUNDS do { } while (0)
#define EXP(x) exp(x)
#define MAC(a, b, acc) ((acc) + (a) * (b))
#define VMAC(a, b, acc) ((acc) + (a) * (b))
#include "lif_scan_body.h"
#include "event_conv_body.h"
#include "event_lif_body.h"
#include "conv_grad_body.h"
#undef REAL
#undef SFX
#undef EXP
#undef EXP_BOUNDS
#undef SPECIALISE
#undef MAC
#undef VMAC
