/* avx512_shared.h - what the AVX-512 kernel files (avx512.c, avx512_amx.c)
 * and attention_avx512_amx.c use: the dword transpose that lays out rows
 * for kernels giving each lane its own output row (q8_0x16, and the AMX B
 * tiles of BF16 weights and of attention's keys), the sixteen-way
 * reduction, the f32 -> bf16 conversions of the bf16 attention paths, and
 * the store mask of a group of 16 outputs. Only for files
 * built with the AVX-512 flags. */
#ifndef QRANK_KERNELS_AVX512_SHARED_H
#define QRANK_KERNELS_AVX512_SHARED_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* 16 rows of 32 bytes -> out[k] = dword k of every row, one per lane. Row
 * i + 4m starts at p[i] + m * s4: four pointers and two strides address all
 * sixteen, so nothing spills. */
static inline __attribute__((always_inline)) void transpose_16x8_dwords(const uint8_t *const p[4], size_t s4,
                                                                        __m512i out[8]) {
    __m512i z[8];
    for (int i = 0; i < 4; i++) {
        /* rows i and i+4 (and 8+i, 12+i) share a register so that the last
         * step is a single vshufi32x4 per output */
        z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[i])),
                                  _mm256_loadu_si256((const __m256i *)(p[i] + s4)), 1);
        z[i + 4] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p[i] + 2 * s4))),
                                      _mm256_loadu_si256((const __m256i *)(p[i] + 3 * s4)), 1);
    }
    __m512i t[8], u[8];
    for (int h = 0; h < 2; h++) {
        __m512i *zz = z + 4 * h, *tt = t + 4 * h, *uu = u + 4 * h;
        tt[0] = _mm512_unpacklo_epi32(zz[0], zz[1]);
        tt[1] = _mm512_unpackhi_epi32(zz[0], zz[1]);
        tt[2] = _mm512_unpacklo_epi32(zz[2], zz[3]);
        tt[3] = _mm512_unpackhi_epi32(zz[2], zz[3]);
        uu[0] = _mm512_unpacklo_epi64(tt[0], tt[2]); /* dwords 0 and 4 */
        uu[1] = _mm512_unpackhi_epi64(tt[0], tt[2]); /* 1 and 5 */
        uu[2] = _mm512_unpacklo_epi64(tt[1], tt[3]); /* 2 and 6 */
        uu[3] = _mm512_unpackhi_epi64(tt[1], tt[3]); /* 3 and 7 */
    }
    /* u[j] lanes: rows 0-3 (dword j), rows 0-3 (j+4), rows 4-7 (j), rows 4-7 (j+4);
     * u[4+j] the same for rows 8-15. */
    for (int j = 0; j < 4; j++) {
        out[j] = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        out[j + 4] = _mm512_shuffle_i32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* Lane b = the reduction of the lanes of v[b], for all sixteen at once: the
 * float maximum, the int32 sum or the float sum (the quantiser's block
 * maxima and sums in avx512.c; attention's row maxima and sums in
 * attention_avx512_amx.c). A transposing tree of 15 shuffle pairs, where
 * sixteen separate reductions take four steps each. The tree leaves lane
 * 4L + e holding v[4e + L]; one permute puts it in order. */
enum { QR_RED_MAX_F32, QR_RED_ADD_I32, QR_RED_ADD_F32 };

static inline __attribute__((always_inline)) __m512i qr_reduce16(const __m512i v[16], int op) {
#define RED_OP(a, b)                                                                                              \
    (op == QR_RED_ADD_I32   ? _mm512_add_epi32((a), (b))                                                         \
     : op == QR_RED_ADD_F32 ? _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b))) \
                            : _mm512_castps_si512(_mm512_max_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b))))
#define SHUF_PS(a, b, imm) _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), imm))
    __m512i a[8], c[4], e[2];
    for (int j = 0; j < 8; j++) /* 128-bit quarters 0, 1: v[2j]; 2, 3: v[2j + 1] */
        a[j] = RED_OP(_mm512_shuffle_i32x4(v[2 * j], v[2 * j + 1], 0x44),
                      _mm512_shuffle_i32x4(v[2 * j], v[2 * j + 1], 0xee));
    for (int k = 0; k < 4; k++) /* quarter L: v[4k + L] */
        c[k] = RED_OP(_mm512_shuffle_i32x4(a[2 * k], a[2 * k + 1], 0x88),
                      _mm512_shuffle_i32x4(a[2 * k], a[2 * k + 1], 0xdd));
    for (int m = 0; m < 2; m++) /* quarter L, elements 0-1: v[8m + L]; 2-3: v[8m + 4 + L] */
        e[m] = RED_OP(SHUF_PS(c[2 * m], c[2 * m + 1], 0x44), SHUF_PS(c[2 * m], c[2 * m + 1], 0xee));
    const __m512i r = RED_OP(SHUF_PS(e[0], e[1], 0x88), SHUF_PS(e[0], e[1], 0xdd));
#undef RED_OP
#undef SHUF_PS
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, r);
}

/* 16 f32 -> 16 bf16, rounded to nearest even (vcvtneps2bf16). */
static inline __attribute__((always_inline)) __m256i qr_bf16_16(const float *x) {
    return (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x));
}

/* a and b (16 bf16 each) interleaved, word 2i a[i] and word 2i + 1 b[i]:
 * the bf16 pairs that vdpbf16ps and TDPBF16PS multiply (attention's
 * values as pairs of keys, per dim). */
static inline __attribute__((always_inline)) __m512i qr_bf16_pairs(__m256i a, __m256i b) {
    const __m512i mix = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                         37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    return _mm512_permutex2var_epi16(_mm512_castsi256_si512(a), mix, _mm512_castsi256_si512(b));
}

/* Lanes l of a group whose output first_lane_o + l lies in [lo, hi): the
 * ones a kernel stores. */
static inline __mmask16 lane_mask(int64_t first_lane_o, int64_t lo, int64_t hi) {
    unsigned m = 0;
    for (int l = 0; l < 16; l++)
        if (first_lane_o + l >= lo && first_lane_o + l < hi) m |= 1u << l;
    return (__mmask16)m;
}

#endif
