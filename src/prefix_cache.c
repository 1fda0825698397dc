/* prefix_cache.c - prompt prefixes' keys and values kept between calls
 * (prefix_cache.h says why that gives the same results).
 *
 * A short list under one mutex: a budget of tens of MB holds a handful of
 * entries (16.5 MB for the 0.6B reranker's 72-token prefix), so a linear
 * search costs nothing next to a forward pass. */
#include "prefix_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct qr_prefix_entry {
    struct qr_prefix_entry *next;
    int precision;
    int32_t *ids;
    size_t n;
    qr_kv_prefix kv;
    size_t bytes;
    int holders; /* callers between get and release: never evicted meanwhile */
    uint64_t last_use;
};

struct qr_prefix_cache {
    pthread_mutex_t lock;
    qr_prefix_entry *head;
    size_t budget, used;
    uint64_t clock, hits, misses;
};

qr_prefix_cache *qr_prefix_cache_create(size_t budget_bytes) {
    if (budget_bytes == 0) return NULL;
    qr_prefix_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    c->budget = budget_bytes;
    return c;
}

static void entry_free(qr_prefix_entry *e) {
    qr_kv_prefix_free(&e->kv);
    free(e->ids);
    free(e);
}

void qr_prefix_cache_free(qr_prefix_cache *c) {
    if (!c) return;
    for (qr_prefix_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The entry of these ids and precision, or NULL. Called with the lock held. */
static qr_prefix_entry *find(qr_prefix_cache *c, int precision, const int32_t *ids, size_t n) {
    qr_prefix_entry *e = c->head;
    while (e && !(e->precision == precision && e->n == n && memcmp(e->ids, ids, n * sizeof *ids) == 0)) e = e->next;
    return e;
}

qr_prefix_entry *qr_prefix_cache_get(qr_prefix_cache *c, int precision, const int32_t *ids, size_t n) {
    if (!c) return NULL;
    pthread_mutex_lock(&c->lock);
    qr_prefix_entry *e = find(c, precision, ids, n);
    if (e) {
        e->holders++;
        e->last_use = ++c->clock;
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return e;
}

const qr_kv_prefix *qr_prefix_entry_kv(const qr_prefix_entry *e) { return &e->kv; }

void qr_prefix_cache_release(qr_prefix_cache *c, qr_prefix_entry *e) {
    if (!c || !e) return;
    pthread_mutex_lock(&c->lock);
    e->holders--;
    pthread_mutex_unlock(&c->lock);
}

/* Unlinks the least recently used entry nobody holds; 0 when there is none.
 * Called with the lock held. */
static int evict_one(qr_prefix_cache *c) {
    qr_prefix_entry **victim = NULL;
    for (qr_prefix_entry **p = &c->head; *p; p = &(*p)->next)
        if ((*p)->holders == 0 && (!victim || (*p)->last_use < (*victim)->last_use)) victim = p;
    if (!victim) return 0;
    qr_prefix_entry *e = *victim;
    *victim = e->next;
    c->used -= e->bytes;
    entry_free(e);
    return 1;
}

static size_t entry_bytes(int n_layers, int64_t n_tokens, int kv_dim) {
    return 2 * sizeof(float) * (size_t)n_layers * (size_t)n_tokens * (size_t)kv_dim +
           (size_t)n_tokens * sizeof(int32_t) + sizeof(qr_prefix_entry);
}

int qr_prefix_cache_could_keep(const qr_prefix_cache *c, int n_layers, int64_t n_tokens, int kv_dim) {
    return c && entry_bytes(n_layers, n_tokens, kv_dim) <= c->budget; /* budget is set once */
}

void qr_prefix_cache_put(qr_prefix_cache *c, int precision, const int32_t *ids, size_t n, qr_kv_prefix *kv) {
    if (!c || !kv->k || !kv->v) return;
    const size_t bytes = entry_bytes(kv->n_layers, kv->n_tokens, kv->kv_dim);
    if (bytes > c->budget) return;
    qr_prefix_entry *e = calloc(1, sizeof *e);
    int32_t *copy = malloc(n * sizeof *ids);
    if (!e || !copy) {
        free(e);
        free(copy);
        return;
    }
    memcpy(copy, ids, n * sizeof *ids);
    pthread_mutex_lock(&c->lock);
    const int present = find(c, precision, ids, n) != NULL;
    while (!present && c->used + bytes > c->budget && evict_one(c)) {
    }
    const int keep = !present && c->used + bytes <= c->budget;
    if (keep) {
        *e = (qr_prefix_entry){c->head, precision, copy, n, *kv, bytes, 0, ++c->clock};
        c->head = e;
        c->used += bytes;
        memset(kv, 0, sizeof *kv);
    }
    pthread_mutex_unlock(&c->lock);
    if (!keep) {
        free(e);
        free(copy);
    }
}

void qr_prefix_cache_get_stats(qr_prefix_cache *c, qr_prefix_cache_stats *out) {
    memset(out, 0, sizeof *out);
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    *out = (qr_prefix_cache_stats){c->hits, c->misses, c->used};
    pthread_mutex_unlock(&c->lock);
}
