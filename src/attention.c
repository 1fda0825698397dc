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
 * cover the FMA latency, where one chain per loop ran at a quarter speed.
 * Query heads that share a kv head (grouped-query attention) go two at a
 * time, so every key and value number loaded feeds two FMAs. */
#include "attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "vec16.h"

enum { ATT_BQ = 16, ATT_BK = 64, ATT_NH = 2 };

typedef struct q_block {
    int64_t first; /* index into rows */
    int n;
} q_block;

/* One thread's buffers. */
typedef struct att_scratch {
    float *qt;  /* [ATT_NH][head_dim][16]: the block's queries, transposed */
    float *p;   /* [ATT_NH][ATT_BK][16]: scores, then probabilities, key-major */
    float *acc; /* [ATT_NH][head_dim][16]: outputs, transposed like qt */
    const float *kp[ATT_BK], *vp[ATT_BK];
} att_scratch;

static const float *kv_row(const qr_att_ctx *s, const qr_seq *sq, int64_t j, int64_t n_pre, int kvh,
                           const float *cache, const float *own) {
    const int hd = s->m->hp.head_dim, kv_dim = s->m->hp.n_kv_heads * hd;
    if (j < n_pre) return cache + ((size_t)s->layer * (size_t)sq->prefix->n_tokens + (size_t)j) * kv_dim + kvh * hd;
    return own + (sq->start + j - n_pre) * kv_dim + kvh * hd;
}

/* One block of queries against one kv head's keys, for the query heads
 * h0 .. h0 + nh - 1 (nh 1 or 2) that share it under grouped-query
 * attention: each key and value number loaded feeds both heads' FMAs, which
 * halves the loads per FMA, and the keys and values are read once for the
 * pair. With nh 1 the second head's lanes repeat the first and are dropped.
 * Built for AVX-512, AVX2 and plain x86-64 and chosen when the program
 * loads (GCC target_clones): the rest of the library is built for the
 * x86-64 baseline. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void attend_block(
    const qr_att_ctx *s, const int64_t *rows, const q_block blk, int h0, int nh, const float *q, float *out,
    att_scratch *w) {
    const qrank_model *m = s->m;
    const int hd = m->hp.head_dim, H = m->hp.n_heads, group = H / m->hp.n_kv_heads;
    const float scale = (float)(1.0 / sqrt((double)hd));
    const qr_seq *sq = &s->seqs[s->row_seq[rows[blk.first]]];
    const int64_t n_pre = sq->prefix ? sq->prefix->n_tokens : 0;
    const int kvh = h0 / group, n = blk.n;
    /* query k of the block (consecutive rows) sees keys 0 .. limit0 + k */
    const int64_t limit0 = n_pre + rows[blk.first] - sq->start;
    const qr_v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const qr_v16 neg_inf = QR_V16_SPLAT(-INFINITY), zero = QR_V16_SPLAT(0.0f);
    const size_t hd16 = (size_t)hd * ATT_BQ, bk16 = (size_t)ATT_BK * ATT_BQ;
    float *qt[ATT_NH], *pp[ATT_NH], *acc[ATT_NH];
    for (int e = 0; e < ATT_NH; e++) {
        qt[e] = w->qt + e * hd16;
        pp[e] = w->p + e * bk16;
        acc[e] = w->acc + e * hd16;
        const int h = h0 + (e < nh ? e : 0);
        for (int c = 0; c < hd; c++)
            for (int k = 0; k < ATT_BQ; k++) qt[e][c * ATT_BQ + k] = k < n ? q[((blk.first + k) * H + h) * hd + c] : 0.0f;
        for (int c = 0; c < hd; c++) QR_V16_STORE(acc[e] + c * ATT_BQ, zero);
    }
    qr_v16 mx[ATT_NH], sum[ATT_NH];
    for (int e = 0; e < ATT_NH; e++) mx[e] = neg_inf, sum[e] = zero;
    const int64_t n_keys = limit0 + n;
    for (int64_t k0 = 0; k0 < n_keys; k0 += ATT_BK) {
        const int nk = (int)(n_keys - k0 < ATT_BK ? n_keys - k0 : ATT_BK);
        for (int j = 0; j < nk; j++) {
            w->kp[j] = kv_row(s, sq, k0 + j, n_pre, kvh, sq->prefix ? sq->prefix->k : NULL, s->k);
            w->vp[j] = kv_row(s, sq, k0 + j, n_pre, kvh, sq->prefix ? sq->prefix->v : NULL, s->v);
        }
        /* scores: eight keys at a time, each key value broadcast to all
         * queries of both heads */
        int j = 0;
        for (; j + 8 <= nk; j += 8) {
            const float *const *kp = w->kp + j;
            qr_v16 sa[8], sb[8];
            for (int i = 0; i < 8; i++) sa[i] = sb[i] = zero;
            for (int c = 0; c < hd; c++) {
                const qr_v16 qa = QR_V16_LOAD(qt[0] + c * ATT_BQ), qb = QR_V16_LOAD(qt[1] + c * ATT_BQ);
                for (int i = 0; i < 8; i++) {
                    const float kv = kp[i][c];
                    sa[i] += qa * kv;
                    sb[i] += qb * kv;
                }
            }
            for (int i = 0; i < 8; i++) {
                QR_V16_STORE(pp[0] + (j + i) * ATT_BQ, sa[i] * scale);
                QR_V16_STORE(pp[1] + (j + i) * ATT_BQ, sb[i] * scale);
            }
        }
        for (; j < nk; j++) {
            const float *a = w->kp[j];
            qr_v16 sa = zero, sb = zero;
            for (int c = 0; c < hd; c++) {
                sa += QR_V16_LOAD(qt[0] + c * ATT_BQ) * a[c];
                sb += QR_V16_LOAD(qt[1] + c * ATT_BQ) * a[c];
            }
            QR_V16_STORE(pp[0] + j * ATT_BQ, sa * scale);
            QR_V16_STORE(pp[1] + j * ATT_BQ, sb * scale);
        }
        qr_v16 corr[ATT_NH];
        for (int e = 0; e < ATT_NH; e++) {
            /* causal mask (and lanes past the block), block max */
            qr_v16 bm = neg_inf;
            for (j = 0; j < nk; j++) {
                int64_t first = k0 + j - limit0; /* the first lane that sees key k0 + j */
                first = first < 0 ? 0 : first > ATT_BQ ? ATT_BQ : first;
                const qr_v16i seen = (lane >= (int32_t)first) & (lane < n);
                const qr_v16 sj = QR_V16_SELECT(seen, QR_V16_LOAD(pp[e] + j * ATT_BQ), neg_inf);
                QR_V16_STORE(pp[e] + j * ATT_BQ, sj);
                bm = QR_V16_MAX(bm, sj);
            }
            /* online softmax: a lane that has seen no key yet keeps max
             * -inf, and subtracting 0 instead keeps its exponentials at 0 */
            const qr_v16 new_max = QR_V16_MAX(mx[e], bm);
            const qr_v16 base = QR_V16_SELECT(new_max == neg_inf, zero, new_max);
            corr[e] = mx[e] - base;
            qr_v16_exp(&corr[e]);
            sum[e] *= corr[e];
            for (j = 0; j < nk; j++) {
                qr_v16 pj = QR_V16_LOAD(pp[e] + j * ATT_BQ) - base;
                qr_v16_exp(&pj);
                QR_V16_STORE(pp[e] + j * ATT_BQ, pj);
                sum[e] += pj;
            }
            mx[e] = new_max;
        }
        /* P.V into acc[c] (lanes: queries), eight output dims of both heads
         * at a time: each value broadcast to all their queries, sixteen
         * independent FMA chains */
        int c0 = 0;
        for (; c0 + 8 <= hd; c0 += 8) {
            qr_v16 a[8], b[8];
            for (int i = 0; i < 8; i++) {
                a[i] = QR_V16_LOAD(acc[0] + (c0 + i) * ATT_BQ) * corr[0];
                b[i] = QR_V16_LOAD(acc[1] + (c0 + i) * ATT_BQ) * corr[1];
            }
            for (j = 0; j < nk; j++) {
                const qr_v16 pa = QR_V16_LOAD(pp[0] + j * ATT_BQ), pb = QR_V16_LOAD(pp[1] + j * ATT_BQ);
                const float *v = w->vp[j] + c0;
                for (int i = 0; i < 8; i++) {
                    a[i] += pa * v[i];
                    b[i] += pb * v[i];
                }
            }
            for (int i = 0; i < 8; i++) {
                QR_V16_STORE(acc[0] + (c0 + i) * ATT_BQ, a[i]);
                QR_V16_STORE(acc[1] + (c0 + i) * ATT_BQ, b[i]);
            }
        }
        for (; c0 < hd; c0++) { /* head_dim not a multiple of 8 */
            for (int e = 0; e < ATT_NH; e++) {
                qr_v16 a = QR_V16_LOAD(acc[e] + c0 * ATT_BQ) * corr[e];
                for (j = 0; j < nk; j++) a += QR_V16_LOAD(pp[e] + j * ATT_BQ) * w->vp[j][c0];
                QR_V16_STORE(acc[e] + c0 * ATT_BQ, a);
            }
        }
    }
    for (int e = 0; e < nh; e++) {
        const qr_v16 inv = QR_V16_SPLAT(1.0f) / QR_V16_SELECT(lane < n, sum[e], QR_V16_SPLAT(1.0f));
        for (int c = 0; c < hd; c++) QR_V16_STORE(acc[e] + c * ATT_BQ, QR_V16_LOAD(acc[e] + c * ATT_BQ) * inv);
        for (int k = 0; k < n; k++) {
            float *o = out + ((blk.first + k) * H + h0 + e) * hd;
            for (int c = 0; c < hd; c++) o[c] = acc[e][c * ATT_BQ + k];
        }
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
    /* work items: (block, pair of query heads of one kv head) */
    const int group = H / s->m->hp.n_kv_heads, pairs_per_kv = (group + 1) / 2;
    const int n_pairs = s->m->hp.n_kv_heads * pairs_per_kv;
    /* Every thread's buffers come from here, the calling thread: worker
     * threads that allocate grow heaps of their own, and a long-running
     * server's memory creeps. */
    const size_t hd_bytes = ((size_t)hd * ATT_BQ * ATT_NH * sizeof(float) + 63) / 64 * 64;
    const size_t p_bytes = sizeof(float) * ATT_BK * ATT_BQ * ATT_NH, per_thread = 2 * hd_bytes + p_bytes;
    const int nt = n_threads < 1 ? 1 : n_threads;
    char *scratch = aligned_alloc(64, per_thread * (size_t)nt);
    if (!scratch) {
        free(blocks);
        return QRANK_E_NO_MEMORY;
    }
#pragma omp parallel num_threads(nt)
    {
        char *mine = scratch + per_thread * (size_t)omp_get_thread_num();
        att_scratch w;
        w.qt = (float *)mine;
        w.acc = (float *)(mine + hd_bytes);
        w.p = (float *)(mine + 2 * hd_bytes);
#pragma omp for schedule(dynamic) collapse(2)
        for (int64_t b = 0; b < nb; b++)
            for (int pr = 0; pr < n_pairs; pr++) {
                const int kvh = pr / pairs_per_kv, h0 = kvh * group + 2 * (pr % pairs_per_kv);
                const int nh = h0 + 1 < (kvh + 1) * group ? 2 : 1;
                attend_block(s, rows, blocks[b], h0, nh, q, out, &w);
            }
    }
    free(scratch);
    free(blocks);
    return QRANK_OK;
}
