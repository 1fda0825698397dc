/* packing.h - a model's matrices laid out for its kernel table, all at
 * once: at load, or when the first call that needs them comes.
 *
 * A packed copy costs a pass over the weights and fresh pages for about as
 * many bytes, which the kernel zeroes first (most of the cost here: about
 * 0.2 s for the 0.6B Q4_K_M's 444 MB on 2 cores); it pays back on every
 * later call (kernels.h, pack). The model decides which matrices get one and
 * when (model.c, plan_packing); this file makes them.
 *
 * The copies are made together, the matrices shared out among the threads
 * whole: threads that split one matrix would fault on the same fresh 2 MB
 * page and wait for each other's zeroing. The first caller to need them
 * takes the pool's lock and packs; concurrent callers wait on the lock
 * rather than compute with a different kernel, so a request's scores never
 * depend on what ran beside it. */
#ifndef QRANK_PACKING_H
#define QRANK_PACKING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "tensor.h"

typedef struct qr_pack_slot {
    struct qr_pack_pool *pool;
    const qr_tensor *tensor; /* the matrix, as the file has it */
    void *dst;               /* where its copy goes: pack_size bytes, 64-byte aligned */
    size_t size;
} qr_pack_slot;

typedef struct qr_pack_pool {
    qr_pack_slot *slots;
    int n_slots;
    /* Called for each matrix once its copy is made, with its file bytes, so
     * that the model's file pages can go and resident memory stays one copy. */
    void (*drop_pages)(void *ctx, const void *p, size_t n);
    void *drop_ctx;
    pthread_mutex_t lock; /* held while packing */
    atomic_int ready;     /* 1: every slot's dst holds its copy */
    atomic_size_t packed_bytes;
} qr_pack_pool;

/* A pool for n_slots slots (filled in by the caller, pool set), none made. */
int qr_pack_pool_init(qr_pack_pool *p, int n_slots);
void qr_pack_pool_destroy(qr_pack_pool *p);

/* Makes every copy of the pool on n_threads threads, unless they are made. */
void qr_pack_pool_fill(qr_pack_pool *p, const qr_kernels *k, int n_threads);

/* The tensor a fast call should read: w itself when it has no slot, else
 * *tmp, w with packed set, making the pool's copies first if nobody has. */
const qr_tensor *qr_pack_use(const qr_kernels *k, int n_threads, const qr_tensor *w, qr_tensor *tmp);

#endif
