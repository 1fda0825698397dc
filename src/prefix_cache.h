/* prefix_cache.h - prompt prefixes' keys and values kept between calls.
 *
 * A reranker prompt's shared part (system prompt, instruction, query, up to
 * "<Document>:") is the same for every call with that query and instruction:
 * a monitor scoring each new post against standing queries, or a client
 * paging through results, sends it again and again. Its keys and values
 * depend on nothing else (rows are independent through the matrices, and
 * attention over a prefix reads the same numbers whether they were computed
 * in this batch or kept), so a call that finds them here skips those rows
 * and scores the same, bit for bit. An embedder's instruction prefix
 * ("Instruct: ...\nQuery", embed.c) is kept the same way.
 *
 * Entries are keyed by (precision, token ids), counted in bytes against a
 * budget, and evicted least recently used; an entry held by a caller
 * (between get and release) is not evicted. Safe for concurrent callers. */
#ifndef QRANK_PREFIX_CACHE_H
#define QRANK_PREFIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"

typedef struct qr_prefix_cache qr_prefix_cache;
typedef struct qr_prefix_entry qr_prefix_entry;

/* NULL when budget_bytes is 0 (no cache) or out of memory. */
qr_prefix_cache *qr_prefix_cache_create(size_t budget_bytes);
void qr_prefix_cache_free(qr_prefix_cache *c);

/* The kept keys/values of this prefix, held until qr_prefix_cache_release;
 * NULL on a miss (or c NULL). */
qr_prefix_entry *qr_prefix_cache_get(qr_prefix_cache *c, int precision, const int32_t *ids, size_t n);
const qr_kv_prefix *qr_prefix_entry_kv(const qr_prefix_entry *e);
void qr_prefix_cache_release(qr_prefix_cache *c, qr_prefix_entry *e);

/* Whether keys/values of n_tokens positions could be kept at all (the whole
 * budget): callers capture them for the cache only then, since a long
 * prompt's would take gigabytes just to be dropped. 0 when c is NULL. */
int qr_prefix_cache_could_keep(const qr_prefix_cache *c, int n_layers, int64_t n_tokens, int kv_dim);

/* Keeps kv (captured for these ids) if it fits the budget after evicting
 * entries nobody holds: then it takes kv's buffers and zeroes *kv. Otherwise,
 * or when the prefix is already kept, *kv stays the caller's to free. */
void qr_prefix_cache_put(qr_prefix_cache *c, int precision, const int32_t *ids, size_t n, qr_kv_prefix *kv);

typedef struct qr_prefix_cache_stats {
    uint64_t hits, misses;
    size_t bytes;
} qr_prefix_cache_stats;
void qr_prefix_cache_get_stats(qr_prefix_cache *c, qr_prefix_cache_stats *out);

#endif
