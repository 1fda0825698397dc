/* vec.h - QR_VEC_W floats (16 unless the including file says otherwise)
 * as one value, in GCC's vector extension.
 *
 * For loops that GCC will not vectorise well on its own (attention, SiLU),
 * written once for any width. A file includes this with the width its ISA
 * keeps in one register: 16 for AVX-512 (one ZMM), 8 for AVX2 (one YMM), 4
 * for the x86-64 baseline (one XMM); vec_avx512.c, vec_avx2.c and
 * vec_generic.c build the shared bodies that way. A width wider than the
 * registers compiles, but GCC 12 then keeps every vector carried through a
 * loop in memory and compares lane by lane in scalar code: the f32
 * attention built at 16 lanes for AVX2 ran about 70x slower than for
 * AVX-512 (bench-attention -t 1 -n 2048: 9,637 against 144 ms).
 *
 * qr_vf_exp is accurate to 1 ulp over the whole float range (checked
 * against double exp in tests/test-vec.c), subnormal results, 0 below
 * -104, +inf above ln(FLT_MAX), NaN kept: close enough to expf that scores
 * stay within the exact mode's 1e-4 of the float64 reference, and about ten
 * times faster than a call to expf per value. */
#ifndef QRANK_VEC_H
#define QRANK_VEC_H

#include <stdint.h>

#ifndef QR_VEC_W
#define QR_VEC_W 16
#endif

typedef float qr_vf __attribute__((vector_size(QR_VEC_W * 4)));
typedef int32_t qr_vi __attribute__((vector_size(QR_VEC_W * 4)));
/* The same, for loads and stores at any float-aligned address. */
typedef float qr_vfu __attribute__((vector_size(QR_VEC_W * 4), aligned(4)));

/* f in every lane, and each lane's index (as floats). Spelled out per
 * width: 0 + f would cost an add, since x + 0 is not x for x = -0. */
#if QR_VEC_W == 16
#define QR_VF_SPLAT(f) ((qr_vf){(f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f), (f)})
#define QR_VF_IOTA ((qr_vf){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
#elif QR_VEC_W == 8
#define QR_VF_SPLAT(f) ((qr_vf){(f), (f), (f), (f), (f), (f), (f), (f)})
#define QR_VF_IOTA ((qr_vf){0, 1, 2, 3, 4, 5, 6, 7})
#elif QR_VEC_W == 4
#define QR_VF_SPLAT(f) ((qr_vf){(f), (f), (f), (f)})
#define QR_VF_IOTA ((qr_vf){0, 1, 2, 3})
#else
#error "QR_VEC_W must be 16, 8 or 4"
#endif

/* A function's name for the width's build: QR_VEC_FN(qr_silu_mul_range)
 * is qr_silu_mul_range_avx2 where the including file defines QR_VEC_SUFFIX
 * as avx2. */
#define QR_VEC_CAT2(a, b) a##_##b
#define QR_VEC_CAT(a, b) QR_VEC_CAT2(a, b)
#define QR_VEC_FN(name) QR_VEC_CAT(name, QR_VEC_SUFFIX)

/* Helpers are macros, and qr_vf_exp works in place through a pointer: a
 * vector wider than the ISA's registers passed or returned by value is a
 * different ABI (the baseline-built tests use 16 lanes), which clang
 * rejects and GCC warns about. */
#define QR_VF_LOAD(p) ((qr_vf)(*(const qr_vfu *)(p)))
#define QR_VF_STORE(p, v) (*(qr_vfu *)(p) = (v))
/* mask ? a : b, per lane; mask lanes are all ones or all zeros (a vector
 * comparison) */
#define QR_VF_SELECT(mask, a, b) ((qr_vf)(((mask) & (qr_vi)(a)) | (~(mask) & (qr_vi)(b))))
#define QR_VF_MAX(a, b) QR_VF_SELECT((a) > (b), (a), (b))

/* *v = e^*v: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is
 * exact), e^r by Cephes' expf polynomial, then 2^n in two factors so that
 * results down in the subnormals and n = 128 need no special case. */
static inline __attribute__((always_inline)) void qr_vf_exp(qr_vf *v) {
    qr_vf x = *v;
    const qr_vf hi = QR_VF_SPLAT(88.72283935546875f), lo = QR_VF_SPLAT(-103.972076416f);
    const qr_vi over = x > hi, under = x < lo, nan = x != x;
    x = QR_VF_SELECT(over, hi, QR_VF_SELECT(under, lo, x));
    const qr_vf magic = QR_VF_SPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const qr_vf t = x * 1.44269504088896341f + magic;
    const qr_vf n = t - magic;
    qr_vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    qr_vf p = QR_VF_SPLAT(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const qr_vi ni = (qr_vi)t - (qr_vi)magic; /* n, from t's low mantissa bits */
    const qr_vi n1 = ni / 2, n2 = ni - n1;
    qr_vf res = p * (qr_vf)((n1 + 127) << 23) * (qr_vf)((n2 + 127) << 23);
    res = QR_VF_SELECT(under, QR_VF_SPLAT(0.0f), res);
    res = QR_VF_SELECT(over, QR_VF_SPLAT(__builtin_inff()), res);
    *v = QR_VF_SELECT(nan, x + x, res);
}

/* *v = e^*v for *v <= 0, a softmax's scores less their max: within 3e-7
 * relative down to -86, 0 below (and at -inf), NaN kept, e^0 exactly 1.
 * Half qr_vf_exp's instructions, which attention spends a large part of
 * its vector time on (bench-attention, AMX, 4,096 tokens, 2 threads: 160 /
 * 167 / 177 -> 122 / 143 / 162 ms, alternated runs): nothing
 * overflows or goes subnormal here, so 2^n is added to the polynomial's
 * exponent as an integer, and the polynomial is one degree shorter, fitted
 * to e^r on |r| <= ln(2)/2 for relative error (tests/test-vec.c). The
 * probabilities are rounded to bf16 on the fast paths anyway. */
static inline __attribute__((always_inline)) void qr_vf_exp_nonpos(qr_vf *v) {
    const qr_vf x0 = *v, lo = QR_VF_SPLAT(-86.0f);
    const qr_vi tiny = x0 < lo;
    const qr_vf x = QR_VF_SELECT(tiny, lo, x0);
    const qr_vf magic = QR_VF_SPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const qr_vf t = x * 1.44269504088896341f + magic;
    const qr_vf n = t - magic;
    qr_vf r = x - n * 0.693359375f; /* ln 2 in two parts, so r is exact */
    r = r - n * -2.12194440e-4f;
    /* 1 + r (1 + r (c0 + r (c1 + r (c2 + r c3)))) */
    qr_vf p = r * 8.327878080308437e-3f + 4.188649356365204e-2f;
    p = p * r + 1.6666923463344574e-1f;
    p = p * r + 4.999924302101135e-1f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* t's low mantissa bits hold n: shifted up, n << 23 (the magic's own bits shift out) */
    const qr_vf res = (qr_vf)((qr_vi)p + ((qr_vi)t << 23));
    /* x - x: 0, or NaN for a NaN. (A second compare, x0 != x0, made GCC
     * compare lane by lane even in the AVX-512 body.) */
    *v = QR_VF_SELECT(tiny, QR_VF_SPLAT(0.0f), res) + (x - x);
}

#endif
