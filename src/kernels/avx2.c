/* avx2.c - the AVX2 kernels (with FMA and F16C), and AVX-VNNI for int8.
 *
 * Built with -mavx2 -mfma -mf16c -mavxvnni (CMakeLists.txt). dispatch.c calls
 * anything here only on a CPU with AVX2, FMA and F16C, and the one function
 * that uses vpdpbusd (qr_gemm_q8_0_avxvnni) only where AVX-VNNI is present
 * too; the rest must not pick up VNNI instructions from the compiler, which
 * is why no scalar int8 dot-product loop appears in this file (GCC would
 * vectorise one into vpdpbusd).
 *
 * The layouts follow avx512.c at half the width. gemm_q8_0 reads weights as
 * q8_0x16 groups (packed once per model, or a chunk at a time here), one YMM
 * per 8 outputs, so a lane holds one output's exact block dot and the block
 * scale is applied as generic.c does, unfused: results are bit-identical.
 * Activations come in the q8u layout (+128, scales as floats), which
 * quantize_q8u writes and the VNNI tile reads in place: copying them a row
 * tile at a time, as before, held the kernel at 27-28% of the (ZMM) int8
 * peak against 30-31% (bench-kernels, forced onto a Zen 5); keeping the
 * VNNI tile's sums in registers, 3 rows at a time, and storing the last
 * chunk's straight into y made it 29-33%. With AVX-VNNI that is vpdpbusd on
 * the offset bytes, corrected by -128 * sum(w). Without it, both sides are
 * int16 and vpmaddwd does the work, exact for every int8 value: the
 * activations come already widened (the q8w layout, from quantize_q8w) and
 * each chunk of weights is widened once into pairs for every row tile (see
 * q8_wide), which made this kernel 1.3-1.5x faster than widening both for
 * every tile; its tiles are 5 rows high (q8w_tile). gemm_f32 turns 16
 * weight rows x 256 values at a time into a panel (one vector per value
 * for 8 of the outputs) and broadcasts each activation against it, as
 * avx512.c's does; gemm_bf16 keeps a 3 x 4 tile of row-major dot products
 * and reduces it at the end.
 *
 * Buffers live on the stack (about 40 KB at most): the kernel signature has
 * no way to report an allocation failure. */
#include <immintrin.h>
#include <string.h>

#include "isa.h"
#include "q8_0x16.h"
#include "q8x16k.h"

/* ---- f32: weight panels, activations broadcast ------------------------ */

enum {
    F32_MR = 6,   /* activation rows per tile: 12 accumulators */
    F32_KC = 256, /* values per panel (a multiple of every block size): 16 KB */
    DOT_MR = 3,   /* gemm_bf16's tile: activation rows */
    DOT_NO = 4,   /* and weight rows */
    DOT_KC = 1024,
};

/* Widens values [k0, k0+n) of row `row` into dst, exactly as
 * qr_dequantize_row would; k0 and n are multiples of the type's block. */
static void widen_row(const qr_tensor *w, int64_t row, int64_t k0, int64_t n, float *dst) {
    const uint8_t *src = (const uint8_t *)w->data + (size_t)row * qr_row_bytes(w->type, w->ne[0]);
    int64_t i = 0;
    switch (w->type) {
    case QR_TYPE_F16: {
        const uint16_t *h = (const uint16_t *)src + k0;
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
        for (; i < n; i++) dst[i] = _cvtsh_ss(h[i]);
        break;
    }
    case QR_TYPE_BF16: {
        const uint16_t *h = (const uint16_t *)src + k0;
        for (; i + 8 <= n; i += 8) {
            const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
            _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < n; i++) dst[i] = qr_bf16_to_f32(h[i]);
        break;
    }
    case QR_TYPE_Q8_0: {
        const qr_block_q8_0 *b = (const qr_block_q8_0 *)src + k0 / QR_QK8_0;
        for (int64_t j = 0; j < n / QR_QK8_0; j++) {
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[j].d));
            for (int h = 0; h < 4; h++) {
                const __m128i q = _mm_loadl_epi64((const __m128i *)(b[j].qs + 8 * h));
                _mm256_storeu_ps(dst + 32 * j + 8 * h, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
            }
        }
        break;
    }
    default: { /* the other block types through tensor.c, on a view of the chunk */
        const qr_type_traits *tt = qr_type_get(w->type);
        qr_tensor view = *w;
        view.ne[0] = n;
        view.data = src + (size_t)(k0 / tt->block_size) * tt->block_bytes;
        qr_dequantize_row(&view, 0, dst);
        break;
    }
    }
}

/* Lanes l whose index first_lane_o + l lies in [lo, hi): l >= lo - first
 * and l < hi - first, both bounds clamped to -1 .. 8, in registers (the
 * panels take one per eight values). */
static inline __m256i mask8(int64_t first_lane_o, int64_t lo, int64_t hi) {
    const int64_t a = lo - first_lane_o, b = hi - first_lane_o;
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i below_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(a < -1 ? -1 : a > 8 ? 8 : a)), l);
    const __m256i below_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(b < -1 ? -1 : b > 8 ? 8 : b)), l);
    return _mm256_andnot_si256(below_lo, below_hi);
}

/* y[0..16) = a0, a1 where m0, m1 say. vmaskmovps to memory is microcoded
 * on AMD Zen 1-3 (one store every 15-18 cycles on the Zen 3 VM, against one
 * or more a cycle unmasked), and most tiles store all their lanes. */
static inline void store16(float *y, __m256 a0, __m256 a1, __m256i m0, __m256i m1) {
    if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(m0, m1))) == 0xff) {
        _mm256_storeu_ps(y, a0);
        _mm256_storeu_ps(y + 8, a1);
    } else {
        _mm256_maskstore_ps(y, m0, a0);
        _mm256_maskstore_ps(y + 8, m1, a1);
    }
}

/* Weight rows o0 .. o0 + 15 (those past n_o alias a valid one), values k0 ..
 * k0 + kc - 1, as a panel: wt[k][j] is row o0 + j's value k0 + k, widened
 * first where the type is not F32 (tmp: 8 rows of F32_KC), each 8 x 8 block
 * transposed in registers. Rows of wt past kc, up to the next 8, are zero. */
static void f32_panel(const qr_tensor *w, int64_t o0, int n_o, int64_t k0, int64_t kc, float tmp[8][F32_KC],
                      float *wt) {
    const size_t wrow = qr_row_bytes(w->type, w->ne[0]);
    for (int half = 0; half < 2; half++) {
        const float *src[8];
        for (int j = 0; j < 8; j++) {
            const int o = 8 * half + j;
            if (w->type == QR_TYPE_F32) {
                src[j] = (const float *)((const uint8_t *)w->data + (size_t)(o0 + (o < n_o ? o : 0)) * wrow) + k0;
            } else {
                if (o < n_o) widen_row(w, o0 + o, k0, kc, tmp[j]);
                src[j] = tmp[o < n_o ? j : 0];
            }
        }
        for (int64_t k = 0; k < kc; k += 8) {
            const __m256i m = mask8(k, 0, kc);
            __m256 r[8], t[8];
            for (int j = 0; j < 8; j++) r[j] = _mm256_maskload_ps(src[j] + k, m);
            /* 128-bit lane L of t[2i]: rows 2i, 2i+1 at columns 4L, 4L+1;
             * of t[2i+1]: the same at 4L+2, 4L+3 */
            for (int i = 0; i < 4; i++) {
                t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            /* lane L of r[4h + c]: rows 4h .. 4h+3 at column 4L + c */
            for (int h = 0; h < 2; h++)
                for (int c = 0; c < 2; c++) {
                    r[4 * h + 2 * c] = _mm256_shuffle_ps(t[4 * h + c], t[4 * h + c + 2], 0x44);
                    r[4 * h + 2 * c + 1] = _mm256_shuffle_ps(t[4 * h + c], t[4 * h + c + 2], 0xEE);
                }
            float *dst = wt + k * 16 + 8 * half;
            for (int c = 0; c < 4; c++) {
                _mm256_store_ps(dst + c * 16, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
                _mm256_store_ps(dst + (4 + c) * 16, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
            }
        }
    }
}

/* f32_panel's panel from a tensor's packed copy (kernels.h, pack), not from
 * its file pages: Q8_0's q8_0x16, or q8x16k for Q4_0, Q4_K and Q6_K. The
 * group of outputs o0 .. o0 + 15 (o0 a multiple of 16), values k0 .. k0 +
 * kc - 1 (whole blocks). Each lane holds four values of its output per
 * piece (Q4's: four low and four high nibbles), taken out in place and
 * scaled as widen_row's dequantisation does: the same values (q8x16k.h;
 * for Q4 the product scale * q is exact, so fused or not the sum rounds
 * once). */
static void f32_panel_copy(const qr_tensor *w, int64_t o0, int64_t k0, int64_t kc, float *wt) {
    const int64_t nb = w->ne[0] / 32;
    const size_t unit = w->type == QR_TYPE_Q8_0 ? sizeof(qr_q8_0x16) : qr_q8x16k_unit(w->type);
    const __m256i nib = _mm256_set1_epi32(0xf);
    for (int64_t b = 0; b < kc / 32; b++) {
        const uint8_t *blk = (const uint8_t *)w->packed + (size_t)((o0 / 16) * nb + k0 / 32 + b) * unit;
        float *dst = wt + (size_t)b * 32 * 16;
        for (int half = 0; half < 2; half++) {
            if (w->type == QR_TYPE_Q8_0 || w->type == QR_TYPE_Q6_K) { /* int8 pieces */
                __m256 s_lo, s_hi;
                const int8_t(*qs)[64];
                if (w->type == QR_TYPE_Q8_0) {
                    const qr_q8_0x16 *p = (const qr_q8_0x16 *)blk;
                    s_lo = s_hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p->d + 8 * half)));
                    qs = p->qs;
                } else {
                    const qr_q6x16 *p = (const qr_q6x16 *)blk;
                    s_lo = _mm256_loadu_ps(p->s_lo + 8 * half);
                    s_hi = _mm256_loadu_ps(p->s_hi + 8 * half);
                    qs = p->qs;
                }
                for (int k = 0; k < 8; k++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(qs[k] + 32 * half));
                    for (int e = 0; e < 4; e++) {
                        const __m256i q = _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * e), 24);
                        _mm256_store_ps(dst + (4 * k + e) * 16 + 8 * half,
                                        _mm256_mul_ps(_mm256_cvtepi32_ps(q), k < 4 ? s_lo : s_hi));
                    }
                }
            } else { /* q4x16: values 4k + i in the low nibbles, 16 + 4k + i in the high */
                const qr_q4x16 *p = (const qr_q4x16 *)blk;
                const __m256 sc = _mm256_loadu_ps(p->s + 8 * half), mn = _mm256_loadu_ps(p->negmn + 8 * half);
                for (int k = 0; k < 4; k++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(p->qs[k] + 32 * half));
                    for (int i = 0; i < 4; i++)
                        for (int h = 0; h < 2; h++) {
                            const __m256i q = _mm256_and_si256(_mm256_srli_epi32(v, 8 * i + 4 * h), nib);
                            _mm256_store_ps(dst + (16 * h + 4 * k + i) * 16 + 8 * half,
                                            _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), sc), mn));
                        }
                }
            }
        }
    }
}

/* MR rows (a constant, at most F32_MR) x the panel's 16 outputs over its kc
 * values, each row's value broadcast against two vectors of the panel. Each
 * output's sum runs in k order from zero, whatever the row's tile: a row
 * alone gives the same bits as among others. Outputs past the masks are
 * dropped. */
static inline __attribute__((always_inline)) void f32_tile(const float *x, int64_t ldx, const int MR, const float *wt,
                                                           int64_t kc, int first, float *y, int64_t ldy,
                                                           __m256i m0, __m256i m1) {
    __m256 acc[F32_MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(wt + 16 * k), w1 = _mm256_load_ps(wt + 16 * k + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 xb = _mm256_broadcast_ss(x + r * ldx + k);
            acc[r][0] = _mm256_fmadd_ps(xb, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(xb, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) {
        float *yr = y + r * ldy;
        if (!first) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_maskload_ps(yr, m0));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_maskload_ps(yr + 8, m1));
        }
        store16(yr, acc[r][0], acc[r][1], m0, m1);
    }
}

/* Weights of any widenable type, f32 activations broadcast where they are.
 * A packed copy of Q8_0 or the k-quants, where set, is read instead of the
 * file (its groups start at multiples of 16: lanes before o_begin are
 * computed and not stored). */
void qr_gemm_f32_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                      float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)xq;
    const int64_t n_in = w->ne[0];
    const int copy = w->packed && (w->type == QR_TYPE_Q8_0 || qr_q8x16k_type(w->type));
    _Alignas(32) float tmp[8][F32_KC];
    _Alignas(32) float wt[F32_KC * 16];
    for (int64_t o0 = copy ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 16) {
        const int n_o = (int)(o_end - o0 < 16 ? o_end - o0 : 16);
        const __m256i m0 = mask8(o0, o_begin, o_end), m1 = mask8(o0 + 8, o_begin, o_end);
        for (int64_t k0 = 0; k0 < n_in; k0 += F32_KC) {
            const int64_t kc = n_in - k0 < F32_KC ? n_in - k0 : F32_KC;
            if (copy)
                f32_panel_copy(w, o0, k0, kc, wt);
            else
                f32_panel(w, o0, n_o, k0, kc, tmp, wt);
            /* tiles of as even a size as F32_MR allows: 20 rows as 4 x 5,
             * not 6 + 6 + 6 and a tile of 6 for the last 2 */
            const int64_t n_tiles = (n_rows + F32_MR - 1) / F32_MR;
            for (int64_t t = 0; t < n_tiles; t++) {
                const int64_t r0 = n_rows * t / n_tiles;
                const int mr = (int)(n_rows * (t + 1) / n_tiles - r0);
                const float *xr = x + r0 * ldx + k0;
                float *yr = y + r0 * ldy + o0;
                switch (mr) {
                case 1: f32_tile(xr, ldx, 1, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                case 2: f32_tile(xr, ldx, 2, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                case 3: f32_tile(xr, ldx, 3, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                case 4: f32_tile(xr, ldx, 4, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                case 5: f32_tile(xr, ldx, 5, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                default: f32_tile(xr, ldx, 6, wt, kc, k0 == 0, yr, ldy, m0, m1); break;
                }
            }
        }
    }
}

/* ---- bf16: row-major dot-product tiles --------------------------------- */

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* One tile over values [0, n): acc[r][j] += x[r] . w[j] in 8-wide pieces,
 * the activations bf16 widened on the fly; the last n % 8 values are added
 * after the reduction. */
static inline __attribute__((always_inline)) void dot_tile(const uint16_t *const xr[DOT_MR],
                                                           const float *const wr[DOT_NO], int64_t n,
                                                           float out[DOT_MR][DOT_NO]) {
    __m256 acc[DOT_MR][DOT_NO];
    for (int r = 0; r < DOT_MR; r++)
        for (int j = 0; j < DOT_NO; j++) acc[r][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 xv[DOT_MR];
        for (int r = 0; r < DOT_MR; r++) xv[r] = load8_bf16(xr[r] + k);
        for (int j = 0; j < DOT_NO; j++) {
            const __m256 wv = _mm256_loadu_ps(wr[j] + k);
            for (int r = 0; r < DOT_MR; r++) acc[r][j] = _mm256_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    for (int r = 0; r < DOT_MR; r++)
        for (int j = 0; j < DOT_NO; j++) {
            float s = hsum8(acc[r][j]);
            for (int64_t i = k; i < n; i++) s += qr_bf16_to_f32(xr[r][i]) * wr[j][i];
            out[r][j] = s;
        }
}

static void dot_store(float s[DOT_MR][DOT_NO], int mr, int n_o, int first, float *y, int64_t ldy) {
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < n_o; j++) y[r * ldy + j] = first ? s[r][j] : y[r * ldy + j] + s[r][j];
}

/* BF16 weights widened DOT_KC values at a time, bf16 activations (xq).
 * Missing rows of a tile alias row 0; their sums are computed and dropped.
 * Panels as gemm_f32's measured no faster here (bench-kernels: the same at
 * 100 and 1,000 rows, 10-15% slower at 20; bench-rerank posts-20 within the
 * noise): the bf16 rows cost a shift or a mask per broadcast. */
void qr_gemm_bf16_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                       float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t n_in = w->ne[0];
    _Alignas(32) float wbuf[DOT_NO][DOT_KC];
    for (int64_t o0 = o_begin; o0 < o_end; o0 += DOT_NO) {
        const int n_o = (int)(o_end - o0 < DOT_NO ? o_end - o0 : DOT_NO);
        for (int64_t k0 = 0; k0 < n_in; k0 += DOT_KC) {
            const int64_t kc = n_in - k0 < DOT_KC ? n_in - k0 : DOT_KC;
            const float *wr[DOT_NO];
            for (int j = 0; j < DOT_NO; j++) {
                if (j < n_o) widen_row(w, o0 + j, k0, kc, wbuf[j]);
                wr[j] = wbuf[j < n_o ? j : 0];
            }
            for (int64_t r0 = 0; r0 < n_rows; r0 += DOT_MR) {
                const int mr = (int)(n_rows - r0 < DOT_MR ? n_rows - r0 : DOT_MR);
                const uint16_t *xr[DOT_MR];
                float s[DOT_MR][DOT_NO];
                for (int r = 0; r < DOT_MR; r++)
                    xr[r] = (const uint16_t *)((const uint8_t *)xq->data +
                                               (size_t)(r0 + (r < mr ? r : 0)) * xq->row_bytes) + k0;
                dot_tile(xr, wr, kc, s);
                dot_store(s, mr, n_o, k0 == 0, y + r0 * ldy + o0, ldy);
            }
        }
    }
}

/* ---- Q8_0 x Q8_0 ------------------------------------------------------- */

enum {
    Q8_MR = 3,  /* activation rows per tile: 6 integer and 6 float accumulators */
    Q8W_MR = 5, /* the same without VNNI: 10 integer accumulators, the float sums in L1 */
    Q8_KC = 16,  /* 32-blocks per chunk */
    Q8_RP = 128, /* rows per row panel: their activations stay in L2 */
};

/* 8 rows of 32 bytes -> out[k] = dword k of every row, one per lane. */
static inline void transpose_8x8_dwords(const uint8_t *const rows[8], __m256i out[8]) {
    __m256i z[8], t[8], u[8];
    for (int i = 0; i < 8; i++) z[i] = _mm256_loadu_si256((const __m256i *)rows[i]);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(z[i], z[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(z[i], z[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);     /* dwords 0, 4 */
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]); /* 1, 5 */
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
        out[j + 4] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
    }
}

/* Packs weight rows [o0, o1) (at most 16) x blocks [b0, b0+nb) into one
 * q8_0x16 group, dst[b]. Rows past o1 repeat row o0: their lanes are
 * computed and never stored. */
static void q8_pack_chunk(const qr_tensor *w, int64_t o0, int64_t o1, int64_t b0, int nb, qr_q8_0x16 *dst) {
    const size_t wrow = qr_row_bytes(QR_TYPE_Q8_0, w->ne[0]);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const uint8_t *rows[16];
    for (int j = 0; j < 16; j++) {
        const int64_t o = o0 + j < o1 ? o0 + j : o0;
        rows[j] = (const uint8_t *)w->data + (size_t)o * wrow + (size_t)b0 * sizeof(qr_block_q8_0);
    }
    for (int b = 0; b < nb; b++) {
        qr_q8_0x16 *p = &dst[b];
        const uint8_t *qs[16];
        for (int j = 0; j < 16; j++) {
            memcpy(&p->d[j], rows[j], 2);
            qs[j] = rows[j] + 2;
            rows[j] += sizeof(qr_block_q8_0);
        }
        for (int h = 0; h < 2; h++) {
            __m256i q[8];
            transpose_8x8_dwords(qs + 8 * h, q);
            __m256i sum = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                _mm256_storeu_si256((__m256i *)(p->qs[k] + 32 * h), q[k]);
                /* 1 x w in pairs, then pairs of pairs: no saturation */
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q[k]), ones16));
            }
            const __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(), sum);
            const __m128i n16 = _mm_packs_epi32(_mm256_castsi256_si128(neg), _mm256_extracti128_si256(neg, 1));
            _mm_storeu_si128((__m128i *)(p->negsum + 8 * h), n16);
        }
    }
}

typedef struct {
    uint8_t qs[Q8_MR][Q8_KC][32]; /* activation bytes + 128 (VNNI) */
    float dx[Q8_MR][Q8_KC];
} q8_rows;

typedef struct {
    int16_t qs[Q8W_MR][Q8_KC][32]; /* no VNNI: Q8_0 or q8u activations widened (q8w is read in place) */
    float dx[Q8W_MR][Q8_KC];
} q8_rows16;

static void q8_pack_rows(const qr_acts *xq, int64_t r0, int mr, int64_t b0, int nb, q8_rows *xr) {
    const __m256i offset = _mm256_set1_epi8((char)0x80);
    for (int r = 0; r < mr; r++) {
        const qr_block_q8_0 *xb =
            (const qr_block_q8_0 *)((const uint8_t *)xq->data + (size_t)(r0 + r) * xq->row_bytes) + b0;
        for (int b = 0; b < nb; b++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)xb[b].qs);
            _mm256_store_si256((__m256i *)xr->qs[r][b], _mm256_xor_si256(v, offset));
            xr->dx[r][b] = _cvtsh_ss(xb[b].d);
        }
    }
}

/* Rows r0.. of Q8_0 blocks, or of the q8u layout (nb_all blocks a row),
 * widened to int16, blocks [b0, b0+nb). */
static void q8_pack_rows16(const qr_acts *xq, int64_t nb_all, int64_t r0, int mr, int64_t b0, int nb,
                           q8_rows16 *xr) {
    const __m256i offset = _mm256_set1_epi16(128);
    for (int r = 0; r < mr; r++) {
        const uint8_t *row = (const uint8_t *)xq->data + (size_t)(r0 + r) * xq->row_bytes;
        for (int b = 0; b < nb; b++) {
            if (xq->q8u) { /* bytes + 128, then the scales as floats */
                for (int h = 0; h < 2; h++) {
                    const __m128i v = _mm_loadu_si128((const __m128i *)(row + 32 * (b0 + b) + 16 * h));
                    _mm256_store_si256((__m256i *)(xr->qs[r][b] + 16 * h),
                                       _mm256_sub_epi16(_mm256_cvtepu8_epi16(v), offset));
                }
                memcpy(&xr->dx[r][b], row + 32 * nb_all + 4 * (b0 + b), 4);
                continue;
            }
            const qr_block_q8_0 *xb = (const qr_block_q8_0 *)row + b0 + b;
            for (int h = 0; h < 2; h++) {
                const __m128i v = _mm_loadu_si128((const __m128i *)(xb->qs + 16 * h));
                _mm256_store_si256((__m256i *)(xr->qs[r][b] + 16 * h), _mm256_cvtepi8_epi16(v));
            }
            xr->dx[r][b] = _cvtsh_ss(xb->d);
        }
    }
}

/* acc (per row, two halves of 8 outputs) += isum * (dw * dx), unfused as in
 * generic.c, for one block. */
static inline __attribute__((always_inline)) void q8_scale_add(__m256 *acc, __m256i isum, __m256 dw, float dx) {
    const __m256 s = _mm256_mul_ps(dw, _mm256_set1_ps(dx));
    *acc = _mm256_add_ps(*acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), s));
}

/* Without VNNI the products are vpmaddwd on int16: exact for every int8
 * value (vpmaddubsw would saturate on the +128 activations; its sign trick,
 * |w| times x given w's sign, overflows on an activation of -128, which a
 * Q8_0 block may hold, and costs as many instructions, a vpsignb for each
 * vpmaddwd saved). A chunk's weights are widened once and
 * laid out in pairs, wide[b][p] holding values 2p and 2p + 1 of the group's
 * 16 outputs (output o at int16s 2o, 2o + 1, 8 outputs per YMM), so that one
 * vpmaddwd with a broadcast pair of activations adds both products of each
 * output into its own lane: the block dot needs no horizontal add, and every
 * row tile of the panel reads the widened chunk from L1 instead of widening
 * it again. */
typedef struct {
    int16_t v[Q8_KC][16][32];
} q8_wide;

static void q8_widen_chunk(const qr_q8_0x16 *gp, int nb, q8_wide *wd) {
    /* within each 128-bit lane (4 outputs x 4 bytes): bytes 0-1 of each
     * output, then bytes 2-3 */
    const __m256i pairs = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9,
                                           12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < 8; k++)
            for (int h = 0; h < 2; h++) {
                __m256i z = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(gp[b].qs[k] + 32 * h)), pairs);
                z = _mm256_permute4x64_epi64(z, _MM_SHUFFLE(3, 1, 2, 0)); /* pair 2k of 8 outputs, then 2k + 1 */
                _mm256_store_si256((__m256i *)(wd->v[b][2 * k] + 16 * h),
                                   _mm256_cvtepi8_epi16(_mm256_castsi256_si128(z)));
                _mm256_store_si256((__m256i *)(wd->v[b][2 * k + 1] + 16 * h),
                                   _mm256_cvtepi8_epi16(_mm256_extracti128_si256(z, 1)));
            }
}

/* The group's 16 outputs for MR rows with AVX-VNNI, from partial sums `in`
 * (rows 16 floats apart; NULL: from zero) into y, lanes where m0 / m1 say.
 * The products are vpdpbusd on the group's bytes and q8u rows, corrected by
 * -128 * sum(w). The sums stay in registers for the whole chunk (the
 * fifteen of sixteen YMM registers the tile needs at most), as in avx512.c;
 * the block scale is applied as generic.c does, in the same order, so the
 * result is still bit-identical. */
static inline __attribute__((always_inline)) void q8_tile(const qr_q8_0x16 *gp, const qr_q8_view *xv, int nb,
                                                          int MR, const float *in, float *y, int64_t ldy,
                                                          __m256i m0, __m256i m1) {
    __m256 acc[Q8_MR][2];
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < 2; h++) acc[r][h] = in ? _mm256_load_ps(in + 16 * r + 8 * h) : _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i isum[Q8_MR][2];
        for (int h = 0; h < 2; h++) {
            const __m256i c = _mm256_slli_epi32(
                _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(gp[b].negsum + 8 * h))), 7);
            for (int r = 0; r < MR; r++) isum[r][h] = c;
        }
        for (int k = 0; k < 8; k++) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)gp[b].qs[k]);
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(gp[b].qs[k] + 32));
            for (int r = 0; r < MR; r++) {
                int32_t x4;
                memcpy(&x4, xv->q + (size_t)r * xv->q_stride + 32 * b + 4 * k, 4);
                const __m256i xb = _mm256_set1_epi32(x4);
                isum[r][0] = _mm256_dpbusd_avx_epi32(isum[r][0], xb, w0);
                isum[r][1] = _mm256_dpbusd_avx_epi32(isum[r][1], xb, w1);
            }
        }
        for (int h = 0; h < 2; h++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gp[b].d + 8 * h)));
            for (int r = 0; r < MR; r++) {
                float dx;
                memcpy(&dx, xv->d + (size_t)r * xv->d_stride + 4 * b, 4);
                q8_scale_add(&acc[r][h], isum[r][h], dw, dx);
            }
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm256_maskstore_ps(y + r * ldy, m0, acc[r][0]);
        _mm256_maskstore_ps(y + r * ldy + 8, m1, acc[r][1]);
    }
}

/* q8_tile without VNNI, for up to Q8W_MR rows, from the widened chunk and
 * q8w rows (block b at 64 b bytes). A vpmaddwd and its vpaddd do 16
 * multiply-adds where vpdpbusd does 32; on the cores this is for (Zen 1-3,
 * at most four vector operations a cycle) the 3-row tile was held back by
 * what surrounds them: 5 loads and broadcasts and the loop's counting per 6
 * vpmaddwd, and its masked stores (vmaskmovps to memory is slow on AMD).
 * Five rows keep 10 integer sums in registers with the float sums in L1
 * (acc, read and written once a block); six would need all sixteen, and GCC
 * then spilled one sum into a store-to-load chain that cost more than the
 * sixth row gained. The inner loop is unrolled over the block so that every
 * address is a constant offset. The scaling is q8_tile's, in its order. */
static inline __attribute__((always_inline)) void q8w_tile(const qr_q8_0x16 *gp, const q8_wide *wd,
                                                           const qr_q8_view *xv, int nb, int MR, const float *in,
                                                           float *y, int64_t ldy, __m256i m0, __m256i m1) {
    _Alignas(32) float acc[Q8W_MR][16];
    const uint8_t *xq[Q8W_MR], *xd[Q8W_MR];
    for (int r = 0; r < MR; r++) {
        for (int h = 0; h < 2; h++)
            _mm256_store_ps(acc[r] + 8 * h, in ? _mm256_load_ps(in + 16 * r + 8 * h) : _mm256_setzero_ps());
        xq[r] = xv->q + (size_t)r * xv->q_stride;
        xd[r] = xv->d + (size_t)r * xv->d_stride;
    }
    for (int b = 0; b < nb; b++) {
        __m256i isum[Q8W_MR][2];
        for (int r = 0; r < MR; r++) isum[r][0] = isum[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 16
        for (int p = 0; p < 16; p++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)wd->v[b][p]);
            const __m256i w1 = _mm256_load_si256((const __m256i *)(wd->v[b][p] + 16));
            for (int r = 0; r < MR; r++) {
                int32_t x2;
                memcpy(&x2, xq[r] + 64 * b + 4 * p, 4);
                const __m256i xb = _mm256_set1_epi32(x2);
                isum[r][0] = _mm256_add_epi32(isum[r][0], _mm256_madd_epi16(w0, xb));
                isum[r][1] = _mm256_add_epi32(isum[r][1], _mm256_madd_epi16(w1, xb));
                /* one chain per sum: unrolled, GCC would otherwise reassociate
                 * the adds into trees whose partial sums spill */
                __asm__("" : "+x"(isum[r][0]), "+x"(isum[r][1]));
            }
        }
        for (int h = 0; h < 2; h++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gp[b].d + 8 * h)));
            for (int r = 0; r < MR; r++) {
                float dx;
                memcpy(&dx, xd[r] + 4 * b, 4);
                __m256 a = _mm256_load_ps(acc[r] + 8 * h);
                q8_scale_add(&a, isum[r][h], dw, dx);
                _mm256_store_ps(acc[r] + 8 * h, a);
            }
        }
    }
    for (int r = 0; r < MR; r++) store16(y + r * ldy, _mm256_load_ps(acc[r]), _mm256_load_ps(acc[r] + 8), m0, m1);
}

static inline __attribute__((always_inline)) void gemm_q8(const qr_tensor *w, const qr_acts *xq, int vnni,
                                                          int64_t n_rows, float *y, int64_t ldy, int64_t o_begin,
                                                          int64_t o_end) {
    const int64_t nb_all = w->ne[0] / QR_QK8_0;
    const int mr_max = vnni ? Q8_MR : Q8W_MR;
    const qr_q8_0x16 *packed = w->packed;
    _Alignas(32) qr_q8_0x16 chunk[Q8_KC];
    _Alignas(32) q8_rows rows;
    _Alignas(32) q8_rows16 rows16;
    _Alignas(32) q8_wide wide;
    /* Partial sums between chunks live here, not in y: y's rows are a power
     * of two apart and would all fall into the same few cache sets. */
    _Alignas(32) float part[Q8_RP][16];
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += Q8_RP) {
        const int64_t rp = n_rows - rp0 < Q8_RP ? n_rows - rp0 : Q8_RP;
        const int64_t n_tiles = (rp + mr_max - 1) / mr_max;
        for (int64_t o0 = packed ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 16) {
            const int64_t hi = o0 + 16 < o_end ? o0 + 16 : o_end;
            const __m256i m0 = mask8(o0, o_begin, hi), m1 = mask8(o0 + 8, o_begin, hi), all = _mm256_set1_epi32(-1);
            for (int64_t b0 = 0; b0 < nb_all; b0 += Q8_KC) {
                const int nb = (int)(nb_all - b0 < Q8_KC ? nb_all - b0 : Q8_KC);
                const qr_q8_0x16 *gp;
                if (packed) {
                    gp = packed + (o0 / 16) * nb_all + b0;
                } else {
                    q8_pack_chunk(w, o0, hi, b0, nb, chunk);
                    gp = chunk;
                }
                if (!vnni) q8_widen_chunk(gp, nb, &wide);
                /* the last chunk's tiles store to y, as in avx512.c */
                const int last = b0 + nb >= nb_all;
                const int64_t ld = last ? ldy : 16;
                const __m256i k0 = last ? m0 : all, k1 = last ? m1 : all;
                for (int64_t t = 0; t < n_tiles; t++) {
                    const int64_t r0 = rp * t / n_tiles, r1 = rp * (t + 1) / n_tiles;
                    const int mr = (int)(r1 - r0);
                    const float *in = b0 == 0 ? NULL : part[r0];
                    float *out = last ? y + (rp0 + r0) * ldy + o0 : part[r0];
                    if (vnni) {
                        qr_q8_view xv;
                        if (xq->q8u) {
                            xv = qr_q8u_view(xq, rp0 + r0, b0, nb_all);
                        } else {
                            q8_pack_rows(xq, rp0 + r0, mr, b0, nb, &rows);
                            xv = (qr_q8_view){rows.qs[0][0], (const uint8_t *)rows.dx[0], sizeof rows.qs[0],
                                           sizeof rows.dx[0]};
                        }
                        switch (mr) {
                        case 1: q8_tile(gp, &xv, nb, 1, in, out, ld, k0, k1); break;
                        case 2: q8_tile(gp, &xv, nb, 2, in, out, ld, k0, k1); break;
                        default: q8_tile(gp, &xv, nb, 3, in, out, ld, k0, k1); break;
                        }
                    } else {
                        qr_q8_view xv; /* rows of int16 values: block b at q + 64 b */
                        if (xq->q8w) {
                            const uint8_t *row = (const uint8_t *)xq->data + (size_t)(rp0 + r0) * xq->row_bytes;
                            xv = (qr_q8_view){row + 64 * b0, row + 64 * nb_all + 4 * b0, xq->row_bytes,
                                              xq->row_bytes};
                        } else {
                            q8_pack_rows16(xq, nb_all, rp0 + r0, mr, b0, nb, &rows16);
                            xv = (qr_q8_view){(const uint8_t *)rows16.qs[0][0], (const uint8_t *)rows16.dx[0],
                                              sizeof rows16.qs[0], sizeof rows16.dx[0]};
                        }
                        switch (mr) {
                        case 1: q8w_tile(gp, &wide, &xv, nb, 1, in, out, ld, k0, k1); break;
                        case 2: q8w_tile(gp, &wide, &xv, nb, 2, in, out, ld, k0, k1); break;
                        case 3: q8w_tile(gp, &wide, &xv, nb, 3, in, out, ld, k0, k1); break;
                        case 4: q8w_tile(gp, &wide, &xv, nb, 4, in, out, ld, k0, k1); break;
                        default: q8w_tile(gp, &wide, &xv, nb, Q8W_MR, in, out, ld, k0, k1); break;
                        }
                    }
                }
            }
        }
    }
}

void qr_gemm_q8_0_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                       float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    gemm_q8(w, xq, 0, n_rows, y, ldy, o_begin, o_end);
}

void qr_gemm_q8_0_avxvnni(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                          float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    gemm_q8(w, xq, 1, n_rows, y, ldy, o_begin, o_end);
}

/* ---- Q4_0 / Q4_K / Q6_K as q4x16 / q6x16 ------------------------------ */

/* avx512.c's k-quant scheme at half width (one YMM per 8 of a group's 16
 * outputs), on activations in the q8u layout (x + 128, block scales, block
 * sums), which matmul.c builds for these tables. Without AVX-VNNI the
 * four-byte dots are vpmaddubsw + vpmaddwd: exact here, since a pair of
 * products stays within int16 (255 * 15 * 2 for nibbles, 255 * 32 * 2 for
 * Q6_K's -32..31), so two vpmaddubsw add up in int16 before one vpmaddwd
 * (bench-kernels avx2 packed: q4_k 1.2-1.3x, q6_k 1.15-1.2x). Unlike
 * gemm_q8's tiles, these keep their float sums in memory: sixteen YMM
 * registers hold the integer dots and weights only. */
enum { KQ_KC = 16, KQ4_MR = 3, KQ6_MR = 2 };

typedef struct {
    const uint8_t *q, *d, *sum; /* q8u: bytes + 128, scales, block sums */
    size_t stride;
} kq_view;

/* acc + the four-byte dots of x0 with w0 and of x1 with w1. Without
 * AVX-VNNI both vpmaddubsw add up in int16 before one vpmaddwd: the callers'
 * weights (0..15, -32..31) keep the four products within 4 * 255 * 32. */
static inline __attribute__((always_inline)) __m256i dot8(__m256i acc, __m256i x0, __m256i w0, __m256i x1,
                                                          __m256i w1, int VNNI) {
    if (VNNI) return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(acc, x0, w0), x1, w1);
    const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(x0, w0), _mm256_maddubs_epi16(x1, w1));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

static inline __attribute__((always_inline)) __m256i kq_x4(const kq_view *xv, int r, int off) {
    int32_t x4;
    memcpy(&x4, xv->q + (size_t)r * xv->stride + off, 4);
    return _mm256_set1_epi32(x4);
}

static inline __attribute__((always_inline)) float kq_f(const uint8_t *base, const kq_view *xv, int r, int b) {
    float f;
    memcpy(&f, base + (size_t)r * xv->stride + 4 * b, 4);
    return f;
}

static inline __attribute__((always_inline)) void kq4_tile(const qr_q4x16 *gp, const kq_view *xv, int nb, int MR,
                                                           int VNNI, float acc[][16]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < nb; b++) {
        __m256i isum[KQ4_MR][2];
        for (int r = 0; r < MR; r++) isum[r][0] = isum[r][1] = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            __m256i lo[2], hi[2];
            for (int h = 0; h < 2; h++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(gp[b].qs[k] + 32 * h));
                lo[h] = _mm256_and_si256(v, low4);
                hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            }
            for (int r = 0; r < MR; r++) {
                const __m256i xa = kq_x4(xv, r, 32 * b + 4 * k), xb = kq_x4(xv, r, 32 * b + 16 + 4 * k);
                for (int h = 0; h < 2; h++) isum[r][h] = dot8(isum[r][h], xa, lo[h], xb, hi[h], VNNI);
            }
        }
        for (int h = 0; h < 2; h++) {
            const __m256 sc = _mm256_loadu_ps(gp[b].s + 8 * h), negmn = _mm256_loadu_ps(gp[b].negmn + 8 * h);
            const __m256i ns = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(gp[b].negsum + 8 * h)));
            const __m256 c = _mm256_mul_ps(sc, _mm256_cvtepi32_ps(_mm256_slli_epi32(ns, 7)));
            for (int r = 0; r < MR; r++) {
                __m256 dot = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][h]), sc, c);
                dot = _mm256_fmadd_ps(negmn, _mm256_set1_ps(kq_f(xv->sum, xv, r, b)), dot);
                const __m256 a = _mm256_load_ps(acc[r] + 8 * h);
                _mm256_store_ps(acc[r] + 8 * h, _mm256_fmadd_ps(dot, _mm256_set1_ps(kq_f(xv->d, xv, r, b)), a));
            }
        }
    }
}

static inline __attribute__((always_inline)) void kq6_tile(const qr_q6x16 *gp, const kq_view *xv, int nb, int MR,
                                                           int VNNI, float acc[][16]) {
    for (int b = 0; b < nb; b++) {
        __m256 c[2];
        for (int h = 0; h < 2; h++) {
            const __m256i lo = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(gp[b].negsum_lo + 8 * h)));
            const __m256i hi = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(gp[b].negsum_hi + 8 * h)));
            c[h] = _mm256_fmadd_ps(_mm256_loadu_ps(gp[b].s_lo + 8 * h), _mm256_cvtepi32_ps(_mm256_slli_epi32(lo, 7)),
                                   _mm256_mul_ps(_mm256_loadu_ps(gp[b].s_hi + 8 * h),
                                                 _mm256_cvtepi32_ps(_mm256_slli_epi32(hi, 7))));
        }
        __m256i isum[KQ6_MR][2];
        __m256 part[KQ6_MR][2];
        for (int r = 0; r < MR; r++) isum[r][0] = isum[r][1] = _mm256_setzero_si256();
        /* two steps at a time, for dot8 */
#pragma GCC unroll 4
        for (int k = 0; k < 8; k += 2) {
            __m256i wv[2], wn[2];
            for (int h = 0; h < 2; h++) {
                wv[h] = _mm256_loadu_si256((const __m256i *)(gp[b].qs[k] + 32 * h));
                wn[h] = _mm256_loadu_si256((const __m256i *)(gp[b].qs[k + 1] + 32 * h));
            }
            for (int r = 0; r < MR; r++) {
                const __m256i xb = kq_x4(xv, r, 32 * b + 4 * k), xn = kq_x4(xv, r, 32 * b + 4 * (k + 1));
                for (int h = 0; h < 2; h++) isum[r][h] = dot8(isum[r][h], xb, wv[h], xn, wn[h], VNNI);
            }
            if (k == 2) /* values 0-15 done: their scale now, then start over */
                for (int r = 0; r < MR; r++)
                    for (int h = 0; h < 2; h++) {
                        part[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][h]),
                                                     _mm256_loadu_ps(gp[b].s_lo + 8 * h), c[h]);
                        isum[r][h] = _mm256_setzero_si256();
                    }
        }
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                const __m256 dot =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][h]), _mm256_loadu_ps(gp[b].s_hi + 8 * h), part[r][h]);
                const __m256 a = _mm256_load_ps(acc[r] + 8 * h);
                _mm256_store_ps(acc[r] + 8 * h, _mm256_fmadd_ps(dot, _mm256_set1_ps(kq_f(xv->d, xv, r, b)), a));
            }
    }
}

static inline __attribute__((always_inline)) void gemm_kq(const qr_tensor *w, const float *x, const qr_acts *xq,
                                                          int VNNI, int64_t n_rows, int64_t ldx, float *y,
                                                          int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (!w->packed || !xq || !xq->q8u || !qr_q8x16k_type(w->type)) { /* nothing to run on: the exact path */
        qr_gemm_f32_avx2(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    const int64_t nb_all = w->ne[0] / 32;
    const int six = w->type == QR_TYPE_Q6_K, mr_max = six ? KQ6_MR : KQ4_MR;
    const size_t unit = qr_q8x16k_unit(w->type);
    _Alignas(32) float part[Q8_RP][16]; /* partial sums between chunks, as in gemm_q8 */
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += Q8_RP) {
        const int64_t rp = n_rows - rp0 < Q8_RP ? n_rows - rp0 : Q8_RP;
        const int64_t n_tiles = (rp + mr_max - 1) / mr_max;
        for (int64_t o0 = o_begin - o_begin % 16; o0 < o_end; o0 += 16) {
            const int64_t hi = o0 + 16 < o_end ? o0 + 16 : o_end;
            memset(part, 0, sizeof(float) * 16 * (size_t)rp);
            for (int64_t b0 = 0; b0 < nb_all; b0 += KQ_KC) {
                const int nb = (int)(nb_all - b0 < KQ_KC ? nb_all - b0 : KQ_KC);
                const void *chunk = (const uint8_t *)w->packed + (size_t)((o0 / 16) * nb_all + b0) * unit;
                for (int64_t t = 0; t < n_tiles; t++) {
                    const int64_t r0 = rp * t / n_tiles, r1 = rp * (t + 1) / n_tiles;
                    const uint8_t *row = (const uint8_t *)xq->data + (size_t)(rp0 + r0) * xq->row_bytes;
                    const kq_view xv = {row + 32 * b0, row + 32 * nb_all + 4 * b0, row + 36 * nb_all + 4 * b0,
                                        xq->row_bytes};
                    const int mr = (int)(r1 - r0);
                    if (six) {
                        if (mr == 1)
                            kq6_tile(chunk, &xv, nb, 1, VNNI, part + r0);
                        else
                            kq6_tile(chunk, &xv, nb, 2, VNNI, part + r0);
                    } else {
                        switch (mr) {
                        case 1: kq4_tile(chunk, &xv, nb, 1, VNNI, part + r0); break;
                        case 2: kq4_tile(chunk, &xv, nb, 2, VNNI, part + r0); break;
                        default: kq4_tile(chunk, &xv, nb, 3, VNNI, part + r0); break;
                        }
                    }
                }
            }
            const __m256i m0 = mask8(o0, o_begin, hi), m1 = mask8(o0 + 8, o_begin, hi);
            for (int64_t r = 0; r < rp; r++) {
                store16(y + (rp0 + r) * ldy + o0, _mm256_load_ps(part[r]), _mm256_load_ps(part[r] + 8), m0, m1);
            }
        }
    }
}

void qr_gemm_kq_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                     int64_t ldy, int64_t o_begin, int64_t o_end) {
    gemm_kq(w, x, xq, 0, n_rows, ldx, y, ldy, o_begin, o_end);
}

void qr_gemm_kq_avxvnni(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    gemm_kq(w, x, xq, 1, n_rows, ldx, y, ldy, o_begin, o_end);
}

/* ---- activation conversions -------------------------------------------- */

/* One block of 32 values, rounded as generic.c does: its f16 scale into *d,
 * its 32 int8 values (as bytes, in order) returned; *bad |= a NaN or an
 * infinity among them (exponent bits all set). */
static inline __attribute__((always_inline)) __m256i quantize_block(const float *x, uint16_t *d, __m256i *bad) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256i low_byte = _mm256_set1_epi32(0xff), expo = _mm256_set1_epi32(0x7f800000);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
        v[j] = _mm256_loadu_ps(x + 8 * j);
        const __m256i e = _mm256_and_si256(_mm256_castps_si256(v[j]), expo);
        *bad = _mm256_or_si256(*bad, _mm256_cmpeq_epi32(e, expo));
        /* max(|v|, m) keeps m when |v| is NaN, as fmaxf does */
        m = _mm256_max_ps(_mm256_andnot_ps(sign, v[j]), m);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float df = amax / 127.0f;
    const float id = df != 0.0f ? 1.0f / df : 0.0f;
    *d = _cvtss_sh(df, _MM_FROUND_TO_NEAREST_INT);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; j++) {
        /* roundf: truncate, then step away from zero when the dropped
         * part is at least one half (v - trunc(v) is exact) */
        const __m256 s = _mm256_mul_ps(v[j], vid);
        const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(s, t)), half, _CMP_GE_OQ);
        const __m256 step = _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(s, sign)));
        /* the low byte, as the (int8_t) cast of generic.c keeps */
        q[j] = _mm256_and_si256(_mm256_cvttps_epi32(_mm256_add_ps(t, step)), low_byte);
    }
    /* values are 0..255 now, so the saturating packs only narrow */
    const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void qr_quantize_q8_0_avx2(const float *x, void *out, int64_t n) {
    qr_block_q8_0 *blk = out;
    __m256i bad = _mm256_setzero_si256();
    for (int64_t i = 0; i < n / QR_QK8_0; i++)
        _mm256_storeu_si256((__m256i *)blk[i].qs, quantize_block(x + 32 * i, &blk[i].d, &bad));
}

/* The same blocks in the q8u layout (q8_0x16.h), for gemm_q8_0 and gemm_kq
 * to read in place. */
int qr_quantize_q8u_avx2(const float *x, void *out, int64_t n) {
    const int64_t nb = n / QR_QK8_0;
    uint8_t *q = out;
    float *d = (float *)(void *)(q + nb * QR_QK8_0), *sums = d + nb;
    const __m256i offset = _mm256_set1_epi8((char)0x80), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i bad = _mm256_setzero_si256();
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        const __m256i v = quantize_block(x + 32 * i, &h, &bad);
        d[i] = _cvtsh_ss(h);
        /* signed sum: 1 x v in pairs (int16, no saturation), then pairs of pairs */
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v), ones16);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        sums[i] = (float)_mm_cvtsi128_si32(s4);
        _mm256_storeu_si256((__m256i *)(q + 32 * i), _mm256_xor_si256(v, offset));
    }
    return !_mm256_testz_si256(bad, bad);
}

/* ... and in the q8w layout, for gemm_q8_0 without VNNI. */
int qr_quantize_q8w_avx2(const float *x, void *out, int64_t n) {
    const int64_t nb = n / QR_QK8_0;
    uint8_t *q = out;
    float *d = (float *)(void *)(q + 2 * n);
    __m256i bad = _mm256_setzero_si256();
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        const __m256i v = quantize_block(x + 32 * i, &h, &bad);
        d[i] = _cvtsh_ss(h);
        _mm256_storeu_si256((__m256i *)(q + 64 * i), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)));
        _mm256_storeu_si256((__m256i *)(q + 64 * i + 32), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)));
    }
    return !_mm256_testz_si256(bad, bad);
}

void qr_to_bf16_avx2(const float *x, uint16_t *out, int64_t n) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i r[2];
        for (int h = 0; h < 2; h++) {
            const __m256i u = _mm256_loadu_si256((const __m256i *)(x + i + 8 * h));
            /* NaN: |u| > inf as signed ints, since |u| < 2^31 */
            const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
            const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
            const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), lsb), 16);
            const __m256i quieted = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
            r[h] = _mm256_blendv_epi8(rounded, quieted, nan);
        }
        const __m256i p = _mm256_packus_epi32(r[0], r[1]); /* 0..65535: no saturation */
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_permute4x64_epi64(p, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    for (; i < n; i++) out[i] = qr_f32_to_bf16(x[i]);
}

/* ---- packing Q4_0 / Q4_K / Q6_K (q8x16k.h) ------------------------------ */

/* q8x16k.c's plain packer with a row's 32 values handled as one vector:
 * the same bytes (test-kernels compares them) in less than half the time
 * (the 0.6B Q4_K_M's 444 MB, one thread: 0.30 -> 0.14 s).
 * Bytes are shifted as 16-bit lanes and masked after, which drops what
 * crosses from the neighbouring byte. */

/* Sum of the 16 (u8) values of v. */
static inline int sum16_u8(__m128i v) {
    const __m128i s = _mm_sad_epu8(v, _mm_setzero_si128());
    return _mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4);
}

/* Row j's 32 nibble values lo (values 0-15) and hi (16-31) into a q4x16 block. */
static inline void put_q4_row(qr_q4x16 *p, int j, __m128i lo, __m128i hi, float s, float negmn) {
    uint8_t bytes[16];
    _mm_storeu_si128((__m128i *)bytes, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
    for (int k = 0; k < 4; k++) memcpy(&p->qs[k][4 * j], bytes + 4 * k, 4);
    p->s[j] = s;
    p->negmn[j] = negmn;
    p->negsum[j] = (int16_t)-(sum16_u8(lo) + sum16_u8(hi));
}

static inline __attribute__((always_inline)) void pack_kq_as(const qr_tensor *w, void *dst, qr_type type) {
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m256i m4y = _mm256_set1_epi8(0x0f), m2y = _mm256_set1_epi8(0x03), bias = _mm256_set1_epi8(32);
    const size_t unit = qr_q8x16k_unit(type);
    const int64_t rows = qr_tensor_rows(w), nb = w->ne[0] / 32;
    const size_t row_bytes = qr_row_bytes(type, w->ne[0]);
    for (int64_t g = 0; g < (rows + 15) / 16; g++) {
        const int n = rows - g * 16 < 16 ? (int)(rows - g * 16) : 16;
        const uint8_t *src0 = (const uint8_t *)w->data + (size_t)(g * 16) * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            void *block = (uint8_t *)dst + (size_t)(g * nb + b) * unit;
            if (n < 16)
                memset(block, 0, unit); /* rows past the last stay zero */
            else if (type != QR_TYPE_Q6_K) /* every field but q4x16's padding is written below */
                memset(((qr_q4x16 *)block)->pad, 0, sizeof ((qr_q4x16 *)block)->pad);
            for (int j = 0; j < n; j++) {
                const uint8_t *src = src0 + (size_t)j * row_bytes;
                float s_lo, s_hi, negmn;
                qr_q8x16k_scales(src, type, b, &s_lo, &s_hi, &negmn);
                if (type == QR_TYPE_Q4_0) {
                    const __m128i v = _mm_loadu_si128((const __m128i *)((const qr_block_q4_0 *)src + b)->qs);
                    put_q4_row(block, j, _mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4), s_lo,
                               negmn);
                } else if (type == QR_TYPE_Q4_K) {
                    const int sub = (int)(b % 8);
                    const uint8_t *qs = ((const qr_block_q4_k *)src + b / 8)->qs + 32 * (sub / 2);
                    const __m128i shift = _mm_cvtsi32_si128(4 * (sub % 2));
                    const __m128i lo = _mm_and_si128(_mm_srl_epi16(_mm_loadu_si128((const __m128i *)qs), shift), m4);
                    const __m128i hi =
                        _mm_and_si128(_mm_srl_epi16(_mm_loadu_si128((const __m128i *)(qs + 16)), shift), m4);
                    put_q4_row(block, j, lo, hi, s_lo, negmn);
                } else { /* Q6_K */
                    const qr_block_q6_k *blk = (const qr_block_q6_k *)src + b / 8;
                    const int half = (int)(b % 8) / 4, quarter = (int)(b % 4);
                    const __m256i ql = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * half + 32 * (quarter % 2)));
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * half));
                    const __m256i u = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srl_epi16(ql, _mm_cvtsi32_si128(4 * (quarter / 2))), m4y),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * quarter)), m2y),
                                          4)); /* q + 32, 0..63 */
                    uint8_t q[32];
                    _mm256_storeu_si256((__m256i *)q, _mm256_sub_epi8(u, bias));
                    qr_q6x16 *p = block;
                    for (int k = 0; k < 8; k++) memcpy(&p->qs[k][4 * j], q + 4 * k, 4);
                    p->s_lo[j] = s_lo;
                    p->s_hi[j] = s_hi;
                    p->negsum_lo[j] = (int16_t)-(sum16_u8(_mm256_castsi256_si128(u)) - 16 * 32);
                    p->negsum_hi[j] = (int16_t)-(sum16_u8(_mm256_extracti128_si256(u, 1)) - 16 * 32);
                }
            }
        }
    }
}

void qr_q8x16k_pack_avx2(const qr_tensor *w, void *dst) {
    switch (w->type) {
    case QR_TYPE_Q4_0: pack_kq_as(w, dst, QR_TYPE_Q4_0); break;
    case QR_TYPE_Q4_K: pack_kq_as(w, dst, QR_TYPE_Q4_K); break;
    case QR_TYPE_Q6_K: pack_kq_as(w, dst, QR_TYPE_Q6_K); break;
    default: break;
    }
}
