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
enum {
    QR_ATT_BQ = 16,     /* queries per block: consecutive rows of one sequence */
    QR_ATT_SB = 8,      /* blocks of one sequence that walk its keys together */
    QR_ATT_NH = 2,      /* query heads per work item, sharing one kv head */
    QR_ATT_F32_BK = 64, /* keys per chunk on the f32 path */
};

/* Keys and values laid out for a bf16 path once per layer.
 *
 * Each group of blocks (up to QR_ATT_SB x 16 queries of one sequence)
 * rounds and lays out the chunks of keys and values it walks: a document of
 * 8,192 tokens had every chunk laid out 64 times per layer, once per group,
 * and on AMX that was a fifth of attention's time. For a sequence whose
 * rows make more than one group, the forward pass keeps its keys and values
 * laid out instead: each qr_attention call lays out the chunks that its
 * rows made complete or new since the last call of the layer (a chunk it
 * found partial, again), and the groups read them. The layout is the
 * path's own (attention_avx512_amx.c, attention_avx512_bf16.c); keys past
 * those laid out are zero, as in a group's own layout. The rows of each
 * call come in order, each sequence's together, as forward.c's do. */
typedef struct qr_att_laid {
    uint8_t *buf;
    const int64_t *at; /* per sequence: the byte offset of its chunks in buf, -1: its groups lay out */
    int64_t *done;     /* per sequence: its keys laid out in this layer, 0 at the layer's start */
} qr_att_laid;

/* What attention needs of one layer of a forward pass. */
typedef struct qr_att_ctx {
    const qrank_model *m;
    const qr_seq *seqs;
    const int64_t *row_seq; /* packed row -> sequence index */
    const float *k, *v;     /* this layer's keys/values of all packed rows [T][kv_dim], a
                             * prefix_seq's among them */
    int layer;              /* which layer of a prefix's cache to read */
    qr_att_path path;       /* model.h */
    qr_att_laid *laid;      /* NULL: every group lays out its own chunks */
} qr_att_ctx;

/* The path qr_attention takes for path p: the bf16 paths need whole tiles
 * (AMX: head dims of 32k up to 256, the key rows of its layout) or vectors. */
static inline qr_att_path qr_att_path_for(qr_att_path p, int hd) {
    if (p == QR_ATT_BF16_AMX && !(hd % 32 == 0 && hd <= 256)) return QR_ATT_F32;
    if (p == QR_ATT_BF16_DOT && !(hd % 16 == 0 && hd <= QR_ATT_DOT_MAX_HD)) return QR_ATT_F32;
    return p;
}

/* Keys per chunk of path p's layout (0: p lays out nothing); a chunk takes
 * 4 bytes per key and dim on both bf16 paths (keys and values, 2 each). */
static inline int qr_att_chunk_keys(qr_att_path p) {
    return p == QR_ATT_BF16_AMX ? 32 : p == QR_ATT_BF16_DOT ? 64 : 0;
}
static inline size_t qr_att_chunk_bytes(qr_att_path p, int hd) {
    return (size_t)qr_att_chunk_keys(p) * (size_t)hd * 4;
}

/* The keys sequence sq sees (its prefix's and its own), the chunks of
 * path p's layout they fill, and the bytes of its keys and values laid out
 * for p (qr_att_path_for's) once per layer, every kv head: 0 where its
 * groups do better laying out their own chunks (one group: each chunk is
 * laid out once anyway). */
static inline int64_t qr_att_seq_keys(const qr_seq *sq) {
    return sq->len + qr_seq_prefix_len(sq);
}
static inline int64_t qr_att_seq_chunks(qr_att_path p, const qr_seq *sq) {
    const int ck = qr_att_chunk_keys(p);
    return (qr_att_seq_keys(sq) + ck - 1) / ck;
}
static inline size_t qr_att_laid_bytes(const qrank_model *m, qr_att_path p, const qr_seq *sq) {
    if (!qr_att_chunk_keys(p) || sq->len <= 16 * QR_ATT_SB) return 0;
    return (size_t)qr_att_seq_chunks(p, sq) * (size_t)m->hp.n_kv_heads * qr_att_chunk_bytes(p, m->hp.head_dim);
}

/* Where each of seqs[0 .. n) keeps its chunks in a qr_att_laid buffer
 * (at[i]: a byte offset, or -1; at NULL: only counts); returns the bytes
 * the buffer takes. */
static inline size_t qr_att_laid_plan(const qrank_model *m, qr_att_path p, const qr_seq *seqs, size_t n,
                                      int64_t *at) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t b = qr_att_laid_bytes(m, p, &seqs[i]);
        if (at) at[i] = b ? (int64_t)bytes : -1;
        bytes += b;
    }
    return bytes;
}

/* Sequence sq's laid-out chunk of kv head kvh that holds key k0, or NULL
 * where sq has none. */
static inline const uint8_t *qr_att_laid_chunk(const qr_att_ctx *s, const qr_seq *sq, int kvh, int64_t k0) {
    if (!s->laid) return NULL;
    const int64_t at = s->laid->at[sq - s->seqs];
    if (at < 0) return NULL;
    const int64_t chunk = kvh * qr_att_seq_chunks(s->path, sq) + k0 / qr_att_chunk_keys(s->path);
    return s->laid->buf + at + (size_t)chunk * qr_att_chunk_bytes(s->path, s->m->hp.head_dim);
}

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

/* The f32 path's buffers in a thread's scratch (queries and outputs of
 * QR_ATT_SB blocks for QR_ATT_NH heads, transposed; a chunk's scores for
 * those heads; a chunk's values laid out for P.V); returns the bytes they
 * take. With scratch NULL, only that: qr_attend_f32_scratch. */
static inline size_t qr_att_f32_carve(void *scratch, int hd, float **qt, float **acc, float **p, float **vt) {
    const size_t rows = (size_t)hd * QR_ATT_BQ * QR_ATT_NH * QR_ATT_SB;
    size_t at = 0;
    *qt = qr_att_take(scratch, &at, sizeof(float) * rows);
    *acc = qr_att_take(scratch, &at, sizeof(float) * rows);
    *p = qr_att_take(scratch, &at, sizeof(float) * QR_ATT_F32_BK * QR_ATT_BQ * QR_ATT_NH);
    *vt = qr_att_take(scratch, &at, sizeof(float) * QR_ATT_F32_BK * (size_t)hd);
    return at;
}
static inline size_t qr_attend_f32_scratch(int hd) {
    float *qt, *acc, *p, *vt;
    return qr_att_f32_carve(NULL, hd, &qt, &acc, &p, &vt);
}

/* attention_f32_body.h, built per ISA: the blocks blks[0 .. nsb) (at most
 * QR_ATT_SB, one sequence) for query heads h0 .. h0 + nh - 1 (nh 1 or 2,
 * one kv head), on f32 FMAs, with scratch of qr_attend_f32_scratch bytes
 * (64-byte aligned). The _avx512 build needs the avx512 table's CPU, the
 * _avx2 one the avx2 table's (kernels/dispatch.c); qr_attention picks by
 * the model's qr_kernels.f32_lanes. */
void qr_attend_group_f32_avx512(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0,
                                int nh, const float *q, float *out, void *scratch);
void qr_attend_group_f32_avx2(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0,
                              int nh, const float *q, float *out, void *scratch);
void qr_attend_group_f32_generic(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0,
                                 int nh, const float *q, float *out, void *scratch);

/* attention_avx512_amx.c: the same on AMX tiles, with scratch of
 * qr_attend_amx_scratch bytes (64-byte aligned).
 * Only where s->path is QR_ATT_BF16_AMX. */
size_t qr_attend_amx_scratch(int head_dim);
/* Its layout of keys k0 .. k0 + 31 of sequence sq, kv head kvh, those from
 * key avail on zero, into dst (qr_att_chunk_bytes, 64-byte aligned). */
void qr_att_amx_lay_out(const qr_att_ctx *s, const qr_seq *sq, int kvh, int64_t k0, int64_t avail, uint8_t *dst);
void qr_attend_group_amx(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch);

/* attention_avx512_bf16.c: the same on vdpbf16ps, with scratch of
 * qr_attend_dot_scratch bytes. Only where s->path is QR_ATT_BF16_DOT. */
size_t qr_attend_dot_scratch(int head_dim);
void qr_att_dot_lay_out(const qr_att_ctx *s, const qr_seq *sq, int kvh, int64_t k0, int64_t avail, uint8_t *dst);
void qr_attend_group_dot(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch);

/* out[i] = attention of query row rows[i] (q [n][q_dim] -> out [n][q_dim]):
 * each query sees its sequence's prefix and its own rows up to itself.
 * Returns QRANK_OK or QRANK_E_NO_MEMORY. */
int qr_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, float *out, int n_threads);

#endif
