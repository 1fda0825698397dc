/* eval.c - how good is a reranker on a labelled set: nDCG@5, nDCG@10, MRR
 * and P@1 of its order against the documents' original order.
 *
 * The set is JSON lines written by people, so every field is checked and an
 * error names the line: a set that parses wrongly would silently give wrong
 * figures. nDCG uses linear gain (label / log2(rank + 1)), as trec_eval and
 * MTEB do, so a 5 is worth five 1s rather than 31; MRR and P@1 need a yes/no
 * notion of relevance, which is "label >= min_relevant" (3 by default on the
 * 0..5 scale: near-misses labelled 1 or 2 do not count as hits). A query with
 * no relevant document has no defined MRR, so qrank_eval refuses it instead
 * of averaging in a made-up zero. Ties in the reranker's scores keep the
 * input order, which makes the figures reproducible. */
#include "eval.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mapped_file.h"

enum {
    EVAL_MAX_LABEL = 5,
    EVAL_MAX_DOCUMENTS = 100000, /* per query */
};
#define EVAL_MAX_FILE_BYTES ((size_t)256 << 20)

typedef struct eval_query {
    size_t line;
    char *query;
    char *instruction; /* NULL: the params' instruction */
    size_t n_docs;
    char **docs;
    int *labels;
    float *scores; /* NULL until scored */
    qrank_eval_metrics reranker, original;
} eval_query;

struct qrank_eval_set {
    eval_query *queries;
    size_t n, cap;
    int scored;
    qrank_eval_metrics overall_reranker, overall_original;
};

/* ---- metrics ------------------------------------------------------------------------- */

static double dcg_at(const int *labels, const size_t *order, size_t n, size_t k) {
    double dcg = 0.0;
    for (size_t r = 0; r < n && r < k; r++) dcg += labels[order[r]] / log2((double)r + 2.0);
    return dcg;
}

/* The best possible DCG@k: labels sorted high to low. With labels in 0..5
 * a count per label is the sort, and it needs no memory. */
static double ideal_dcg_at(const int *labels, size_t n, size_t k) {
    size_t count[EVAL_MAX_LABEL + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        int l = labels[i] < 0 ? 0 : labels[i] > EVAL_MAX_LABEL ? EVAL_MAX_LABEL : labels[i];
        count[l]++;
    }
    double dcg = 0.0;
    size_t r = 0;
    for (int l = EVAL_MAX_LABEL; l > 0; l--)
        for (size_t c = 0; c < count[l] && r < k; c++, r++) dcg += l / log2((double)r + 2.0);
    return dcg;
}

static double ndcg_at(const int *labels, const size_t *order, size_t n, size_t k) {
    double ideal = ideal_dcg_at(labels, n, k);
    return ideal > 0.0 ? dcg_at(labels, order, n, k) / ideal : 0.0;
}

void qr_eval_metrics(const int *labels, const size_t *order, size_t n, int min_relevant,
                     qrank_eval_metrics *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return;
    out->ndcg_at_5 = ndcg_at(labels, order, n, 5);
    out->ndcg_at_10 = ndcg_at(labels, order, n, 10);
    for (size_t r = 0; r < n; r++)
        if (labels[order[r]] >= min_relevant) {
            out->mrr = 1.0 / (double)(r + 1);
            break;
        }
    out->precision_at_1 = labels[order[0]] >= min_relevant ? 1.0 : 0.0;
}

typedef struct scored_index {
    float score;
    size_t index;
} scored_index;

static int cmp_scored_desc(const void *pa, const void *pb) {
    const scored_index *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

void qr_eval_order(const float *scores, size_t n, size_t *order) {
    scored_index *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        /* A stable insertion sort needs no memory; n is small when malloc fails anyway. */
        for (size_t i = 0; i < n; i++) {
            size_t j = i;
            while (j > 0 && scores[order[j - 1]] < scores[i]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i].score = scores[i];
        tmp[i].index = i;
    }
    qsort(tmp, n, sizeof *tmp, cmp_scored_desc);
    for (size_t i = 0; i < n; i++) order[i] = tmp[i].index;
    free(tmp);
}

/* ---- the set ------------------------------------------------------------------------- */

static void free_query(eval_query *q) {
    free(q->query);
    free(q->instruction);
    for (size_t i = 0; i < q->n_docs; i++) free(q->docs[i]);
    free(q->docs);
    free(q->labels);
    free(q->scores);
}

void qrank_eval_set_free(qrank_eval_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) free_query(&set->queries[i]);
    free(set->queries);
    free(set);
}

size_t qrank_eval_set_count(const qrank_eval_set *set) { return set ? set->n : 0; }

/* Parses one line into q; errors name the line. */
static int parse_line(const char *text, size_t len, const char *name, size_t line_no,
                      eval_query *q, qrank_error *err) {
    memset(q, 0, sizeof *q);
    q->line = line_no;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int rc = QRANK_OK;
#define FAIL(code, ...)                                                   \
    do {                                                                  \
        char detail_[300];                                                \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);                   \
        rc = qr_error(err, code, "%s line %zu: %s", name, line_no, detail_); \
        goto done;                                                        \
    } while (0)
    if (!root) FAIL(QRANK_E_FORMAT, "not valid JSON");
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            FAIL(QRANK_E_FORMAT, "text after the JSON object");
    if (!cJSON_IsObject(root)) FAIL(QRANK_E_FORMAT, "expected a JSON object");

    const cJSON *query = cJSON_GetObjectItemCaseSensitive(root, "query");
    if (!cJSON_IsString(query)) FAIL(QRANK_E_FORMAT, "\"query\" must be a string");
    if (!query->valuestring[0]) FAIL(QRANK_E_FORMAT, "\"query\" is empty");
    const cJSON *instruction = cJSON_GetObjectItemCaseSensitive(root, "instruction");
    if (instruction && !cJSON_IsNull(instruction) && !cJSON_IsString(instruction))
        FAIL(QRANK_E_FORMAT, "\"instruction\" must be a string");
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(root, "documents");
    if (!cJSON_IsArray(docs)) FAIL(QRANK_E_FORMAT, "\"documents\" must be an array of strings");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
    if (!cJSON_IsArray(labels)) FAIL(QRANK_E_FORMAT, "\"labels\" must be an array of integers 0..5");
    int n_docs = cJSON_GetArraySize(docs), n_labels = cJSON_GetArraySize(labels);
    if (n_docs < 1) FAIL(QRANK_E_FORMAT, "\"documents\" is empty");
    if (n_docs > EVAL_MAX_DOCUMENTS)
        FAIL(QRANK_E_FORMAT, "%d documents, more than the %d allowed", n_docs, EVAL_MAX_DOCUMENTS);
    if (n_labels != n_docs)
        FAIL(QRANK_E_FORMAT, "\"labels\" has %d values but \"documents\" has %d", n_labels, n_docs);

    q->query = strdup(query->valuestring);
    if (cJSON_IsString(instruction) && instruction->valuestring[0])
        q->instruction = strdup(instruction->valuestring);
    q->docs = calloc((size_t)n_docs, sizeof(char *));
    q->labels = malloc((size_t)n_docs * sizeof(int));
    if (!q->query || (cJSON_IsString(instruction) && instruction->valuestring[0] && !q->instruction) ||
        !q->docs || !q->labels)
        FAIL(QRANK_E_NO_MEMORY, "out of memory");
    const cJSON *d = docs->child, *l = labels->child;
    int any_positive = 0;
    for (size_t i = 0; d && l; i++, d = d->next, l = l->next) {
        if (!cJSON_IsString(d)) FAIL(QRANK_E_FORMAT, "document %zu is not a string", i);
        if (!cJSON_IsNumber(l)) FAIL(QRANK_E_FORMAT, "label %zu is not a number", i);
        double v = l->valuedouble;
        if (!(v >= 0.0 && v <= EVAL_MAX_LABEL) || v != floor(v))
            FAIL(QRANK_E_FORMAT, "label %zu is %g; labels are integers 0..%d", i, v, EVAL_MAX_LABEL);
        q->labels[i] = (int)v;
        any_positive |= q->labels[i] > 0;
        q->docs[i] = strdup(d->valuestring);
        if (!q->docs[i]) FAIL(QRANK_E_NO_MEMORY, "out of memory");
        q->n_docs = i + 1;
    }
    if (!any_positive) FAIL(QRANK_E_FORMAT, "every label is 0: nothing to rank");
#undef FAIL
done:
    cJSON_Delete(root);
    if (rc) {
        free_query(q);
        memset(q, 0, sizeof *q);
    }
    return rc;
}

int qr_eval_set_parse(const char *text, size_t len, const char *name, qrank_eval_set **out,
                      qrank_error *err) {
    if (!out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no place for the set");
    *out = NULL;
    if (!text && len) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no text");
    if (!name) name = "eval set";
    qrank_eval_set *set = calloc(1, sizeof *set);
    if (!set) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    size_t line_no = 0;
    const char *p = text, *stop = text + len;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *line_end = nl ? nl : stop;
        line_no++;
        int blank = 1;
        for (const char *c = p; c < line_end && blank; c++)
            blank = *c == ' ' || *c == '\t' || *c == '\r';
        if (!blank) {
            if (set->n == set->cap) {
                size_t nc = set->cap ? set->cap * 2 : 16;
                eval_query *grown = realloc(set->queries, nc * sizeof *grown);
                if (!grown) {
                    qrank_eval_set_free(set);
                    return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
                }
                set->queries = grown;
                set->cap = nc;
            }
            int rc = parse_line(p, (size_t)(line_end - p), name, line_no, &set->queries[set->n], err);
            if (rc) {
                qrank_eval_set_free(set);
                return rc;
            }
            set->n++;
        }
        p = nl ? nl + 1 : stop;
    }
    if (set->n == 0) {
        qrank_eval_set_free(set);
        return qr_error(err, QRANK_E_FORMAT, "%s has no queries", name);
    }
    *out = set;
    return QRANK_OK;
}

int qrank_eval_set_load(const char *path, qrank_eval_set **out, qrank_error *err) {
    if (out) *out = NULL;
    if (!path || !out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no path or no place for the set");
    char *text = NULL;
    size_t len = 0;
    int rc = qr_read_small_file(path, EVAL_MAX_FILE_BYTES, &text, &len, err);
    if (rc) return rc;
    rc = qr_eval_set_parse(text, len, path, out, err);
    free(text);
    return rc;
}

qrank_eval_params qrank_eval_default_params(void) {
    qrank_eval_params p;
    memset(&p, 0, sizeof p);
    p.rerank = qrank_rerank_default_params();
    p.min_relevant = 3;
    return p;
}

static void add_metrics(qrank_eval_metrics *sum, const qrank_eval_metrics *m) {
    sum->ndcg_at_5 += m->ndcg_at_5;
    sum->ndcg_at_10 += m->ndcg_at_10;
    sum->mrr += m->mrr;
    sum->precision_at_1 += m->precision_at_1;
}

static void divide_metrics(qrank_eval_metrics *m, double n) {
    m->ndcg_at_5 /= n;
    m->ndcg_at_10 /= n;
    m->mrr /= n;
    m->precision_at_1 /= n;
}

static int check_relevance(const qrank_eval_set *set, int min_relevant, qrank_error *err) {
    if (min_relevant < 1 || min_relevant > EVAL_MAX_LABEL)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "min_relevant must be 1..%d (got %d)", EVAL_MAX_LABEL,
                        min_relevant);
    for (size_t i = 0; i < set->n; i++) {
        const eval_query *q = &set->queries[i];
        int best = 0;
        for (size_t d = 0; d < q->n_docs; d++)
            if (q->labels[d] > best) best = q->labels[d];
        if (best < min_relevant)
            return qr_error(err, QRANK_E_INVALID_ARGUMENT,
                            "line %zu: no document has a label >= %d, so MRR and P@1 are undefined "
                            "(lower min_relevant, --min-relevant in the CLI, or fix the labels)",
                            q->line, min_relevant);
    }
    return QRANK_OK;
}

int qr_eval_set_score(qrank_eval_set *set, const float *const *scores, int min_relevant,
                      qrank_error *err) {
    if (!set || !scores) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no set or no scores");
    int rc = check_relevance(set, min_relevant, err);
    if (rc) return rc;
    qrank_eval_metrics sum_r = {0}, sum_o = {0};
    for (size_t i = 0; i < set->n; i++) {
        eval_query *q = &set->queries[i];
        size_t *order = malloc(q->n_docs * sizeof(size_t));
        float *copy = malloc(q->n_docs * sizeof(float));
        if (!order || !copy) {
            free(order);
            free(copy);
            return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        }
        memcpy(copy, scores[i], q->n_docs * sizeof(float));
        free(q->scores);
        q->scores = copy;
        for (size_t d = 0; d < q->n_docs; d++) order[d] = d;
        qr_eval_metrics(q->labels, order, q->n_docs, min_relevant, &q->original);
        qr_eval_order(q->scores, q->n_docs, order);
        qr_eval_metrics(q->labels, order, q->n_docs, min_relevant, &q->reranker);
        free(order);
        add_metrics(&sum_r, &q->reranker);
        add_metrics(&sum_o, &q->original);
    }
    divide_metrics(&sum_r, (double)set->n);
    divide_metrics(&sum_o, (double)set->n);
    set->overall_reranker = sum_r;
    set->overall_original = sum_o;
    set->scored = 1;
    return QRANK_OK;
}

int qrank_eval(qrank_model *reranker, qrank_eval_set *set, const qrank_eval_params *params,
               qrank_usage *usage, qrank_error *err) {
    if (usage) memset(usage, 0, sizeof *usage);
    if (!reranker || !set || !params)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qrank_eval needs a reranker, a set and params");
    qrank_model_info info;
    qrank_model_get_info(reranker, &info);
    if (info.kind != QRANK_KIND_RERANKER)
        return qr_error(err, QRANK_E_UNSUPPORTED, "evaluation needs a reranker, and %s is an embedder",
                        info.name ? info.name : "this model");
    int rc = check_relevance(set, params->min_relevant, err);
    if (rc) return rc;
    float **scores = calloc(set->n, sizeof(float *));
    if (!scores) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < set->n && rc == QRANK_OK; i++) {
        const eval_query *q = &set->queries[i];
        scores[i] = malloc(q->n_docs * sizeof(float));
        if (!scores[i]) {
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
            break;
        }
        qrank_rerank_params rp = params->rerank;
        if (q->instruction) rp.instruction = q->instruction;
        qrank_usage u;
        rc = qrank_rerank(reranker, q->query, (const char *const *)q->docs, q->n_docs, &rp, scores[i],
                          NULL, &u, err);
        if (rc) {
            qr_error_prefix(err, rc, "line %zu", q->line);
        } else if (usage) {
            usage->prompt_tokens += u.prompt_tokens;
            usage->computed_tokens += u.computed_tokens;
            usage->prefix_tokens_reused += u.prefix_tokens_reused;
            usage->truncated_documents += u.truncated_documents;
        }
    }
    if (rc == QRANK_OK) rc = qr_eval_set_score(set, (const float *const *)scores, params->min_relevant, err);
    for (size_t i = 0; i < set->n; i++) free(scores[i]);
    free(scores);
    return rc;
}

int qrank_eval_set_get_query(const qrank_eval_set *set, size_t i, qrank_eval_query *out,
                             qrank_error *err) {
    if (!set || !out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no set");
    if (i >= set->n) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "query %zu is outside 0..%zu", i, set->n - 1);
    const eval_query *q = &set->queries[i];
    memset(out, 0, sizeof *out);
    out->line = q->line;
    out->query = q->query;
    out->instruction = q->instruction;
    out->n_documents = q->n_docs;
    out->documents = (const char *const *)q->docs;
    out->labels = q->labels;
    out->scores = q->scores;
    out->reranker = q->reranker;
    out->original = q->original;
    return QRANK_OK;
}

void qrank_eval_set_overall(const qrank_eval_set *set, qrank_eval_metrics *reranker,
                            qrank_eval_metrics *original) {
    qrank_eval_metrics zero = {0};
    if (reranker) *reranker = set && set->scored ? set->overall_reranker : zero;
    if (original) *original = set && set->scored ? set->overall_original : zero;
}
