/* The fused LIF-family scan of sastc/train/scan/rule.py over [T, N], forward and backward,
 * in float (training) and double (tests). Built by sastc/train/scan/cpu_kernel.py with
 * -O3 -ffp-contract=off: no fused multiply-add anywhere, so u_pre = beta u + c rounds twice
 * as in the reference scan and snnTorch, and hard spikes agree with them bit for bit. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef BLOCK
#define BLOCK 512 /* neurons per block: their state (2 x 2 KiB in float) stays in L1 */
#endif

/* exp(x) in float with plain arithmetic, so that the loops calling it vectorise (libm's
 * expf would not, without -ffast-math). Cephes' expf: x = n ln2 + r with n = round(x / ln2)
 * and |r| <= ln2 / 2, e^r by its degree-7 polynomial, times 2^n built in the exponent bits;
 * within 2 ulp of e^x. x is clamped to [-87, 88] so that 2^n stays a normal float: the
 * sigmoid 1 / (1 + e^-z) this feeds is then 1 for z > 87 (exactly, in float) and
 * 6e-39 instead of 0 for z < -88. */
static inline float exp_f32(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = (p * (r * r) + r) + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

#define REAL float
#define SFX(name) name##_f32
#define EXP exp_f32
#include "lif_scan_body.h"
#undef REAL
#undef SFX
#undef EXP

#define REAL double
#define SFX(name) name##_f64
#define EXP exp
#include "lif_scan_body.h"
#undef REAL
#undef SFX
#undef EXP
