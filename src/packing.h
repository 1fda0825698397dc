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
 * depend on what ran beside it.
 *
 * Optional copies are the exception: Q8_0's kernel also reads the file's
 * layout, with the very same arithmetic (the tile is fed the same groups,
 * packed a chunk at a time), so a call never waits for them and uses each
 * one from the moment it is complete. They are made a few matrices at a
 * time by whoever has nothing better to do (qr_pack_pool_step), or all at
 * once when asked for (load). */
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
    int optional;            /* the kernel reads the file's layout too: never wait for this copy */
    atomic_int made;         /* 1 once dst holds the whole copy (release; read with acquire) */
} qr_pack_slot;

typedef struct qr_pack_pool {
    qr_pack_slot *slots;
    int n_slots;
    /* Called for each matrix once its copy is made, with its file bytes, so
     * that the model's file pages can go and resident memory stays one copy. */
    void (*drop_pages)(void *ctx, const void *p, size_t n);
    void *drop_ctx;
    pthread_mutex_t lock;      /* held while packing */
    atomic_int ready;          /* 1: every slot's copy is made */
    atomic_int ready_required; /* 1: every copy that is not optional is made */
    atomic_size_t packed_bytes;
} qr_pack_pool;

/* A pool for n_slots slots (filled in by the caller, pool set), none made. */
int qr_pack_pool_init(qr_pack_pool *p, int n_slots);
void qr_pack_pool_destroy(qr_pack_pool *p);

/* Makes the copies not made yet on n_threads threads: every one, or with
 * required_only those that are not optional. */
void qr_pack_pool_fill(qr_pack_pool *p, const qr_kernels *k, int n_threads, int required_only);

/* Makes the next few copies not made yet, one matrix per thread, and
 * returns how many are still to make (0: the pool is complete). Calls on
 * the model may run meanwhile. */
int qr_pack_pool_step(qr_pack_pool *p, const qr_kernels *k, int n_threads);

/* The tensor a fast call should read: w itself when it has no slot or its
 * optional copy is not made yet, else *tmp, w with packed set, making the
 * pool's required copies first if nobody has. */
const qr_tensor *qr_pack_use(const qr_kernels *k, int n_threads, const qr_tensor *w, qr_tensor *tmp);

/* The same for an exact call, which makes no copy: *tmp where w's copy is
 * made already (gemm_f32 reads the copies, kernels.h), else w. */
const qr_tensor *qr_pack_made(const qr_tensor *w, qr_tensor *tmp);

#endif
