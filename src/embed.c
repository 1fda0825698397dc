/* embed.c - Qwen3-Embedding vectors.
 *
 * A text (or "Instruct: {task}\nQuery:{text}" when an instruction is given)
 * is tokenized as plain text, <|endoftext|> is appended, and that last
 * token's final-norm hidden state is the embedding: first `dims` values
 * (MRL), then L2-normalised, in that order. Texts are packed into the same
 * batched forward as the reranker's documents.
 *
 * With an instruction, every input starts with the same tokens: "Instruct:
 * {task}\nQuery" is tokenized and run once per call (a sequence ahead of the
 * first batch's texts, whose keys/values the others attend to, as the
 * reranker's prefix is; kept between calls in the model's prefix cache), and
 * each text as ":" + text. The split is exact: "Query" ends a pre-token
 * whatever follows (a letter run stops at ':'), the pre-tokenizer restarts
 * at ':' as it would in the whole string, and NFC has nothing to compose
 * across "y:". For clustering, whose every post carries the task, that is
 * about a third of the tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "forward.h"
#include "model.h"
#include "prefix_cache.h"

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

/* The ids of one input before <|endoftext|>: head + ":" + text (head is
 * "Instruct: {task}\nQuery", or "" once its ids are a shared prefix), or the
 * text alone (head NULL: no instruction). */
static int tokenize_text(const qrank_model *m, const char *text, const char *head, size_t keep, text_ids *out,
                         qrank_error *err) {
    int rc;
    if (head) {
        size_t len = strlen(head) + strlen(text) + 2;
        char *s = malloc(len);
        if (!s) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        int n = snprintf(s, len, "%s:%s", head, text);
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
    /* the shared prefix, when there is an instruction and room after it */
    text_ids shared = {0};
    qr_kv_prefix kv = {0};
    qr_prefix_entry *cached = NULL;
    char *head = NULL;
    if (instruction) {
        const size_t len = strlen(instruction) + 32;
        if (!(head = malloc(len))) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        const int n = snprintf(head, len, "Instruct: %s\nQuery", instruction);
        rc = qr_tokenize(m->tok, head, (size_t)n, &shared.ids, &shared.n, &shared.cap, err);
        if (rc) {
            free(head);
            free(shared.ids);
            return rc;
        }
        if (shared.n + 2 > (size_t)max_length - 1) shared.n = 0; /* no room: whole inputs, cut as usual */
        if (shared.n) cached = qr_prefix_cache_get(m->prefix_cache, (int)p.precision, shared.ids, shared.n);
    }
    const int split = shared.n > 0;
    text_ids *ids = calloc(n_texts, sizeof *ids);
    if (!ids) {
        free(head);
        free(shared.ids);
        qr_prefix_cache_release(m->prefix_cache, cached);
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    }
    int failed = 0;
    qrank_error terr;
#pragma omp parallel for num_threads(m->n_threads) schedule(dynamic, 8)
    for (size_t i = 0; i < n_texts; i++) {
        qrank_error e;
        if (tokenize_text(m, texts[i], split ? "" : head, (size_t)max_length - 1 - shared.n, &ids[i], &e)) {
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
    qr_seq *seqs = malloc((n_texts + 1) * sizeof *seqs);
    float *hidden = malloc((size_t)H * (n_texts + 1) * sizeof(float));
    size_t tok_cap = 0;
    if (!rc && (!seqs || !hidden)) rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    size_t b0 = 0;
    while (!rc && b0 < n_texts) {
        /* the prefix goes ahead of the first batch's texts unless kept */
        const size_t n_pre = split && !cached && b0 == 0 ? shared.n : 0;
        size_t b1 = b0, n_tok = n_pre;
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
        size_t pos = 0, k = 0;
        if (n_pre) {
            memcpy(tokens, shared.ids, n_pre * sizeof(int32_t));
            const int keep = b1 < n_texts || qr_prefix_cache_could_keep(m->prefix_cache, m->hp.n_layers, (int64_t)n_pre,
                                                                        m->hp.n_kv_heads * m->hp.head_dim);
            seqs[k++] = (qr_seq){0, (int64_t)n_pre, NULL, NULL, keep ? &kv : NULL};
            pos = n_pre;
            if (usage) usage->computed_tokens += n_pre;
        }
        const qr_kv_prefix *kept = cached ? qr_prefix_entry_kv(cached) : &kv;
        for (size_t i = b0; i < b1; i++) {
            memcpy(tokens + pos, ids[i].ids, ids[i].n * sizeof(int32_t));
            seqs[k++] = (qr_seq){(int64_t)pos, (int64_t)ids[i].n, split && !n_pre ? kept : NULL,
                                 n_pre ? &seqs[0] : NULL, NULL};
            pos += ids[i].n;
            if (usage) {
                usage->prompt_tokens += shared.n + ids[i].n;
                usage->computed_tokens += ids[i].n;
            }
        }
        /* with the prefix (first batch only, b0 = 0) its row comes first, zero
         * and not wanted: hidden has one row to spare, and the texts' rows
         * move up over it */
        rc = qr_forward(m, tokens, seqs, k, p.precision, hidden + b0 * (size_t)H, err);
        if (!rc && n_pre) memmove(hidden, hidden + H, (b1 - b0) * (size_t)H * sizeof(float));
        b0 = b1;
    }
    if (usage) usage->prefix_tokens_reused = usage->prompt_tokens - usage->computed_tokens;
    if (!rc && split && !cached && kv.k) qr_prefix_cache_put(m->prefix_cache, (int)p.precision, shared.ids, shared.n, &kv);
    qr_kv_prefix_free(&kv);
    qr_prefix_cache_release(m->prefix_cache, cached);
    free(shared.ids);
    free(head);
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
