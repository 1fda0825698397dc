/* attention.h - causal self-attention over packed sequences, with a shared
 * prefix's keys/values in front of each sequence's own. */
#ifndef QRANK_ATTENTION_H
#define QRANK_ATTENTION_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "model.h"

enum { QR_ATT_DOT_MAX_HD = 512 };

/* What attention needs of one layer of a forward pass. */
typedef struct qr_att_ctx {
    const qrank_model *m;
    const qr_seq *seqs;
    const int64_t *row_seq; /* packed row -> sequence index */
    const float *k, *v;     /* this layer's keys/values of all packed rows [T][kv_dim], a
                             * prefix_seq's among them */
    int layer;              /* which layer of a prefix's cache to read */
    qr_att_path path;       /* model.h */
} qr_att_ctx;

/* Consecutive query rows of one sequence: rows[first .. first + n), n <= 16. */
typedef struct qr_att_block {
    int64_t first;
    int n;
} qr_att_block;

/* This layer's keys and values of sequence sq's prefix (rows of kv_dim),
 * wherever it is: kept from an earlier call, or rows of this batch; returns
 * how many there are. */
static inline int64_t qr_att_seq_prefix(const qr_att_ctx *s, const qr_seq *sq, const float **k, const float **v) {
    const int64_t kv_dim = (int64_t)s->m->hp.n_kv_heads * s->m->hp.head_dim;
    if (sq->prefix) {
        const size_t at = (size_t)s->layer * (size_t)(sq->prefix->n_tokens * kv_dim);
        *k = sq->prefix->k + at;
        *v = sq->prefix->v + at;
        return sq->prefix->n_tokens;
    }
    if (sq->prefix_seq) {
        *k = s->k + sq->prefix_seq->start * kv_dim;
        *v = s->v + sq->prefix_seq->start * kv_dim;
        return sq->prefix_seq->len;
    }
    *k = *v = NULL;
    return 0;
}

/* Key (or value) j of sequence sq as it sees them: its prefix's, then its own. */
static inline const float *qr_att_kv_row(const qr_att_ctx *s, const qr_seq *sq, int64_t j, int64_t n_pre, int kvh,
                                         const float *pre, const float *own) {
    const int hd = s->m->hp.head_dim, kv_dim = s->m->hp.n_kv_heads * hd;
    if (j < n_pre) return pre + j * kv_dim + kvh * hd;
    return own + (sq->start + j - n_pre) * kv_dim + kvh * hd;
}

enum { QR_ATT_SB = 8 }; /* blocks of one sequence that walk its keys together */

/* What both paths need of a group of blocks (one sequence, at most
 * QR_ATT_SB blocks) and a kv head: the sequence, its prefix, and the keys
 * each block sees (query k of block b: keys 0 .. limit0[b] + k). */
typedef struct qr_att_group {
    const qr_seq *sq;
    const float *kpre, *vpre;
    int64_t n_pre;
    int kvh;
    float scale; /* 1 / sqrt(head_dim) */
    int64_t limit0[QR_ATT_SB], n_keys[QR_ATT_SB], max_keys;
} qr_att_group;

static inline void qr_att_group_init(qr_att_group *g, const qr_att_ctx *s, const int64_t *rows,
                                     const qr_att_block *blks, int nsb, int h0) {
    const qr_hparams *hp = &s->m->hp;
    g->sq = &s->seqs[s->row_seq[rows[blks[0].first]]];
    g->n_pre = qr_att_seq_prefix(s, g->sq, &g->kpre, &g->vpre);
    g->kvh = h0 / (hp->n_heads / hp->n_kv_heads);
    g->scale = (float)(1.0 / sqrt((double)hp->head_dim));
    g->max_keys = 0;
    for (int b = 0; b < nsb; b++) {
        g->limit0[b] = g->n_pre + rows[blks[b].first] - g->sq->start;
        g->n_keys[b] = g->limit0[b] + blks[b].n;
        if (g->n_keys[b] > g->max_keys) g->max_keys = g->n_keys[b];
    }
}

/* The next buffer of bytes at *at of a thread's scratch, 64-byte aligned
 * like the scratch; NULL where there is no scratch yet, only its size
 * being wanted. */
static inline void *qr_att_take(void *scratch, size_t *at, size_t bytes) {
    void *p = scratch ? (char *)scratch + *at : NULL;
    *at += (bytes + 63) / 64 * 64;
    return p;
}

/* attention_avx512_amx.c: the blocks blks[0 .. nsb) (at most QR_ATT_SB,
 * one sequence) for query heads h0 .. h0 + nh - 1 (nh 1 or 2, one kv
 * head), with scratch of qr_attend_amx_scratch bytes (64-byte aligned).
 * Only where s->path is QR_ATT_BF16_AMX. */
size_t qr_attend_amx_scratch(int head_dim);
void qr_attend_group_amx(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch);

/* attention_avx512_bf16.c: the same on vdpbf16ps, with scratch of
 * qr_attend_dot_scratch bytes. Only where s->path is QR_ATT_BF16_DOT. */
size_t qr_attend_dot_scratch(int head_dim);
void qr_attend_group_dot(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch);

/* out[i] = attention of query row rows[i] (q [n][q_dim] -> out [n][q_dim]):
 * each query sees its sequence's prefix and its own rows up to itself.
 * Returns QRANK_OK or QRANK_E_NO_MEMORY. */
int qr_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, float *out, int n_threads);

#endif
