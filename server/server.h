/* server.h - the state that `qrank serve` shares between its pieces.
 *
 * serve.c fills a server_config from the command line, starts http.c, loads
 * the models and then hands them to scheduler.c; routes.c reads this struct
 * from the HTTP threads. The only field that changes after start-up is
 * `state`, an atomic the HTTP threads read before they touch anything that
 * exists only once the models are loaded (the scheduler, the model infos). */
#ifndef QRANK_SERVER_H
#define QRANK_SERVER_H

#include <stdatomic.h>
#include <stddef.h>

#include "qrank.h"

struct scheduler;
struct metrics;

enum { SERVER_MAX_API_KEYS = 16 };

typedef struct server_config {
    const char *model_path;
    const char *embed_model_path; /* NULL: /v1/embeddings answers 501 */
    const char *host;
    int port;                     /* 0: any free port (the real one is printed) */
    int n_threads;                /* compute threads of the models; 0 = all cores */
    int repack;                   /* qrank_model_params.repack for the models */
    int prefix_cache_mb;          /* each model's prefix cache (0: none) */
    const char *api_keys[SERVER_MAX_API_KEYS]; /* none: no auth; copies, not argv */
    size_t n_api_keys;
    size_t max_documents;         /* per request, else 413 */
    size_t max_body_bytes;        /* per request, else 413 */
    int max_length;               /* tokens per prompt / text */
    size_t max_queue;             /* requests waiting for the model, else 429 */
    size_t batch_tokens;          /* what one scheduler round may take, estimated in bytes */
    size_t max_request_tokens;    /* one request's estimated tokens, else 413 before queueing */
    int timeout_s;                /* idle connection, and the whole body upload, else 408 */
    int keepalive_requests;       /* answers per connection, then "Connection: close" */
    int demo;                     /* the model is random weights: say so everywhere */
    int parse_only;               /* fuzzing: validate and answer, scores are zeros, no model */
} server_config;

enum server_state {
    SERVER_LOADING = 0,
    SERVER_READY = 1,
    SERVER_DRAINING = 2,
};

typedef struct server {
    server_config cfg;
    atomic_int state;             /* enum server_state */
    atomic_ullong next_request_id;
    unsigned long long id_seed;   /* makes ids differ between runs */
    double start_time;            /* seconds since the epoch */
    struct metrics *metrics;
    /* Valid once state != SERVER_LOADING: */
    struct scheduler *scheduler;
    qrank_model_info rerank_info;
    qrank_model_info embed_info;
    int has_embedder;
    char rerank_id[128];          /* model name shown to clients: the file's base name */
    char embed_id[128];
} server;

/* Seconds from an arbitrary monotonic origin. */
double server_now(void);

#endif
