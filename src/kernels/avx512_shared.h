/* avx512_shared.h - what the AVX-512 kernel files (avx512.c, avx512_amx.c)
 * both use: the dword transpose that lays out weight rows for kernels giving
 * each lane its own output row (q8_0x16, and the AMX B tiles of BF16
 * weights), and the store mask of a group of 16 outputs. Only for files
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

/* Lanes l of a group whose output first_lane_o + l lies in [lo, hi): the
 * ones a kernel stores. */
static inline __mmask16 lane_mask(int64_t first_lane_o, int64_t lo, int64_t hi) {
    unsigned m = 0;
    for (int l = 0; l < 16; l++)
        if (first_lane_o + l >= lo && first_lane_o + l < hi) m |= 1u << l;
    return (__mmask16)m;
}

#endif
