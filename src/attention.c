/* attention.c - causal attention over packed sequences, blocked like
 * FlashAttention.
 *
 * Consecutive query rows of one sequence form blocks of up to ATT_BQ (16),
 * and up to ATT_SB (8) blocks of one sequence walk its keys together,
 * ATT_BK at a time: each key/value row is read from memory once per 128
 * queries rather than once per query (fewer blocks per group where a call
 * has too few groups to keep the threads busy), and a running max and sum per query
 * (online softmax) keep memory at O(ATT_SB x ATT_BQ x head_dim) per thread
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
 * time, so every key and value number loaded feeds two FMAs.
 *
 * With --precision fast the same groups go where the CPU multiplies bf16
 * faster (qr_att_ctx.path): attention_avx512_amx.c runs both products on
 * AMX tiles, attention_avx512_bf16.c on vdpbf16ps. */
#include "attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention_softmax.h"
#include "vec16.h"

enum { ATT_BQ = 16, ATT_BK = 64, ATT_NH = 2, ATT_SB = QR_ATT_SB, ATT_ITEMS_PER_THREAD = 8 };

/* One thread's buffers. */
typedef struct att_scratch {
    float *qt;  /* [ATT_SB][ATT_NH][head_dim][16]: each block's queries, transposed */
    float *p;   /* [ATT_NH][ATT_BK][16]: scores, then probabilities, key-major */
    float *acc; /* [ATT_SB][ATT_NH][head_dim][16]: outputs, transposed like qt */
    const float *kp[ATT_BK], *vp[ATT_BK];
} att_scratch;

/* One 16-query block's share of one chunk of keys (k0 .. k0 + nk - 1), for
 * the query heads of a pair: scores, causal mask, online softmax, P.V.
 * Inlined into attend_group's clones, so it is built for each ISA there. */
static inline __attribute__((always_inline)) void attend_chunk(
    const int hd, const float scale, float *const qt[ATT_NH], float *const acc[ATT_NH], float *const pp[ATT_NH],
    const float *const *kpp, const float *const *vpp, const int64_t k0, const int nk, const int64_t limit0,
    qr_v16 mx[ATT_NH], qr_v16 sum[ATT_NH]) {
    const qr_v16 zero = QR_V16_SPLAT(0.0f);
    /* scores: eight keys at a time, each key value broadcast to all
     * queries of both heads */
    int j = 0;
    for (; j + 8 <= nk; j += 8) {
        const float *const *kp = kpp + j;
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
        const float *a = kpp[j];
        qr_v16 sa = zero, sb = zero;
        for (int c = 0; c < hd; c++) {
            sa += QR_V16_LOAD(qt[0] + c * ATT_BQ) * a[c];
            sb += QR_V16_LOAD(qt[1] + c * ATT_BQ) * a[c];
        }
        QR_V16_STORE(pp[0] + j * ATT_BQ, sa * scale);
        QR_V16_STORE(pp[1] + j * ATT_BQ, sb * scale);
    }
    qr_v16 corr[ATT_NH];
    for (int e = 0; e < ATT_NH; e++) qr_att_softmax16(pp[e], nk, k0, limit0, &mx[e], &sum[e], &corr[e]);
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
            const float *v = vpp[j] + c0;
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
            for (j = 0; j < nk; j++) a += QR_V16_LOAD(pp[e] + j * ATT_BQ) * vpp[j][c0];
            QR_V16_STORE(acc[e] + c0 * ATT_BQ, a);
        }
    }
}

/* Up to ATT_SB consecutive 16-query blocks of one sequence against one kv
 * head's keys, for the query heads h0 .. h0 + nh - 1 (nh 1 or 2) that share
 * it under grouped-query attention. Each chunk of ATT_BK keys and values is
 * read once for the whole group and then stays in L1/L2 while every block
 * uses it, so a long document streams its keys and values from L3 or memory
 * once per 128 queries instead of once per 16 (8 blocks measured 5%
 * faster than 4 on long-8k; copying each chunk into contiguous rows, to
 * avoid the 4 KB stride between rows, was 15% slower). Each key and value
 * number loaded feeds both heads' FMAs. With nh 1 the second head's lanes
 * repeat the first and are dropped. Built for AVX-512, AVX2 and plain x86-64 and
 * chosen when the program loads (GCC target_clones): the rest of the
 * library is built for the x86-64 baseline. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void attend_group(
    const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh, const float *q,
    float *out, att_scratch *w) {
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads;
    qr_att_group gr;
    qr_att_group_init(&gr, s, rows, blks, nsb, h0);
    const qr_seq *const sq = gr.sq;
    const int64_t n_pre = gr.n_pre, max_keys = gr.max_keys, *const limit0 = gr.limit0, *const n_keys = gr.n_keys;
    const qr_v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const qr_v16 neg_inf = QR_V16_SPLAT(-INFINITY), zero = QR_V16_SPLAT(0.0f);
    const size_t hd16 = (size_t)hd * ATT_BQ, bk16 = (size_t)ATT_BK * ATT_BQ;
    float *qt[ATT_SB][ATT_NH], *acc[ATT_SB][ATT_NH], *pp[ATT_NH];
    qr_v16 mx[ATT_SB][ATT_NH], sum[ATT_SB][ATT_NH];
    for (int e = 0; e < ATT_NH; e++) pp[e] = w->p + e * bk16;
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < ATT_NH; e++) {
            qt[b][e] = w->qt + ((size_t)b * ATT_NH + e) * hd16;
            acc[b][e] = w->acc + ((size_t)b * ATT_NH + e) * hd16;
            const int h = h0 + (e < nh ? e : 0);
            for (int c = 0; c < hd; c++)
                for (int k = 0; k < ATT_BQ; k++)
                    qt[b][e][c * ATT_BQ + k] = k < blk.n ? q[((blk.first + k) * H + h) * hd + c] : 0.0f;
            for (int c = 0; c < hd; c++) QR_V16_STORE(acc[b][e] + c * ATT_BQ, zero);
            mx[b][e] = neg_inf;
            sum[b][e] = zero;
        }
    }
    for (int64_t k0 = 0; k0 < max_keys; k0 += ATT_BK) {
        const int nk = (int)(max_keys - k0 < ATT_BK ? max_keys - k0 : ATT_BK);
        for (int j = 0; j < nk; j++) {
            w->kp[j] = qr_att_kv_row(s, sq, k0 + j, n_pre, gr.kvh, gr.kpre, s->k);
            w->vp[j] = qr_att_kv_row(s, sq, k0 + j, n_pre, gr.kvh, gr.vpre, s->v);
        }
        for (int b = 0; b < nsb; b++) {
            if (k0 >= n_keys[b]) continue;
            const int nkb = (int)(n_keys[b] - k0 < nk ? n_keys[b] - k0 : nk);
            attend_chunk(hd, gr.scale, qt[b], acc[b], pp, w->kp, w->vp, k0, nkb, limit0[b], mx[b], sum[b]);
        }
    }
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < nh; e++) {
            const qr_v16 inv = QR_V16_SPLAT(1.0f) / QR_V16_SELECT(lane < blk.n, sum[b][e], QR_V16_SPLAT(1.0f));
            float *a = acc[b][e];
            for (int c = 0; c < hd; c++) QR_V16_STORE(a + c * ATT_BQ, QR_V16_LOAD(a + c * ATT_BQ) * inv);
            for (int k = 0; k < blk.n; k++) {
                float *o = out + ((blk.first + k) * H + h0 + e) * hd;
                for (int c = 0; c < hd; c++) o[c] = a[c * ATT_BQ + k];
            }
        }
    }
}

/* For the sequences kept laid out (qr_att_laid), the chunks that the rows
 * of this call made complete or new; returns -1 when out of memory. A
 * sequence's rows come in order, so its rows here see its keys up to its
 * last one here, all computed by now. */
static int lay_out_new_keys(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blocks, int64_t nb,
                            int nt) {
    typedef struct {
        const qr_seq *sq;
        int64_t c0, avail;
        int64_t first; /* this item's first work unit (a chunk of a kv head) */
    } span;
    span *sp = malloc(sizeof *sp * (size_t)(nb > 0 ? nb : 1));
    if (!sp) return -1;
    const int ck = qr_att_chunk_keys(s->path), kvh = s->m->hp.n_kv_heads;
    int64_t ns = 0, units = 0;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t last = rows[blocks[b].first + blocks[b].n - 1], si = s->row_seq[last];
        if (s->laid->at[si] < 0) continue;
        const qr_seq *sq = &s->seqs[si];
        const int64_t avail = qr_att_seq_keys(sq) - sq->len + (last - sq->start) + 1;
        int64_t *done = &s->laid->done[si];
        if (avail <= *done) continue;
        /* the chunk holding the first key not laid out yet, to the last */
        if (ns > 0 && sp[ns - 1].sq == sq) {
            units += ((avail + ck - 1) / ck - (sp[ns - 1].avail + ck - 1) / ck) * kvh;
            sp[ns - 1].avail = avail;
        } else {
            sp[ns] = (span){sq, *done / ck, avail, units};
            units += ((avail + ck - 1) / ck - *done / ck) * kvh;
            ns++;
        }
        *done = avail;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t u = 0; u < units; u++) {
        int64_t lo = 0, hi = ns - 1; /* the span holding unit u */
        while (lo < hi) {
            const int64_t mid = (lo + hi + 1) / 2;
            if (sp[mid].first <= u) lo = mid;
            else hi = mid - 1;
        }
        const span *p = &sp[lo];
        const int64_t n_chunks = (p->avail + ck - 1) / ck - p->c0, k = u - p->first;
        const int h = (int)(k / n_chunks);
        const int64_t k0 = (p->c0 + k % n_chunks) * ck;
        uint8_t *dst = (uint8_t *)qr_att_laid_chunk(s, p->sq, h, k0);
        if (s->path == QR_ATT_BF16_AMX) qr_att_amx_lay_out(s, p->sq, h, k0, p->avail, dst);
        else qr_att_dot_lay_out(s, p->sq, h, k0, p->avail, dst);
    }
    free(sp);
    return 0;
}

int qr_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, float *out, int n_threads) {
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads;
    qr_att_block *blocks = malloc(sizeof *blocks * (size_t)(n > 0 ? n : 1));
    if (!blocks) return QRANK_E_NO_MEMORY;
    int64_t nb = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && j - i < ATT_BQ && rows[j] == rows[j - 1] + 1 && s->row_seq[rows[j]] == s->row_seq[rows[i]]) j++;
        blocks[nb++] = (qr_att_block){i, (int)(j - i)};
        i = j;
    }
    /* groups: up to ATT_SB consecutive blocks of one sequence, which share
     * its keys and values */
    int64_t *groups = malloc(sizeof *groups * (size_t)(nb + 1)); /* first block of each, then nb */
    if (!groups) {
        free(blocks);
        return QRANK_E_NO_MEMORY;
    }
    /* work items: (group, pair of query heads of one kv head) */
    const int group = H / s->m->hp.n_kv_heads, pairs_per_kv = (group + 1) / 2;
    const int n_pairs = s->m->hp.n_kv_heads * pairs_per_kv;
    const int nt = n_threads < 1 ? 1 : n_threads;
    /* With few items for the threads, smaller groups: a long document's
     * rows come in forward.c's chunks of 512 rows, 4 groups of 8 blocks,
     * 32 items for 8 kv heads, and on 16 threads the calls waited for their
     * last items (bench-attention -c 512 on a 16-core Xeon, 8,192 tokens:
     * 500 ms on vdpbf16ps, 330 with groups of 2 blocks; AMX 132-143 ms
     * against 107-109, f32 314-348 against 279-281). Where keys are laid
     * out once per layer, smaller groups cost no layout; elsewhere they
     * read each key more often. A query's result does not depend on its
     * group (attention_avx512_amx.c), so neither does a document's score. */
    int64_t ng = 0;
    for (int sb = ATT_SB; sb >= 1; sb /= 2) {
        ng = 0;
        for (int64_t b = 0; b < nb;) {
            int64_t e = b + 1;
            while (e < nb && e - b < sb && s->row_seq[rows[blocks[e].first]] == s->row_seq[rows[blocks[b].first]]) e++;
            groups[ng++] = b;
            b = e;
        }
        if (ng * n_pairs >= ATT_ITEMS_PER_THREAD * nt) break;
    }
    groups[ng] = nb;
    /* Every thread's buffers come from here, the calling thread: worker
     * threads that allocate grow heaps of their own, and a long-running
     * server's memory creeps. */
    const size_t hd_bytes = ((size_t)hd * ATT_BQ * ATT_NH * ATT_SB * sizeof(float) + 63) / 64 * 64;
    const size_t p_bytes = sizeof(float) * ATT_BK * ATT_BQ * ATT_NH;
    const qr_att_path path = qr_att_path_for(s->path, hd);
    const size_t per_thread = path == QR_ATT_BF16_AMX   ? qr_attend_amx_scratch(hd)
                              : path == QR_ATT_BF16_DOT ? qr_attend_dot_scratch(hd)
                                                        : 2 * hd_bytes + p_bytes;
    char *scratch = aligned_alloc(64, per_thread * (size_t)nt);
    if (!scratch) {
        free(groups);
        free(blocks);
        return QRANK_E_NO_MEMORY;
    }
    if (s->laid && path == s->path && qr_att_chunk_keys(path) && lay_out_new_keys(s, rows, blocks, nb, nt)) {
        free(scratch);
        free(groups);
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
        for (int64_t g = 0; g < ng; g++)
            for (int pr = 0; pr < n_pairs; pr++) {
                const int kvh = pr / pairs_per_kv, h0 = kvh * group + 2 * (pr % pairs_per_kv);
                const int nh = h0 + 1 < (kvh + 1) * group ? 2 : 1;
                const qr_att_block *bl = blocks + groups[g];
                const int nsb = (int)(groups[g + 1] - groups[g]);
                if (path == QR_ATT_BF16_AMX)
                    qr_attend_group_amx(s, rows, bl, nsb, h0, nh, q, out, mine);
                else if (path == QR_ATT_BF16_DOT)
                    qr_attend_group_dot(s, rows, bl, nsb, h0, nh, q, out, mine);
                else
                    attend_group(s, rows, bl, nsb, h0, nh, q, out, &w);
            }
    }
    free(groups);
    free(scratch);
    free(blocks);
    return QRANK_OK;
}
