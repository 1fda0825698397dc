/* workspace.c - one kept block per model (workspace.h). */
#include "workspace.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER = 64 }; /* the block's size, in front of the aligned memory */

struct qr_workspace_cache {
    _Atomic(unsigned char *) block; /* a header, or NULL while a call has it */
    size_t keep_max;
};

qr_workspace_cache *qr_workspace_cache_create(size_t keep_max) {
    qr_workspace_cache *c = malloc(sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->block, NULL);
    c->keep_max = keep_max;
    return c;
}

void qr_workspace_cache_free(qr_workspace_cache *c) {
    if (!c) return;
    free(atomic_load(&c->block));
    free(c);
}

void *qr_workspace_take(qr_workspace_cache *c, size_t bytes) {
    unsigned char *b = c ? atomic_exchange(&c->block, NULL) : NULL;
    if (b) {
        size_t size;
        memcpy(&size, b, sizeof size);
        if (size >= bytes) return b + HEADER;
        free(b);
    }
    const size_t size = (bytes + 63) / 64 * 64;
    if (size < bytes || size > (size_t)-1 - HEADER) return NULL;
    b = aligned_alloc(64, HEADER + size);
    if (!b) return NULL;
    memcpy(b, &size, sizeof size);
    return b + HEADER;
}

void qr_workspace_give(qr_workspace_cache *c, void *p) {
    if (!p) return;
    unsigned char *b = (unsigned char *)p - HEADER, *none = NULL;
    size_t size;
    memcpy(&size, b, sizeof size);
    if (!c || size > c->keep_max || !atomic_compare_exchange_strong(&c->block, &none, b)) free(b);
}

int qr_workspace_reserve(qr_workspace_cache *c) {
    if (!c) return 0; /* nothing is kept: nothing to reserve */
    unsigned char *p = qr_workspace_take(c, c->keep_max);
    if (!p) return -1;
    memset(p, 0, c->keep_max);
    qr_workspace_give(c, p);
    return 0;
}

size_t qr_workspace_kept(qr_workspace_cache *c) {
    unsigned char *b = c ? atomic_load(&c->block) : NULL;
    size_t size = 0;
    if (b) memcpy(&size, b, sizeof size);
    return size;
}
