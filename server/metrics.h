/* metrics.h - counters and histograms of `qrank serve`, rendered as Prometheus text. */
#ifndef QRANK_METRICS_H
#define QRANK_METRICS_H

#include <stddef.h>

typedef struct metrics metrics;

metrics *metrics_create(void);
void metrics_free(metrics *m);

/* One answered HTTP request. `route` is a string that outlives the metrics
 * (the routes table's path, or "other"). */
void metrics_request(metrics *m, const char *route, int status, double seconds);

/* One forward round of the scheduler: requests and documents it carried. */
void metrics_rerank_batch(metrics *m, size_t n_requests, size_t n_documents, size_t prompt_tokens,
                          size_t computed_tokens, size_t prefix_tokens_reused);
void metrics_embed_batch(metrics *m, size_t n_texts, size_t prompt_tokens);
void metrics_queue_depth(metrics *m, size_t depth);
/* Requests whose documents are in the forward passes now (0 between rounds). */
void metrics_computing(metrics *m, size_t n_requests);

/* The reranker's prefix cache, as of the render (qrank_model_info). */
typedef struct metrics_prefix_cache {
    const char *model; /* the label: "reranker" or "embedder" */
    unsigned long long hits, misses, bytes;
} metrics_prefix_cache;

/* Prometheus text exposition format 0.0.4; malloc'd, NULL when out of memory.
 * pc: the prefix caches of the n_pc models loaded so far (none before). */
char *metrics_render(metrics *m, const metrics_prefix_cache *pc, int n_pc, size_t *len);

#endif
