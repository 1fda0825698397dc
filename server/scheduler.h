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
    /* > 0: a QRANK_E_* code from the model, with the message in err */
};

/* Takes ownership of both models (embedder may be NULL) and starts the thread. */
int scheduler_create(qrank_model *reranker, qrank_model *embedder, const scheduler_config *cfg,
                     metrics *m, scheduler **out, qrank_error *err);

/* Blocks until the request is scored (its scores/logits/usage filled). */
int scheduler_rerank(scheduler *s, qrank_rerank_request *request, qrank_error *err);

/* Blocks until texts are embedded into out (n_texts x dims floats). */
int scheduler_embed(scheduler *s, const char *const *texts, size_t n_texts,
                    const qrank_embed_params *params, float *out, qrank_usage *usage,
                    qrank_error *err);

/* Refuses new jobs (SCHED_DRAINING), finishes the queued ones and stops the
 * thread. The scheduler stays valid, so HTTP threads that still hold it get
 * a clean refusal; call scheduler_free once they are gone. */
void scheduler_stop(scheduler *s);

/* Stops the thread if running, frees the models and the scheduler. */
void scheduler_free(scheduler *s);

#endif
