/* avx512_bf16.c - gemm_bf16 of the avx512 table: the one kernel there that
 * needs AVX-512 BF16 (vdpbf16ps), in a file of its own so that avx512.c is
 * built without it and runs on AVX-512 CPUs that lack it (the avx512vnni
 * table, dispatch.c).
 *
 * It reads the weights as bf16x16 (isa.h), 16 outputs' pairs of inputs in
 * one vector, packed once per model or laid out a chunk at a time by
 * avx512.c, and broadcasts each row's pair of activations against them:
 * vdpbf16ps with 16 accumulators and no reduction (8 rows x 32 outputs).
 * The row-major tile it replaced (3 rows x 8 weight rows, a shuffle tree per
 * tile) ran at 71-77% of vdpbf16ps's peak on an Emerald Rapids core, this at
 * 84-93% (bench-kernels, 300 and 1,000 rows). */
#include <immintrin.h>
#include <string.h>

#include "isa.h"
#include "avx512_shared.h"

enum {
    BF_MR = 8,    /* activation rows per tile: 16 accumulators */
    BF_KC = QR_BF16X16_KC, /* inputs per chunk: two groups' pairs are 32 KB */
    BF_PAIR = QR_BF16X16_PAIR,
};

/* BF_MR rows x one or two groups of 16 outputs (G2; the second bg bytes
 * after the first), over n inputs of a chunk laid out as bf16x16 at b:
 * each row's pair of inputs broadcast as one dword against the groups'
 * pair rows. Sums start from zero (first chunk) or from y, and run over the
 * pairs in order: a row alone gives the same bits as among others, and
 * packed weights the same as weights laid out here. Rows past mr alias row
 * 0; outputs past the masks are dropped. */
static inline __attribute__((always_inline)) void bf16_tile(const uint16_t *const xr[BF_MR], int mr,
                                                            const uint8_t *b, size_t bg, int64_t n, int G2,
                                                            int first, float *y, int64_t ldy, __mmask16 m0,
                                                            __mmask16 m1) {
    __m512 acc[BF_MR][2];
    for (int r = 0; r < BF_MR; r++) {
        const float *yr = y + (r < mr ? r : 0) * ldy;
        acc[r][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, yr);
        acc[r][1] = first || !G2 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, yr + 16);
    }
    const int64_t np = n / 2;
    for (int64_t j = 0; j < np; j++) {
        const __m512bh w0 = (__m512bh)_mm512_load_si512(b + (size_t)j * BF_PAIR);
        const __m512bh w1 = G2 ? (__m512bh)_mm512_load_si512(b + bg + (size_t)j * BF_PAIR) : w0;
        for (int r = 0; r < BF_MR; r++) {
            int32_t pair;
            memcpy(&pair, xr[r] + 2 * j, 4);
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xb, w0);
            if (G2) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xb, w1);
        }
    }
    if (n % 2) { /* the last input alone: its pair's other half (weights too) is zero */
        const __m512bh w0 = (__m512bh)_mm512_load_si512(b + (size_t)np * BF_PAIR);
        const __m512bh w1 = G2 ? (__m512bh)_mm512_load_si512(b + bg + (size_t)np * BF_PAIR) : w0;
        for (int r = 0; r < BF_MR; r++) {
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(xr[r][2 * np]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xb, w0);
            if (G2) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xb, w1);
        }
    }
    for (int r = 0; r < BF_MR; r++) {
        if (r >= mr) break;
        _mm512_mask_storeu_ps(y + r * ldy, m0, acc[r][0]);
        if (G2) _mm512_mask_storeu_ps(y + r * ldy + 16, m1, acc[r][1]);
    }
}

void qr_gemm_bf16_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                         float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t n_in = w->ne[0];
    _Alignas(64) uint8_t chunk[2][BF_KC / 2 * BF_PAIR];
    /* a packed tensor's groups start at multiples of 16: lanes before
     * o_begin are computed and not stored */
    for (int64_t o0 = w->packed ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 32) {
        const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
        const int two = hi - o0 > 16;
        const __mmask16 m0 = lane_mask(o0, o_begin, hi), m1 = lane_mask(o0 + 16, o_begin, hi);
        for (int64_t k0 = 0; k0 < n_in; k0 += BF_KC) {
            const int64_t n = n_in - k0 < BF_KC ? n_in - k0 : BF_KC;
            size_t bg;
            const uint8_t *b = qr_bf16x16_chunk_avx512(w, o0, hi, k0, n, chunk, &bg);
            for (int64_t r0 = 0; r0 < n_rows; r0 += BF_MR) {
                const int mr = (int)(n_rows - r0 < BF_MR ? n_rows - r0 : BF_MR);
                const uint16_t *xr[BF_MR];
                for (int r = 0; r < BF_MR; r++)
                    xr[r] = (const uint16_t *)((const uint8_t *)xq->data + (size_t)(r0 + (r < mr ? r : 0)) * xq->row_bytes) + k0;
                float *yt = y + r0 * ldy + o0;
                if (two)
                    bf16_tile(xr, mr, b, bg, n, 1, k0 == 0, yt, ldy, m0, m1);
                else
                    bf16_tile(xr, mr, b, bg, n, 0, k0 == 0, yt, ldy, m0, m1);
            }
        }
    }
}
