/* scheduler.h - the one thread that runs the models for `qrank serve`.
 *
 * HTTP threads submit a job and block until the compute thread has done it.
 * The compute thread takes every queued rerank job that fits a budget and
 * runs them as one qrank_rerank_batch call, so concurrent requests share
 * forward passes. The queue is bounded: a full queue refuses at once. */
#ifndef QRANK_SCHEDULER_H
#define QRANK_SCHEDULER_H

#include <stddef.h>

#include "metrics.h"
#include "qrank.h"

typedef struct scheduler scheduler;

typedef struct scheduler_config {
    size_t max_queue;    /* jobs waiting (not counting the round being computed) */
    size_t batch_tokens; /* a round takes jobs while their estimated tokens fit (at least one) */
} scheduler_config;

enum {
    SCHED_OK = 0,
    SCHED_QUEUE_FULL = -1, /* nothing was done: try later (429) */
    SCHED_DRAINING = -2,   /* the server is stopping (503) */
    SCHED_CANCELLED = -3,  /* the client went away while its job was still queued */
    /* > 0: a QRANK_E_* code from the model, with the message in err */
};

/* Tokens a request can need at most, counted as bytes (byte-level BPE never
 * makes more tokens than bytes) with each document capped at what truncation
 * keeps: what a round's budget and the per-request limit are measured in. */
size_t scheduler_rerank_cost(const qrank_rerank_request *r);
size_t scheduler_embed_cost(const char *const *texts, size_t n_texts, int max_length);

/* Takes ownership of both models (embedder may be NULL) and starts the thread. */
int scheduler_create(qrank_model *reranker, qrank_model *embedder, const scheduler_config *cfg,
                     metrics *m, scheduler **out, qrank_error *err);

/* How a waiting submitter learns that nobody wants the answer any more.
 * gone(ctx) is called on the submitter's thread, without the lock, every
 * SCHED_WATCH_MS while its job is queued; once it returns non-zero a job
 * that has not started is dropped (SCHED_CANCELLED). A job already in the
 * forward passes finishes: its round is shared with other clients. */
typedef struct sched_watch {
    int (*gone)(void *ctx);
    void *ctx;
} sched_watch;
enum { SCHED_WATCH_MS = 100 };

/* A loaded model's info as of now (packed_bytes grows while the scheduler
 * lays weights out); embedder selects which. Left alone if that model is absent. */
void scheduler_model_info(scheduler *s, int embedder, qrank_model_info *info);

/* Blocks until the request is scored (its scores/logits/usage filled).
 * watch may be NULL (wait whatever happens). */
int scheduler_rerank(scheduler *s, qrank_rerank_request *request, const sched_watch *watch,
                     qrank_error *err);

/* Blocks until texts are embedded into out (n_texts x dims floats). */
int scheduler_embed(scheduler *s, const char *const *texts, size_t n_texts,
                    const qrank_embed_params *params, float *out, qrank_usage *usage,
                    const sched_watch *watch, qrank_error *err);

/* Blocks until the texts are clustered (qrank_cluster with both models; the
 * reranker is used only when params->query is set). *out is the caller's to
 * free with qrank_clustering_free. */
int scheduler_cluster(scheduler *s, const char *const *texts, size_t n_texts,
                      const qrank_cluster_params *params, qrank_clustering **out,
                      qrank_usage *usage, const sched_watch *watch, qrank_error *err);

/* Refuses new jobs (SCHED_DRAINING), finishes the queued ones and stops the
 * thread. The scheduler stays valid, so HTTP threads that still hold it get
 * a clean refusal; call scheduler_free once they are gone. */
void scheduler_stop(scheduler *s);

/* Stops the thread if running, frees the models and the scheduler. */
void scheduler_free(scheduler *s);

#endif
