/* attention.h - causal self-attention over packed sequences, with a shared
 * prefix's keys/values in front of each sequence's own. */
#ifndef QRANK_ATTENTION_H
#define QRANK_ATTENTION_H

#include <stdint.h>

#include "forward.h"
#include "model.h"

/* What attention needs of one layer of a forward pass. */
typedef struct qr_att_ctx {
    const qrank_model *m;
    const qr_seq *seqs;
    const int64_t *row_seq; /* packed row -> sequence index */
    const float *k, *v;     /* this layer's keys/values of all packed rows [T][kv_dim], a
                             * prefix_seq's among them */
    int layer;              /* which layer of a prefix's cache to read */
} qr_att_ctx;

/* out[i] = attention of query row rows[i] (q [n][q_dim] -> out [n][q_dim]):
 * each query sees its sequence's prefix and its own rows up to itself.
 * Returns QRANK_OK or QRANK_E_NO_MEMORY. */
int qr_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, float *out, int n_threads);

#endif
