/* metrics.c - what `GET /metrics` reports, in Prometheus text format.
 *
 * Every figure lives in one struct behind one mutex: updates are a few adds
 * per request or per scheduler round, far below the cost of the model, so a
 * lock is simpler than atomics and lets a scrape see one consistent snapshot.
 * Series are keyed by route and status code; both sets are small and closed
 * (routes.c's table plus "other"), so fixed arrays with a linear search do. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 24
#define MAX_ROUTE_CODES 96

static const double LATENCY_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60};
#define N_LATENCY_BUCKETS (sizeof(LATENCY_BUCKETS) / sizeof(LATENCY_BUCKETS[0]))
static const double BATCH_BUCKETS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define N_BATCH_BUCKETS (sizeof(BATCH_BUCKETS) / sizeof(BATCH_BUCKETS[0]))

#define MAX_BUCKETS 16
_Static_assert(N_LATENCY_BUCKETS < MAX_BUCKETS && N_BATCH_BUCKETS < MAX_BUCKETS,
               "a histogram keeps one more bucket (+Inf) than it has bounds");

typedef struct histogram {
    unsigned long long buckets[MAX_BUCKETS]; /* non-cumulative; the render adds them up */
    unsigned long long count;
    double sum;
} histogram;

typedef struct route_code {
    const char *route;
    int code;
    unsigned long long count;
} route_code;

typedef struct route_latency {
    const char *route;
    histogram hist;
} route_latency;

struct metrics {
    pthread_mutex_t lock;
    route_code codes[MAX_ROUTE_CODES];
    size_t n_codes;
    route_latency latency[MAX_ROUTES];
    size_t n_latency;
    unsigned long long documents_scored;
    unsigned long long rerank_requests;
    unsigned long long prompt_tokens;
    unsigned long long computed_tokens;
    unsigned long long prefix_tokens_reused;
    unsigned long long texts_embedded;
    unsigned long long embed_tokens;
    histogram batch_documents;
    histogram batch_requests;
    unsigned long long queue_depth;
    unsigned long long computing;
};

static void histogram_add(histogram *h, const double *bounds, size_t n_bounds, double v) {
    size_t i = 0;
    while (i < n_bounds && v > bounds[i])
        i++;
    h->buckets[i]++; /* i == n_bounds is +Inf */
    h->count++;
    h->sum += v;
}

metrics *metrics_create(void) {
    metrics *m = calloc(1, sizeof(*m));
    if (m && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_free(metrics *m) {
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_request(metrics *m, const char *route, int status, double seconds) {
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->n_codes && !(m->codes[i].code == status && strcmp(m->codes[i].route, route) == 0))
        i++;
    if (i == m->n_codes && m->n_codes < MAX_ROUTE_CODES)
        m->codes[m->n_codes++] = (route_code){route, status, 0};
    if (i < m->n_codes)
        m->codes[i].count++;

    size_t j = 0;
    while (j < m->n_latency && strcmp(m->latency[j].route, route) != 0)
        j++;
    if (j == m->n_latency && m->n_latency < MAX_ROUTES) {
        memset(&m->latency[j], 0, sizeof(m->latency[j]));
        m->latency[j].route = route;
        m->n_latency++;
    }
    if (j < m->n_latency)
        histogram_add(&m->latency[j].hist, LATENCY_BUCKETS, N_LATENCY_BUCKETS, seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_rerank_batch(metrics *m, size_t n_requests, size_t n_documents, size_t prompt_tokens,
                          size_t computed_tokens, size_t prefix_tokens_reused) {
    pthread_mutex_lock(&m->lock);
    m->rerank_requests += n_requests;
    m->documents_scored += n_documents;
    m->prompt_tokens += prompt_tokens;
    m->computed_tokens += computed_tokens;
    m->prefix_tokens_reused += prefix_tokens_reused;
    histogram_add(&m->batch_documents, BATCH_BUCKETS, N_BATCH_BUCKETS, (double)n_documents);
    histogram_add(&m->batch_requests, BATCH_BUCKETS, N_BATCH_BUCKETS, (double)n_requests);
    pthread_mutex_unlock(&m->lock);
}

void metrics_embed_batch(metrics *m, size_t n_texts, size_t prompt_tokens) {
    pthread_mutex_lock(&m->lock);
    m->texts_embedded += n_texts;
    m->embed_tokens += prompt_tokens;
    pthread_mutex_unlock(&m->lock);
}

void metrics_queue_depth(metrics *m, size_t depth) {
    pthread_mutex_lock(&m->lock);
    m->queue_depth = depth;
    pthread_mutex_unlock(&m->lock);
}

void metrics_computing(metrics *m, size_t n_requests) {
    pthread_mutex_lock(&m->lock);
    m->computing = n_requests;
    pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer; `failed` sticks so that callers check once at the end. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void text_printf(text *t, const char *fmt, ...) {
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

static void render_histogram(text *t, const char *name, const char *labels, const histogram *h,
                             const double *bounds, size_t n_bounds) {
    unsigned long long cumulative = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i < n_bounds; i++) {
        cumulative += h->buckets[i];
        text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i], cumulative);
    }
    text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, h->count);
    text_printf(t, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
                h->sum);
    text_printf(t, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
                labels[0] ? "}" : "", h->count);
}

static void render_counter(text *t, const char *name, const char *help, unsigned long long v) {
    text_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

char *metrics_render(metrics *m, const metrics_prefix_cache *pc, int n_pc, size_t *len) {
    text t = {0};
    pthread_mutex_lock(&m->lock);

    text_printf(&t, "# HELP qrank_requests_total HTTP requests answered, by route and status code.\n"
                    "# TYPE qrank_requests_total counter\n");
    for (size_t i = 0; i < m->n_codes; i++)
        text_printf(&t, "qrank_requests_total{route=\"%s\",code=\"%d\"} %llu\n", m->codes[i].route,
                    m->codes[i].code, m->codes[i].count);
    text_printf(&t, "# HELP qrank_request_errors_total HTTP requests answered with a 4xx or 5xx "
                    "status, by route and status code.\n"
                    "# TYPE qrank_request_errors_total counter\n");
    for (size_t i = 0; i < m->n_codes; i++)
        if (m->codes[i].code >= 400)
            text_printf(&t, "qrank_request_errors_total{route=\"%s\",code=\"%d\"} %llu\n",
                        m->codes[i].route, m->codes[i].code, m->codes[i].count);

    text_printf(&t, "# HELP qrank_request_duration_seconds Time from a request's arrival to its "
                    "answer, by route.\n"
                    "# TYPE qrank_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n_latency; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "route=\"%s\"", m->latency[i].route);
        render_histogram(&t, "qrank_request_duration_seconds", labels, &m->latency[i].hist,
                         LATENCY_BUCKETS, N_LATENCY_BUCKETS);
    }

    render_counter(&t, "qrank_rerank_requests_total", "Rerank requests scored by the model.",
                   m->rerank_requests);
    render_counter(&t, "qrank_documents_scored_total", "Documents scored by the reranker.",
                   m->documents_scored);
    render_counter(&t, "qrank_prompt_tokens_total",
                   "Tokens of every rerank prompt, counted as the official code would.",
                   m->prompt_tokens);
    render_counter(&t, "qrank_computed_tokens_total",
                   "Rerank tokens that went through the model (a shared query prefix once).",
                   m->computed_tokens);
    render_counter(&t, "qrank_prefix_tokens_reused_total",
                   "Prompt tokens not recomputed because a query prefix was shared.",
                   m->prefix_tokens_reused);
    render_counter(&t, "qrank_texts_embedded_total", "Texts embedded.", m->texts_embedded);
    render_counter(&t, "qrank_embedding_tokens_total", "Tokens of embedded texts.",
                   m->embed_tokens);

    text_printf(&t, "# HELP qrank_batch_documents Documents per scheduler round (one "
                    "qrank_rerank_batch call).\n# TYPE qrank_batch_documents histogram\n");
    render_histogram(&t, "qrank_batch_documents", "", &m->batch_documents, BATCH_BUCKETS,
                     N_BATCH_BUCKETS);
    text_printf(&t, "# HELP qrank_batch_requests Requests sharing one scheduler round.\n"
                    "# TYPE qrank_batch_requests histogram\n");
    render_histogram(&t, "qrank_batch_requests", "", &m->batch_requests, BATCH_BUCKETS,
                     N_BATCH_BUCKETS);
    text_printf(&t, "# HELP qrank_queue_depth Requests waiting for the model.\n"
                    "# TYPE qrank_queue_depth gauge\nqrank_queue_depth %llu\n",
                m->queue_depth);
    text_printf(&t, "# HELP qrank_requests_computing Requests whose documents are in the forward "
                    "passes now.\n# TYPE qrank_requests_computing gauge\nqrank_requests_computing %llu\n",
                m->computing);
    pthread_mutex_unlock(&m->lock);
    /* one series per model: a reranker keeps query prefixes, an embedder its
     * instruction's */
    static const struct {
        const char *name, *type, *help;
    } PC[3] = {
        {"qrank_prefix_cache_hits_total", "counter", "Calls whose prompt prefix was kept from an earlier call, by model."},
        {"qrank_prefix_cache_misses_total", "counter",
         "Calls that computed their prompt prefix (then kept it if it fit), by model."},
        {"qrank_prefix_cache_bytes", "gauge", "Memory holding kept prompt prefixes, by model."},
    };
    for (int k = 0; k < 3 && n_pc > 0; k++) {
        text_printf(&t, "# HELP %s %s\n# TYPE %s %s\n", PC[k].name, PC[k].help, PC[k].name, PC[k].type);
        for (int i = 0; i < n_pc; i++)
            text_printf(&t, "%s{model=\"%s\"} %llu\n", PC[k].name, pc[i].model,
                        k == 0 ? pc[i].hits : k == 1 ? pc[i].misses : pc[i].bytes);
    }

    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
