/* forward.h - the Qwen3 forward pass over packed sequences. */
#ifndef QRANK_FORWARD_H
#define QRANK_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Tokens per forward call that rerank.c and embed.c pack their batches to
 * (a single longer sequence makes a call of its own). The model keeps the
 * scratch of a call up to this size between calls (workspace.h). */
enum { QR_BATCH_TOKENS = 4096 };

/* Bytes of scratch a forward call over n_tokens uses. */
size_t qr_forward_scratch_bytes(const qrank_model *m, int64_t n_tokens);

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
 * token array. Its positions start after its prefix, if it has one, and it
 * attends to the prefix's keys/values first. The prefix is either
 * - prefix: keys/values kept from an earlier call, or
 * - prefix_seq: an earlier sequence of the same batch (itself without a
 *   prefix), computed in the same matrix multiplications as this one,
 * never both. capture (optional, only on a sequence without a prefix)
 * receives the keys/values of its every position and layer, to serve later
 * calls as a prefix; qr_kv_prefix_free releases them. */
typedef struct qr_seq {
    int64_t start, len;
    const qr_kv_prefix *prefix;
    const struct qr_seq *prefix_seq;
    qr_kv_prefix *capture;
} qr_seq;

/* How many keys of a prefix sequence sq sees before its own. */
static inline int64_t qr_seq_prefix_len(const qr_seq *sq) {
    return sq->prefix ? sq->prefix->n_tokens : sq->prefix_seq ? sq->prefix_seq->len : 0;
}

/* Runs the model over n_seqs packed sequences (no padding anywhere).
 * out_last (optional): n_seqs x hidden, the final-norm hidden state of each
 * sequence's last token; nothing else reaches the final layers' outputs. A
 * sequence that is another's prefix_seq only lends its keys and values: its
 * row is zero. */
int qr_forward(const qrank_model *m, const int32_t *tokens, const qr_seq *seqs, size_t n_seqs,
               qrank_precision precision, float *out_last, qrank_error *err);

#endif
