/* attention_avx512_amx.c - attention.c's blocked causal attention with its
 * two products on AMX tiles, for --precision fast on CPUs with AMX-BF16.
 *
 * The f32 path (attention.c) runs both products on FMAs at about half the
 * f32 peak; on an Emerald Rapids core TDPBF16PS does 16 x 16 x 32
 * multiply-adds per instruction, several times the FMAs' rate. Queries,
 * keys, values and the softmax probabilities are rounded to bf16 for it,
 * the sums stay f32: what the fast path already does to every matrix
 * multiplication's activations on BF16 weights, and what GPU engines do to
 * attention. The exact path never comes here.
 *
 * The loop is attention.c's: up to QR_ATT_SB blocks of 16 consecutive
 * queries of one sequence walk its keys together, 64 at a time (a step of
 * two chunks of 32, the layout's unit), with an online softmax per query.
 * Per block and step, for both query heads of the kv head at once:
 *   S = Q.K^T   per chunk two C tiles per head (16 queries x 16 keys each),
 *               A = the queries' 32 dims at a time (bf16 rows), B = the
 *               chunk's keys laid out as B tiles (dim pairs x 16 keys, the
 *               layout of BF16 weights in kernels/avx512_amx.c);
 *   softmax     on the stored scores, a query per row: causal mask, the
 *               row's max, e^(s - max) (vec.h's exp), the rescale of the
 *               running sum, probabilities to bf16 as the A tiles of
 *   O += P.V    the f32 outputs themselves as C tiles, 16 dims each, B =
 *               the values laid out as key pairs x 16 dims, both chunks'
 *               products summed before the C tile goes back to memory;
 *               the rows whose max has grown rescaled on vectors first (a
 *               few per step, fewer and fewer as the keys go on). Summing
 *               in place rather than through a buffer that vectors add to
 *               the outputs takes a third of the vector work per chunk
 *               away (bench-attention: 4,096 tokens 0.9-1.25x, run to run,
 *               100 posts the same). The outputs' tile loads and stores
 *               bound this loop more than the products or the softmax do
 *               (bench-attention, 2,048 tokens, 1 thread, without the
 *               stores: 57-60 against 88-98 ms): steps of 64 keys rather
 *               than 32 halve them (4,096 tokens, 2 threads, 2.94-3.34x
 *               -> 3.37-3.60x f32; 100 posts 1.57-1.61x -> 1.71-1.75x).
 * Keys and values are laid out as tiles once per chunk for every block
 * of the group and both query heads of the kv head; a sequence long enough
 * for several groups has them laid out once per layer instead (qr_att_laid
 * in attention.h: bench-attention, 8,192 tokens in calls of 512 rows,
 * 1.19x on 16 threads of a Xeon, 1.27x on this 2-core VM).
 *
 * A query's result depends on its own row and keys only: a tile's rows do
 * not mix, chunks start at key 0 whatever the batch, and a chunk that a
 * query cannot see (past its position) changes nothing, its scale being
 * e^0 = 1 exactly and its probabilities 0. So a document scores the same
 * alone or among others (tests/test-vec.c per sequence, bit for bit;
 * check_batch.py's batch-fast end to end). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "attention.h"
#include "kernels/amx_tiles.h"
#include "kernels/avx512_shared.h"
#include "vec.h"

_Static_assert(QR_VEC_W == 16, "a block's 16 queries are one vector here");

enum {
    AQ = 16,   /* queries per block: a tile's rows */
    AK = 32,   /* keys per chunk: two score tiles, and one P tile's 32 bf16 */
    AS = 64,   /* keys per softmax and P.V step: two chunks */
    ANH = 2,   /* query heads per call (one kv head) */
    TROW = 64, /* bytes of every tile row */
};

/* Per-thread buffers, carved from the caller's scratch. */
typedef struct {
    uint16_t *q;  /* [SB][ANH][AQ][hd] bf16 queries, rows past a block's zero */
    float *o;     /* [SB][ANH][AQ][hd] outputs, not yet divided by the sum (written by the first step) */
    float *m, *l; /* [SB][ANH][AQ] running max (scaled scores) and sum */
    uint8_t *kv;  /* two chunks laid out, each [2][hd / 2][TROW] keys 0-15 and 16-31 as B tiles,
                   * then [hd / 16][AK / 2][TROW] values as B tiles, 16 dims each */
    float *s;     /* [ANH][AQ][AS] scores of both heads */
    uint16_t *p;  /* [2][ANH][AQ][AS] probabilities, bf16: the A tiles of P.V (two items in flight) */
    float *corr;  /* [2][ANH][AQ] their factors for the outputs summed before */
} amx_att_bufs;

/* Carves w out of scratch (NULL: only counts); returns the bytes it takes. */
static size_t carve(void *scratch, int hd, amx_att_bufs *w) {
    const size_t per = (size_t)QR_ATT_SB * ANH * AQ, ng = (size_t)(hd / 16);
    size_t at = 0;
    w->q = qr_att_take(scratch, &at, per * (size_t)hd * 2);
    w->o = qr_att_take(scratch, &at, per * (size_t)hd * 4);
    w->m = qr_att_take(scratch, &at, per * 4);
    w->l = qr_att_take(scratch, &at, per * 4);
    w->kv = qr_att_take(scratch, &at, 2 * ((size_t)2 * (size_t)(hd / 2) * TROW + ng * (AK / 2) * TROW));
    w->s = qr_att_take(scratch, &at, (size_t)ANH * AQ * AS * 4);
    w->p = qr_att_take(scratch, &at, (size_t)2 * ANH * AQ * AS * 2);
    w->corr = qr_att_take(scratch, &at, (size_t)2 * ANH * AQ * 4);
    return at;
}

size_t qr_attend_amx_scratch(int hd) {
    amx_att_bufs w;
    return carve(NULL, hd, &w);
}

/* Every tile 16 rows of 64 bytes: C tiles of 16 x 16 f32, A and B tiles of
 * 16 x 32 bf16. */
static void configure_all(void) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.rows[t] = AQ;
        c.colsb[t] = TROW;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory");
}

/* The chunk's keys (NULL: past the last, zero) as B tiles: for each half
 * of 16 keys, hd/2 rows of 16 keys x a dim pair, the rows of dims 32d ..
 * 32d + 31 being the B tile of dim chunk d. */
static void layout_keys(const float *const key[AK], int hd, uint8_t *kt) {
    _Alignas(64) uint16_t rows[AQ][256];
    for (int half = 0; half < 2; half++) {
        for (int j = 0; j < AQ; j++) {
            const float *k = key[16 * half + j];
            for (int c = 0; c < hd; c += 16) {
                const __m256i v = k ? qr_bf16_16(k + c) : _mm256_setzero_si256();
                _mm256_store_si256((__m256i *)(rows[j] + c), v);
            }
        }
        uint8_t *dst = kt + (size_t)half * (size_t)(hd / 2) * TROW;
        const uint8_t *p[4] = {(const uint8_t *)rows[0], (const uint8_t *)rows[1], (const uint8_t *)rows[2],
                               (const uint8_t *)rows[3]};
        for (int c = 0; c < hd; c += 16) { /* 16 dims: 8 rows of dim pairs */
            __m512i out[8];
            transpose_16x8_dwords(p, 4 * sizeof rows[0], out);
            for (int j = 0; j < 8; j++) _mm512_store_si512(dst + (size_t)(c / 2 + j) * TROW, out[j]);
            for (int i = 0; i < 4; i++) p[i] += 32;
        }
    }
}

/* The chunk's values (NULL: zero) as B tiles: for dims 16g .. 16g + 15, row
 * i holds keys 2i and 2i + 1, interleaved per dim. */
static void layout_values(const float *const val[AK], int hd, uint8_t *vt) {
    for (int i = 0; i < AK / 2; i++) {
        const float *a = val[2 * i], *b = val[2 * i + 1];
        for (int g = 0; g < hd / 16; g++) {
            const __m256i va = a ? qr_bf16_16(a + 16 * g) : _mm256_setzero_si256();
            const __m256i vb = b ? qr_bf16_16(b + 16 * g) : _mm256_setzero_si256();
            _mm512_store_si512(vt + ((size_t)g * (AK / 2) + (size_t)i) * TROW, qr_bf16_pairs(va, vb));
        }
    }
}

/* Keys and values k0 .. k0 + AK - 1 of sequence sq, kv head kvh, those
 * from key avail on zero, as B tiles into dst: keys, then values. */
void qr_att_amx_lay_out(const qr_att_ctx *s, const qr_seq *sq, int kvh, int64_t k0, int64_t avail, uint8_t *dst) {
    const int hd = s->m->hp.head_dim;
    const float *kpre, *vpre;
    const int64_t n_pre = qr_att_seq_prefix(s, sq, &kpre, &vpre);
    const float *key[AK], *val[AK];
    for (int j = 0; j < AK; j++) {
        const int in = k0 + j < avail;
        key[j] = in ? qr_att_kv_row(s, sq, k0 + j, n_pre, kvh, kpre, s->k) : NULL;
        val[j] = in ? qr_att_kv_row(s, sq, k0 + j, n_pre, kvh, vpre, s->v) : NULL;
    }
    layout_keys(key, hd, dst);
    layout_values(val, hd, dst + (size_t)2 * (size_t)(hd / 2) * TROW);
}

/* The work of one block (n queries, the first seeing keys 0 .. limit0),
 * both query heads, against the laid-out chunks of the step at key k0
 * comes in three parts, which qr_attend_group_amx runs one block behind another: the tile
 * unit does the next block's Q.K^T and this one's P.V while the vector unit
 * computes the next softmax, and each buffer is read well after the stores
 * that fill it (a tile load waits until vector stores reach L1, and vector
 * loads wait for tile stores: done back to back, each P.V stalled on its
 * P, a fifth of the time). Both heads go through the tiles together, two
 * A tiles against each B tile: every key and value tile loaded serves both,
 * and each C tile is one chain of products. */

/* Part 1, tiles: both heads' scores of one chunk into w->s, at column col
 * (0 or AK). */
static void qk_tiles(const amx_att_bufs *w, const uint8_t *kt, int hd, const uint16_t *q0, const uint16_t *q1,
                     int col) {
    /* S[head][half] in tiles 0, 1 (head 0) and 5, 6 (head 1); A = the
     * heads' queries, 32 dims at a time (2, 7); B = keys 0-15, 16-31 (3, 4) */
    TILE_ZERO(0);
    TILE_ZERO(1);
    TILE_ZERO(5);
    TILE_ZERO(6);
    for (int d = 0; d < hd / 32; d++) {
        TILE_LOAD(2, q0 + 32 * d, (size_t)hd * 2);
        TILE_LOAD(3, kt + (size_t)d * AQ * TROW, TROW);
        TILE_DPBF16PS(0, 2, 3);
        TILE_LOAD(7, q1 + 32 * d, (size_t)hd * 2);
        TILE_DPBF16PS(5, 7, 3);
        TILE_LOAD(4, kt + ((size_t)(hd / 2) + (size_t)d * AQ) * TROW, TROW);
        TILE_DPBF16PS(1, 2, 4);
        TILE_DPBF16PS(6, 7, 4);
    }
    float *const s0 = w->s + col, *const s1 = w->s + AQ * AS + col;
    TILE_STORE(0, s0, AS * 4);
    TILE_STORE(1, s0 + 16, AS * 4);
    TILE_STORE(5, s1, AS * 4);
    TILE_STORE(6, s1 + 16, AS * 4);
}

/* Part 2, vectors: the masked softmax of one head's scores sc (a block
 * that sees no key of the second chunk has not computed its scores, and
 * masks them all), the running max m and sum l updated, the probabilities (bf16) to p and the factor for what
 * was summed before to corr. */
static void softmax_rows(float *sc_in, float scale, float *m, float *l, int n, int64_t limit0, int64_t k0,
                         uint16_t *p, float *corr) {
    /* scores, masked in place: key k0 + j is seen by query r when k0 + j <=
     * limit0 + r (which also hides keys past the sequence); each row's max
     * into red, then all sixteen rows' maxima at once */
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    __m512i red[AQ];
    for (int r = 0; r < AQ; r++) {
        if (r >= n) {
            red[r] = _mm512_castps_si512(neg_inf);
            continue;
        }
        float *row = sc_in + r * AS;
        __m512 v[4];
        for (int i = 0; i < 4; i++) v[i] = _mm512_load_ps(row + 16 * i);
        const int64_t seen = limit0 + r - k0 + 1; /* keys of the step this query sees */
        if (seen < AS)
            for (int i = 0; i < 4; i++) {
                const int64_t c = seen - 16 * i;
                const __mmask16 mk = c >= 16 ? 0xffff : c <= 0 ? 0 : (__mmask16)((1u << c) - 1);
                v[i] = _mm512_mask_mov_ps(neg_inf, mk, v[i]);
                _mm512_store_ps(row + 16 * i, v[i]);
            }
        red[r] = _mm512_castps_si512(_mm512_max_ps(_mm512_max_ps(v[0], v[1]), _mm512_max_ps(v[2], v[3])));
    }
    /* new maxima and the factor for what was summed under the old ones:
     * a row that sees nothing here keeps its max and a factor of e^0 = 1.
     * (Letting a max lag behind by up to 8, so that fewer chunks rescale
     * outputs, measured no faster and lost precision: the row's largest
     * probability is then no longer 1, exact in bf16, and the outputs of
     * test-vec moved up to 3.4e-3 from the double ones instead of 1.1e-3.) */
    {
        const qr_vf old = QR_VF_LOAD(m);
        const qr_vf seen = (qr_vf)_mm512_mul_ps(_mm512_castsi512_ps(qr_reduce16(red, QR_RED_MAX_F32)),
                                                  _mm512_set1_ps(scale));
        const qr_vf nm = QR_VF_MAX(old, seen);
        qr_vf c = QR_VF_SELECT(nm == QR_VF_SPLAT(-INFINITY), QR_VF_SPLAT(0.0f), old - nm);
        qr_vf_exp(&c);
        QR_VF_STORE(corr, c);
        QR_VF_STORE(m, nm);
    }
    for (int r = 0; r < AQ; r++) {
        if (r >= n) {
            _mm512_store_si512(p + r * AS, _mm512_setzero_si512());
            _mm512_store_si512(p + r * AS + 32, _mm512_setzero_si512());
            red[r] = _mm512_setzero_si512();
            continue;
        }
        const __m512 vs = _mm512_set1_ps(scale), base = _mm512_set1_ps(-m[r]);
        const float *row = sc_in + r * AS;
        qr_vf e[4];
        for (int i = 0; i < 4; i++) {
            e[i] = (qr_vf)_mm512_fmadd_ps(_mm512_load_ps(row + 16 * i), vs, base);
            qr_vf_exp_nonpos(&e[i]); /* masked keys: -inf, so 0 */
        }
        red[r] = _mm512_castps_si512(_mm512_add_ps(_mm512_add_ps((__m512)e[0], (__m512)e[1]),
                                                   _mm512_add_ps((__m512)e[2], (__m512)e[3])));
        _mm512_store_si512(p + r * AS, (__m512i)_mm512_cvtne2ps_pbh((__m512)e[1], (__m512)e[0]));
        _mm512_store_si512(p + r * AS + 32, (__m512i)_mm512_cvtne2ps_pbh((__m512)e[3], (__m512)e[2]));
    }
    {
        const qr_vf sums = (qr_vf)_mm512_castsi512_ps(qr_reduce16(red, QR_RED_ADD_F32));
        QR_VF_STORE(l, QR_VF_LOAD(l) * QR_VF_LOAD(corr) + sums);
    }
}

/* Rows r of o ([AQ][hd]) times corr[r], where that is not 1. */
static void rescale_rows(float *o, const float *corr, int hd) {
    unsigned rows = _mm512_cmp_ps_mask(_mm512_load_ps(corr), _mm512_set1_ps(1.0f), _CMP_NEQ_UQ);
    for (; rows; rows &= rows - 1) {
        const int r = __builtin_ctz(rows);
        const __m512 c = _mm512_set1_ps(corr[r]);
        float *orow = o + (size_t)r * hd;
        for (int g = 0; g < hd; g += 16) _mm512_store_ps(orow + g, _mm512_mul_ps(_mm512_load_ps(orow + g), c));
    }
}

/* Part 3, tiles (vectors for rescaled rows): both heads' outputs o0, o1
 * ([AQ][hd] f32) rescaled by their corr where the max moved, then O += P.V
 * on tiles, in place, over both chunks of the step (vt1 NULL: the first
 * only): the C tiles are the outputs, 16 dims each, loaded and stored once
 * per 64 keys; A = the heads' probabilities p (bf16, [ANH][AQ][AS]: keys
 * 0-31 in tiles 2 and 6, 32-63 in 3 and 7), B = the values of those 16
 * dims, one tile per chunk (4, 5), each against both heads (C tiles 0, 1). */
static void pv_tiles(const uint8_t *vt0, const uint8_t *vt1, int hd, const uint16_t *p, const float *corr,
                     float *o0, float *o1, int64_t k0) {
    if (k0 > 0) { /* the first step's C tiles start from zero and write the outputs: nothing to
                   * rescale, and no vector stores for the tile loads to wait on */
        rescale_rows(o0, corr, hd);
        rescale_rows(o1, corr + AQ, hd);
    }
    const size_t vstep = (AK / 2) * TROW, ostride = (size_t)hd * 4;
    TILE_LOAD(2, p, AS * 2);
    TILE_LOAD(6, p + AQ * AS, AS * 2);
    if (vt1) {
        TILE_LOAD(3, p + AK, AS * 2);
        TILE_LOAD(7, p + AQ * AS + AK, AS * 2);
    }
    for (int g = 0; g < hd / 16; g++) {
        float *a0 = o0 + 16 * g, *a1 = o1 + 16 * g;
        if (k0 > 0) {
            TILE_LOAD(0, a0, ostride);
            TILE_LOAD(1, a1, ostride);
        } else { /* a post's block takes one or two steps: its first loads nothing
                  * (100 posts of 40 tokens behind 60, 2 threads: 1.60-1.69x -> 1.71-1.75x f32) */
            TILE_ZERO(0);
            TILE_ZERO(1);
        }
        TILE_LOAD(4, vt0 + (size_t)g * vstep, TROW);
        TILE_DPBF16PS(0, 2, 4);
        TILE_DPBF16PS(1, 6, 4);
        if (vt1) {
            TILE_LOAD(5, vt1 + (size_t)g * vstep, TROW);
            TILE_DPBF16PS(0, 3, 5);
            TILE_DPBF16PS(1, 7, 5);
        }
        TILE_STORE(0, a0, ostride);
        TILE_STORE(1, a1, ostride);
    }
}

void qr_attend_group_amx(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch) {
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads;
    qr_att_group gr;
    qr_att_group_init(&gr, s, rows, blks, nsb, h0);
    const qr_seq *const sq = gr.sq;
    const int64_t max_keys = gr.max_keys, *const limit0 = gr.limit0, *const n_keys = gr.n_keys;
    amx_att_bufs w;
    carve(scratch, hd, &w);
    const size_t qhd = (size_t)AQ * (size_t)hd;
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < ANH; e++) { /* a lone head's second copy the first's, never written out */
            const size_t at = (size_t)(b * ANH + e);
            const int h = h0 + (e < nh ? e : 0);
            uint16_t *qb = w.q + at * qhd;
            for (int r = 0; r < AQ; r++)
                for (int c = 0; c < hd; c += 16) {
                    const __m256i v = r < blk.n ? qr_bf16_16(q + ((blk.first + r) * H + h) * hd + c)
                                                : _mm256_setzero_si256();
                    _mm256_store_si256((__m256i *)(qb + (size_t)r * hd + c), v);
                }
            for (int r = 0; r < AQ; r++) {
                w.m[at * AQ + r] = -INFINITY;
                w.l[at * AQ + r] = 0.0f;
            }
        }
    }
    configure_all();
    const size_t kbytes = (size_t)2 * (size_t)(hd / 2) * TROW, cbytes = kbytes + (size_t)(hd / 16) * (AK / 2) * TROW;
    for (int64_t k0 = 0; k0 < max_keys; k0 += AS) {
        const uint8_t *kt[2] = {NULL, NULL};
        for (int c = 0; c < 2 && k0 + c * AK < max_keys; c++) {
            kt[c] = qr_att_laid_chunk(s, sq, gr.kvh, k0 + c * AK);
            if (!kt[c]) {
                qr_att_amx_lay_out(s, sq, gr.kvh, k0 + c * AK, max_keys, w.kv + c * cbytes);
                kt[c] = w.kv + c * cbytes;
            }
        }
        /* the blocks of this step, each one step behind the next: its
         * P.V after the next one's scores */
        int prev = -1, prev_two = 0, slot = 0;
        const size_t pslot = (size_t)ANH * AQ * AS, cslot = (size_t)ANH * AQ;
        for (int b = 0; b <= nsb; b++) {
            const int live = b < nsb && k0 < n_keys[b];
            const int two = live && k0 + AK < n_keys[b]; /* the block sees keys of the second chunk */
            if (live) {
                const size_t at = (size_t)b * ANH;
                qk_tiles(&w, kt[0], hd, w.q + at * qhd, w.q + (at + 1) * qhd, 0);
                if (two) qk_tiles(&w, kt[1], hd, w.q + at * qhd, w.q + (at + 1) * qhd, AK);
            }
            if (prev >= 0)
                pv_tiles(kt[0] + kbytes, prev_two ? kt[1] + kbytes : NULL, hd, w.p + (slot ^ 1) * pslot,
                         w.corr + (slot ^ 1) * cslot, w.o + (size_t)prev * ANH * qhd,
                         w.o + ((size_t)prev * ANH + 1) * qhd, k0);
            if (live)
                for (int e = 0; e < ANH; e++) {
                    const size_t at = (size_t)(b * ANH + e);
                    softmax_rows(w.s + (size_t)e * AQ * AS, gr.scale, w.m + at * AQ, w.l + at * AQ, blks[b].n,
                                 limit0[b], k0, w.p + slot * pslot + (size_t)e * AQ * AS,
                                 w.corr + slot * cslot + (size_t)e * AQ);
                }
            if (live) slot ^= 1;
            prev = live ? b : -1;
            prev_two = two;
        }
    }
    __asm__ volatile("tilerelease" ::: "memory");
    for (int b = 0; b < nsb; b++)
        for (int e = 0; e < nh; e++) {
            const size_t at = (size_t)(b * ANH + e);
            for (int r = 0; r < blks[b].n; r++) {
                const __m512 inv = _mm512_set1_ps(1.0f / w.l[at * AQ + r]);
                const float *orow = w.o + at * qhd + (size_t)r * hd;
                float *dst = out + ((blks[b].first + r) * H + h0 + e) * hd;
                for (int c = 0; c < hd; c += 16) _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_load_ps(orow + c), inv));
            }
        }
}
