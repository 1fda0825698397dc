/* forward.h - the Qwen3 forward pass over packed sequences. */
#ifndef QRANK_FORWARD_H
#define QRANK_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Keys and values of a shared prompt prefix, every layer, after k_norm and
 * RoPE: k[l][pos][kv_dim], v[l][pos][kv_dim]. Documents that follow the
 * prefix attend to these instead of recomputing them. */
typedef struct qr_kv_prefix {
    int n_layers, kv_dim;
    int64_t n_tokens;
    float *k, *v;
} qr_kv_prefix;

void qr_kv_prefix_free(qr_kv_prefix *kv);

/* One sequence in a packed batch: tokens[start .. start+len) of the batch's
 * token array. With a prefix, its positions start at prefix->n_tokens and
 * it attends to the prefix's keys/values first. */
typedef struct qr_seq {
    int64_t start, len;
    const qr_kv_prefix *prefix;
} qr_seq;

/* Runs the model over n_seqs packed sequences (no padding anywhere).
 * - out_last (optional): n_seqs x hidden, the final-norm hidden state of each
 *   sequence's last token; nothing else reaches the final layers' outputs.
 * - capture (optional, only with n_seqs == 1 and no prefix): receives the
 *   keys/values of every position of every layer, to serve as a prefix. */
int qr_forward(const qrank_model *m, const int32_t *tokens, const qr_seq *seqs, size_t n_seqs,
               qrank_precision precision, float *out_last, qr_kv_prefix *capture, qrank_error *err);

#endif
