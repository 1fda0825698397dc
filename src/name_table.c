/* name_table.c - see name_table.h. FNV-1a over the bytes, linear probing, load
 * factor at most 1/2; the table never grows because the readers know their
 * entry count before they insert. */
#include "name_table.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_SEED 0xcbf29ce484222325ull

int qr_name_table_init(qr_name_table *t, size_t n) {
    t->slots = NULL;
    t->mask = 0;
    if (n >= ((size_t)1 << 31)) return -1;
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) return -1;
    t->mask = cap - 1;
    return 0;
}

void qr_name_table_free(qr_name_table *t) {
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
}

static int same_name(const char *a, size_t alen, const char *prefix, size_t plen,
                     const char *rest, size_t rlen) {
    return alen == plen + rlen && memcmp(a, prefix, plen) == 0 && memcmp(a + plen, rest, rlen) == 0;
}

size_t qr_name_table_insert(qr_name_table *t, size_t i, const char *name, size_t len,
                            qr_name_of_fn name_of, const void *ctx) {
    size_t slot = (size_t)fnv1a(FNV_SEED, name, len) & t->mask;
    for (;;) {
        uint32_t e = t->slots[slot];
        if (e == 0) {
            t->slots[slot] = (uint32_t)(i + 1);
            return SIZE_MAX;
        }
        const char *other;
        size_t other_len;
        name_of(ctx, e - 1, &other, &other_len);
        if (same_name(other, other_len, "", 0, name, len)) return e - 1;
        slot = (slot + 1) & t->mask;
    }
}

size_t qr_name_table_find(const qr_name_table *t, const char *prefix, size_t prefix_len,
                          const char *rest, size_t rest_len, qr_name_of_fn name_of,
                          const void *ctx) {
    if (!t->slots) return SIZE_MAX;
    size_t slot = (size_t)fnv1a(fnv1a(FNV_SEED, prefix, prefix_len), rest, rest_len) & t->mask;
    for (;;) {
        uint32_t e = t->slots[slot];
        if (e == 0) return SIZE_MAX;
        const char *other;
        size_t other_len;
        name_of(ctx, e - 1, &other, &other_len);
        if (same_name(other, other_len, prefix, prefix_len, rest, rest_len)) return e - 1;
        slot = (slot + 1) & t->mask;
    }
}
