/* vec16.h - sixteen floats as one value, in GCC's vector extension.
 *
 * For loops that GCC will not vectorise well on its own (attention, SiLU):
 * the same source compiles to one ZMM, two YMM or four XMM registers per
 * value, so a function built with target_clones gets a real AVX-512, AVX2
 * and baseline body from one text, without per-ISA intrinsics.
 *
 * qr_v16_exp is accurate to 1 ulp over the whole float range (checked
 * against double exp in tests/test-vec16.c), subnormal results, 0 below
 * -104, +inf above ln(FLT_MAX), NaN kept: close enough to expf that scores
 * stay within the exact mode's 1e-4 of the float64 reference, and about ten
 * times faster than a call to expf per value. */
#ifndef QRANK_VEC16_H
#define QRANK_VEC16_H

#include <stdint.h>

/* GCC warns, here and where these are called, that passing 64-byte vectors
 * by value differs between AVX-512 and other builds. No such value crosses a
 * real call: every function is always inlined into a caller built for one
 * target. So the warning is off for any file that includes this one. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float qr_v16 __attribute__((vector_size(64)));
typedef int32_t qr_v16i __attribute__((vector_size(64)));
/* The same, for loads and stores at any float-aligned address. */
typedef float qr_v16u __attribute__((vector_size(64), aligned(4)));

#define QR_V16_INLINE static inline __attribute__((always_inline))

QR_V16_INLINE qr_v16 qr_v16_splat(float f) {
    return (qr_v16){f, f, f, f, f, f, f, f, f, f, f, f, f, f, f, f};
}

QR_V16_INLINE qr_v16 qr_v16_load(const float *p) { return (qr_v16) * (const qr_v16u *)p; }
QR_V16_INLINE void qr_v16_store(float *p, qr_v16 v) { *(qr_v16u *)p = v; }

/* mask ? a : b, mask lanes all ones or all zeros (a vector comparison) */
QR_V16_INLINE qr_v16 qr_v16_select(qr_v16i mask, qr_v16 a, qr_v16 b) {
    return (qr_v16)((mask & (qr_v16i)a) | (~mask & (qr_v16i)b));
}

QR_V16_INLINE qr_v16 qr_v16_max(qr_v16 a, qr_v16 b) { return qr_v16_select(a > b, a, b); }

QR_V16_INLINE float qr_v16_hmax(qr_v16 v) {
    float m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* e^x: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is exact),
 * e^r by Cephes' expf polynomial, then 2^n in two factors so that results
 * down in the subnormals and n = 128 need no special case. */
QR_V16_INLINE qr_v16 qr_v16_exp(qr_v16 x) {
    const qr_v16 hi = qr_v16_splat(88.72283935546875f), lo = qr_v16_splat(-103.972076416f);
    const qr_v16i over = x > hi, under = x < lo, nan = x != x;
    x = qr_v16_select(over, hi, qr_v16_select(under, lo, x));
    const qr_v16 magic = qr_v16_splat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const qr_v16 t = x * qr_v16_splat(1.44269504088896341f) + magic;
    const qr_v16 n = t - magic;
    qr_v16 r = x - n * qr_v16_splat(0.693359375f);
    r = r - n * qr_v16_splat(-2.12194440e-4f);
    qr_v16 p = qr_v16_splat(1.9875691500e-4f);
    p = p * r + qr_v16_splat(1.3981999507e-3f);
    p = p * r + qr_v16_splat(8.3334519073e-3f);
    p = p * r + qr_v16_splat(4.1665795894e-2f);
    p = p * r + qr_v16_splat(1.6666665459e-1f);
    p = p * r + qr_v16_splat(5.0000001201e-1f);
    p = p * r * r + r + qr_v16_splat(1.0f);
    const qr_v16i ni = (qr_v16i)t - (qr_v16i)magic; /* n, from t's low mantissa bits */
    const qr_v16i n1 = ni / 2, n2 = ni - n1;
    qr_v16 res = p * (qr_v16)((n1 + 127) << 23) * (qr_v16)((n2 + 127) << 23);
    res = qr_v16_select(under, qr_v16_splat(0.0f), res);
    res = qr_v16_select(over, qr_v16_splat(__builtin_inff()), res);
    return qr_v16_select(nan, x + x, res);
}

#endif
