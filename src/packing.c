/* packing.c - a model's packed copies, made once by whoever needs them
 * first, or a few at a time by whoever is idle (packing.h). */
#include "packing.h"

#include <stdlib.h>

int qr_pack_pool_init(qr_pack_pool *p, int n_slots) {
    p->slots = calloc(n_slots > 0 ? (size_t)n_slots : 1, sizeof *p->slots);
    if (!p->slots) return -1;
    if (pthread_mutex_init(&p->lock, NULL)) {
        free(p->slots);
        p->slots = NULL;
        return -1;
    }
    p->n_slots = n_slots;
    atomic_init(&p->ready, 0);
    atomic_init(&p->ready_required, 0);
    atomic_init(&p->packed_bytes, 0);
    return 0;
}

void qr_pack_pool_destroy(qr_pack_pool *p) {
    if (!p->slots) return;
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    p->slots = NULL;
}

/* One slot's copy; the pool's lock is held, so nobody else makes it. */
static void make(qr_pack_pool *p, const qr_kernels *k, qr_pack_slot *s) {
    k->pack(s->tensor, s->dst);
    atomic_store_explicit(&s->made, 1, memory_order_release);
    /* After made: a call that took the file's layout a moment ago pages it
     * back in from the page cache. */
    if (p->drop_pages) p->drop_pages(p->drop_ctx, s->tensor->data, s->tensor->nbytes);
    atomic_fetch_add(&p->packed_bytes, s->size);
}

/* Sets ready and ready_required (lock held); returns the copies still to make. */
static int count_left(qr_pack_pool *p) {
    int left = 0, required_left = 0;
    for (int i = 0; i < p->n_slots; i++) {
        if (atomic_load_explicit(&p->slots[i].made, memory_order_relaxed)) continue;
        left++;
        required_left += !p->slots[i].optional;
    }
    atomic_store_explicit(&p->ready_required, required_left == 0, memory_order_release);
    atomic_store_explicit(&p->ready, left == 0, memory_order_release);
    return left;
}

void qr_pack_pool_fill(qr_pack_pool *p, const qr_kernels *k, int n_threads, int required_only) {
    atomic_int *done = required_only ? &p->ready_required : &p->ready;
    if (atomic_load_explicit(done, memory_order_acquire)) return;
    pthread_mutex_lock(&p->lock);
    if (!atomic_load_explicit(done, memory_order_relaxed)) {
#pragma omp parallel for num_threads(n_threads < 1 ? 1 : n_threads) schedule(dynamic)
        for (int i = 0; i < p->n_slots; i++) {
            qr_pack_slot *s = &p->slots[i];
            if (atomic_load_explicit(&s->made, memory_order_relaxed) || (required_only && s->optional)) continue;
            make(p, k, s);
        }
        count_left(p);
    }
    pthread_mutex_unlock(&p->lock);
}

int qr_pack_pool_step(qr_pack_pool *p, const qr_kernels *k, int n_threads) {
    if (atomic_load_explicit(&p->ready, memory_order_acquire)) return 0;
    enum { MAX_STEP = 64 };
    const int want = n_threads < 1 ? 1 : n_threads > MAX_STEP ? MAX_STEP : n_threads;
    int pick[MAX_STEP], n = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n_slots && n < want; i++)
        if (!atomic_load_explicit(&p->slots[i].made, memory_order_relaxed)) pick[n++] = i;
    if (n > 0) {
#pragma omp parallel for num_threads(n) schedule(static, 1)
        for (int j = 0; j < n; j++) make(p, k, &p->slots[pick[j]]);
    }
    const int left = count_left(p);
    pthread_mutex_unlock(&p->lock);
    return left;
}

const qr_tensor *qr_pack_made(const qr_tensor *w, qr_tensor *tmp) {
    const qr_pack_slot *s = w->slot;
    if (!s || w->packed || !atomic_load_explicit(&s->made, memory_order_acquire)) return w;
    *tmp = *w;
    tmp->packed = s->dst;
    return tmp;
}

const qr_tensor *qr_pack_use(const qr_kernels *k, int n_threads, const qr_tensor *w, qr_tensor *tmp) {
    qr_pack_slot *s = w->slot;
    if (!s || w->packed || !k->pack) return w;
    if (!atomic_load_explicit(&s->made, memory_order_acquire) && !s->optional)
        qr_pack_pool_fill(s->pool, k, n_threads, 1);
    return qr_pack_made(w, tmp); /* w while an optional copy is not made */
}
