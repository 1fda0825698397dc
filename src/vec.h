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

typedef float qr_v16 __attribute__((vector_size(64)));
typedef int32_t qr_v16i __attribute__((vector_size(64)));
/* The same, for loads and stores at any float-aligned address. */
typedef float qr_v16u __attribute__((vector_size(64), aligned(4)));

/* Helpers are macros, and qr_v16_exp works in place through a pointer: a
 * 64-byte vector passed or returned by value is a different ABI with and
 * without AVX-512, which clang rejects (and GCC warns about) in the
 * target_clones bodies that use them. */
#define QR_V16_SPLAT(f) ((qr_v16){(f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f)})
#define QR_V16_LOAD(p) ((qr_v16)(*(const qr_v16u *)(p)))
#define QR_V16_STORE(p, v) (*(qr_v16u *)(p) = (v))
/* mask ? a : b, per lane; mask lanes are all ones or all zeros (a vector
 * comparison) */
#define QR_V16_SELECT(mask, a, b) ((qr_v16)(((mask) & (qr_v16i)(a)) | (~(mask) & (qr_v16i)(b))))
#define QR_V16_MAX(a, b) QR_V16_SELECT((a) > (b), (a), (b))

/* *v = e^*v: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is
 * exact), e^r by Cephes' expf polynomial, then 2^n in two factors so that
 * results down in the subnormals and n = 128 need no special case. */
static inline __attribute__((always_inline)) void qr_v16_exp(qr_v16 *v) {
    qr_v16 x = *v;
    const qr_v16 hi = QR_V16_SPLAT(88.72283935546875f), lo = QR_V16_SPLAT(-103.972076416f);
    const qr_v16i over = x > hi, under = x < lo, nan = x != x;
    x = QR_V16_SELECT(over, hi, QR_V16_SELECT(under, lo, x));
    const qr_v16 magic = QR_V16_SPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const qr_v16 t = x * 1.44269504088896341f + magic;
    const qr_v16 n = t - magic;
    qr_v16 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    qr_v16 p = QR_V16_SPLAT(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const qr_v16i ni = (qr_v16i)t - (qr_v16i)magic; /* n, from t's low mantissa bits */
    const qr_v16i n1 = ni / 2, n2 = ni - n1;
    qr_v16 res = p * (qr_v16)((n1 + 127) << 23) * (qr_v16)((n2 + 127) << 23);
    res = QR_V16_SELECT(under, QR_V16_SPLAT(0.0f), res);
    res = QR_V16_SELECT(over, QR_V16_SPLAT(__builtin_inff()), res);
    *v = QR_V16_SELECT(nan, x + x, res);
}

/* *v = e^*v for *v <= 0, a softmax's scores less their max: within 3e-7
 * relative down to -86, 0 below (and at -inf), NaN kept, e^0 exactly 1.
 * Half qr_v16_exp's instructions, which attention spends a large part of
 * its vector time on (bench-attention, AMX, 4,096 tokens, 2 threads: 160 /
 * 167 / 177 -> 122 / 143 / 162 ms, alternated runs): nothing
 * overflows or goes subnormal here, so 2^n is added to the polynomial's
 * exponent as an integer, and the polynomial is one degree shorter, fitted
 * to e^r on |r| <= ln(2)/2 for relative error (tests/test-vec16.c). The
 * probabilities are rounded to bf16 on the fast paths anyway. */
static inline __attribute__((always_inline)) void qr_v16_exp_nonpos(qr_v16 *v) {
    const qr_v16 x0 = *v, lo = QR_V16_SPLAT(-86.0f);
    const qr_v16i tiny = x0 < lo;
    const qr_v16 x = QR_V16_SELECT(tiny, lo, x0);
    const qr_v16 magic = QR_V16_SPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const qr_v16 t = x * 1.44269504088896341f + magic;
    const qr_v16 n = t - magic;
    qr_v16 r = x - n * 0.693359375f; /* ln 2 in two parts, so r is exact */
    r = r - n * -2.12194440e-4f;
    /* 1 + r (1 + r (c0 + r (c1 + r (c2 + r c3)))) */
    qr_v16 p = r * 8.327878080308437e-3f + 4.188649356365204e-2f;
    p = p * r + 1.6666923463344574e-1f;
    p = p * r + 4.999924302101135e-1f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* t's low mantissa bits hold n: shifted up, n << 23 (the magic's own bits shift out) */
    const qr_v16 res = (qr_v16)((qr_v16i)p + ((qr_v16i)t << 23));
    /* x - x: 0, or NaN for a NaN. (A second compare, x0 != x0, made GCC
     * compare lane by lane even in the AVX-512 body.) */
    *v = QR_V16_SELECT(tiny, QR_V16_SPLAT(0.0f), res) + (x - x);
}

#endif
