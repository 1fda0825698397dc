/* scheduler.c - one compute thread owns the models; HTTP threads only wait.
 *
 * Why one thread: every qrank call already uses all the compute threads it
 * was given, so two calls at once would only fight over the cores. What the
 * scheduler adds is batching: when it wakes up it takes every queued rerank
 * job, oldest first, while their estimated tokens fit `batch_tokens`, and
 * hands them to qrank_rerank_batch together. Ten clients with eight documents
 * each then cost one round of forward passes, not ten.
 *
 * The estimate counts bytes, never tokens: byte-level BPE never makes more
 * tokens than bytes, so it is an upper bound that costs nothing to compute
 * on the HTTP thread. Embedding and clustering jobs run one per round, in
 * queue order relative to the rerank rounds; a clustering job is one
 * qrank_cluster call (embed, score for the query, k-means), so the posts of
 * a /v1/cluster request never touch a model from an HTTP thread.
 *
 * If a shared round fails (one request's text was refused, say), each of its
 * requests is run again alone, so a bad request fails only its own client.
 *
 * Jobs live on their submitters' stacks: the HTTP thread blocks on `done`
 * until the compute thread has set job->finished, so no job is freed while
 * the queue still points at it. A submitter whose client has gone unlinks its
 * own job under the lock if the job is still queued (not `started`), so work
 * nobody will read is never computed.
 *
 * While the queue is empty the compute thread first reserves the models'
 * scratch memory (qrank_model_reserve: resident memory then stays flat when
 * the first large batch comes; about 0.3 s for the 0.6B model, mostly page
 * faults, which is why it is not done before the server reports ready), then
 * lays their Q8_0 weights out for the fast kernel (qrank_model_pack_step,
 * repack 2), a matrix per thread at a time: a request that arrives meanwhile
 * waits a few milliseconds at most, and scores the same on either layout. */
#include <errno.h>
#include <time.h>
#include "scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum job_kind { JOB_RERANK, JOB_EMBED, JOB_CLUSTER } job_kind;

typedef struct job {
    job_kind kind;
    qrank_rerank_request *rerank;
    const char *const *texts;
    size_t n_texts;
    const qrank_embed_params *embed_params;
    float *embed_out;
    qrank_usage *embed_usage;
    const qrank_cluster_params *cluster_params;
    qrank_clustering **cluster_out;
    size_t cost; /* estimated tokens */
    int started; /* taken into a round: no longer in the queue */
    int finished;
    int status;
    qrank_error err;
    struct job *next;
} job;

struct scheduler {
    qrank_model *reranker;
    qrank_model *embedder;
    scheduler_config cfg;
    metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;   /* the compute thread waits here for jobs */
    pthread_cond_t done;   /* submitters wait here for job->finished */
    job *head, *tail;
    size_t depth;
    int stopping;
    int packing;  /* the models may still have copies to make (compute thread only) */
    int reserved; /* their scratch is reserved (compute thread only) */
};

size_t scheduler_rerank_cost(const qrank_rerank_request *r) {
    size_t cap = (size_t)(r->params.max_tokens_per_doc > 0 ? r->params.max_tokens_per_doc
                                                           : r->params.max_length);
    size_t cost = strlen(r->query) + (r->params.instruction ? strlen(r->params.instruction) : 0);
    for (size_t i = 0; i < r->n_docs; i++) {
        size_t len = strlen(r->docs[i]);
        /* The template around each document is under 20 tokens. */
        cost += (cap && len > cap ? cap : len) + 20;
    }
    return cost;
}

size_t scheduler_embed_cost(const char *const *texts, size_t n_texts, int max_length) {
    size_t cap = max_length > 0 ? (size_t)max_length : 0, cost = 0;
    for (size_t i = 0; i < n_texts; i++) {
        size_t len = strlen(texts[i]);
        cost += (cap && len > cap ? cap : len) + 20;
    }
    return cost;
}

/* Called with the lock held. */
static void unlink_job(scheduler *s, job *prev, job *j) {
    if (prev)
        prev->next = j->next;
    else
        s->head = j->next;
    if (s->tail == j)
        s->tail = prev;
    j->next = NULL;
    s->depth--;
}

static void run_rerank_round(scheduler *s, job **jobs, size_t n) {
    qrank_rerank_request *requests = malloc(n * sizeof(*requests));
    qrank_error err = {0};
    int rc = QRANK_E_NO_MEMORY;
    if (requests) {
        for (size_t i = 0; i < n; i++)
            requests[i] = *jobs[i]->rerank;
        rc = qrank_rerank_batch(s->reranker, requests, n, &err);
    }
    if (rc == QRANK_OK) {
        size_t docs = 0;
        qrank_usage sum = {0};
        for (size_t i = 0; i < n; i++) {
            jobs[i]->rerank->usage = requests[i].usage;
            jobs[i]->status = SCHED_OK;
            docs += requests[i].n_docs;
            sum.prompt_tokens += requests[i].usage.prompt_tokens;
            sum.computed_tokens += requests[i].usage.computed_tokens;
            sum.prefix_tokens_reused += requests[i].usage.prefix_tokens_reused;
        }
        metrics_rerank_batch(s->metrics, n, docs, sum.prompt_tokens, sum.computed_tokens,
                             sum.prefix_tokens_reused);
    } else if (n == 1) {
        jobs[0]->status = rc;
        jobs[0]->err = err;
    } else {
        for (size_t i = 0; i < n; i++)
            run_rerank_round(s, &jobs[i], 1);
    }
    free(requests);
}

static void run_embed(scheduler *s, job *j) {
    qrank_error err = {0};
    int rc = qrank_embed(s->embedder, j->texts, j->n_texts, j->embed_params, j->embed_out,
                         j->embed_usage, &err);
    j->status = rc;
    if (rc != QRANK_OK)
        j->err = err;
    else
        metrics_embed_batch(s->metrics, j->n_texts, j->embed_usage->prompt_tokens);
}

static void run_cluster(scheduler *s, job *j) {
    qrank_error err = {0};
    int rc = QRANK_E_UNSUPPORTED;
    if (s->embedder)
        rc = qrank_cluster(s->embedder, s->reranker, j->texts, j->n_texts, j->cluster_params,
                           j->cluster_out, j->embed_usage, &err);
    else
        snprintf(err.message, sizeof(err.message), "no embedding model is loaded");
    j->status = rc;
    if (rc != QRANK_OK)
        j->err = err;
    else /* with a query the usage adds the rerank prompts: they are no embedding tokens */
        metrics_embed_batch(s->metrics, j->n_texts,
                            j->cluster_params->query ? 0 : j->embed_usage->prompt_tokens);
}

static void *compute_thread(void *arg) {
    scheduler *s = arg;
    job **round = NULL;
    size_t round_cap = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping) {
            if (!s->reserved || s->packing) {
                pthread_mutex_unlock(&s->lock);
                if (!s->reserved) {
                    /* out of memory here only means calls allocate as they go */
                    qrank_error ignored;
                    if (s->reranker) qrank_model_reserve(s->reranker, &ignored);
                    if (s->embedder) qrank_model_reserve(s->embedder, &ignored);
                    s->reserved = 1;
                }
                const int reranker_left = s->reranker && qrank_model_pack_step(s->reranker);
                const int embedder_left = s->embedder && qrank_model_pack_step(s->embedder);
                pthread_mutex_lock(&s->lock);
                s->packing = reranker_left || embedder_left;
                continue;
            }
            pthread_cond_wait(&s->work, &s->lock);
        }
        if (!s->head)
            break; /* stopping and drained */

        size_t n = 0;
        job *single = NULL; /* an embedding or clustering job: one per round */
        if (s->head->kind != JOB_RERANK) {
            single = s->head;
            unlink_job(s, NULL, single);
            single->started = 1;
        } else {
            size_t budget = 0;
            job *prev = NULL, *j = s->head;
            while (j) {
                job *next = j->next;
                if (j->kind == JOB_RERANK) {
                    if (n > 0 && budget + j->cost > s->cfg.batch_tokens)
                        break;
                    if (n == round_cap) {
                        size_t cap = round_cap ? round_cap * 2 : 16;
                        job **grown = realloc(round, cap * sizeof(*grown));
                        if (!grown)
                            break; /* run what we have; the rest waits */
                        round = grown;
                        round_cap = cap;
                    }
                    round[n++] = j;
                    j->started = 1;
                    budget += j->cost;
                    unlink_job(s, prev, j);
                } else {
                    prev = j;
                }
                j = next;
            }
        }
        metrics_queue_depth(s->metrics, s->depth);
        metrics_computing(s->metrics, single ? 1 : n);
        pthread_mutex_unlock(&s->lock);

        if (single && single->kind == JOB_CLUSTER)
            run_cluster(s, single);
        else if (single)
            run_embed(s, single);
        else if (n > 0)
            run_rerank_round(s, round, n);

        metrics_computing(s->metrics, 0);
        pthread_mutex_lock(&s->lock);
        if (single)
            single->finished = 1;
        for (size_t i = 0; i < n; i++)
            round[i]->finished = 1;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->lock);
    free(round);
    return NULL;
}

int scheduler_create(qrank_model *reranker, qrank_model *embedder, const scheduler_config *cfg,
                     metrics *m, scheduler **out, qrank_error *err) {
    scheduler *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err) {
            err->code = QRANK_E_NO_MEMORY;
            snprintf(err->message, sizeof(err->message), "out of memory for the scheduler");
        }
        return QRANK_E_NO_MEMORY;
    }
    s->reranker = reranker;
    s->embedder = embedder;
    s->cfg = *cfg;
    s->metrics = m;
    s->packing = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    if (pthread_create(&s->thread, NULL, compute_thread, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
        free(s);
        if (err) {
            err->code = QRANK_E_NO_MEMORY;
            snprintf(err->message, sizeof(err->message), "cannot start the compute thread");
        }
        return QRANK_E_NO_MEMORY;
    }
    *out = s;
    return QRANK_OK;
}

/* Called with the lock held, for a job that is still queued. */
static void drop_queued(scheduler *s, job *j) {
    job *prev = NULL;
    for (job *k = s->head; k; prev = k, k = k->next) {
        if (k == j) {
            unlink_job(s, prev, j);
            metrics_queue_depth(s->metrics, s->depth);
            return;
        }
    }
}

static int submit_and_wait(scheduler *s, job *j, const sched_watch *watch, qrank_error *err) {
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return SCHED_DRAINING;
    }
    if (s->depth >= s->cfg.max_queue) {
        pthread_mutex_unlock(&s->lock);
        return SCHED_QUEUE_FULL;
    }
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->depth++;
    metrics_queue_depth(s->metrics, s->depth);
    pthread_cond_signal(&s->work);
    while (!j->finished) {
        if (!watch || !watch->gone || j->started) {
            pthread_cond_wait(&s->done, &s->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SCHED_WATCH_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&s->done, &s->lock, &until) != ETIMEDOUT || j->started)
            continue;
        pthread_mutex_unlock(&s->lock);
        int gone = watch->gone(watch->ctx);
        pthread_mutex_lock(&s->lock);
        if (gone && !j->started && !j->finished) {
            drop_queued(s, j);
            pthread_mutex_unlock(&s->lock);
            return SCHED_CANCELLED;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (j->status != SCHED_OK && err)
        *err = j->err;
    return j->status;
}

int scheduler_rerank(scheduler *s, qrank_rerank_request *request, const sched_watch *watch,
                     qrank_error *err) {
    job j = {.kind = JOB_RERANK, .rerank = request, .cost = scheduler_rerank_cost(request)};
    return submit_and_wait(s, &j, watch, err);
}

int scheduler_embed(scheduler *s, const char *const *texts, size_t n_texts,
                    const qrank_embed_params *params, float *out, qrank_usage *usage,
                    const sched_watch *watch, qrank_error *err) {
    job j = {.kind = JOB_EMBED,
             .texts = texts,
             .n_texts = n_texts,
             .embed_params = params,
             .embed_out = out,
             .embed_usage = usage};
    return submit_and_wait(s, &j, watch, err);
}

int scheduler_cluster(scheduler *s, const char *const *texts, size_t n_texts,
                      const qrank_cluster_params *params, qrank_clustering **out,
                      qrank_usage *usage, const sched_watch *watch, qrank_error *err) {
    job j = {.kind = JOB_CLUSTER,
             .texts = texts,
             .n_texts = n_texts,
             .cluster_params = params,
             .cluster_out = out,
             .embed_usage = usage};
    return submit_and_wait(s, &j, watch, err);
}

void scheduler_stop(scheduler *s) {
    pthread_mutex_lock(&s->lock);
    int running = !s->stopping;
    s->stopping = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (running)
        pthread_join(s->thread, NULL);
}

void scheduler_free(scheduler *s) {
    if (!s)
        return;
    scheduler_stop(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    qrank_model_free(s->reranker);
    qrank_model_free(s->embedder);
    free(s);
}

void scheduler_model_info(scheduler *s, int embedder, qrank_model_info *info) {
    const qrank_model *m = embedder ? s->embedder : s->reranker;
    if (m)
        qrank_model_get_info(m, info); /* read-only; packed_bytes is atomic */
}
