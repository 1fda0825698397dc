/* workspace.h - a model's scratch memory for forward passes, kept from one
 * call to the next.
 *
 * A batch's buffers are tens of megabytes (hidden states, keys and values
 * of up to 4,096 tokens, a chunk's MLP rows). malloc returns blocks that
 * size to the kernel on free, or trims them off the heap, so every call
 * faulted them in and zeroed them again: posts-20 runs saw 40,000 to
 * 220,000 page faults in 24 calls, and the runs with the most were 10-20%
 * slower. The model keeps one block; a call takes it (growing it if it is
 * too small) and gives it back. Calls that run at once on the same model
 * find it taken and allocate their own, which the last to give back frees.
 * A block over keep_max (a call longer than the batches rerank.c and
 * embed.c make) is freed, not kept. A server reserves the block at its
 * largest kept size at the start, so that its resident memory does not
 * step up later when the first large batch comes. */
#ifndef QRANK_WORKSPACE_H
#define QRANK_WORKSPACE_H

#include <stddef.h>

typedef struct qr_workspace_cache qr_workspace_cache;

/* NULL when out of memory: take and give then allocate and free each time. */
qr_workspace_cache *qr_workspace_cache_create(size_t keep_max);
void qr_workspace_cache_free(qr_workspace_cache *c);

/* At least bytes of 64-byte-aligned memory, contents undefined; NULL when
 * out of memory. */
void *qr_workspace_take(qr_workspace_cache *c, size_t bytes);

/* Gives back what take returned (NULL is ignored). */
void qr_workspace_give(qr_workspace_cache *c, void *p);

/* The size of the block kept now (0: none; for tests). */
size_t qr_workspace_kept(qr_workspace_cache *c);

/* Makes the kept block keep_max bytes and touches all of it; -1 when out
 * of memory. */
int qr_workspace_reserve(qr_workspace_cache *c);

#endif
