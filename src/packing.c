/* packing.c - a model's packed copies, made once by whoever needs them
 * first (packing.h). */
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
    atomic_init(&p->packed_bytes, 0);
    return 0;
}

void qr_pack_pool_destroy(qr_pack_pool *p) {
    if (!p->slots) return;
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    p->slots = NULL;
}

void qr_pack_pool_fill(qr_pack_pool *p, const qr_kernels *k, int n_threads) {
    if (atomic_load_explicit(&p->ready, memory_order_acquire)) return;
    pthread_mutex_lock(&p->lock);
    if (!atomic_load_explicit(&p->ready, memory_order_relaxed)) {
#pragma omp parallel for num_threads(n_threads < 1 ? 1 : n_threads) schedule(dynamic)
        for (int i = 0; i < p->n_slots; i++) {
            const qr_pack_slot *s = &p->slots[i];
            const qr_tensor *w = s->tensor;
            k->pack(w, s->dst);
            if (p->drop_pages) p->drop_pages(p->drop_ctx, w->data, w->nbytes);
            atomic_fetch_add(&p->packed_bytes, s->size);
        }
        atomic_store_explicit(&p->ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&p->lock);
}

const qr_tensor *qr_pack_use(const qr_kernels *k, int n_threads, const qr_tensor *w, qr_tensor *tmp) {
    const qr_pack_slot *s = w->slot;
    if (!s || w->packed || !k->pack) return w;
    qr_pack_pool_fill(s->pool, k, n_threads);
    *tmp = *w;
    tmp->packed = s->dst;
    return tmp;
}
