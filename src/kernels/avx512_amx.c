/* avx512_amx.c - BF16 and F16 weights on AMX tiles (Sapphire Rapids and later).
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
