/* gguf.c - the GGUF v2/v3 reader behind gguf.h.
 *
 * A GGUF file is: "GGUF", u32 version, u64 n_tensors, u64 n_kv, the key/value
 * pairs, the tensor infos (name, n_dims, ne[], type, offset), padding to
 * general.alignment (default 32), then the data section that the offsets are
 * relative to. Everything is little-endian.
 *
 * The whole file is validated once, in qr_gguf_open, by a cursor whose every
 * read compares its length with what is left and fails with a message naming
 * the field; after that, getters and tensor data can be used without checks.
 * Counts read from the file are compared with the bytes that could hold them
 * before anything is allocated, so a 2^60 tensor count costs nothing. Keys and
 * strings stay views into the mapping; only tensor names are copied, because
 * qr_tensor hands out NUL-terminated names. Tensor data is never touched here,
 * so a 640 MB file opens in the time it takes to walk its ~5 MB header.
 *
 * Deliberate refusals: GGUF v1 (32-bit counts, long gone), big-endian files,
 * arrays of arrays (no model qrank runs uses them, and they would make the
 * walk recursive), tensor types outside tensor.h's table. */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mapped_file.h"
#include "name_table.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MIN_ALIGNMENT ((size_t)8)
#define GGUF_MAX_ALIGNMENT ((size_t)1 << 24)
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 256
/* Smallest possible encodings, used to bound counts before allocating:
 * a KV is a key length (8), a type (4) and at least one value byte; a tensor
 * info is a name length (8), at least one name byte, n_dims (4), one dim (8),
 * a type (4) and an offset (8). */
#define GGUF_MIN_KV_BYTES 13
#define GGUF_MIN_TENSOR_INFO_BYTES 33

struct qr_gguf {
    qr_mapped_file map; /* unmapped (data NULL) for qr_gguf_open_memory */
    const uint8_t *data;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_offset;
    qr_gguf_kv *kvs;
    size_t n_kv;
    qr_tensor *tensors;
    size_t n_tensors;
    char *name_pool;
    qr_name_table kv_index;
    qr_name_table tensor_index;
};

typedef struct cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
    qrank_error *err;
} cursor;

static const char *type_name(uint32_t t) {
    static const char *const names[] = {"UINT8", "INT8",   "UINT16", "INT16", "UINT32",
                                        "INT32", "FLOAT32", "BOOL",  "STRING", "ARRAY",
                                        "UINT64", "INT64", "FLOAT64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Bytes of one scalar element; 0 for STRING, ARRAY and unknown types. */
static size_t scalar_size(uint32_t t) {
    switch (t) {
    case QR_GGUF_UINT8: case QR_GGUF_INT8: case QR_GGUF_BOOL: return 1;
    case QR_GGUF_UINT16: case QR_GGUF_INT16: return 2;
    case QR_GGUF_UINT32: case QR_GGUF_INT32: case QR_GGUF_FLOAT32: return 4;
    case QR_GGUF_UINT64: case QR_GGUF_INT64: case QR_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Names from the file go into messages: keep them short and printable. */
static const char *printable(const char *s, size_t n, char buf[96]) {
    size_t lim = n > 64 ? 64 : n, j = 0;
    for (size_t i = 0; i < lim; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n > lim) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

static uint64_t load_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return qr_error(c->err, QRANK_E_FORMAT,
                        "%s: %llu bytes at offset %zu run past the end of the file (%zu bytes)",
                        what, (unsigned long long)n, c->pos, c->size);
    return QRANK_OK;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    int rc = need(c, 4, what);
    if (rc) return rc;
    *v = (uint32_t)load_le(c->data + c->pos, 4);
    c->pos += 4;
    return QRANK_OK;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    int rc = need(c, 8, what);
    if (rc) return rc;
    *v = load_le(c->data + c->pos, 8);
    c->pos += 8;
    return QRANK_OK;
}

static int read_str(cursor *c, qr_str *s, const char *what) {
    uint64_t len;
    int rc = read_u64(c, &len, what);
    if (rc) return rc;
    if (len > c->size - c->pos)
        return qr_error(c->err, QRANK_E_FORMAT,
                        "%s: string length %llu at offset %zu runs past the end of the file "
                        "(%zu bytes)",
                        what, (unsigned long long)len, c->pos - 8, c->size);
    s->ptr = (const char *)c->data + c->pos;
    s->len = (size_t)len;
    c->pos += (size_t)len;
    return QRANK_OK;
}

/* Reads one scalar of type t into kv's union (widened by signedness). */
static int read_scalar(cursor *c, uint32_t t, qr_gguf_kv *kv, const char *what) {
    size_t n = scalar_size(t);
    int rc = need(c, n, what);
    if (rc) return rc;
    uint64_t raw = load_le(c->data + c->pos, n);
    c->pos += n;
    switch (t) {
    case QR_GGUF_UINT8: case QR_GGUF_UINT16: case QR_GGUF_UINT32: case QR_GGUF_UINT64:
        kv->v.u64 = raw;
        break;
    case QR_GGUF_INT8: kv->v.i64 = (int8_t)(uint8_t)raw; break;
    case QR_GGUF_INT16: kv->v.i64 = (int16_t)(uint16_t)raw; break;
    case QR_GGUF_INT32: kv->v.i64 = (int32_t)(uint32_t)raw; break;
    case QR_GGUF_INT64: kv->v.i64 = (int64_t)raw; break;
    case QR_GGUF_BOOL:
        if (raw > 1)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: BOOL value %llu is neither 0 nor 1", what,
                            (unsigned long long)raw);
        kv->v.u64 = raw;
        break;
    case QR_GGUF_FLOAT32: {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, 4);
        kv->v.f64 = f;
        break;
    }
    case QR_GGUF_FLOAT64: memcpy(&kv->v.f64, &raw, 8); break;
    }
    return QRANK_OK;
}

static int read_array(cursor *c, qr_gguf_kv *kv, const char *what) {
    uint32_t et;
    uint64_t n;
    int rc = read_u32(c, &et, what);
    if (!rc) rc = read_u64(c, &n, what);
    if (rc) return rc;
    if (et == QR_GGUF_ARRAY)
        return qr_error(c->err, QRANK_E_FORMAT, "%s: arrays of arrays are not supported", what);
    if (et != QR_GGUF_STRING && scalar_size(et) == 0)
        return qr_error(c->err, QRANK_E_FORMAT, "%s: unknown array element type %u", what, et);
    size_t left = c->size - c->pos;
    size_t min_elem = et == QR_GGUF_STRING ? 8 : scalar_size(et);
    if (n > left / min_elem)
        return qr_error(c->err, QRANK_E_FORMAT,
                        "%s: array of %llu %s elements at offset %zu cannot fit in the %zu bytes "
                        "left in the file",
                        what, (unsigned long long)n, type_name(et), c->pos, left);
    kv->elem_type = (qr_gguf_type)et;
    kv->n_elems = n;
    kv->array_data = c->data + c->pos;
    if (et == QR_GGUF_STRING) {
        char elem_what[192];
        for (uint64_t i = 0; i < n; i++) {
            qr_str s;
            if (c->size - c->pos < 8 || load_le(c->data + c->pos, 8) > c->size - c->pos - 8) {
                snprintf(elem_what, sizeof elem_what, "%s, element %llu", what,
                         (unsigned long long)i);
                return read_str(c, &s, elem_what);
            }
            c->pos += 8 + (size_t)load_le(c->data + c->pos, 8);
        }
    } else {
        c->pos += (size_t)n * min_elem;
    }
    kv->array_bytes = (size_t)(c->data + c->pos - kv->array_data);
    return QRANK_OK;
}

static void kv_name_of(const void *ctx, size_t i, const char **ptr, size_t *len) {
    const qr_gguf_kv *kvs = ctx;
    *ptr = kvs[i].key.ptr;
    *len = kvs[i].key.len;
}

static void tensor_name_of(const void *ctx, size_t i, const char **ptr, size_t *len) {
    const qr_str *names = ctx;
    *ptr = names[i].ptr;
    *len = names[i].len;
}

static int parse_kvs(qr_gguf *g, cursor *c) {
    char what[160], nb[96];
    for (size_t i = 0; i < g->n_kv; i++) {
        qr_gguf_kv *kv = &g->kvs[i];
        snprintf(what, sizeof what, "key %zu", i);
        int rc = read_str(c, &kv->key, what);
        if (rc) return rc;
        snprintf(what, sizeof what, "key %zu (%s)", i, printable(kv->key.ptr, kv->key.len, nb));
        uint32_t t;
        rc = read_u32(c, &t, what);
        if (rc) return rc;
        kv->type = (qr_gguf_type)t;
        if (t == QR_GGUF_STRING) {
            rc = read_str(c, &kv->v.str, what);
        } else if (t == QR_GGUF_ARRAY) {
            rc = read_array(c, kv, what);
        } else if (scalar_size(t) != 0) {
            rc = read_scalar(c, t, kv, what);
        } else {
            rc = qr_error(c->err, QRANK_E_FORMAT, "%s: unknown value type %u", what, t);
        }
        if (rc) return rc;
        size_t dup = qr_name_table_insert(&g->kv_index, i, kv->key.ptr, kv->key.len, kv_name_of,
                                          g->kvs);
        if (dup != SIZE_MAX)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: duplicate of key %zu", what, dup);
    }
    return QRANK_OK;
}

static int read_alignment(qr_gguf *g, qrank_error *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    size_t i = qr_name_table_find(&g->kv_index, "", 0, "general.alignment", 17, kv_name_of, g->kvs);
    if (i == SIZE_MAX) return QRANK_OK;
    const qr_gguf_kv *kv = &g->kvs[i];
    uint64_t a;
    switch (kv->type) {
    case QR_GGUF_UINT8: case QR_GGUF_UINT16: case QR_GGUF_UINT32: case QR_GGUF_UINT64:
        a = kv->v.u64;
        break;
    case QR_GGUF_INT8: case QR_GGUF_INT16: case QR_GGUF_INT32: case QR_GGUF_INT64:
        a = kv->v.i64 < 0 ? 0 : (uint64_t)kv->v.i64;
        break;
    default:
        return qr_error(err, QRANK_E_FORMAT, "general.alignment has type %s, expected an integer",
                        type_name(kv->type));
    }
    /* At least 8, as the GGUF spec requires: below that an F16/BF16 tensor could
     * start at an odd address, and every reader of it would be misaligned
     * (found by fuzz/fuzz_gguf.c). */
    if (a < GGUF_MIN_ALIGNMENT || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
        return qr_error(err, QRANK_E_FORMAT,
                        "general.alignment %llu is not a power of two between %zu and %zu",
                        (unsigned long long)a, GGUF_MIN_ALIGNMENT, GGUF_MAX_ALIGNMENT);
    g->alignment = (size_t)a;
    return QRANK_OK;
}

/* Reads the tensor infos; names are left as views in names[] and copied later. */
static int parse_tensor_infos(qr_gguf *g, cursor *c, qr_str *names, uint64_t *offsets) {
    char what[160], nb[96];
    for (size_t i = 0; i < g->n_tensors; i++) {
        qr_tensor *t = &g->tensors[i];
        snprintf(what, sizeof what, "tensor %zu", i);
        int rc = read_str(c, &names[i], what);
        if (rc) return rc;
        const char *nm = printable(names[i].ptr, names[i].len, nb);
        snprintf(what, sizeof what, "tensor %zu (%s)", i, nm);
        if (names[i].len == 0 || names[i].len > GGUF_MAX_NAME)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: name length %zu is not in 1..%d", what,
                            names[i].len, GGUF_MAX_NAME);
        if (memchr(names[i].ptr, '\0', names[i].len))
            return qr_error(c->err, QRANK_E_FORMAT, "%s: name contains a NUL byte", what);
        size_t dup = qr_name_table_insert(&g->tensor_index, i, names[i].ptr, names[i].len,
                                          tensor_name_of, names);
        if (dup != SIZE_MAX)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: duplicate of tensor %zu", what, dup);

        uint32_t n_dims;
        rc = read_u32(c, &n_dims, what);
        if (rc) return rc;
        if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: n_dims %u is not in 1..%d", what, n_dims,
                            GGUF_MAX_DIMS);
        t->n_dims = (int)n_dims;
        int64_t n_elems = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t ne;
            rc = read_u64(c, &ne, what);
            if (rc) return rc;
            if (ne < 1 || ne > (uint64_t)INT64_MAX / (uint64_t)n_elems)
                return qr_error(c->err, QRANK_E_FORMAT,
                                "%s: dimension %u is %llu (must be >= 1 with a product below "
                                "2^63)",
                                what, d, (unsigned long long)ne);
            t->ne[d] = (int64_t)ne;
            n_elems *= (int64_t)ne;
        }
        uint32_t type;
        rc = read_u32(c, &type, what);
        if (rc) return rc;
        const qr_type_traits *tr = qr_type_get((int)type);
        if (!tr) return qr_error(c->err, QRANK_E_FORMAT, "%s: unknown tensor type %u", what, type);
        t->type = (qr_type)type;
        if (t->ne[0] % tr->block_size != 0)
            return qr_error(c->err, QRANK_E_FORMAT,
                            "%s: ne[0] = %lld is not a multiple of the %s block size %d", what,
                            (long long)t->ne[0], tr->name, tr->block_size);
        size_t row = qr_row_bytes(t->type, t->ne[0]);
        uint64_t rows = (uint64_t)(n_elems / t->ne[0]);
        if (row == 0 || rows > SIZE_MAX / row)
            return qr_error(c->err, QRANK_E_FORMAT, "%s: size in bytes overflows", what);
        t->nbytes = row * (size_t)rows;
        rc = read_u64(c, &offsets[i], what);
        if (rc) return rc;
    }
    return QRANK_OK;
}

typedef struct placed {
    uint64_t offset;
    size_t index;
} placed;

static int cmp_placed(const void *a, const void *b) {
    const placed *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Places every tensor in the data section and rejects misaligned, outside or
 * overlapping ones. */
static int place_tensors(qr_gguf *g, const uint64_t *offsets, const qr_str *names,
                         qrank_error *err) {
    char nb[96];
    size_t data_len = g->size - g->data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        qr_tensor *t = &g->tensors[i];
        const char *nm = printable(names[i].ptr, names[i].len, nb);
        if (offsets[i] % g->alignment != 0)
            return qr_error(err, QRANK_E_FORMAT,
                            "tensor %zu (%s): data offset %llu is not a multiple of the "
                            "alignment %zu",
                            i, nm, (unsigned long long)offsets[i], g->alignment);
        if (offsets[i] > data_len || t->nbytes > data_len - offsets[i])
            return qr_error(err, QRANK_E_FORMAT,
                            "tensor %zu (%s): data offset %llu + %zu bytes is past the end of the "
                            "file (%zu bytes, data section at %zu)",
                            i, nm, (unsigned long long)offsets[i], t->nbytes, g->size,
                            g->data_offset);
        t->data = g->data + g->data_offset + offsets[i];
    }
    if (g->n_tensors < 2) return QRANK_OK;
    placed *order = malloc(g->n_tensors * sizeof *order);
    if (!order) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory sorting tensors");
    for (size_t i = 0; i < g->n_tensors; i++) order[i] = (placed){offsets[i], i};
    qsort(order, g->n_tensors, sizeof *order, cmp_placed);
    int rc = QRANK_OK;
    for (size_t k = 1; k < g->n_tensors; k++) {
        size_t a = order[k - 1].index, b = order[k].index;
        if (offsets[a] + g->tensors[a].nbytes > offsets[b]) {
            char nb2[96];
            rc = qr_error(err, QRANK_E_FORMAT,
                          "tensor %zu (%s) at data offset %llu overlaps tensor %zu (%s) at %llu + "
                          "%zu bytes",
                          b, printable(names[b].ptr, names[b].len, nb2),
                          (unsigned long long)offsets[b], a,
                          printable(names[a].ptr, names[a].len, nb),
                          (unsigned long long)offsets[a], g->tensors[a].nbytes);
            break;
        }
    }
    free(order);
    return rc;
}

static int copy_names(qr_gguf *g, const qr_str *names, qrank_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < g->n_tensors; i++) total += names[i].len + 1; /* each <= file size */
    g->name_pool = malloc(total ? total : 1);
    if (!g->name_pool) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for tensor names");
    char *p = g->name_pool;
    for (size_t i = 0; i < g->n_tensors; i++) {
        memcpy(p, names[i].ptr, names[i].len);
        p[names[i].len] = '\0';
        g->tensors[i].name = p;
        p += names[i].len + 1;
    }
    return QRANK_OK;
}

static int parse(qr_gguf *g, qrank_error *err) {
    cursor c = {g->data, g->size, 0, err};
    if (g->size < 24)
        return qr_error(err, QRANK_E_FORMAT, "file is %zu bytes, too small for a GGUF header",
                        g->size);
    if (memcmp(g->data, "GGUF", 4) != 0)
        return qr_error(err, QRANK_E_FORMAT,
                        "bad magic %02x %02x %02x %02x (a GGUF file starts with \"GGUF\")",
                        g->data[0], g->data[1], g->data[2], g->data[3]);
    c.pos = 4;
    uint64_t n_tensors, n_kv;
    read_u32(&c, &g->version, "version");
    read_u64(&c, &n_tensors, "tensor count");
    read_u64(&c, &n_kv, "key/value count");
    if (g->version == 1)
        return qr_error(err, QRANK_E_FORMAT, "GGUF version 1 is not supported (only 2 and 3)");
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0)
            return qr_error(err, QRANK_E_FORMAT,
                            "version field 0x%08x looks byte-swapped: big-endian GGUF files are "
                            "not supported",
                            g->version);
        return qr_error(err, QRANK_E_FORMAT, "unsupported GGUF version %u (only 2 and 3)",
                        g->version);
    }
    size_t left = g->size - c.pos;
    if (n_kv > left / GGUF_MIN_KV_BYTES || n_tensors > left / GGUF_MIN_TENSOR_INFO_BYTES ||
        n_kv * GGUF_MIN_KV_BYTES + n_tensors * GGUF_MIN_TENSOR_INFO_BYTES > left)
        return qr_error(err, QRANK_E_FORMAT,
                        "%llu keys and %llu tensors cannot fit in a file of %zu bytes",
                        (unsigned long long)n_kv, (unsigned long long)n_tensors, g->size);
    g->n_kv = (size_t)n_kv;
    g->n_tensors = (size_t)n_tensors;
    g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kvs);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors || qr_name_table_init(&g->kv_index, g->n_kv) ||
        qr_name_table_init(&g->tensor_index, g->n_tensors))
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu keys and %zu tensors",
                        g->n_kv, g->n_tensors);

    int rc = parse_kvs(g, &c);
    if (!rc) rc = read_alignment(g, err);
    if (rc) return rc;

    qr_str *names = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *names);
    uint64_t *offsets = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *offsets);
    if (!names || !offsets) {
        free(names);
        free(offsets);
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu tensor infos", g->n_tensors);
    }
    rc = parse_tensor_infos(g, &c, names, offsets);
    if (!rc) {
        size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
        g->data_offset = c.pos + pad; /* c.pos <= size and alignment <= 2^24: no overflow */
        if (g->n_tensors > 0 && g->data_offset > g->size)
            rc = qr_error(err, QRANK_E_FORMAT,
                          "data section at offset %zu starts past the end of the file (%zu bytes)",
                          g->data_offset, g->size);
        else if (g->data_offset > g->size)
            g->data_offset = g->size;
    }
    if (!rc) rc = place_tensors(g, offsets, names, err);
    if (!rc) rc = copy_names(g, names, err);
    free(names);
    free(offsets);
    return rc;
}

static int finish_open(qr_gguf *g, qr_gguf **out, qrank_error *err) {
    int rc = parse(g, err);
    if (rc) {
        qr_gguf_close(g);
        return rc;
    }
    *out = g;
    return QRANK_OK;
}

int qr_gguf_open_memory(const void *data, size_t size, qr_gguf **out, qrank_error *err) {
    *out = NULL;
    qr_gguf *g = calloc(1, sizeof *g);
    if (!g) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    g->data = data;
    g->size = data ? size : 0;
    return finish_open(g, out, err);
}

void qr_gguf_drop_pages(const qr_gguf *g, const void *p, size_t len) { qr_mapped_file_drop(&g->map, p, len); }

int qr_gguf_open(const char *path, qr_gguf **out, qrank_error *err) {
    *out = NULL;
    qr_gguf *g = calloc(1, sizeof *g);
    if (!g) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    int rc = qr_map_file(path, &g->map, err);
    if (rc) {
        free(g);
        return rc;
    }
    g->data = g->map.data;
    g->size = g->map.size;
    rc = finish_open(g, out, err);
    if (rc) return qr_error_prefix(err, rc, "%s", path);
    return QRANK_OK;
}

void qr_gguf_close(qr_gguf *g) {
    if (!g) return;
    qr_name_table_free(&g->kv_index);
    qr_name_table_free(&g->tensor_index);
    free(g->kvs);
    free(g->tensors);
    free(g->name_pool);
    qr_unmap_file(&g->map);
    free(g);
}

uint32_t qr_gguf_version(const qr_gguf *g) { return g->version; }
size_t qr_gguf_file_size(const qr_gguf *g) { return g->size; }
size_t qr_gguf_alignment(const qr_gguf *g) { return g->alignment; }
size_t qr_gguf_data_offset(const qr_gguf *g) { return g->data_offset; }
size_t qr_gguf_n_kv(const qr_gguf *g) { return g->n_kv; }

const qr_gguf_kv *qr_gguf_kv_at(const qr_gguf *g, size_t i) {
    return i < g->n_kv ? &g->kvs[i] : NULL;
}

const qr_gguf_kv *qr_gguf_find(const qr_gguf *g, const char *key) {
    size_t i = qr_name_table_find(&g->kv_index, "", 0, key, strlen(key), kv_name_of, g->kvs);
    return i == SIZE_MAX ? NULL : &g->kvs[i];
}

static int absent(const char *key, int optional, qrank_error *err) {
    if (optional) return QRANK_OK;
    return qr_error(err, QRANK_E_FORMAT, "required key %s is missing", key);
}

int qr_gguf_get_u64(const qr_gguf *g, const char *key, int optional, uint64_t *out,
                    qrank_error *err) {
    const qr_gguf_kv *kv = qr_gguf_find(g, key);
    if (!kv) return absent(key, optional, err);
    switch (kv->type) {
    case QR_GGUF_UINT8: case QR_GGUF_UINT16: case QR_GGUF_UINT32: case QR_GGUF_UINT64:
    case QR_GGUF_BOOL:
        *out = kv->v.u64;
        return QRANK_OK;
    case QR_GGUF_INT8: case QR_GGUF_INT16: case QR_GGUF_INT32: case QR_GGUF_INT64:
        if (kv->v.i64 < 0)
            return qr_error(err, QRANK_E_FORMAT, "key %s is %lld, expected a value >= 0", key,
                            (long long)kv->v.i64);
        *out = (uint64_t)kv->v.i64;
        return QRANK_OK;
    default:
        return qr_error(err, QRANK_E_FORMAT, "key %s has type %s, expected an integer", key,
                        type_name(kv->type));
    }
}

int qr_gguf_get_f64(const qr_gguf *g, const char *key, int optional, double *out,
                    qrank_error *err) {
    const qr_gguf_kv *kv = qr_gguf_find(g, key);
    if (!kv) return absent(key, optional, err);
    switch (kv->type) {
    case QR_GGUF_FLOAT32: case QR_GGUF_FLOAT64: *out = kv->v.f64; return QRANK_OK;
    case QR_GGUF_UINT8: case QR_GGUF_UINT16: case QR_GGUF_UINT32: case QR_GGUF_UINT64:
        *out = (double)kv->v.u64;
        return QRANK_OK;
    case QR_GGUF_INT8: case QR_GGUF_INT16: case QR_GGUF_INT32: case QR_GGUF_INT64:
        *out = (double)kv->v.i64;
        return QRANK_OK;
    default:
        return qr_error(err, QRANK_E_FORMAT, "key %s has type %s, expected a number", key,
                        type_name(kv->type));
    }
}

int qr_gguf_get_str(const qr_gguf *g, const char *key, int optional, qr_str *out,
                    qrank_error *err) {
    const qr_gguf_kv *kv = qr_gguf_find(g, key);
    if (!kv) return absent(key, optional, err);
    if (kv->type != QR_GGUF_STRING)
        return qr_error(err, QRANK_E_FORMAT, "key %s has type %s, expected STRING", key,
                        type_name(kv->type));
    *out = kv->v.str;
    return QRANK_OK;
}

static int check_array(const qr_gguf_kv *kv, qrank_error *err) {
    if (kv->type != QR_GGUF_ARRAY) {
        char nb[96];
        return qr_error(err, QRANK_E_FORMAT, "key %s has type %s, expected ARRAY",
                        printable(kv->key.ptr, kv->key.len, nb), type_name(kv->type));
    }
    return QRANK_OK;
}

int qr_gguf_array_strings(const qr_gguf_kv *kv, qr_str **out, qrank_error *err) {
    *out = NULL;
    char nb[96];
    int rc = check_array(kv, err);
    if (rc) return rc;
    if (kv->elem_type != QR_GGUF_STRING)
        return qr_error(err, QRANK_E_FORMAT, "key %s is an array of %s, expected STRING",
                        printable(kv->key.ptr, kv->key.len, nb), type_name(kv->elem_type));
    /* n_elems * 8 <= array_bytes was checked at open */
    qr_str *s = malloc((size_t)(kv->n_elems ? kv->n_elems : 1) * sizeof *s);
    if (!s) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %llu strings",
                            (unsigned long long)kv->n_elems);
    size_t pos = 0;
    for (uint64_t i = 0; i < kv->n_elems; i++) {
        uint64_t len = kv->array_bytes - pos >= 8 ? load_le(kv->array_data + pos, 8) : UINT64_MAX;
        if (len > kv->array_bytes - pos - 8) { /* open() walked this array: cannot happen */
            free(s);
            return qr_error(err, QRANK_E_FORMAT, "key %s: element %llu is malformed",
                            printable(kv->key.ptr, kv->key.len, nb), (unsigned long long)i);
        }
        s[i].ptr = (const char *)kv->array_data + pos + 8;
        s[i].len = (size_t)len;
        pos += 8 + (size_t)len;
    }
    *out = s;
    return QRANK_OK;
}

int qr_gguf_array_i32(const qr_gguf_kv *kv, int32_t **out, qrank_error *err) {
    *out = NULL;
    char nb[96];
    int rc = check_array(kv, err);
    if (rc) return rc;
    uint32_t et = kv->elem_type;
    size_t es = scalar_size(et);
    if (es == 0 || et == QR_GGUF_FLOAT32 || et == QR_GGUF_FLOAT64)
        return qr_error(err, QRANK_E_FORMAT, "key %s is an array of %s, expected integers",
                        printable(kv->key.ptr, kv->key.len, nb), type_name(et));
    int32_t *v = malloc((size_t)(kv->n_elems ? kv->n_elems : 1) * sizeof *v);
    if (!v) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %llu integers",
                            (unsigned long long)kv->n_elems);
    for (uint64_t i = 0; i < kv->n_elems; i++) {
        uint64_t raw = load_le(kv->array_data + i * es, es);
        int64_t x;
        switch (et) {
        case QR_GGUF_INT8: x = (int8_t)(uint8_t)raw; break;
        case QR_GGUF_INT16: x = (int16_t)(uint16_t)raw; break;
        case QR_GGUF_INT32: x = (int32_t)(uint32_t)raw; break;
        case QR_GGUF_INT64: x = (int64_t)raw; break;
        default: x = raw > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)raw; break;
        }
        if (x < INT32_MIN || x > INT32_MAX) {
            free(v);
            return qr_error(err, QRANK_E_FORMAT, "key %s: element %llu = %lld does not fit int32",
                            printable(kv->key.ptr, kv->key.len, nb), (unsigned long long)i,
                            (long long)x);
        }
        v[i] = (int32_t)x;
    }
    *out = v;
    return QRANK_OK;
}

size_t qr_gguf_n_tensors(const qr_gguf *g) { return g->n_tensors; }

const qr_tensor *qr_gguf_tensor_at(const qr_gguf *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

static void pool_name_of(const void *ctx, size_t i, const char **ptr, size_t *len) {
    const qr_tensor *t = ctx;
    *ptr = t[i].name;
    *len = strlen(t[i].name);
}

const qr_tensor *qr_gguf_tensor(const qr_gguf *g, const char *name) {
    size_t i = qr_name_table_find(&g->tensor_index, "", 0, name, strlen(name), pool_name_of,
                                  g->tensors);
    return i == SIZE_MAX ? NULL : &g->tensors[i];
}
