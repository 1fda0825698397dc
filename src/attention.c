/* attention.c - causal attention over packed sequences, blocked like
 * FlashAttention.
 *
 * Consecutive query rows of one sequence form a block of up to ATT_BQ (16)
 * that walks the keys ATT_BK at a time: each key/value row is read once per
 * block rather than once per query, and a running max and sum per query
 * (online softmax) keep memory at O(ATT_BQ x (ATT_BK + head_dim)) per thread
 * whatever the length.
 *
 * The sixteen queries of a block are the sixteen lanes of one qr_v16
 * (vec16.h) everywhere: queries, scores and outputs are stored transposed
 * (one vector per head dimension or key), so the scaling, the causal mask,
 * the running max, the exponentials, the rescaling and the sums all run
 * across queries at once, and both products broadcast one key or value
 * number into all lanes. Eight keys go through Q.K^T together and eight
 * output dimensions through P.V: eight independent FMA chains, enough to
 * cover the FMA latency, where one chain per loop ran at a quarter speed. */
#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec16.h"

enum { ATT_BQ = 16, ATT_BK = 64 };

typedef struct q_block {
    int64_t first; /* index into rows */
    int n;
} q_block;

/* One thread's buffers. */
typedef struct att_scratch {
    float *qt;  /* [head_dim][16]: the block's queries, transposed */
    float *p;   /* [ATT_BK][16]: scores, then probabilities, key-major */
    float *acc; /* [head_dim][16]: outputs, transposed like qt */
    const float *kp[ATT_BK], *vp[ATT_BK];
} att_scratch;

static const float *kv_row(const qr_att_ctx *s, const qr_seq *sq, int64_t j, int64_t n_pre, int kvh,
                           const float *cache, const float *own) {
    const int hd = s->m->hp.head_dim, kv_dim = s->m->hp.n_kv_heads * hd;
    if (j < n_pre) return cache + ((size_t)s->layer * (size_t)sq->prefix->n_tokens + (size_t)j) * kv_dim + kvh * hd;
    return own + (sq->start + j - n_pre) * kv_dim + kvh * hd;
}

/* One block of queries against one head's keys. Built for AVX-512, AVX2 and
 * plain x86-64 and chosen when the program loads (GCC target_clones): the
 * rest of the library is built for the x86-64 baseline. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void attend_block(
    const qr_att_ctx *s, const int64_t *rows, const q_block blk, int h, const float *q, float *out,
    att_scratch *w) {
    const qrank_model *m = s->m;
    const int hd = m->hp.head_dim, H = m->hp.n_heads, group = H / m->hp.n_kv_heads;
    const float scale = (float)(1.0 / sqrt((double)hd));
    const qr_seq *sq = &s->seqs[s->row_seq[rows[blk.first]]];
    const int64_t n_pre = sq->prefix ? sq->prefix->n_tokens : 0;
    const int kvh = h / group, n = blk.n;
    /* query k of the block (consecutive rows) sees keys 0 .. limit0 + k */
    const int64_t limit0 = n_pre + rows[blk.first] - sq->start;
    const qr_v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const qr_v16 neg_inf = QR_V16_SPLAT(-INFINITY), zero = QR_V16_SPLAT(0.0f);

    for (int c = 0; c < hd; c++)
        for (int k = 0; k < ATT_BQ; k++) w->qt[c * ATT_BQ + k] = k < n ? q[((blk.first + k) * H + h) * hd + c] : 0.0f;
    for (int c = 0; c < hd; c++) QR_V16_STORE(w->acc + c * ATT_BQ, zero);
    qr_v16 mx = neg_inf, sum = zero;
    const int64_t n_keys = limit0 + n;
    for (int64_t k0 = 0; k0 < n_keys; k0 += ATT_BK) {
        const int nk = (int)(n_keys - k0 < ATT_BK ? n_keys - k0 : ATT_BK);
        for (int j = 0; j < nk; j++) {
            w->kp[j] = kv_row(s, sq, k0 + j, n_pre, kvh, sq->prefix ? sq->prefix->k : NULL, s->k);
            w->vp[j] = kv_row(s, sq, k0 + j, n_pre, kvh, sq->prefix ? sq->prefix->v : NULL, s->v);
        }
        /* scores: eight keys at a time, each key value broadcast to all queries */
        int j = 0;
        for (; j + 8 <= nk; j += 8) {
            const float *const *kp = w->kp + j;
            qr_v16 sc[8];
            for (int i = 0; i < 8; i++) sc[i] = zero;
            for (int c = 0; c < hd; c++) {
                const qr_v16 qc = QR_V16_LOAD(w->qt + c * ATT_BQ);
                for (int i = 0; i < 8; i++) sc[i] += qc * kp[i][c];
            }
            for (int i = 0; i < 8; i++) QR_V16_STORE(w->p + (j + i) * ATT_BQ, sc[i] * scale);
        }
        for (; j < nk; j++) {
            const float *a = w->kp[j];
            qr_v16 s0 = zero;
            for (int c = 0; c < hd; c++) s0 += QR_V16_LOAD(w->qt + c * ATT_BQ) * a[c];
            QR_V16_STORE(w->p + j * ATT_BQ, s0 * scale);
        }
        /* causal mask (and lanes past the block), block max */
        qr_v16 bm = neg_inf;
        for (j = 0; j < nk; j++) {
            int64_t first = k0 + j - limit0; /* the first lane that sees key k0 + j */
            first = first < 0 ? 0 : first > ATT_BQ ? ATT_BQ : first;
            const qr_v16i seen = (lane >= (int32_t)first) & (lane < n);
            const qr_v16 sj = QR_V16_SELECT(seen, QR_V16_LOAD(w->p + j * ATT_BQ), neg_inf);
            QR_V16_STORE(w->p + j * ATT_BQ, sj);
            bm = QR_V16_MAX(bm, sj);
        }
        /* online softmax: a lane that has seen no key yet keeps max -inf, and
         * subtracting 0 instead keeps its exponentials at exactly 0 */
        const qr_v16 new_max = QR_V16_MAX(mx, bm);
        const qr_v16 base = QR_V16_SELECT(new_max == neg_inf, zero, new_max);
        qr_v16 corr = mx - base;
        qr_v16_exp(&corr);
        sum *= corr;
        for (j = 0; j < nk; j++) {
            qr_v16 pj = QR_V16_LOAD(w->p + j * ATT_BQ) - base;
            qr_v16_exp(&pj);
            QR_V16_STORE(w->p + j * ATT_BQ, pj);
            sum += pj;
        }
        mx = new_max;
        /* P.V into acc[c] (lanes: queries), eight output dims at a time: each
         * value broadcast to all queries, eight independent FMA chains */
        int c0 = 0;
        for (; c0 + 8 <= hd; c0 += 8) {
            qr_v16 a[8];
            for (int i = 0; i < 8; i++) a[i] = QR_V16_LOAD(w->acc + (c0 + i) * ATT_BQ) * corr;
            for (j = 0; j < nk; j++) {
                const qr_v16 pj = QR_V16_LOAD(w->p + j * ATT_BQ);
                const float *v = w->vp[j] + c0;
                for (int i = 0; i < 8; i++) a[i] += pj * v[i];
            }
            for (int i = 0; i < 8; i++) QR_V16_STORE(w->acc + (c0 + i) * ATT_BQ, a[i]);
        }
        for (; c0 < hd; c0++) { /* head_dim not a multiple of 8 */
            qr_v16 a = QR_V16_LOAD(w->acc + c0 * ATT_BQ) * corr;
            for (j = 0; j < nk; j++) a += QR_V16_LOAD(w->p + j * ATT_BQ) * w->vp[j][c0];
            QR_V16_STORE(w->acc + c0 * ATT_BQ, a);
        }
    }
    const qr_v16 inv = QR_V16_SPLAT(1.0f) / QR_V16_SELECT(lane < n, sum, QR_V16_SPLAT(1.0f));
    for (int c = 0; c < hd; c++) QR_V16_STORE(w->acc + c * ATT_BQ, QR_V16_LOAD(w->acc + c * ATT_BQ) * inv);
    for (int k = 0; k < n; k++) {
        float *o = out + ((blk.first + k) * H + h) * hd;
        for (int c = 0; c < hd; c++) o[c] = w->acc[c * ATT_BQ + k];
    }
}

int qr_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, float *out, int n_threads) {
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads;
    q_block *blocks = malloc(sizeof *blocks * (size_t)(n > 0 ? n : 1));
    if (!blocks) return QRANK_E_NO_MEMORY;
    int64_t nb = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && j - i < ATT_BQ && rows[j] == rows[j - 1] + 1 && s->row_seq[rows[j]] == s->row_seq[rows[i]]) j++;
        blocks[nb++] = (q_block){i, (int)(j - i)};
        i = j;
    }
    int failed = 0;
    const size_t hd_bytes = ((size_t)hd * ATT_BQ * sizeof(float) + 63) / 64 * 64;
#pragma omp parallel num_threads(n_threads)
    {
        att_scratch w;
        w.qt = aligned_alloc(64, hd_bytes);
        w.p = aligned_alloc(64, sizeof(float) * ATT_BK * ATT_BQ);
        w.acc = aligned_alloc(64, hd_bytes);
        const int ok = w.qt && w.p && w.acc;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic) collapse(2)
        for (int64_t b = 0; b < nb; b++)
            for (int h = 0; h < H; h++)
                if (ok) attend_block(s, rows, blocks[b], h, q, out, &w);
        free(w.qt);
        free(w.p);
        free(w.acc);
    }
    free(blocks);
    return failed ? QRANK_E_NO_MEMORY : QRANK_OK;
}
