/* avx512.c - the AVX-512 kernels (F, BW, VL, DQ, VNNI; no BF16, so that
 * CPUs without it, Cascade Lake and Ice Lake among them, run them too).
 *
 * Built with its own -m flags (CMakeLists.txt) and only ever called after
 * dispatch.c has seen every one of those features and the OS's consent to
 * save ZMM state, so nothing here may run, or be inlined, anywhere else.
 *
 * gemm_q8_0 is the one that matters: the int8 dot product must run at the
 * speed of vpdpbusd even though Q8_0 has a scale per 32 values. So each lane
 * of a ZMM register owns one output, not a stretch of the input: weights are
 * read as q8_0x16 groups (q8_0x16.h; packed once per model, or here a
 * chunk at a time), four activation bytes are broadcast, and after 8
 * vpdpbusd a lane holds the integer dot of one 32-block. vpdpbusd wants
 * unsigned x signed bytes, so activations come offset by +128: matmul.c
 * quantises them straight into that form (the q8u layout), which the tile
 * reads in place; Q8_0 blocks from other callers are copied into it a row
 * tile at a time. The offset's share, -128 * sum(w) per weight block, is
 * where every integer accumulator starts (copied from one register per
 * group, as zero would be), so it ends at the block's exact dot; then one
 * multiply (by d_w) and one FMA (times d_x into the sum). Those two per 8
 * vpdpbusd share vpdpbusd's two pipes, which caps the loop at 80% of the
 * int8 peak; converting isum runs on other pipes. Folding the offset into
 * the float step instead (an FMA with d_w * -128 sum(w)) cost a multiply per
 * group and block more; generic.c's form (d_w * d_x, multiply, add) one FP
 * operation more per output. So the result is not bit-identical to
 * generic.c: it differs by float rounding (the integer dots are exact),
 * which tests/test-kernels.c bounds. A tile is 6 rows x 32 outputs: 12
 * integer and 12 float accumulators.
 *
 * The bf16x16 layout of BF16 weights (isa.h) is made here; gemm_bf16,
 * which needs vdpbf16ps, is in avx512_bf16.c, and the f32 kernel reads the
 * same layout exactly.
 * gemm_f32 turns 32 weight rows x 256 values at a time into a panel, one
 * vector per value for 16 of the outputs (widened exactly from other types,
 * then transposed), and broadcasts each activation against it: no
 * reduction, and the loop at the FMA's rate once its operands are in L1
 * (8 rows x 32 outputs; the row-major tile it replaced ran at 55-60% there
 * and at 40-50% on one 0.6B layer, the panels at 60-70%: bench-kernels).
 *
 * Buffers live on the stack (about 110 KB at most): the kernel signature has
 * no way to report an allocation failure. */
#include <immintrin.h>
#include <string.h>

#include "isa.h"
#include "q8_0x16.h"
#include "q8x16k.h"
#include "avx512_shared.h"

/* ---- Q8_0 x Q8_0 ------------------------------------------------------- */

enum {
    Q8_MR = 6,  /* activation rows per register tile */
    Q8_KC = 32, /* 32-blocks per chunk: two packed groups (36 KB) stay in L1 */
    /* Rows per row panel. Each panel costs a pass over the weights,
     * re-packed on the fly unless packed once per model; its activations
     * (0.5-1.5 MB at 1,024-3,072 values) are re-read from L2/L3 for every
     * weight chunk. 384 against 128: posts-20 1.08-1.10 -> 0.99-1.06 s,
     * posts-100 3.39-3.50 -> 3.34-3.38 s; sizing it to L2 per matrix gained
     * nothing over that. */
    Q8_RP = 384,
    /* Except that a call of up to this many rows on weights packed on the
     * fly is one panel: forward.c's 512-row calls then pack each chunk once,
     * not twice (bench-kernels, 512 rows: 63.7-65.4% -> 65.4-67.6% of the
     * int8 peak). Larger panels in general lost 1-2 points at 1,000 rows. */
    Q8_RP_ONE = 512,
};

_Static_assert(Q8_MR <= 6, "q8_tile addresses rows as one of two bases + 0, 1 or 2 strides");

typedef struct {
    uint8_t qs[Q8_MR][Q8_KC][32]; /* activation bytes + 128 */
    float dx[Q8_MR][Q8_KC];
} q8_rows;

/* One q8_0x16 block from 16 Q8_0 blocks, row i + 4m at p[i] + m * s4. */
static inline __attribute__((always_inline)) void q8_pack_block(const uint8_t *const p[4], size_t s4,
                                                                qr_q8_0x16 *dst) {
    for (int i = 0; i < 4; i++)
        for (int m = 0; m < 4; m++) memcpy(&dst->d[i + 4 * m], p[i] + m * s4, 2);
    const uint8_t *qs[4] = {p[0] + 2, p[1] + 2, p[2] + 2, p[3] + 2};
    __m512i q[8];
    transpose_16x8_dwords(qs, s4, q);
    /* (unsigned 1) x (signed w): the plain sum of each row */
    __m512i sum = _mm512_setzero_si512();
    for (int k = 0; k < 8; k++) {
        _mm512_storeu_si512(dst->qs[k], q[k]);
        sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), q[k]);
    }
    _mm256_storeu_si256((__m256i *)dst->negsum, _mm512_cvtepi32_epi16(_mm512_sub_epi32(_mm512_setzero_si512(), sum)));
}

/* One group: weight rows first .. first+15 x blocks [b0, b0+nb) into
 * dst[0 .. nb). Rows at or past end are row pad, or zero when pad < 0. */
static void q8_pack_group(const qr_tensor *w, int64_t first, int64_t end, int64_t pad, int64_t b0, int64_t nb,
                          qr_q8_0x16 *dst) {
    const size_t wrow = qr_row_bytes(QR_TYPE_Q8_0, w->ne[0]), blk = sizeof(qr_block_q8_0);
    const uint8_t *base = (const uint8_t *)w->data + (size_t)b0 * blk;
    if (end - first >= 16) {
        const uint8_t *p[4];
        for (int i = 0; i < 4; i++) p[i] = base + (size_t)(first + i) * wrow;
        for (int64_t b = 0; b < nb; b++) {
            q8_pack_block(p, 4 * wrow, &dst[b]);
            for (int i = 0; i < 4; i++) p[i] += blk;
        }
        return;
    }
    for (int64_t b = 0; b < nb; b++) { /* a short last group: gather its rows at a uniform stride */
        uint8_t rows[16][sizeof(qr_block_q8_0)];
        for (int j = 0; j < 16; j++) {
            const int64_t o = first + j < end ? first + j : pad;
            if (o < 0)
                memset(rows[j], 0, blk);
            else
                memcpy(rows[j], base + (size_t)o * wrow + (size_t)b * blk, blk);
        }
        const uint8_t *p[4] = {rows[0], rows[1], rows[2], rows[3]};
        q8_pack_block(p, 4 * blk, &dst[b]);
    }
}

/* Weight rows [o0, o1) (at most 32) x blocks [b0, b0+nb), for one chunk of
 * the kernel (or of avx512_amx.c's): in the packed copy (o0 a multiple of
 * 16 then; the caller's w->packed, read once per call), or laid out into
 * chunk as two groups, chunk[g * Q8_KC + b]; rows past o1 repeat row o0,
 * their lanes computed and never stored. */
_Static_assert((int)Q8_KC == (int)QR_Q8_0X16_KC, "isa.h's chunk size is this kernel's");
void qr_q8_0x16_chunk_avx512(const qr_tensor *w, const qr_q8_0x16 *packed, int64_t o0, int64_t o1, int64_t b0, int nb,
                             qr_q8_0x16 *chunk, const qr_q8_0x16 *gp[2]) {
    if (packed) {
        const int64_t nb_all = w->ne[0] / QR_QK8_0;
        gp[0] = packed + (o0 / 16) * nb_all + b0;
        gp[1] = gp[0] + nb_all;
        return;
    }
    for (int g = 0; g < (o1 - o0 > 16 ? 2 : 1); g++) q8_pack_group(w, o0 + 16 * g, o1, o0, b0, nb, chunk + g * Q8_KC);
    gp[0] = chunk;
    gp[1] = chunk + Q8_KC;
}

/* The whole tensor, once per model (kernels.h, pack): the layout of
 * qr_q8_0x16_pack, about five times faster. Rows past the last are zero. */
void qr_q8_0x16_pack_avx512(const qr_tensor *w, void *dst) {
    const int64_t rows = qr_tensor_rows(w), nb = w->ne[0] / QR_QK8_0;
    for (int64_t g = 0; g < (rows + 15) / 16; g++) q8_pack_group(w, 16 * g, rows, -1, 0, nb, (qr_q8_0x16 *)dst + g * nb);
}

/* Copies Q8_0 activation rows (+128) and widens their scales, for one chunk. */
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

/* The register tile: MR rows x NG groups of 16 outputs (lane l of group g is
 * output o0 + 16g + l, stored where mask[g] says). MR and NG are constants at
 * every call site, so the arrays below are registers. */
static inline __attribute__((always_inline)) void q8_tile(const qr_q8_0x16 *const gp[2], const qr_q8_view *xv,
                                                          int nb, int MR, int NG, const float *in, float *y,
                                                          int64_t ldy, const __mmask16 mask[2]) {
    /* Rows r and r + 3 as base + (r % 3) * stride, an addressing mode: four
     * bases and two strides instead of twelve row pointers, which spilled
     * (bench-kernels: +0-1 point of the int8 peak, 1,000 rows). */
    const size_t qs = xv->q_stride, ds = xv->d_stride;
    const uint8_t *const qa = xv->q, *const qb = xv->q + 3 * qs, *const da = xv->d, *const db = xv->d + 3 * ds;
    __m512 acc[Q8_MR][2];
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++)
            acc[r][g] = in ? _mm512_load_ps(in + r * 32 + 16 * g) : _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        /* isum starts at -128 sum(w), the offset's share, so that it ends at
         * the block's exact integer dot */
        __m512i isum[Q8_MR][2], seed[2];
        for (int g = 0; g < NG; g++)
            seed[g] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)gp[g][b].negsum)), 7);
        for (int r = 0; r < MR; r++)
            for (int g = 0; g < NG; g++) isum[r][g] = seed[g];
        for (int k = 0; k < 8; k++) {
            __m512i wv[2];
            for (int g = 0; g < NG; g++) wv[g] = _mm512_loadu_si512(gp[g][b].qs[k]);
            for (int r = 0; r < MR; r++) {
                int32_t x4;
                memcpy(&x4, (r < 3 ? qa : qb) + (size_t)(r % 3) * qs + 32 * b + 4 * k, 4);
                const __m512i xb = _mm512_set1_epi32(x4);
                for (int g = 0; g < NG; g++) isum[r][g] = _mm512_dpbusd_epi32(isum[r][g], xb, wv[g]);
            }
        }
        __m512 dw[2];
        for (int g = 0; g < NG; g++) dw[g] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)gp[g][b].d));
        for (int r = 0; r < MR; r++) {
            float d;
            memcpy(&d, (r < 3 ? da : db) + (size_t)(r % 3) * ds + 4 * b, 4);
            const __m512 dx = _mm512_set1_ps(d);
            for (int g = 0; g < NG; g++)
                acc[r][g] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][g]), dw[g]), dx, acc[r][g]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) _mm512_mask_storeu_ps(y + r * ldy + 16 * g, mask[g], acc[r][g]);
}

#define Q8_TILE_CASE(MRv)                                                                                    \
    case MRv:                                                                                                \
        if (ng == 2)                                                                                         \
            q8_tile(gp, xv, nb, MRv, 2, in, y, ldy, mask);                                                   \
        else                                                                                                 \
            q8_tile(gp, xv, nb, MRv, 1, in, y, ldy, mask);                                                   \
        break;

static void q8_tile_any(const qr_q8_0x16 *const gp[2], const qr_q8_view *xv, int nb, int mr, int ng, const float *in,
                        float *y, int64_t ldy, const __mmask16 mask[2]) {
    switch (mr) {
        Q8_TILE_CASE(1)
        Q8_TILE_CASE(2)
        Q8_TILE_CASE(3)
        Q8_TILE_CASE(4)
        Q8_TILE_CASE(5)
        Q8_TILE_CASE(6)
    default: break;
    }
}

/* The kernels below fetch the next chunk's weights toward L2 a share per
 * row tile (n tiles): a chunk's weights come from memory, and the first
 * tiles on it stalled without this (about 2% of the Q8_0 kernel at 1,000
 * rows). The chunk is n_runs runs of run_bytes, stride apart; the cursor
 * walks its lines, per or per + 1 of them per tile, with no division per
 * tile (a tile is only ~2,000 cycles). */
typedef struct {
    const uint8_t *base;
    size_t stride, lines_per, run, line;
    int64_t per, extra, n, acc;
} prefetch_cursor;

static inline __attribute__((always_inline)) prefetch_cursor prefetch_start(const uint8_t *base, size_t stride,
                                                                            size_t run_bytes, int64_t n_runs,
                                                                            int64_t n) {
    const size_t lines_per = (run_bytes + 63) / 64;
    const int64_t total = base ? n_runs * (int64_t)lines_per : 0;
    return (prefetch_cursor){base, stride, lines_per, 0, 0, total / n, total % n, n, 0};
}

/* The next tile's share. */
static inline __attribute__((always_inline)) void prefetch_share(prefetch_cursor *c) {
    int64_t count = c->per;
    if ((c->acc += c->extra) >= c->n) {
        c->acc -= c->n;
        count++;
    }
    for (; count > 0; count--) {
        _mm_prefetch((const char *)(c->base + c->run * c->stride + 64 * c->line), _MM_HINT_T1);
        if (++c->line == c->lines_per) {
            c->line = 0;
            c->run++;
        }
    }
}

/* First rows of n_tiles row tiles of nearly equal height over rp rows:
 * 20 rows run as 4 x 5, not 6+6+6+2. Once per row panel, not per chunk. */
static void tile_starts(int64_t rp, int64_t n_tiles, int16_t *start) {
    for (int64_t t = 0; t <= n_tiles; t++) start[t] = (int16_t)(rp * t / n_tiles);
}

/* The Q8_0 chunk at outputs [o0, o0+32) (those before o_end), blocks
 * [b0, b0+Q8_KC), shared over n tiles: its packed groups, or the Q8_0 rows
 * it is packed from. Nothing when o0 is past o_end. */
static prefetch_cursor q8_prefetch_start(const qr_tensor *w, int64_t o0, int64_t o_end, int64_t b0, int64_t n) {
    const int64_t nb_all = w->ne[0] / QR_QK8_0, nb = nb_all - b0 < Q8_KC ? nb_all - b0 : Q8_KC;
    const int64_t rows = o_end - o0 < 32 ? o_end - o0 : 32;
    if (o0 >= o_end) return prefetch_start(NULL, 0, 64, 0, n);
    if (w->packed)
        return prefetch_start((const uint8_t *)((const qr_q8_0x16 *)w->packed + (o0 / 16) * nb_all + b0),
                              (size_t)nb_all * sizeof(qr_q8_0x16), (size_t)nb * sizeof(qr_q8_0x16), (rows + 15) / 16,
                              n);
    const size_t wrow = qr_row_bytes(QR_TYPE_Q8_0, w->ne[0]);
    return prefetch_start((const uint8_t *)w->data + (size_t)o0 * wrow + (size_t)b0 * sizeof(qr_block_q8_0), wrow,
                          (size_t)nb * sizeof(qr_block_q8_0), rows, n);
}

void qr_gemm_q8_0_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                         float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t nb_all = w->ne[0] / QR_QK8_0;
    const qr_q8_0x16 *packed = w->packed;
    _Alignas(64) qr_q8_0x16 chunk[2 * Q8_KC];
    _Alignas(64) q8_rows rows;
    /* Partial sums between chunks live here, not in y: y's rows are a power
     * of two apart and would all fall into the same few cache sets. */
    _Alignas(64) float part[Q8_RP_ONE][32];
    int16_t start[Q8_RP_ONE + 1];
    const __mmask16 all[2] = {0xffff, 0xffff};
    const int64_t panel = !packed && n_rows <= Q8_RP_ONE ? n_rows : Q8_RP;
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += panel) {
        const int64_t rp = n_rows - rp0 < panel ? n_rows - rp0 : panel;
        const int64_t n_tiles = (rp + Q8_MR - 1) / Q8_MR;
        tile_starts(rp, n_tiles, start);
        /* A packed tensor's groups start at multiples of 16; lanes of a group
         * that fall before o_begin are computed and not stored. */
        for (int64_t o0 = packed ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 32) {
            const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
            const int ng = hi - o0 > 16 ? 2 : 1;
            const __mmask16 mask[2] = {lane_mask(o0, o_begin, hi), lane_mask(o0 + 16, o_begin, hi)};
            for (int64_t b0 = 0; b0 < nb_all; b0 += Q8_KC) {
                const int nb = (int)(nb_all - b0 < Q8_KC ? nb_all - b0 : Q8_KC);
                const qr_q8_0x16 *gp[2];
                qr_q8_0x16_chunk_avx512(w, packed, o0, hi, b0, nb, chunk, gp);
                /* where the next chunk's weights start: the tiles below fetch
                 * them toward L2, a share each */
                const int64_t nb0 = b0 + Q8_KC < nb_all ? b0 + Q8_KC : 0, no0 = nb0 ? o0 : o0 + 32;
                prefetch_cursor pf = q8_prefetch_start(w, no0, o_end, nb0, n_tiles);
                for (int64_t t = 0; t < n_tiles; t++) {
                    const int64_t r0 = start[t], r1 = start[t + 1];
                    prefetch_share(&pf);
                    qr_q8_view xv;
                    if (xq->q8u) {
                        xv = qr_q8u_view(xq, rp0 + r0, b0, nb_all);
                    } else {
                        q8_pack_rows(xq, rp0 + r0, (int)(r1 - r0), b0, nb, &rows);
                        xv = (qr_q8_view){rows.qs[0][0], (const uint8_t *)rows.dx[0], sizeof rows.qs[0],
                                       sizeof rows.dx[0]};
                    }
                    const int last = b0 + nb >= nb_all;
                    q8_tile_any(gp, &xv, nb, (int)(r1 - r0), ng, b0 == 0 ? NULL : part[r0],
                                last ? y + (rp0 + r0) * ldy + o0 : part[r0], last ? ldy : 32, last ? mask : all);
                }
            }
        }
    }
}

/* ---- Q4_0 / Q4_K / Q6_K as q4x16 / q6x16 ------------------------------ */

/* The q8_0x16 scheme on the k-quant layouts (q8x16k.h): the integer dots
 * are the same, the float step differs. With isum = sum((x + 128) q) over a
 * block, c = 128 scale negsum, sx = sum(x) (from the q8u row), the block's
 * dot is
 *   q4x16 (Q4_0, Q4_K):  s * isum + c + negmn * sx
 *   q6x16 (Q6_K):        s_lo * isum_lo + c_lo + s_hi * isum_hi + c_hi
 * where Q6_K's isum_lo is taken after the four pieces of values 0-15 and
 * isum_hi restarts for the rest. As in q8_tile, each isum starts at its c
 * in integers (-128 sum(q)), so the float step is s * isum (+ negmn * sx).
 * Three FP operations per eight vpdpbusd against Q8_0's two; q4x16's nibble
 * unpacking (a mask and a shift per 64 bytes) runs on the pipes vpdpbusd
 * leaves free. */
enum {
    KQ_KC = 16, /* 32-blocks per chunk: two groups' weights, 14 / 22 KB, stay in L1 */
    KQ4_MR = 6,
    KQ6_MR = 4, /* a second set of partial sums is live */
};

typedef struct {
    const uint8_t *q, *d, *sum; /* bytes + 128, scales, block sums (q8u) */
    size_t stride;
} kq_view;

static inline __attribute__((always_inline)) float kq_load_f(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

static inline __attribute__((always_inline)) int32_t kq_load_x4(const kq_view *xv, int r, int off) {
    int32_t x4;
    memcpy(&x4, xv->q + (size_t)r * xv->stride + off, 4);
    return x4;
}

static inline __attribute__((always_inline)) void kq4_tile(const qr_q4x16 *const gp[2], const kq_view *xv, int nb,
                                                           int MR, const float *in, float *y, int64_t ldy,
                                                           const __mmask16 mask[2]) {
    enum { NG = 2 };
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    __m512 acc[KQ4_MR][NG];
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) acc[r][g] = in ? _mm512_load_ps(in + r * 32 + 16 * g) : _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        /* isum starts at -128 sum(q), the offset's share, as in q8_tile */
        __m512i isum[KQ4_MR][NG], seed[NG];
        for (int g = 0; g < NG; g++)
            seed[g] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)gp[g][b].negsum)), 7);
        for (int r = 0; r < MR; r++)
            for (int g = 0; g < NG; g++) isum[r][g] = seed[g];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i lo[NG], hi[NG];
            for (int g = 0; g < NG; g++) {
                const __m512i v = _mm512_loadu_si512(gp[g][b].qs[k]);
                lo[g] = _mm512_and_si512(v, low4);
                hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            }
            for (int r = 0; r < MR; r++) {
                const __m512i xa = _mm512_set1_epi32(kq_load_x4(xv, r, 32 * b + 4 * k));
                const __m512i xb = _mm512_set1_epi32(kq_load_x4(xv, r, 32 * b + 16 + 4 * k));
                for (int g = 0; g < NG; g++) {
                    isum[r][g] = _mm512_dpbusd_epi32(isum[r][g], xa, lo[g]);
                    isum[r][g] = _mm512_dpbusd_epi32(isum[r][g], xb, hi[g]);
                }
            }
        }
        __m512 sc[NG], negmn[NG];
        for (int g = 0; g < NG; g++) {
            sc[g] = _mm512_loadu_ps(gp[g][b].s);
            negmn[g] = _mm512_loadu_ps(gp[g][b].negmn);
        }
        for (int r = 0; r < MR; r++) {
            const __m512 dx = _mm512_set1_ps(kq_load_f(xv->d + (size_t)r * xv->stride + 4 * b));
            const __m512 sx = _mm512_set1_ps(kq_load_f(xv->sum + (size_t)r * xv->stride + 4 * b));
            for (int g = 0; g < NG; g++) {
                __m512 dot = _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][g]), sc[g]);
                dot = _mm512_fmadd_ps(negmn[g], sx, dot);
                acc[r][g] = _mm512_fmadd_ps(dot, dx, acc[r][g]);
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) _mm512_mask_storeu_ps(y + r * ldy + 16 * g, mask[g], acc[r][g]);
}

static inline __attribute__((always_inline)) void kq6_tile(const qr_q6x16 *const gp[2], const kq_view *xv, int nb,
                                                           int MR, const float *in, float *y, int64_t ldy,
                                                           const __mmask16 mask[2]) {
    enum { NG = 2 };
    __m512 acc[KQ6_MR][NG];
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) acc[r][g] = in ? _mm512_load_ps(in + r * 32 + 16 * g) : _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        /* each half's isum starts at -128 sum(q) of its values, as in q8_tile */
        __m512i isum[KQ6_MR][NG], seed_lo[NG], seed_hi[NG];
        for (int g = 0; g < NG; g++) {
            const qr_q6x16 *blk = &gp[g][b];
            seed_lo[g] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)blk->negsum_lo)), 7);
            seed_hi[g] = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)blk->negsum_hi)), 7);
        }
        __m512 part[KQ6_MR][NG];
        for (int r = 0; r < MR; r++)
            for (int g = 0; g < NG; g++) isum[r][g] = seed_lo[g];
        /* unrolled by hand-holding: GCC keeps a loop with a k == 3 test in it
         * otherwise, and copies every accumulator each trip */
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            __m512i wv[NG];
            for (int g = 0; g < NG; g++) wv[g] = _mm512_loadu_si512(gp[g][b].qs[k]);
            for (int r = 0; r < MR; r++) {
                const __m512i xb = _mm512_set1_epi32(kq_load_x4(xv, r, 32 * b + 4 * k));
                for (int g = 0; g < NG; g++) isum[r][g] = _mm512_dpbusd_epi32(isum[r][g], xb, wv[g]);
            }
            if (k == 3) /* values 0-15 done: their scale now, then start over */
                for (int r = 0; r < MR; r++)
                    for (int g = 0; g < NG; g++) {
                        part[r][g] = _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r][g]), _mm512_loadu_ps(gp[g][b].s_lo));
                        isum[r][g] = seed_hi[g];
                    }
        }
        for (int r = 0; r < MR; r++) {
            const __m512 dx = _mm512_set1_ps(kq_load_f(xv->d + (size_t)r * xv->stride + 4 * b));
            for (int g = 0; g < NG; g++) {
                const __m512 dot =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][g]), _mm512_loadu_ps(gp[g][b].s_hi), part[r][g]);
                acc[r][g] = _mm512_fmadd_ps(dot, dx, acc[r][g]);
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) _mm512_mask_storeu_ps(y + r * ldy + 16 * g, mask[g], acc[r][g]);
}

/* One tile of mr rows on the chunk whose first group-block is `chunk`
 * (the second group n_blocks further, or the same one when absent), from
 * partial sums `in` (rows 32 floats apart; NULL: from zero) into y, where
 * mask says. */
static void kq_tile_any(const qr_tensor *w, const void *chunk, size_t group_stride, int has_second,
                        const kq_view *xv, int nb, int mr, const float *in, float *y, int64_t ldy,
                        const __mmask16 mask[2]) {
#define KQ4_CASE(MRv)                                                                                        \
    case MRv: kq4_tile(g4, xv, nb, MRv, in, y, ldy, mask); break;
#define KQ6_CASE(MRv)                                                                                        \
    case MRv: kq6_tile(g6, xv, nb, MRv, in, y, ldy, mask); break;
    if (w->type == QR_TYPE_Q6_K) {
        const qr_q6x16 *g0 = chunk;
        const qr_q6x16 *const g6[2] = {g0, has_second ? g0 + group_stride : g0};
        switch (mr) {
            KQ6_CASE(1) KQ6_CASE(2) KQ6_CASE(3) KQ6_CASE(4) default: break;
        }
    } else {
        const qr_q4x16 *g0 = chunk;
        const qr_q4x16 *const g4[2] = {g0, has_second ? g0 + group_stride : g0};
        switch (mr) {
            KQ4_CASE(1) KQ4_CASE(2) KQ4_CASE(3) KQ4_CASE(4) KQ4_CASE(5) KQ4_CASE(6) default: break;
        }
    }
#undef KQ4_CASE
#undef KQ6_CASE
}

void qr_gemm_kq_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                       int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (!w->packed || !xq || !xq->q8u || !qr_q8x16k_type(w->type)) { /* nothing to run on: the exact path */
        qr_gemm_f32_avx512(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    const int64_t nb_all = w->ne[0] / 32;
    const int max_mr = w->type == QR_TYPE_Q6_K ? KQ6_MR : KQ4_MR;
    const size_t unit = qr_q8x16k_unit(w->type);
    /* partial sums between chunks, and the last chunk's tiles storing to
     * y, as in the Q8_0 kernel */
    _Alignas(64) float part[Q8_RP][32];
    int16_t start[Q8_RP + 1];
    const __mmask16 all[2] = {0xffff, 0xffff};
    const uint8_t *xbase = xq->data;
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += Q8_RP) {
        const int64_t rp = n_rows - rp0 < Q8_RP ? n_rows - rp0 : Q8_RP;
        const int64_t n_tiles = (rp + max_mr - 1) / max_mr;
        tile_starts(rp, n_tiles, start);
        for (int64_t o0 = o_begin - o_begin % 16; o0 < o_end; o0 += 32) {
            const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
            const __mmask16 mask[2] = {lane_mask(o0, o_begin, hi), lane_mask(o0 + 16, o_begin, hi)};
            for (int64_t b0 = 0; b0 < nb_all; b0 += KQ_KC) {
                const int nb = (int)(nb_all - b0 < KQ_KC ? nb_all - b0 : KQ_KC);
                /* when only the first group of the pair has outputs here, there may be no
                 * group after it: the second slot repeats the first, lanes dropped */
                const void *chunk = (const uint8_t *)w->packed + (size_t)((o0 / 16) * nb_all + b0) * unit;
                /* the next chunk, fetched by the tiles a share each (prefetch_share) */
                const int64_t nb0 = b0 + KQ_KC < nb_all ? b0 + KQ_KC : 0, no0 = nb0 ? o0 : o0 + 32;
                const int64_t next_nb = nb_all - nb0 < KQ_KC ? nb_all - nb0 : KQ_KC;
                const int64_t next_runs = no0 < o_end ? ((o_end - no0 < 32 ? o_end - no0 : 32) + 15) / 16 : 0;
                const uint8_t *next =
                    next_runs ? (const uint8_t *)w->packed + (size_t)((no0 / 16) * nb_all + nb0) * unit : NULL;
                prefetch_cursor pf =
                    prefetch_start(next, (size_t)nb_all * unit, (size_t)next_nb * unit, next_runs, n_tiles);
                for (int64_t t = 0; t < n_tiles; t++) {
                    const int64_t r0 = start[t], r1 = start[t + 1];
                    prefetch_share(&pf);
                    const uint8_t *row = xbase + (size_t)(rp0 + r0) * xq->row_bytes;
                    const kq_view xv = {row + 32 * b0, row + 32 * nb_all + 4 * b0, row + 36 * nb_all + 4 * b0,
                                        xq->row_bytes};
                    const int last = b0 + nb >= nb_all;
                    kq_tile_any(w, chunk, (size_t)nb_all, hi - o0 > 16, &xv, nb, (int)(r1 - r0),
                                b0 == 0 ? NULL : part[r0], last ? y + (rp0 + r0) * ldy + o0 : part[r0],
                                last ? ldy : 32, last ? mask : all);
                }
            }
        }
    }
}

/* ---- f32 x widened weights --------------------------------------------- */

enum {
    F32_MR = 8,   /* activation rows per tile: 16 accumulators */
    F32_KC = 256, /* values per panel: 32 outputs x 256 is 32 KB */
};

/* Widens row `row`, values [k0, k0+n), into dst: exactly what
 * qr_dequantize_row gives for those values. k0 and n are multiples of the
 * type's block size. */
static void widen_row(const qr_tensor *w, int64_t row, int64_t k0, int64_t n, float *dst) {
    const uint8_t *src = (const uint8_t *)w->data + (size_t)row * qr_row_bytes(w->type, w->ne[0]);
    int64_t i = 0;
    switch (w->type) {
    case QR_TYPE_F16: {
        const uint16_t *h = (const uint16_t *)src + k0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
        for (; i < n; i++) dst[i] = _cvtsh_ss(h[i]);
        break;
    }
    case QR_TYPE_BF16: {
        const uint16_t *h = (const uint16_t *)src + k0;
        for (; i + 16 <= n; i += 16) {
            const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(h + i)));
            _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
        }
        for (; i < n; i++) dst[i] = qr_bf16_to_f32(h[i]);
        break;
    }
    case QR_TYPE_Q8_0: {
        const qr_block_q8_0 *b = (const qr_block_q8_0 *)src + k0 / QR_QK8_0;
        for (int64_t j = 0; j < n / QR_QK8_0; j++) {
            const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[j].d));
            for (int h = 0; h < 2; h++) {
                const __m128i q = _mm_loadu_si128((const __m128i *)(b[j].qs + 16 * h));
                _mm512_storeu_ps(dst + 32 * j + 16 * h,
                                 _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))));
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

/* Weight rows o0 .. o0 + 31 (those past n_o alias a valid one), values k0 ..
 * k0 + kc - 1, as a panel: wt[k][j] is row o0 + j's value k0 + k. Each
 * 16 x 16 block goes through the registers once, widened first where the
 * type is not F32 (tmp: 16 rows of F32_KC). Rows of wt past kc, up to the
 * next 16, hold whatever the masked loads gave: zeros. */
static void f32_panel(const qr_tensor *w, int64_t o0, int n_o, int64_t k0, int64_t kc, float tmp[16][F32_KC],
                      float *wt) {
    const size_t wrow = qr_row_bytes(w->type, w->ne[0]);
    for (int half = 0; half < 2; half++) {
        const float *src[16];
        for (int j = 0; j < 16; j++) {
            const int o = 16 * half + j;
            if (w->type == QR_TYPE_F32) {
                src[j] = (const float *)((const uint8_t *)w->data + (size_t)(o0 + (o < n_o ? o : 0)) * wrow) + k0;
            } else {
                if (o < n_o) widen_row(w, o0 + o, k0, kc, tmp[j]);
                src[j] = tmp[o < n_o ? j : 0];
            }
        }
        for (int64_t k = 0; k < kc; k += 16) {
            const __mmask16 m = kc - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (kc - k)) - 1);
            __m512 r[16], t[16];
            for (int j = 0; j < 16; j++) r[j] = _mm512_maskz_loadu_ps(m, src[j] + k);
            /* 128-bit lane L of t[2i]: rows 2i, 2i+1 at columns 4L, 4L+1;
             * of t[2i+1]: the same at 4L+2, 4L+3 */
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            /* lane L of r[4i + c]: rows 4i .. 4i+3 at column 4L + c */
            for (int i = 0; i < 4; i++)
                for (int c = 0; c < 2; c++) {
                    const __m512d lo = _mm512_castps_pd(t[4 * i + c]), hi = _mm512_castps_pd(t[4 * i + c + 2]);
                    r[4 * i + 2 * c] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi));
                    r[4 * i + 2 * c + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi));
                }
            /* column 4L + c: lane L of r[c], r[4 + c], r[8 + c], r[12 + c] */
            float *dst = wt + k * 32 + 16 * half;
            for (int c = 0; c < 4; c++) {
                const __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88),
                             u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
                const __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88),
                             u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
                _mm512_store_ps(dst + (0 + c) * 32, _mm512_shuffle_f32x4(u0, u2, 0x88));
                _mm512_store_ps(dst + (4 + c) * 32, _mm512_shuffle_f32x4(u1, u3, 0x88));
                _mm512_store_ps(dst + (8 + c) * 32, _mm512_shuffle_f32x4(u0, u2, 0xdd));
                _mm512_store_ps(dst + (12 + c) * 32, _mm512_shuffle_f32x4(u1, u3, 0xdd));
            }
        }
    }
}

/* f32_panel's panel from a tensor's packed copy (kernels.h, pack), not from
 * its file pages: Q8_0's q8_0x16, or q8x16k for Q4_0, Q4_K and Q6_K.
 * Outputs o0 .. o0 + 31 (o0 a multiple of 16; a second group past the
 * tensor's last gives zeros), values k0 .. k0 + kc - 1 (whole blocks).
 * Each lane holds four values of its output per piece (Q4's: four low and
 * four high nibbles), taken out in place and scaled as widen_row's
 * dequantisation does: the same values (q8x16k.h; for Q4 the product
 * scale * q is exact, so fused or not the sum rounds once). */
static void f32_panel_copy(const qr_tensor *w, int64_t o0, int64_t k0, int64_t kc, float *wt) {
    const int64_t nb = w->ne[0] / 32, groups = (qr_tensor_rows(w) + 15) / 16;
    const size_t unit = w->type == QR_TYPE_Q8_0 ? sizeof(qr_q8_0x16) : qr_q8x16k_unit(w->type);
    const __m512i nib = _mm512_set1_epi32(0xf);
    for (int half = 0; half < 2; half++) {
        const int64_t g = o0 / 16 + half;
        for (int64_t b = 0; b < kc / 32; b++) {
            float *dst = wt + (size_t)b * 32 * 32 + 16 * half;
            if (g >= groups) {
                for (int k = 0; k < 32; k++) _mm512_store_ps(dst + k * 32, _mm512_setzero_ps());
                continue;
            }
            const uint8_t *blk = (const uint8_t *)w->packed + (size_t)(g * nb + k0 / 32 + b) * unit;
            if (w->type == QR_TYPE_Q8_0 || w->type == QR_TYPE_Q6_K) { /* int8 pieces */
                __m512 s_lo, s_hi;
                const int8_t(*qs)[64];
                if (w->type == QR_TYPE_Q8_0) {
                    const qr_q8_0x16 *p = (const qr_q8_0x16 *)blk;
                    s_lo = s_hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p->d));
                    qs = p->qs;
                } else {
                    const qr_q6x16 *p = (const qr_q6x16 *)blk;
                    s_lo = _mm512_loadu_ps(p->s_lo);
                    s_hi = _mm512_loadu_ps(p->s_hi);
                    qs = p->qs;
                }
                for (int k = 0; k < 8; k++) {
                    const __m512i v = _mm512_loadu_si512(qs[k]);
                    for (int e = 0; e < 4; e++) {
                        const __m512i q = _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * e), 24);
                        _mm512_store_ps(dst + (4 * k + e) * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(q), k < 4 ? s_lo : s_hi));
                    }
                }
            } else { /* q4x16: values 4k + i in the low nibbles, 16 + 4k + i in the high */
                const qr_q4x16 *p = (const qr_q4x16 *)blk;
                const __m512 sc = _mm512_loadu_ps(p->s), mn = _mm512_loadu_ps(p->negmn);
                for (int k = 0; k < 4; k++) {
                    const __m512i v = _mm512_loadu_si512(p->qs[k]);
                    for (int i = 0; i < 4; i++)
                        for (int h = 0; h < 2; h++) {
                            const __m512i q = _mm512_and_si512(_mm512_srli_epi32(v, 8 * i + 4 * h), nib);
                            _mm512_store_ps(dst + (16 * h + 4 * k + i) * 32,
                                            _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(q), sc), mn));
                        }
                }
            }
        }
    }
}

/* Tiles of rows as even in size as F32_MR allows (20 rows as 6 + 7 + 7,
 * not 8 + 8 and a tile of 8 for the last 4), each computing only its rows:
 * CALL(r0, MR) runs rows r0 .. r0 + MR - 1, MR a constant for the tile. */
#define F32_TILES(n_rows, CALL)                                                                                        \
    do {                                                                                                               \
        const int64_t n_tiles_ = ((n_rows) + F32_MR - 1) / F32_MR;                                                     \
        for (int64_t t_ = 0; t_ < n_tiles_; t_++) {                                                                    \
            const int64_t r0_ = (n_rows) * t_ / n_tiles_;                                                              \
            switch ((int)((n_rows) * (t_ + 1) / n_tiles_ - r0_)) {                                                     \
            case 1: CALL(r0_, 1); break;                                                                               \
            case 2: CALL(r0_, 2); break;                                                                               \
            case 3: CALL(r0_, 3); break;                                                                               \
            case 4: CALL(r0_, 4); break;                                                                               \
            case 5: CALL(r0_, 5); break;                                                                               \
            case 6: CALL(r0_, 6); break;                                                                               \
            case 7: CALL(r0_, 7); break;                                                                               \
            default: CALL(r0_, 8); break;                                                                              \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

/* MR rows (a constant, at most F32_MR) x the panel's 32 outputs, over the
 * panel's kc values: each row's value broadcast against two vectors of the
 * panel. Each output's sum runs in k order from zero, whatever the row's
 * tile: a row alone gives the same bits as among others. Outputs past the
 * masks are dropped. */
static inline __attribute__((always_inline)) void f32_tile(const float *x, int64_t ldx, const int MR, const float *wt,
                                                           int64_t kc, int first, float *y, int64_t ldy,
                                                           __mmask16 m0, __mmask16 m1) {
    __m512 acc[F32_MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_load_ps(wt + 32 * k), w1 = _mm512_load_ps(wt + 32 * k + 16);
        for (int r = 0; r < MR; r++) {
            const __m512 xb = _mm512_set1_ps(x[r * ldx + k]);
            acc[r][0] = _mm512_fmadd_ps(xb, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(xb, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) {
        float *yr = y + r * ldy;
        if (!first) {
            acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(m0, yr));
            acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(m1, yr + 16));
        }
        _mm512_mask_storeu_ps(yr, m0, acc[r][0]);
        _mm512_mask_storeu_ps(yr + 16, m1, acc[r][1]);
    }
}

/* f32_tile for BF16 weights packed as bf16x16 (G2: a second group, bg
 * bytes after the first), np pairs of inputs: each pair widened in
 * registers (the even input is the low half, shifted up; the odd one the
 * high half, masked), and summed in the order f32_tile sums the panel made
 * from the same weights, from zero: the same bits. */
static inline __attribute__((always_inline)) void f32_pairs_tile(const float *x, int64_t ldx, const int MR,
                                                                 const uint8_t *b, size_t bg, int64_t np, int G2,
                                                                 int first, float *y, int64_t ldy, __mmask16 m0,
                                                                 __mmask16 m1) {
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    __m512 acc[F32_MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t j = 0; j < np; j++) {
        const __m512i v0 = _mm512_load_si512(b + (size_t)j * QR_BF16X16_PAIR);
        const __m512i v1 = G2 ? _mm512_load_si512(b + bg + (size_t)j * QR_BF16X16_PAIR) : v0;
        const __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), o0 = _mm512_castsi512_ps(_mm512_and_si512(v0, hi));
        const __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), o1 = _mm512_castsi512_ps(_mm512_and_si512(v1, hi));
        for (int r = 0; r < MR; r++) {
            const __m512 xe = _mm512_set1_ps(x[r * ldx + 2 * j]), xo = _mm512_set1_ps(x[r * ldx + 2 * j + 1]);
            acc[r][0] = _mm512_fmadd_ps(xo, o0, _mm512_fmadd_ps(xe, e0, acc[r][0]));
            if (G2) acc[r][1] = _mm512_fmadd_ps(xo, o1, _mm512_fmadd_ps(xe, e1, acc[r][1]));
        }
    }
    for (int r = 0; r < MR; r++) {
        float *yr = y + r * ldy;
        if (!first) {
            acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(m0, yr));
            if (G2) acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(m1, yr + 16));
        }
        _mm512_mask_storeu_ps(yr, m0, acc[r][0]);
        if (G2) _mm512_mask_storeu_ps(yr + 16, m1, acc[r][1]);
    }
}

/* BF16 weights with a bf16x16 copy: no panels to make, the copy read in
 * place, in f32_tile's chunks. */
static void gemm_f32_pairs(const qr_tensor *w, const float *x, int64_t n_rows, int64_t ldx, float *y, int64_t ldy,
                           int64_t o_begin, int64_t o_end) {
    const int64_t n_in = w->ne[0];
    for (int64_t o0 = o_begin - o_begin % 16; o0 < o_end; o0 += 32) {
        const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
        const __mmask16 m0 = lane_mask(o0, o_begin, hi), m1 = lane_mask(o0 + 16, o_begin, hi);
        for (int64_t k0 = 0; k0 < n_in; k0 += F32_KC) {
            const int64_t kc = n_in - k0 < F32_KC ? n_in - k0 : F32_KC;
            size_t bg;
            const uint8_t *b = qr_bf16x16_chunk_avx512(w, o0, hi, k0, kc, NULL, &bg);
#define PAIRS_2(r0, MR) \
    f32_pairs_tile(x + (r0) * ldx + k0, ldx, MR, b, bg, kc / 2, 1, k0 == 0, y + (r0) * ldy + o0, ldy, m0, m1)
#define PAIRS_1(r0, MR) \
    f32_pairs_tile(x + (r0) * ldx + k0, ldx, MR, b, bg, kc / 2, 0, k0 == 0, y + (r0) * ldy + o0, ldy, m0, m1)
            if (hi - o0 > 16)
                F32_TILES(n_rows, PAIRS_2);
            else
                F32_TILES(n_rows, PAIRS_1);
#undef PAIRS_2
#undef PAIRS_1
        }
    }
}

void qr_gemm_f32_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)xq;
    if (w->type == QR_TYPE_BF16 && w->packed) {
        gemm_f32_pairs(w, x, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    const int64_t n_in = w->ne[0];
    /* a packed copy of Q8_0 or the k-quants (BF16's: gemm_f32_pairs) has
     * groups starting at multiples of 16: lanes before o_begin are
     * computed and not stored */
    const int copy = w->packed && (w->type == QR_TYPE_Q8_0 || qr_q8x16k_type(w->type));
    _Alignas(64) float tmp[16][F32_KC];
    _Alignas(64) float wt[F32_KC * 32];
    for (int64_t o0 = copy ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 32) {
        const int n_o = (int)(o_end - o0 < 32 ? o_end - o0 : 32);
        const __mmask16 m0 = lane_mask(o0, o_begin, o_end), m1 = lane_mask(o0 + 16, o_begin, o_end);
        /* chunks of whole blocks for every type (F32_KC is a multiple of 256) */
        for (int64_t k0 = 0; k0 < n_in; k0 += F32_KC) {
            const int64_t kc = n_in - k0 < F32_KC ? n_in - k0 : F32_KC;
            if (copy)
                f32_panel_copy(w, o0, k0, kc, wt);
            else
                f32_panel(w, o0, n_o, k0, kc, tmp, wt);
#define TILE(r0, MR) f32_tile(x + (r0) * ldx + k0, ldx, MR, wt, kc, k0 == 0, y + (r0) * ldy + o0, ldy, m0, m1)
            F32_TILES(n_rows, TILE);
#undef TILE
        }
    }
}

/* ---- bf16 x bf16 -------------------------------------------------------- */

enum { BF_PAIR = QR_BF16X16_PAIR };

size_t qr_bf16x16_size(const qr_tensor *w) {
    if (w->type != QR_TYPE_BF16 || w->ne[0] % 32 != 0) return 0;
    return (size_t)((qr_tensor_rows(w) + 15) / 16) * (size_t)(w->ne[0] / 2) * BF_PAIR;
}

void qr_bf16x16_group_avx512(const qr_tensor *w, int64_t first, int64_t end, int64_t pad, int64_t k0, int64_t n,
                             uint8_t *dst) {
    const size_t wrow = (size_t)w->ne[0] * 2;
    const uint8_t *base = (const uint8_t *)w->data + (size_t)k0 * 2;
    __m512i out[8];
    int64_t k = 0;
    if (end - first >= 16) {
        const uint8_t *p[4];
        for (int i = 0; i < 4; i++) p[i] = base + (size_t)(first + i) * wrow;
        for (; k + 16 <= n; k += 16) {
            transpose_16x8_dwords(p, 4 * wrow, out);
            for (int j = 0; j < 8; j++) _mm512_store_si512(dst + (size_t)(k / 2 + j) * BF_PAIR, out[j]);
            for (int i = 0; i < 4; i++) p[i] += 32;
        }
    }
    /* a short group, or the last values of a row: gathered at a uniform
     * stride, zeros past the row's end */
    for (; k < n; k += 16) {
        const int64_t nk = n - k < 16 ? n - k : 16;
        uint8_t rows[16][32];
        for (int j = 0; j < 16; j++) {
            const int64_t o = first + j < end ? first + j : pad;
            memset(rows[j], 0, 32);
            if (o >= 0) memcpy(rows[j], base + (size_t)o * wrow + (size_t)k * 2, (size_t)nk * 2);
        }
        const uint8_t *p[4] = {rows[0], rows[1], rows[2], rows[3]};
        transpose_16x8_dwords(p, 4 * 32, out);
        for (int j = 0; j < (nk + 1) / 2; j++) _mm512_store_si512(dst + (size_t)(k / 2 + j) * BF_PAIR, out[j]);
    }
}

void qr_bf16x16_pack_avx512(const qr_tensor *w, void *dst) {
    const int64_t rows = qr_tensor_rows(w), n_in = w->ne[0];
    for (int64_t g = 0; g < (rows + 15) / 16; g++)
        qr_bf16x16_group_avx512(w, 16 * g, rows, -1, 0, n_in,
                                (uint8_t *)dst + (size_t)g * (size_t)(n_in / 2) * BF_PAIR);
}

const uint8_t *qr_bf16x16_chunk_avx512(const qr_tensor *w, int64_t o0, int64_t hi, int64_t k0, int64_t n,
                                       uint8_t chunk[2][QR_BF16X16_KC / 2 * QR_BF16X16_PAIR], size_t *bg) {
    if (w->packed) {
        const size_t group_bytes = (size_t)(w->ne[0] / 2) * BF_PAIR;
        *bg = group_bytes;
        return (const uint8_t *)w->packed + (size_t)(o0 / 16) * group_bytes + (size_t)k0 / 2 * BF_PAIR;
    }
    for (int g = 0; g <= (hi - o0 > 16); g++) qr_bf16x16_group_avx512(w, o0 + 16 * g, hi, o0, k0, n, chunk[g]);
    *bg = sizeof chunk[0];
    return chunk[0];
}

/* ---- activation conversions -------------------------------------------- */

/* One block of 32 values, rounded as generic.c does: returns the f16 scale,
 * writes the 32 int8 values to q. */
static inline __attribute__((always_inline)) uint16_t quantize_block(const float *x, int8_t *q) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    /* max(|v|, m) keeps m where |v| is NaN, as fmaxf does */
    __m512 m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps());
    m = _mm512_max_ps(_mm512_abs_ps(v1), m);
    const float amax = _mm512_reduce_max_ps(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    for (int h = 0; h < 2; h++) {
        /* roundf: truncate, then step away from zero when the dropped
         * part is at least one half (v - trunc(v) is exact) */
        const __m512 v = _mm512_mul_ps(h ? v1 : v0, vid);
        const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), half, _CMP_GE_OQ);
        const __m512 step = _mm512_or_ps(one, _mm512_and_ps(v, sign));
        const __m512 r = _mm512_mask_add_ps(t, up, t, step);
        /* truncating narrow, as the (int8_t) cast of generic.c */
        _mm_storeu_si128((__m128i *)(q + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r)));
    }
    return _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
}

void qr_quantize_q8_0_avx512(const float *x, void *out, int64_t n) {
    qr_block_q8_0 *blk = out;
    for (int64_t i = 0; i < n / QR_QK8_0; i++) blk[i].d = quantize_block(x + 32 * i, blk[i].qs);
}

/* Sixteen blocks at a time: quantize_block's arithmetic, value for value,
 * with the blocks' maxima and sums reduced together (qr_reduce16). */
enum { NONFINITE = 0x01 | 0x08 | 0x10 | 0x80 }; /* vfpclassps: QNaN, +inf, -inf, SNaN */

static inline __attribute__((always_inline)) __mmask16 quantize_q8u_16(const float *x, uint8_t *q, float *d,
                                                                      float *sums) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    const __m128i offset = _mm_set1_epi8((char)0x80);
    __m512i v[16];
    __mmask16 bad = 0;
    for (int b = 0; b < 16; b++) {
        const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
        bad |= _mm512_fpclass_ps_mask(x0, NONFINITE) | _mm512_fpclass_ps_mask(x1, NONFINITE);
        /* max(|v|, m) keeps m where |v| is NaN, as fmaxf does */
        __m512 m = _mm512_max_ps(_mm512_abs_ps(x0), _mm512_setzero_ps());
        m = _mm512_max_ps(_mm512_abs_ps(x1), m);
        v[b] = _mm512_castps_si512(m);
    }
    const __m512 amax = _mm512_castsi512_ps(qr_reduce16(v, QR_RED_MAX_F32));
    const __m512 dv = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    _Alignas(64) float id[16];
    _mm512_store_ps(id, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(dv, _mm512_setzero_ps(), _CMP_NEQ_UQ), one, dv));
    _mm512_storeu_ps(d, _mm512_cvtph_ps(_mm512_cvtps_ph(dv, _MM_FROUND_TO_NEAREST_INT)));
    for (int b = 0; b < 16; b++) {
        const __m512 vid = _mm512_set1_ps(id[b]);
        __m512i s = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512 val = _mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16 * h), vid);
            const __m512 t = _mm512_roundscale_ps(val, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(val, t)), half, _CMP_GE_OQ);
            const __m512 step = _mm512_or_ps(one, _mm512_and_ps(val, sign));
            const __m512i r = _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
            _mm_storeu_si128((__m128i *)(q + 32 * b + 16 * h), _mm_xor_si128(_mm512_cvtepi32_epi8(r), offset));
            /* the byte as stored (a truncating narrow), sign-extended back */
            s = _mm512_add_epi32(s, _mm512_srai_epi32(_mm512_slli_epi32(r, 24), 24));
        }
        v[b] = s;
    }
    _mm512_storeu_ps(sums, _mm512_cvtepi32_ps(qr_reduce16(v, QR_RED_ADD_I32)));
    return bad;
}

int qr_quantize_q8u_avx512(const float *x, void *out, int64_t n) {
    const int64_t nb = n / QR_QK8_0;
    uint8_t *q = out, *d = q + nb * QR_QK8_0, *sums = d + 4 * nb;
    const __m256i offset = _mm256_set1_epi8((char)0x80);
    __mmask16 bad = 0;
    int64_t i = 0;
    for (; i + 16 <= nb; i += 16)
        bad |= quantize_q8u_16(x + 32 * i, q + 32 * i, (float *)(void *)(d + 4 * i),
                               (float *)(void *)(sums + 4 * i));
    for (; i < nb; i++) {
        bad |= _mm512_fpclass_ps_mask(_mm512_loadu_ps(x + 32 * i), NONFINITE) |
               _mm512_fpclass_ps_mask(_mm512_loadu_ps(x + 32 * i + 16), NONFINITE);
        int8_t *qi = (int8_t *)q + 32 * i;
        const float f = _cvtsh_ss(quantize_block(x + 32 * i, qi));
        memcpy(d + 4 * i, &f, 4);
        const __m256i v = _mm256_loadu_si256((const __m256i *)qi);
        /* sum of the signed bytes: each 16-bit pair sum, widened, added up */
        const __m512i wide = _mm512_cvtepi8_epi16(v);
        const float fs = (float)_mm512_reduce_add_epi32(_mm512_madd_epi16(wide, _mm512_set1_epi16(1)));
        memcpy(sums + 4 * i, &fs, 4);
        _mm256_storeu_si256((__m256i *)qi, _mm256_xor_si256(v, offset));
    }
    return bad != 0;
}

void qr_to_bf16_avx512(const float *x, uint16_t *out, int64_t n) {
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i u = _mm512_loadu_si512(x + i);
        const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), lsb), 16);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), quiet);
        _mm256_storeu_si256((__m256i *)(out + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; i++) out[i] = qr_f32_to_bf16(x[i]);
}
