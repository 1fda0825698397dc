/* attention.c - causal attention over packed sequences, blocked like
 * FlashAttention: which rows go together, and which path runs them.
 *
 * Consecutive query rows of one sequence form blocks of up to ATT_BQ (16),
 * and up to ATT_SB (8) blocks of one sequence walk its keys together, a
 * chunk at a time: each key/value row is read from memory once per 128
 * queries rather than once per query (fewer blocks per group where a call
 * has too few groups to keep the threads busy), and a running max and sum
 * per query (online softmax) keep memory at O(ATT_SB x ATT_BQ x head_dim)
 * per thread whatever the length. Query heads that share a kv head
 * (grouped-query attention) go two at a time, so every key and value
 * number loaded feeds two products.
 *
 * A group runs on f32 FMAs (attention_f32_body.h, built for the model's
 * kernel table's vector width) or, with --precision fast where the CPU
 * multiplies bf16 faster (qr_att_ctx.path), on AMX tiles
 * (attention_avx512_amx.c) or vdpbf16ps (attention_avx512_bf16.c). */
#include "attention.h"

#include <omp.h>
#include <stdlib.h>

enum { ATT_BQ = QR_ATT_BQ, ATT_SB = QR_ATT_SB, ATT_ITEMS_PER_THREAD = 8 };

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
    const qr_att_path path = qr_att_path_for(s->path, hd);
    const size_t per_thread = path == QR_ATT_BF16_AMX   ? qr_attend_amx_scratch(hd)
                              : path == QR_ATT_BF16_DOT ? qr_attend_dot_scratch(hd)
                                                        : qr_attend_f32_scratch(hd);
    /* the f32 path in the model's kernel table's vector width */
    const int lanes = s->m->kernels.f32_lanes;
    void (*const f32_group)(const qr_att_ctx *, const int64_t *, const qr_att_block *, int, int, int, const float *,
                            float *, void *) = lanes == 16  ? qr_attend_group_f32_avx512
                                               : lanes == 8 ? qr_attend_group_f32_avx2
                                                            : qr_attend_group_f32_generic;
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
                    f32_group(s, rows, bl, nsb, h0, nh, q, out, mine);
            }
    }
    free(groups);
    free(scratch);
    free(blocks);
    return QRANK_OK;
}
