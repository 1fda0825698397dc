/* transpose_avx512.h - the dword transpose that lays out weight rows for
 * kernels giving each lane its own output row: q8_0x16 (avx512.c) and the
 * AMX B tiles of BF16 weights (avx512_amx.c). Only for files built with the
 * AVX-512 flags. */
#ifndef QRANK_KERNELS_TRANSPOSE_AVX512_H
#define QRANK_KERNELS_TRANSPOSE_AVX512_H

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

#endif
