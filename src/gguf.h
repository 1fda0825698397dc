/* gguf.h - a checked reader of GGUF v2/v3 files (the llama.cpp format).
 *
 * The file is mmap'd and treated as hostile bytes: every count, length, offset
 * and type read from it is compared with what is left before it is used, so a
 * truncated or crafted file ends in QRANK_E_FORMAT with a message naming the
 * field, never in an out-of-bounds read. Strings are not NUL-terminated in the
 * file; they are handed out as (ptr, len) views into the mapping. */
#ifndef QRANK_GGUF_H
#define QRANK_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "qrank.h"
#include "tensor.h"

typedef struct qr_str {
    const char *ptr;
    size_t len;
} qr_str;

typedef enum qr_gguf_type {
    QR_GGUF_UINT8 = 0,
    QR_GGUF_INT8 = 1,
    QR_GGUF_UINT16 = 2,
    QR_GGUF_INT16 = 3,
    QR_GGUF_UINT32 = 4,
    QR_GGUF_INT32 = 5,
    QR_GGUF_FLOAT32 = 6,
    QR_GGUF_BOOL = 7,
    QR_GGUF_STRING = 8,
    QR_GGUF_ARRAY = 9,
    QR_GGUF_UINT64 = 10,
    QR_GGUF_INT64 = 11,
    QR_GGUF_FLOAT64 = 12,
} qr_gguf_type;

typedef struct qr_gguf_kv {
    qr_str key;
    qr_gguf_type type;
    /* scalars (widened); for STRING: str; for ARRAY: elem_type, n_elems and
     * a pointer to the first element's bytes (strings in an array are
     * length-prefixed and must be walked with qr_gguf_array_strings). */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        qr_str str;
    } v;
    qr_gguf_type elem_type;
    uint64_t n_elems;
    const uint8_t *array_data;
    size_t array_bytes;
} qr_gguf_kv;

typedef struct qr_gguf qr_gguf;

/* Opens and validates the whole file: header, every key/value, every tensor
 * info (type known, dims sane, data inside the file and aligned). */
int qr_gguf_open(const char *path, qr_gguf **out, qrank_error *err);
/* The same checks over bytes in memory that the caller keeps alive until
 * qr_gguf_close (fuzz targets and tests). */
int qr_gguf_open_memory(const void *data, size_t size, qr_gguf **out, qrank_error *err);
void qr_gguf_close(qr_gguf *g);
/* qr_mapped_file_drop for a range of this file's data; nothing for a file
 * opened from memory. */
void qr_gguf_drop_pages(const qr_gguf *g, const void *p, size_t len);

uint32_t qr_gguf_version(const qr_gguf *g);
size_t qr_gguf_file_size(const qr_gguf *g);
size_t qr_gguf_alignment(const qr_gguf *g);   /* general.alignment or 32 */
size_t qr_gguf_data_offset(const qr_gguf *g); /* file offset of the data section */

size_t qr_gguf_n_kv(const qr_gguf *g);
const qr_gguf_kv *qr_gguf_kv_at(const qr_gguf *g, size_t i);
const qr_gguf_kv *qr_gguf_find(const qr_gguf *g, const char *key); /* NULL if absent */

/* Typed getters: QRANK_OK, or QRANK_E_FORMAT when present with a wrong type.
 * When absent: return QRANK_OK and leave *out untouched if optional,
 * else QRANK_E_FORMAT naming the key. get_u64 takes any integer type whose
 * value is >= 0 (and BOOL as 0/1); get_f64 takes FLOAT32/FLOAT64 and integers. */
int qr_gguf_get_u64(const qr_gguf *g, const char *key, int optional, uint64_t *out, qrank_error *err);
int qr_gguf_get_f64(const qr_gguf *g, const char *key, int optional, double *out, qrank_error *err);
int qr_gguf_get_str(const qr_gguf *g, const char *key, int optional, qr_str *out, qrank_error *err);

/* The strings of a STRING array as views (malloc'd array of n_elems; free()). */
int qr_gguf_array_strings(const qr_gguf_kv *kv, qr_str **out, qrank_error *err);
/* An integer array widened to int32 (malloc'd; free()). */
int qr_gguf_array_i32(const qr_gguf_kv *kv, int32_t **out, qrank_error *err);

size_t qr_gguf_n_tensors(const qr_gguf *g);
const qr_tensor *qr_gguf_tensor_at(const qr_gguf *g, size_t i);
const qr_tensor *qr_gguf_tensor(const qr_gguf *g, const char *name); /* NULL if absent */

#endif
