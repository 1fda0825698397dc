/* name_table.h - an open-addressing hash set of tensor/key names for the model
 * readers: duplicate detection while a file is validated, then lookup.
 *
 * Entries are indices into the caller's own array, and names are fetched back
 * through a callback, so the table copies no strings. Lookup takes the name in
 * two parts (prefix + rest) so that "model." + name needs no temporary. */
#ifndef QRANK_NAME_TABLE_H
#define QRANK_NAME_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct qr_name_table {
    uint32_t *slots; /* index + 1; 0 = empty */
    size_t mask;
} qr_name_table;

/* The name of entry i as (ptr, len). */
typedef void (*qr_name_of_fn)(const void *ctx, size_t i, const char **ptr, size_t *len);

/* Room for n names (n < 2^31); returns 0 on success, -1 when out of memory. */
int qr_name_table_init(qr_name_table *t, size_t n);
void qr_name_table_free(qr_name_table *t);

/* Inserts entry i; returns the index of an existing entry with the same name,
 * or SIZE_MAX when the name is new. */
size_t qr_name_table_insert(qr_name_table *t, size_t i, const char *name, size_t len,
                            qr_name_of_fn name_of, const void *ctx);

/* Finds prefix+rest; SIZE_MAX when absent. */
size_t qr_name_table_find(const qr_name_table *t, const char *prefix, size_t prefix_len,
                          const char *rest, size_t rest_len, qr_name_of_fn name_of,
                          const void *ctx);

#endif
