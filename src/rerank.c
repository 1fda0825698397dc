/* rerank.c - Qwen3-Reranker prompts and scores.
 *
 * The official prompt is prefix + body + suffix with
 *   body = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}".
 * Everything up to "<Document>:" is the same for every document of a query,
 * so it is tokenized once and run through the model once; its keys/values are
 * the prefix every document attends to, and the model keeps them for later
 * calls with the same query (prefix_cache.h). The space after the colon belongs to
 * the document (the pre-tokenizer joins it to the next word), so each
 * document is tokenized as " " + document: MODEL.md explains why this split
 * gives the same ids as tokenizing the body in one piece.
 *
 * Truncation follows the official code: the body is cut from its tail so
 * that the whole prompt fits max_length; in practice the document's tail.
 *
 * Score = P(yes) = sigmoid((W[yes] - W[no]) . h_last): the only output row
 * products ever computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "forward.h"
#include "model.h"
#include "prefix_cache.h"

/* Tokens per forward call: large enough to keep the matrix kernels busy,
 * small enough to bound activation memory. A longer document runs alone. */
enum { BATCH_TOKENS = QR_BATCH_TOKENS };

qrank_rerank_params qrank_rerank_default_params(void) {
    qrank_rerank_params p;
    memset(&p, 0, sizeof p);
    p.instruction = NULL;
    p.max_length = QRANK_DEFAULT_MAX_LENGTH;
    p.max_tokens_per_doc = 0;
    p.precision = QRANK_PRECISION_FAST;
    return p;
}

typedef struct doc_job {
    size_t request, index;
    int32_t *ids; /* " " + document, then truncated; the suffix is appended when packed */
    size_t n_ids, cap;
    size_t body_kept; /* document tokens kept */
} doc_job;

typedef struct request_state {
    int32_t *shared; /* prefix template + body up to "<Document>:" (maybe truncated) */
    size_t n_shared, cap;
    qr_kv_prefix kv;
    qr_prefix_entry *cached; /* the shared part's keys/values from an earlier call (prefix_cache.h) */
    size_t owner;            /* the first request of this call with the same shared part (itself if none) */
    int lends;               /* later requests of this call use this one's shared part */
    size_t doc_budget;       /* tokens a document may keep */
} request_state;

/* Whether this call runs request r's shared part itself: no earlier call
 * kept it, and no earlier request of this call has the same one. */
static int runs_shared(const request_state *rs, size_t r) { return !rs[r].cached && rs[r].owner == r; }

static int tokenize_str(const qrank_model *m, const char *s, int32_t **ids, size_t *n, size_t *cap,
                        qrank_error *err) {
    return qr_tokenize(m->tok, s, strlen(s), ids, n, cap, err);
}

static int build_shared(const qrank_model *m, const qrank_rerank_request *rq, request_state *rs,
                        qrank_error *err) {
    const char *instr = rq->params.instruction && rq->params.instruction[0] ? rq->params.instruction
                                                                            : QRANK_DEFAULT_INSTRUCTION;
    size_t len = strlen(instr) + strlen(rq->query) + 64;
    char *body = malloc(len);
    if (!body) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    snprintf(body, len, "<Instruct>: %s\n<Query>: %s\n<Document>:", instr, rq->query);
    rs->cap = m->n_rerank_prefix + 64;
    rs->shared = malloc(rs->cap * sizeof(int32_t));
    if (!rs->shared) {
        free(body);
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    }
    memcpy(rs->shared, m->rerank_prefix, m->n_rerank_prefix * sizeof(int32_t));
    rs->n_shared = m->n_rerank_prefix;
    int rc = tokenize_str(m, body, &rs->shared, &rs->n_shared, &rs->cap, err);
    free(body);
    if (rc) return rc;

    int max_length = rq->params.max_length > 0 ? rq->params.max_length : QRANK_DEFAULT_MAX_LENGTH;
    const size_t fixed = m->n_rerank_prefix + m->n_rerank_suffix;
    if ((size_t)max_length <= fixed)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT,
                        "max_length %d leaves no room for the prompt template (%zu tokens)", max_length, fixed);
    if (max_length > m->hp.context_length)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "max_length %d exceeds the model's context of %d tokens",
                        max_length, m->hp.context_length);
    const size_t body_budget = (size_t)max_length - fixed;
    const size_t shared_body = rs->n_shared - m->n_rerank_prefix;
    if (shared_body >= body_budget) {
        /* The query alone overflows: the official code cuts the body's tail,
         * so every document is cut away entirely. */
        rs->n_shared = m->n_rerank_prefix + body_budget;
        rs->doc_budget = 0;
    } else {
        rs->doc_budget = body_budget - shared_body;
    }
    if (rq->params.max_tokens_per_doc > 0 && (size_t)rq->params.max_tokens_per_doc < rs->doc_budget)
        rs->doc_budget = (size_t)rq->params.max_tokens_per_doc;
    return QRANK_OK;
}

static double dot_f64(const float *a, const float *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

int qrank_rerank_batch(qrank_model *m, qrank_rerank_request *reqs, size_t n_reqs, qrank_error *err) {
    if (!m || (!reqs && n_reqs)) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no model or requests");
    size_t n_docs = 0;
    for (size_t r = 0; r < n_reqs; r++) {
        if (!reqs[r].query) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "request %zu has no query", r);
        if (reqs[r].n_docs && (!reqs[r].docs || !reqs[r].scores))
            return qr_error(err, QRANK_E_INVALID_ARGUMENT, "request %zu has no documents or score array", r);
        for (size_t d = 0; d < reqs[r].n_docs; d++)
            if (!reqs[r].docs[d])
                return qr_error(err, QRANK_E_INVALID_ARGUMENT, "request %zu: document %zu is NULL", r, d);
        memset(&reqs[r].usage, 0, sizeof reqs[r].usage);
        n_docs += reqs[r].n_docs;
    }
    if (n_docs == 0) return QRANK_OK;
    const qrank_precision prec = reqs[0].params.precision;
    const int H = m->hp.hidden, hp_layers = m->hp.n_layers, kv_dim = m->hp.n_kv_heads * m->hp.head_dim;
    const size_t n_suffix = m->n_rerank_suffix;

    int rc = QRANK_OK;
    request_state *rs = calloc(n_reqs, sizeof *rs);
    doc_job *jobs = calloc(n_docs, sizeof *jobs);
    if (!rs || !jobs) {
        rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < n_reqs && !rc; r++) {
        if (reqs[r].n_docs == 0) continue;
        rc = build_shared(m, &reqs[r], &rs[r], err);
        if (rc) break;
        /* several requests of one round with the same query (a client's
         * documents split over parallel requests) share the first one's
         * prefix, kept or computed: the others neither look it up nor run it */
        rs[r].owner = r;
        for (size_t o = 0; o < r; o++)
            if (reqs[o].n_docs && rs[o].n_shared == rs[r].n_shared &&
                memcmp(rs[o].shared, rs[r].shared, rs[r].n_shared * sizeof(int32_t)) == 0) {
                rs[r].owner = o;
                rs[o].lends = 1;
                break;
            }
        if (rs[r].owner == r)
            rs[r].cached = qr_prefix_cache_get(m->prefix_cache, (int)prec, rs[r].shared, rs[r].n_shared);
    }
    if (rc) goto done;

    /* Tokenize documents on all threads: independent and often most of the work for short posts. */
    {
        size_t j = 0;
        for (size_t r = 0; r < n_reqs; r++)
            for (size_t d = 0; d < reqs[r].n_docs; d++, j++) {
                jobs[j].request = r;
                jobs[j].index = d;
            }
        int failed = 0;
        qrank_error terr;
#pragma omp parallel for num_threads(m->n_threads) schedule(dynamic, 8)
        for (size_t i = 0; i < n_docs; i++) {
            doc_job *jb = &jobs[i];
            const char *doc = reqs[jb->request].docs[jb->index];
            size_t dl = strlen(doc);
            char *text = malloc(dl + 2);
            qrank_error e;
            int trc = QRANK_E_NO_MEMORY;
            if (text) {
                text[0] = ' ';
                memcpy(text + 1, doc, dl + 1);
                trc = qr_tokenize(m->tok, text, dl + 1, &jb->ids, &jb->n_ids, &jb->cap, &e);
                free(text);
            } else {
                qr_error(&e, trc, "out of memory");
            }
            if (trc) {
#pragma omp critical(rerank_err)
                {
                    if (!failed) terr = e;
                    failed = 1;
                }
            }
        }
        if (failed) {
            rc = err ? (*err = terr, terr.code) : terr.code;
            goto done;
        }
    }

    /* Truncate, append the suffix and count usage. */
    for (size_t i = 0; i < n_docs; i++) {
        doc_job *jb = &jobs[i];
        request_state *st = &rs[jb->request];
        qrank_usage *u = &reqs[jb->request].usage;
        size_t keep = jb->n_ids < st->doc_budget ? jb->n_ids : st->doc_budget;
        if (keep < jb->n_ids) u->truncated_documents++;
        jb->n_ids = keep;
        jb->body_kept = keep;
        if (jb->cap < keep + n_suffix) {
            int32_t *p = realloc(jb->ids, (keep + n_suffix) * sizeof *p);
            if (!p) {
                rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
                goto done;
            }
            jb->ids = p;
            jb->cap = keep + n_suffix;
        }
        memcpy(jb->ids + keep, m->rerank_suffix, n_suffix * sizeof(int32_t));
        jb->n_ids = keep + n_suffix;
        u->prompt_tokens += st->n_shared + jb->n_ids;
        u->computed_tokens += jb->n_ids;
    }

    /* Usage: each request's shared prefix is computed once, or not at all
     * when an earlier call's keys/values are kept. */
    for (size_t r = 0; r < n_reqs; r++) {
        if (reqs[r].n_docs == 0) continue;
        if (runs_shared(rs, r)) reqs[r].usage.computed_tokens += rs[r].n_shared;
        reqs[r].usage.prefix_tokens_reused = reqs[r].usage.prompt_tokens - reqs[r].usage.computed_tokens;
    }

    /* Documents in packed batches of about BATCH_TOKENS tokens. A request's
     * shared prefix goes into the batch of its first document, ahead of the
     * documents, through the same matrix multiplications; its documents
     * there attend to its rows in the batch (a forward pass of its own over
     * all weights was 11-18% of posts-20). A request whose documents go on
     * into later batches keeps its prefix's keys/values for them. Jobs are
     * in request order, so each request's documents are one run. */
    {
        int32_t *tokens = NULL;
        qr_seq *seqs = malloc((n_docs + n_reqs) * sizeof *seqs);
        float *hidden = malloc((size_t)H * (n_docs + n_reqs) * sizeof(float));
        size_t *pre_seq = malloc(n_reqs * sizeof *pre_seq), *first_job = malloc(n_reqs * sizeof *first_job),
               *last_job = malloc(n_reqs * sizeof *last_job);
        size_t tok_cap = 0;
        if (!seqs || !hidden || !pre_seq || !first_job || !last_job)
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        for (size_t i = n_docs; i-- > 0 && !rc;) first_job[jobs[i].request] = i;
        for (size_t i = 0; i < n_docs && !rc; i++) last_job[jobs[i].request] = i;
        size_t b0 = 0;
        while (!rc && b0 < n_docs) {
            size_t b1 = b0, n_tok = 0;
            while (b1 < n_docs) {
                const size_t r = jobs[b1].request;
                const size_t add = jobs[b1].n_ids + (first_job[r] == b1 && runs_shared(rs, r) ? rs[r].n_shared : 0);
                if (b1 > b0 && n_tok + add > BATCH_TOKENS) break;
                n_tok += add;
                b1++;
            }
            if (tok_cap < n_tok) {
                int32_t *p = realloc(tokens, n_tok * sizeof *p);
                if (!p) {
                    rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
                    break;
                }
                tokens = p;
                tok_cap = n_tok;
            }
            size_t pos = 0, n_seqs = 0;
            for (size_t i = b0; i < b1; i++) { /* the prefixes that start here */
                const size_t r = jobs[i].request;
                if (first_job[r] != i || !runs_shared(rs, r)) continue;
                memcpy(tokens + pos, rs[r].shared, rs[r].n_shared * sizeof(int32_t));
                pre_seq[r] = n_seqs;
                /* kept for later batches, and for later calls when the cache could hold it */
                const int keep = last_job[r] >= b1 || rs[r].lends ||
                                 qr_prefix_cache_could_keep(m->prefix_cache, hp_layers, (int64_t)rs[r].n_shared, kv_dim);
                seqs[n_seqs++] = (qr_seq){(int64_t)pos, (int64_t)rs[r].n_shared, NULL, NULL, keep ? &rs[r].kv : NULL};
                pos += rs[r].n_shared;
            }
            const size_t first_doc = n_seqs;
            for (size_t i = b0; i < b1; i++) {
                doc_job *jb = &jobs[i];
                const size_t o = rs[jb->request].owner; /* whose shared part this is */
                const request_state *st = &rs[o];
                const int here = !st->cached && first_job[o] >= b0;
                const qr_kv_prefix *kept = st->cached ? qr_prefix_entry_kv(st->cached) : &st->kv;
                memcpy(tokens + pos, jb->ids, jb->n_ids * sizeof(int32_t));
                seqs[n_seqs++] = (qr_seq){(int64_t)pos, (int64_t)jb->n_ids, here ? NULL : kept,
                                          here ? &seqs[pre_seq[o]] : NULL, NULL};
                pos += jb->n_ids;
            }
            rc = qr_forward(m, tokens, seqs, n_seqs, prec, hidden, err);
            for (size_t i = b0; i < b1 && !rc; i++) {
                doc_job *jb = &jobs[i];
                const float *hl = hidden + (first_doc + i - b0) * (size_t)H;
                const double logit = dot_f64(m->head_yes, hl, H) - dot_f64(m->head_no, hl, H);
                if (!isfinite(logit)) {
                    rc = qr_error(err, QRANK_E_FORMAT, "the model computed a non-finite score: its weights are "
                                                       "probably corrupt");
                    break;
                }
                qrank_rerank_request *rq = &reqs[jb->request];
                rq->scores[jb->index] = (float)(1.0 / (1.0 + exp(-logit)));
                if (rq->logits) rq->logits[jb->index] = (float)logit;
            }
            b0 = b1;
        }
        free(tokens);
        free(seqs);
        free(hidden);
        free(pre_seq);
        free(first_job);
        free(last_job);
    }
    if (!rc)
        for (size_t r = 0; r < n_reqs; r++)
            if (runs_shared(rs, r) && rs[r].kv.k)
                qr_prefix_cache_put(m->prefix_cache, (int)prec, rs[r].shared, rs[r].n_shared, &rs[r].kv);

done:
    if (rs)
        for (size_t r = 0; r < n_reqs; r++) {
            free(rs[r].shared);
            qr_kv_prefix_free(&rs[r].kv);
            qr_prefix_cache_release(m->prefix_cache, rs[r].cached);
        }
    if (jobs)
        for (size_t i = 0; i < n_docs; i++) free(jobs[i].ids);
    free(rs);
    free(jobs);
    return rc;
}

int qrank_rerank(qrank_model *m, const char *query, const char *const *docs, size_t n_docs,
                 const qrank_rerank_params *params, float *scores, float *logits, qrank_usage *usage,
                 qrank_error *err) {
    qrank_rerank_request rq;
    memset(&rq, 0, sizeof rq);
    rq.query = query;
    rq.docs = docs;
    rq.n_docs = n_docs;
    rq.params = params ? *params : qrank_rerank_default_params();
    rq.scores = scores;
    rq.logits = logits;
    int rc = qrank_rerank_batch(m, &rq, 1, err);
    if (usage) *usage = rq.usage;
    return rc;
}

static int cmp_desc(const float *scores, size_t a, size_t b) {
    if (scores[a] > scores[b]) return -1;
    if (scores[a] < scores[b]) return 1;
    return a < b ? -1 : (a > b);
}

void qrank_rank_order(const float *scores, size_t n, size_t *order) {
    /* insertion into a merge sort would do; n is small, but keep it O(n log n) and stable */
    for (size_t i = 0; i < n; i++) order[i] = i;
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) { /* fall back to a stable insertion sort */
        for (size_t i = 1; i < n; i++) {
            size_t v = order[i], j = i;
            while (j > 0 && cmp_desc(scores, order[j - 1], v) > 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        return;
    }
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp_desc(scores, order[j], order[i]) < 0 ? order[j++] : order[i++];
            while (i < mid) tmp[k++] = order[i++];
            while (j < hi) tmp[k++] = order[j++];
        }
        memcpy(order, tmp, n * sizeof *order);
    }
    free(tmp);
}
