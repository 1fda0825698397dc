/* avx512_amx.c - BF16 and F16 weights on AMX tiles (Sapphire Rapids and later),
 * and Q8_0 weights on the int8 tiles (at the end of the file, which says why).
 *
 * On these Xeons vdpbf16ps is slow: bench-kernels on an Emerald Rapids core
 * measured 97 G ops/s for it against 725 for vpdpbusd and 194 for f32 FMAs,
 * so the BF16 fast path (avx512.c) ran below the exact one. One TDPBF16PS
 * does 16 x 16 x 32 multiply-adds from two 1 KB tiles, with f32 sums, and a
 * BF16 matrix needs nothing per block, unlike Q8_0's scales: the sums stay
 * in the tiles for a whole chunk of inputs.
 *
 * Y = X . W^T as C += A . B: A is 16 activation rows x 32 inputs, read in
 * place (bf16 rows, as matmul.c writes them); B is 32 inputs x 16 outputs in
 * the pairs TDPBF16PS wants: row j of the tile holds inputs 2j and 2j+1 of
 * each of the 16 outputs (4 bytes per output). That is the bf16x16 layout:
 * output group g (outputs 16g..16g+15), pair j at byte (g * K/2 + j) * 64,
 * rows past the last zero; made once per model (qr_kernels.pack) or a chunk
 * at a time here, by avx512.c's packer (its gemm_bf16 reads the same
 * layout). A register tile is 32 rows x 32 outputs (four C tiles, two A,
 * two B).
 *
 * Every output's sum runs over the inputs in the same order (32 at a time,
 * chunk after chunk, partial sums kept as f32 in between) whichever rows
 * share its tile and whether the weights were packed before: a row's result
 * does not depend on the batch it came in, nor on when the packed copy was
 * made (tests/test-kernels.c checks both).
 *
 * F16 weights run on the same tiles as two bf16 matrices that add up to the
 * file's values exactly (f16_split_row says why), laid out a chunk at a
 * time: twice BF16's tile work, and still 2.8x faster end to end than the
 * f32 kernel they ran on before (bench/README.md).
 *
 * The tile instructions are amx_tiles.h's inline asm (it says why).
 * Linux gives the tile state only to a process that asks (qr_amx_request,
 * called by dispatch.c before this table is chosen). */
#include <immintrin.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isa.h"
#include "amx_tiles.h"
#include "avx512_shared.h"

enum {
    AMX_KC = QR_BF16X16_KC, /* inputs per chunk: the two groups' B tiles (32 KB) are reused by every row of a panel */
    AMX_RP = 256, /* rows per panel: their partial sums (32 KB), and 256 KB of activations per chunk in L2 */
    /* Except that a call of up to this many rows on weights laid out on the
     * fly is one panel, so that forward.c's 512-row calls lay each chunk out
     * once, not twice (as avx512.c's Q8_0 kernel does). */
    AMX_RP_ONE = 512,
    AMX_PAIR = QR_BF16X16_PAIR, /* bytes of one B tile row: 16 outputs x 2 bf16 */
};


int qr_amx_request(void) {
#ifdef __linux__
    /* arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): for the whole
     * process, threads started later included */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return 0;
#endif
}

/* Tiles 0, 1: C of rows 0-15 x groups 0, 1; 2, 3: C of rows 16-31; 4, 5: A
 * of those rows; 6, 7: B of the two groups. m1 == 0 leaves 2, 3 and 5 out. */
static void configure(int m0, int m1) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    const int rows[8] = {m0, m0, m1, m1, m0, m1, 16, 16};
    for (int t = 0; t < 8; t++)
        if (rows[t]) {
            c.rows[t] = (uint8_t)rows[t];
            c.colsb[t] = 64;
        }
    __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
}

/* One chunk of n inputs for up to 32 rows (R2: a second A tile) x up to 32
 * outputs (G2: a second group, bg bytes after the first): sums from zero
 * (first chunk) or from part, back into part (rows 32 floats apart). bl > 0:
 * F16 weights as two halves, the second bl bytes after the first; each step
 * of 32 inputs adds the first half's products, then the second's. */
static inline __attribute__((always_inline)) void amx_tile(const uint8_t *a, size_t as, const uint8_t *b, size_t bg,
                                                           size_t bl, int64_t n, int R2, int G2, int first,
                                                           float *part) {
    if (first) {
        TILE_ZERO(0);
        if (G2) TILE_ZERO(1);
        if (R2) TILE_ZERO(2);
        if (R2 && G2) TILE_ZERO(3);
    } else {
        TILE_LOAD(0, part, 128);
        if (G2) TILE_LOAD(1, part + 16, 128);
        if (R2) TILE_LOAD(2, part + 16 * 32, 128);
        if (R2 && G2) TILE_LOAD(3, part + 16 * 32 + 16, 128);
    }
    for (int64_t k = 0; k < n; k += 32) {
        TILE_LOAD(4, a + 2 * k, as);
        TILE_LOAD(6, b + (size_t)k / 2 * AMX_PAIR, AMX_PAIR);
        TILE_DPBF16PS(0, 4, 6);
        if (R2) {
            TILE_LOAD(5, a + 16 * as + 2 * k, as);
            TILE_DPBF16PS(2, 5, 6);
        }
        if (G2) {
            TILE_LOAD(7, b + bg + (size_t)k / 2 * AMX_PAIR, AMX_PAIR);
            TILE_DPBF16PS(1, 4, 7);
            if (R2) TILE_DPBF16PS(3, 5, 7);
        }
        if (bl) {
            TILE_LOAD(6, b + bl + (size_t)k / 2 * AMX_PAIR, AMX_PAIR);
            TILE_DPBF16PS(0, 4, 6);
            if (R2) TILE_DPBF16PS(2, 5, 6);
            if (G2) {
                TILE_LOAD(7, b + bg + bl + (size_t)k / 2 * AMX_PAIR, AMX_PAIR);
                TILE_DPBF16PS(1, 4, 7);
                if (R2) TILE_DPBF16PS(3, 5, 7);
            }
        }
    }
    TILE_STORE(0, part, 128);
    if (G2) TILE_STORE(1, part + 16, 128);
    if (R2) TILE_STORE(2, part + 16 * 32, 128);
    if (R2 && G2) TILE_STORE(3, part + 16 * 32 + 16, 128);
}

/* F16 weights as bf16x16 twice: each value w split into hi = w rounded to
 * bf16 and lo = w - hi. An F16 value has 11 significant bits and hi keeps 8,
 * so lo is at most 4 units of w's last bit: 3 significant bits, exact in
 * bf16 (whose exponent range holds every F16 value, subnormals too). So
 * A . hi + A . lo multiplies the file's weights themselves; only the
 * activations are rounded, as for BF16 weights. One 64-byte pair row in
 * place (hi) and into lo. */
static inline void f16_split_row(uint8_t *row, uint8_t *lo) {
    const __m512i v = _mm512_load_si512(row);
    const __m512 a = _mm512_cvtph_ps(_mm512_castsi512_si256(v)), b = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(b, a); /* a's 16 values first */
    const __m512 ha = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(h)), 16));
    const __m512 hb =
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(h, 1)), 16));
    _mm512_store_si512(row, h);
    _mm512_store_si512(lo, (__m512i)_mm512_cvtne2ps_pbh(_mm512_sub_ps(b, hb), _mm512_sub_ps(a, ha)));
}

/* Outputs o0 .. hi - 1 (one or two groups), inputs [k0, k0 + n) of an F16
 * matrix, laid out by the BF16 kernels' helper (the pairs are 16-bit values
 * either way; F16 has no copy, so into chunk[0] and chunk[1]) and then
 * split: group g's hi stays in chunk[g], its lo goes to chunk[2 + g]. */
static const uint8_t *f16_chunk(const qr_tensor *w, int64_t o0, int64_t hi, int64_t k0, int64_t n,
                                uint8_t chunk[4][AMX_KC / 2 * AMX_PAIR], size_t *bg, size_t *bl) {
    const uint8_t *b = qr_bf16x16_chunk_avx512(w, o0, hi, k0, n, chunk, bg);
    for (int g = 0; g <= (hi - o0 > 16); g++)
        for (int64_t j = 0; j < n / 2; j++) f16_split_row(chunk[g] + j * AMX_PAIR, chunk[2 + g] + j * AMX_PAIR);
    *bl = 2 * sizeof chunk[0];
    return b;
}

/* BF16 weights (F16 0), or F16 weights in halves (F16 1: laid out a chunk
 * at a time; no copy is kept, it would be twice the file). */
static inline __attribute__((always_inline)) void gemm_amx(const qr_tensor *w, const qr_acts *xq, int64_t n_rows,
                                                           float *y, int64_t ldy, int64_t o_begin, int64_t o_end,
                                                           int F16) {
    const int64_t n_in = w->ne[0];
    const void *packed = F16 ? NULL : w->packed;
    _Alignas(64) uint8_t chunk[4][AMX_KC / 2 * AMX_PAIR];
    _Alignas(64) float part[AMX_RP_ONE][32];
    int config = -1;
    const int64_t panel = !packed && n_rows <= AMX_RP_ONE ? n_rows : AMX_RP;
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += panel) {
        const int64_t rp = n_rows - rp0 < panel ? n_rows - rp0 : panel;
        const int64_t n_blocks = (rp + 31) / 32;
        /* a packed tensor's groups start at multiples of 16: lanes before
         * o_begin are computed and not stored */
        for (int64_t o0 = packed ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 32) {
            const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
            const int two_groups = hi - o0 > 16;
            for (int64_t k0 = 0; k0 < n_in; k0 += AMX_KC) {
                const int64_t n = n_in - k0 < AMX_KC ? n_in - k0 : AMX_KC;
                size_t bg, bl = 0;
                const uint8_t *b = F16 ? f16_chunk(w, o0, hi, k0, n, chunk, &bg, &bl)
                                       : qr_bf16x16_chunk_avx512(w, o0, hi, k0, n, chunk, &bg);
                /* Every other chunk walks the row blocks backwards, so that a
                 * short last block and the full ones change the tile
                 * configuration once per chunk, not twice. */
                for (int64_t i = 0; i < n_blocks; i++) {
                    const int64_t blk = (k0 / AMX_KC) % 2 ? n_blocks - 1 - i : i, r0 = 32 * blk;
                    const int m = (int)(rp - r0 < 32 ? rp - r0 : 32), m0 = m < 16 ? m : 16, m1 = m - m0;
                    if (config != (m0 | m1 << 8)) {
                        configure(m0, m1);
                        config = m0 | m1 << 8;
                    }
                    const uint8_t *a = (const uint8_t *)xq->data + (size_t)(rp0 + r0) * xq->row_bytes + (size_t)k0 * 2;
                    const int first = k0 == 0;
                    if (m1 && two_groups)
                        amx_tile(a, xq->row_bytes, b, bg, bl, n, 1, 1, first, part[r0]);
                    else if (m1)
                        amx_tile(a, xq->row_bytes, b, bg, bl, n, 1, 0, first, part[r0]);
                    else if (two_groups)
                        amx_tile(a, xq->row_bytes, b, bg, bl, n, 0, 1, first, part[r0]);
                    else
                        amx_tile(a, xq->row_bytes, b, bg, bl, n, 0, 0, first, part[r0]);
                }
            }
            const __mmask16 m0 = lane_mask(o0, o_begin, hi), m1 = lane_mask(o0 + 16, o_begin, hi);
            for (int64_t r = 0; r < rp; r++) {
                float *yr = y + (rp0 + r) * ldy + o0;
                _mm512_mask_storeu_ps(yr, m0, _mm512_load_ps(part[r]));
                if (two_groups) _mm512_mask_storeu_ps(yr + 16, m1, _mm512_load_ps(part[r] + 16));
            }
        }
    }
    __asm__ volatile("tilerelease" ::: "memory");
}

void qr_gemm_bf16_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                      int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (w->ne[0] % 32 != 0) { /* no whole tiles along the inputs */
        qr_gemm_bf16_avx512(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    gemm_amx(w, xq, n_rows, y, ldy, o_begin, o_end, 0);
}

void qr_gemm_f16_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                     int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (w->ne[0] % 32 != 0) { /* acts.c never asks: the exact kernel then */
        qr_gemm_f32_avx512(w, x, NULL, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    gemm_amx(w, xq, n_rows, y, ldy, o_begin, o_end, 1);
}

/* ---- Q8_0 on AMX-INT8 ---------------------------------------------------
 *
 * avx512.c's Q8_0 kernel gives its two vector pipes eight vpdpbusd and two
 * float multiplies (the block's scale, d_w d_x) per 16 outputs, row and
 * block. Here TDPBUSD does the integer dots, 16 rows x 16 outputs x one
 * block of 32 per instruction, and the pipes only scale: one block per C
 * tile, since every block has its own scales. A is 16 q8u rows x the
 * block's 32 bytes (values + 128), read in place; B is the q8_0x16 block's
 * eight 64-byte pieces, which are the rows TDPBUSD wants (four bytes of
 * each of 16 outputs). The sums are stored (1 KB), offset by -128 sum(w)
 * and scaled with the same multiply and FMA, in the same order, as
 * avx512.c's kernel: the same bits (so a table may use either, and a
 * row's result does not depend on the kernel its batch size picks). The
 * rows that do not fill a tile are copied into one, zeros after them.
 *
 * It gains less than the instruction counts promise (mostly 5-20% at 16
 * threads on a 16-core Xeon, bench/README.md): with the tile work left
 * out, the scaling alone ran at about the speed of the whole avx512 kernel
 * on one core, and the tile work alone (load, dot, store per block) about
 * as fast. Each block still needs its own four vector instructions per
 * row. */

enum {
    AQ_RP = 384,     /* rows per panel, as avx512.c's Q8_RP */
    AQ_RP_ONE = 512, /* one panel up to this many rows where weights are laid out per call (Q8_RP_ONE) */
};

/* Tiles 0, 1: C (16 rows x 16 int32 sums) of blocks of even and odd index;
 * 2, 3: their A (16 rows x 32 bytes); 4, 5: their B (8 x 64 bytes). */
static void configure_q8(void) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    const uint8_t rows[6] = {16, 16, 16, 16, 8, 8};
    const uint16_t colsb[6] = {64, 64, 32, 32, 64, 64};
    for (int t = 0; t < 6; t++) {
        c.rows[t] = rows[t];
        c.colsb[t] = colsb[t];
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
}

/* Block b's 16 x 16 integer dots into tile 0 (even b) or 1 (odd), from
 * zero. */
#define Q8_DOTS_EVEN(a, as, g)                                                                                         \
    do {                                                                                                               \
        TILE_ZERO(0);                                                                                                  \
        TILE_LOAD(2, (a), (as));                                                                                       \
        TILE_LOAD(4, (g)->qs, 64);                                                                                     \
        TILE_DPBUSD(0, 2, 4);                                                                                          \
    } while (0)
#define Q8_DOTS_ODD(a, as, g)                                                                                          \
    do {                                                                                                               \
        TILE_ZERO(1);                                                                                                  \
        TILE_LOAD(3, (a), (as));                                                                                       \
        TILE_LOAD(5, (g)->qs, 64);                                                                                     \
        TILE_DPBUSD(1, 3, 5);                                                                                          \
    } while (0)

/* One block's stored dots c into the 16 rows' sums: the offset's share
 * (-128 sum(w), where avx512.c's sums start), then cvt * d_w, then FMA with
 * the row's d_x, as there. dx: the rows' scales of this block, ds apart. */
static inline __attribute__((always_inline)) void q8_amx_scale(const int32_t c[16][16], const qr_q8_0x16 *g,
                                                               const uint8_t *dx, size_t ds, __m512 acc[16]) {
    const __m512i seed = _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)g->negsum)), 7);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g->d));
    for (int r = 0; r < 16; r++) {
        float d;
        memcpy(&d, dx + (size_t)r * ds, 4);
        const __m512i isum = _mm512_add_epi32(_mm512_load_si512(c[r]), seed);
        acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), dw), _mm512_set1_ps(d), acc[r]);
    }
}

/* 16 rows (xv) x one group's 16 outputs (g[0 .. nb)) over nb blocks: sums
 * from in (rows 32 floats apart; NULL: zero) into out (rows ldo apart,
 * lanes in mask), its first m rows. The next block's tile work is issued
 * before this one's scaling, so that the two units overlap. */
static inline __attribute__((always_inline)) void q8_amx_tile(const qr_q8_view *xv, const qr_q8_0x16 *g, int nb,
                                                              const float *in, float *out, int64_t ldo,
                                                              __mmask16 mask, int m) {
    _Alignas(64) int32_t c[2][16][16];
    const uint8_t *a = xv->q;
    const size_t as = xv->q_stride;
    __m512 acc[16];
    for (int r = 0; r < 16; r++) acc[r] = in && r < m ? _mm512_load_ps(in + 32 * r) : _mm512_setzero_ps();
    Q8_DOTS_EVEN(a, as, &g[0]);
    for (int b = 0; b < nb; b += 2) {
        if (b + 1 < nb) Q8_DOTS_ODD(a + 32 * (b + 1), as, &g[b + 1]);
        TILE_STORE(0, c[0], 64);
        q8_amx_scale(c[0], &g[b], xv->d + 4 * b, xv->d_stride, acc);
        if (b + 1 < nb) {
            if (b + 2 < nb) Q8_DOTS_EVEN(a + 32 * (b + 2), as, &g[b + 2]);
            TILE_STORE(1, c[1], 64);
            q8_amx_scale(c[1], &g[b + 1], xv->d + 4 * (b + 1), xv->d_stride, acc);
        }
    }
    for (int r = 0; r < 16; r++)
        if (r < m) _mm512_mask_storeu_ps(out + r * ldo, mask, acc[r]);
}

/* The last m < 16 rows of a call, blocks [b0, b0 + nb), as a tile of 16:
 * rows m.. zero, scales zero (their sums are computed and never stored).
 * The caller zeroes it once: m is the same for every chunk. */
typedef struct {
    uint8_t q[16][QR_Q8_0X16_KC * 32];
    float d[16][QR_Q8_0X16_KC];
} q8_amx_pad;

static qr_q8_view q8_amx_pad_rows(const qr_acts *xq, int64_t r0, int m, int64_t b0, int nb, int64_t nb_all,
                                  q8_amx_pad *p) {
    const qr_q8_view v = qr_q8u_view(xq, r0, b0, nb_all);
    for (int r = 0; r < m; r++) {
        memcpy(p->q[r], v.q + (size_t)r * v.q_stride, (size_t)nb * 32);
        memcpy(p->d[r], v.d + (size_t)r * v.d_stride, (size_t)nb * 4);
    }
    return (qr_q8_view){p->q[0], (const uint8_t *)p->d[0], sizeof p->q[0], sizeof p->d[0]};
}

void qr_gemm_q8_0_amx_tiles(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                            float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (!xq->q8u) { /* rows of Q8_0 blocks (tests; matmul.c writes q8u) */
        qr_gemm_q8_0_avx512(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
        return;
    }
    const int64_t nb_all = w->ne[0] / QR_QK8_0;
    const qr_q8_0x16 *packed = w->packed;
    _Alignas(64) qr_q8_0x16 chunk[2 * QR_Q8_0X16_KC];
    _Alignas(64) q8_amx_pad pad;
    /* partial sums between chunks, as in avx512.c (y's rows are a power of
     * two apart and would share a few cache sets) */
    _Alignas(64) float part[AQ_RP_ONE][32];
    const int64_t panel = !packed && n_rows <= AQ_RP_ONE ? n_rows : AQ_RP;
    if (n_rows % 16) memset(&pad, 0, sizeof pad); /* panels are multiples of 16 but the last */
    configure_q8();
    for (int64_t rp0 = 0; rp0 < n_rows; rp0 += panel) {
        const int64_t rp = n_rows - rp0 < panel ? n_rows - rp0 : panel;
        /* a packed tensor's groups start at multiples of 16: lanes before
         * o_begin are computed and not stored */
        for (int64_t o0 = packed ? o_begin - o_begin % 16 : o_begin; o0 < o_end; o0 += 32) {
            const int64_t hi = o0 + 32 < o_end ? o0 + 32 : o_end;
            const int ng = hi - o0 > 16 ? 2 : 1;
            const __mmask16 mask[2] = {lane_mask(o0, o_begin, hi), lane_mask(o0 + 16, o_begin, hi)};
            for (int64_t b0 = 0; b0 < nb_all; b0 += QR_Q8_0X16_KC) {
                const int nb = (int)(nb_all - b0 < QR_Q8_0X16_KC ? nb_all - b0 : QR_Q8_0X16_KC);
                const qr_q8_0x16 *gp[2];
                qr_q8_0x16_chunk_avx512(w, packed, o0, hi, b0, nb, chunk, gp);
                const int last = b0 + nb >= nb_all;
                for (int64_t r0 = 0; r0 < rp; r0 += 16) {
                    const int m = (int)(rp - r0 < 16 ? rp - r0 : 16);
                    const qr_q8_view xv = m == 16 ? qr_q8u_view(xq, rp0 + r0, b0, nb_all)
                                                  : q8_amx_pad_rows(xq, rp0 + r0, m, b0, nb, nb_all, &pad);
                    for (int g = 0; g < ng; g++) {
                        const float *in = b0 == 0 ? NULL : part[r0] + 16 * g;
                        if (last)
                            q8_amx_tile(&xv, gp[g], nb, in, y + (rp0 + r0) * ldy + o0 + 16 * g, ldy, mask[g], m);
                        else
                            q8_amx_tile(&xv, gp[g], nb, in, part[r0] + 16 * g, 32, (__mmask16)0xffff, m);
                    }
                }
            }
        }
    }
    __asm__ volatile("tilerelease" ::: "memory");
}

/* Below this many rows the tiles lose to avx512.c's kernel: a 16-row tile
 * pads 20 rows to 32 (bench-kernels, 16 threads on a 16-core Xeon, 20
 * rows: 1.9-2.8 against 2.4-2.9 T ops/s), and from 64 rows on they were
 * ahead in every pair measured but two (level), mostly by 5-20% (at 128
 * rows 3.66 against 3.26-3.41, at 1,000 rows 3.6-4.2 against 3.1-3.7). On
 * one thread the two were within that host's noise. Both give the same
 * bits, so the choice changes no score. */
enum { AQ_MIN_ROWS = 128 };

void qr_gemm_q8_0_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                      int64_t ldy, int64_t o_begin, int64_t o_end) {
    if (n_rows < AQ_MIN_ROWS)
        qr_gemm_q8_0_avx512(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
    else
        qr_gemm_q8_0_amx_tiles(w, x, xq, n_rows, ldx, y, ldy, o_begin, o_end);
}
