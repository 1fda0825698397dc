/* embed.c - Qwen3-Embedding vectors.
 *
 * A text (or "Instruct: {task}\nQuery:{text}" when an instruction is given)
 * is tokenized as plain text, <|endoftext|> is appended, and that last
 * token's final-norm hidden state is the embedding: first `dims` values
 * (MRL), then L2-normalised, in that order. Texts are packed into the same
 * batched forward as the reranker's documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "forward.h"
#include "model.h"

enum { BATCH_TOKENS = QR_BATCH_TOKENS };

qrank_embed_params qrank_embed_default_params(void) {
    qrank_embed_params p;
    memset(&p, 0, sizeof p);
    p.max_length = QRANK_DEFAULT_MAX_LENGTH;
    p.precision = QRANK_PRECISION_FAST;
    return p;
}

typedef struct text_ids {
    int32_t *ids;
    size_t n, cap;
} text_ids;

static int tokenize_text(const qrank_model *m, const char *text, const char *instruction, size_t keep,
                         text_ids *out, qrank_error *err) {
    int rc;
    if (instruction) {
        size_t len = strlen(instruction) + strlen(text) + 32;
        char *s = malloc(len);
        if (!s) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        int n = snprintf(s, len, "Instruct: %s\nQuery:%s", instruction, text);
        rc = qr_tokenize(m->tok, s, (size_t)n, &out->ids, &out->n, &out->cap, err);
        free(s);
    } else {
        rc = qr_tokenize(m->tok, text, strlen(text), &out->ids, &out->n, &out->cap, err);
    }
    if (rc) return rc;
    if (out->n > keep) out->n = keep; /* the tail goes first, as the official truncation does */
    if (out->n + 1 > out->cap) {
        int32_t *p = realloc(out->ids, (out->n + 1) * sizeof *p);
        if (!p) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        out->ids = p;
        out->cap = out->n + 1;
    }
    out->ids[out->n++] = m->id_endoftext;
    return QRANK_OK;
}

int qrank_embed(qrank_model *m, const char *const *texts, size_t n_texts, const qrank_embed_params *params,
                float *out, qrank_usage *usage, qrank_error *err) {
    qrank_embed_params p = params ? *params : qrank_embed_default_params();
    const int H = m->hp.hidden;
    const int dims = p.dims > 0 ? p.dims : H;
    if (usage) memset(usage, 0, sizeof *usage);
    if (dims < 1 || dims > H)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "dimensions %d is outside 1..%d", p.dims, H);
    const int max_length = p.max_length > 0 ? p.max_length : QRANK_DEFAULT_MAX_LENGTH;
    if (max_length < 2 || max_length > m->hp.context_length)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "max_length %d is outside 2..%d", max_length,
                        m->hp.context_length);
    if (n_texts == 0) return QRANK_OK;
    if (!texts || !out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no texts or output array");
    for (size_t i = 0; i < n_texts; i++)
        if (!texts[i]) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "text %zu is NULL", i);
    const char *instruction = p.instruction && p.instruction[0] ? p.instruction : NULL;

    int rc = QRANK_OK;
    text_ids *ids = calloc(n_texts, sizeof *ids);
    if (!ids) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    int failed = 0;
    qrank_error terr;
#pragma omp parallel for num_threads(m->n_threads) schedule(dynamic, 8)
    for (size_t i = 0; i < n_texts; i++) {
        qrank_error e;
        if (tokenize_text(m, texts[i], instruction, (size_t)max_length - 1, &ids[i], &e)) {
#pragma omp critical(embed_err)
            {
                if (!failed) terr = e;
                failed = 1;
            }
        }
    }
    if (failed) {
        rc = terr.code;
        if (err) *err = terr;
    }

    int32_t *tokens = NULL;
    qr_seq *seqs = malloc(n_texts * sizeof *seqs);
    float *hidden = malloc((size_t)H * n_texts * sizeof(float));
    size_t tok_cap = 0;
    if (!rc && (!seqs || !hidden)) rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    size_t b0 = 0;
    while (!rc && b0 < n_texts) {
        size_t b1 = b0, n_tok = 0;
        while (b1 < n_texts && (b1 == b0 || n_tok + ids[b1].n <= BATCH_TOKENS)) n_tok += ids[b1++].n;
        if (tok_cap < n_tok) {
            int32_t *q = realloc(tokens, n_tok * sizeof *q);
            if (!q) {
                rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
                break;
            }
            tokens = q;
            tok_cap = n_tok;
        }
        size_t pos = 0;
        for (size_t i = b0; i < b1; i++) {
            memcpy(tokens + pos, ids[i].ids, ids[i].n * sizeof(int32_t));
            seqs[i - b0] = (qr_seq){(int64_t)pos, (int64_t)ids[i].n, NULL, NULL, NULL};
            pos += ids[i].n;
            if (usage) {
                usage->prompt_tokens += ids[i].n;
                usage->computed_tokens += ids[i].n;
            }
        }
        rc = qr_forward(m, tokens, seqs, b1 - b0, p.precision, hidden + b0 * (size_t)H, err);
        b0 = b1;
    }
    for (size_t i = 0; i < n_texts && !rc; i++) {
        const float *h = hidden + i * (size_t)H;
        double ss = 0.0;
        for (int d = 0; d < dims; d++) ss += (double)h[d] * h[d];
        if (!isfinite(ss)) {
            rc = qr_error(err, QRANK_E_FORMAT, "the model computed a non-finite embedding: its weights are "
                                               "probably corrupt");
            break;
        }
        const double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
        for (int d = 0; d < dims; d++) out[i * (size_t)dims + d] = (float)(h[d] * inv);
    }
    for (size_t i = 0; i < n_texts; i++) free(ids[i].ids);
    free(ids);
    free(tokens);
    free(seqs);
    free(hidden);
    return rc;
}
