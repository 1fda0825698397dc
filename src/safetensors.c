/* safetensors.c - the safetensors reader behind safetensors.h.
 *
 * A .safetensors file is: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {...}}, then the data area that the offsets are relative to.
 *
 * The header is copied into a NUL-terminated buffer for cJSON (it is a few
 * tens of kilobytes, and cJSON must never see the mapping's unterminated
 * end), parsed, and dropped once every entry has been checked: dtype one of
 * BF16/F16/F32, 1..4 dimensions each >= 1, end - begin equal to the element
 * count times the dtype size, inside the data area, aligned to the dtype size
 * (the engine reads bf16/f32 through typed pointers), and no two tensors
 * overlapping. Shapes are turned around into ggml order (ne[0] = last
 * dimension).
 *
 * A sharded directory becomes one qr_safetensors: the tensors of every shard
 * sit in one array and one name table, and every weight_map entry must be
 * found in the shard it names. Shard names come from a JSON file, so they must
 * be plain names inside the directory: no '/', no "." or "..". */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "mapped_file.h"
#include "name_table.h"

/* The limit the reference implementation enforces on the JSON header. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_INDEX_BYTES ((size_t)64 << 20)
#define ST_MAX_SHARDS 4096
#define ST_MAX_DIMS 4
#define ST_MAX_NAME 1024
#define ST_MAX_EXACT_INT 9007199254740992.0 /* 2^53: doubles above are not exact */

struct qr_safetensors {
    qr_mapped_file *maps;
    size_t n_maps;
    qr_tensor *tensors;
    size_t *tensor_file; /* which file (0..n_files) each tensor came from */
    size_t n_tensors, cap_tensors;
    size_t n_files;
    size_t data_bytes;
    qr_name_table index;
};

/* Names from the file go into messages: keep them short and printable. */
static const char *printable(const char *s, char buf[96]) {
    size_t j = 0, i = 0;
    for (; s[i] && j < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[i]) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

static void tensor_name_of(const void *ctx, size_t i, const char **ptr, size_t *len) {
    const qr_tensor *t = ctx;
    *ptr = t[i].name;
    *len = strlen(t[i].name);
}

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_EXACT_INT || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int dtype_of(const char *s, qr_type *type, size_t *esize) {
    static const struct {
        const char *name;
        qr_type type;
        size_t size;
    } known[] = {{"BF16", QR_TYPE_BF16, 2}, {"F16", QR_TYPE_F16, 2}, {"F32", QR_TYPE_F32, 4}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i].name) == 0) {
            *type = known[i].type;
            *esize = known[i].size;
            return 1;
        }
    return 0;
}

static int grow_tensors(qr_safetensors *st, size_t extra, qrank_error *err) {
    if (st->n_tensors + extra <= st->cap_tensors) return QRANK_OK;
    size_t cap = st->n_tensors + extra;
    qr_tensor *t = realloc(st->tensors, cap * sizeof *t);
    if (!t) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu tensors", cap);
    st->tensors = t;
    size_t *f = realloc(st->tensor_file, cap * sizeof *f);
    if (!f) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu tensors", cap);
    st->tensor_file = f;
    st->cap_tensors = cap;
    return QRANK_OK;
}

/* Checks one header entry and fills t (name excepted). */
static int parse_entry(const cJSON *e, const char *nm, const uint8_t *data_area, size_t data_len,
                       size_t data_start, qr_tensor *t, uint64_t *begin_out, qrank_error *err) {
    if (!cJSON_IsObject(e))
        return qr_error(err, QRANK_E_FORMAT, "tensor %s: header entry is not an object", nm);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dtype))
        return qr_error(err, QRANK_E_FORMAT, "tensor %s: \"dtype\" missing or not a string", nm);
    size_t esize;
    if (!dtype_of(dtype->valuestring, &t->type, &esize)) {
        char db[96];
        return qr_error(err, QRANK_E_FORMAT,
                        "tensor %s: dtype %s is not supported (BF16, F16 and F32 are)", nm,
                        printable(dtype->valuestring, db));
    }
    if (!cJSON_IsArray(shape))
        return qr_error(err, QRANK_E_FORMAT, "tensor %s: \"shape\" missing or not an array", nm);
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > ST_MAX_DIMS)
        return qr_error(err, QRANK_E_FORMAT, "tensor %s: %d dimensions (at most %d)", nm, n_dims,
                        ST_MAX_DIMS);
    /* A scalar (shape []) is one element, kept as a 1-D tensor of 1. */
    t->n_dims = n_dims > 0 ? n_dims : 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    uint64_t n_elems = 1;
    for (int d = 0; d < n_dims; d++) {
        uint64_t v;
        if (!json_uint(cJSON_GetArrayItem(shape, d), &v) || v == 0)
            return qr_error(err, QRANK_E_FORMAT,
                            "tensor %s: shape[%d] is not an integer >= 1 (empty tensors are not "
                            "supported)",
                            nm, d);
        if (v > (uint64_t)INT64_MAX / n_elems)
            return qr_error(err, QRANK_E_FORMAT, "tensor %s: element count overflows", nm);
        n_elems *= v;
        t->ne[n_dims - 1 - d] = (int64_t)v; /* ggml order: innermost first */
    }
    if (n_elems > SIZE_MAX / esize)
        return qr_error(err, QRANK_E_FORMAT, "tensor %s: size in bytes overflows", nm);
    t->nbytes = (size_t)n_elems * esize;
    uint64_t begin = 0, end = 0;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &end))
        return qr_error(err, QRANK_E_FORMAT,
                        "tensor %s: \"data_offsets\" is not a pair of integers >= 0", nm);
    if (begin > end || end > data_len)
        return qr_error(err, QRANK_E_FORMAT,
                        "tensor %s: data_offsets [%llu, %llu] are not inside the data area of "
                        "%zu bytes",
                        nm, (unsigned long long)begin, (unsigned long long)end, data_len);
    if (end - begin != t->nbytes)
        return qr_error(err, QRANK_E_FORMAT,
                        "tensor %s: data_offsets [%llu, %llu] hold %llu bytes but the shape "
                        "needs %zu",
                        nm, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin), t->nbytes);
    if ((data_start + (size_t)begin) % esize != 0)
        return qr_error(err, QRANK_E_FORMAT,
                        "tensor %s: data at file offset %zu is not aligned to its %zu-byte dtype",
                        nm, data_start + (size_t)begin, esize);
    t->data = data_area + begin;
    *begin_out = begin;
    return QRANK_OK;
}

typedef struct span {
    uint64_t begin, end;
    size_t index;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Parses one file's bytes and appends its tensors to st as file file_no. */
static int parse_into(qr_safetensors *st, const uint8_t *data, size_t size, size_t file_no,
                      qrank_error *err) {
    if (size < 8)
        return qr_error(err, QRANK_E_FORMAT,
                        "file is %zu bytes, too small for a safetensors header", size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    if (hlen > size - 8)
        return qr_error(err, QRANK_E_FORMAT,
                        "header length %llu is larger than the rest of the file (%zu bytes)",
                        (unsigned long long)hlen, size - 8);
    if (hlen > ST_MAX_HEADER)
        return qr_error(err, QRANK_E_FORMAT, "header length %llu is over the limit of %llu",
                        (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen < 2) return qr_error(err, QRANK_E_FORMAT, "header of %llu bytes cannot be JSON",
                                  (unsigned long long)hlen);
    if (memchr(data + 8, '\0', (size_t)hlen))
        return qr_error(err, QRANK_E_FORMAT, "header contains a NUL byte");
    char *text = malloc((size_t)hlen + 1);
    if (!text) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the header");
    memcpy(text, data + 8, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    int rc = QRANK_OK;
    if (!root) {
        size_t at = end && end >= text && end <= text + hlen ? (size_t)(end - text) : 0;
        rc = qr_error(err, QRANK_E_FORMAT, "header is not valid JSON (near byte %zu of %llu)", at,
                      (unsigned long long)hlen);
        free(text);
        return rc;
    }
    for (const char *p = end; *p; p++) /* the writer pads the header with spaces */
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = qr_error(err, QRANK_E_FORMAT, "header has bytes after its JSON object (byte %zu)",
                          (size_t)(p - text));
            break;
        }
    if (!rc && !cJSON_IsObject(root))
        rc = qr_error(err, QRANK_E_FORMAT, "header is not a JSON object");
    size_t data_start = 8 + (size_t)hlen, data_len = size - data_start;
    const uint8_t *data_area = data + data_start;
    if (!rc) rc = grow_tensors(st, (size_t)cJSON_GetArraySize(root), err);
    span *spans = NULL;
    if (!rc) {
        spans = malloc(((size_t)cJSON_GetArraySize(root) + 1) * sizeof *spans);
        if (!spans) rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory for tensor offsets");
    }
    size_t n_spans = 0;
    for (const cJSON *e = rc ? NULL : root->child; e; e = e->next) {
        char nb[96];
        const char *nm = printable(e->string, nb);
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e) && !cJSON_IsNull(e)) {
                rc = qr_error(err, QRANK_E_FORMAT, "__metadata__ is not an object");
                break;
            }
            continue;
        }
        size_t len = strlen(e->string);
        if (len == 0 || len > ST_MAX_NAME) {
            rc = qr_error(err, QRANK_E_FORMAT, "tensor name \"%s\" has length %zu, not 1..%d", nm,
                          len, ST_MAX_NAME);
            break;
        }
        qr_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        uint64_t begin = 0;
        rc = parse_entry(e, nm, data_area, data_len, data_start, t, &begin, err);
        if (rc) break;
        char *name = malloc(len + 1);
        if (!name) {
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory for tensor names");
            break;
        }
        memcpy(name, e->string, len + 1);
        t->name = name;
        st->tensor_file[st->n_tensors] = file_no;
        spans[n_spans++] = (span){begin, begin + t->nbytes, st->n_tensors};
        st->n_tensors++;
    }
    if (!rc && n_spans > 1) {
        qsort(spans, n_spans, sizeof *spans, cmp_span);
        for (size_t k = 1; k < n_spans; k++)
            if (spans[k - 1].end > spans[k].begin) {
                char nb[96], nb2[96];
                rc = qr_error(err, QRANK_E_FORMAT,
                              "tensor %s at [%llu, %llu] overlaps tensor %s at [%llu, %llu]",
                              printable(st->tensors[spans[k].index].name, nb),
                              (unsigned long long)spans[k].begin,
                              (unsigned long long)spans[k].end,
                              printable(st->tensors[spans[k - 1].index].name, nb2),
                              (unsigned long long)spans[k - 1].begin,
                              (unsigned long long)spans[k - 1].end);
                break;
            }
    }
    if (!rc) st->data_bytes += data_len;
    free(spans);
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* Builds the name table over every tensor; rejects a name seen twice (in one
 * header, or in two shards). */
static int build_index(qr_safetensors *st, qrank_error *err) {
    if (qr_name_table_init(&st->index, st->n_tensors))
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the tensor index");
    for (size_t i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        size_t dup = qr_name_table_insert(&st->index, i, name, strlen(name), tensor_name_of,
                                          st->tensors);
        if (dup != SIZE_MAX) {
            char nb[96];
            return qr_error(err, QRANK_E_FORMAT, "tensor %s appears twice", printable(name, nb));
        }
    }
    return QRANK_OK;
}

void qr_safetensors_close(qr_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
    for (size_t i = 0; i < st->n_maps; i++) qr_unmap_file(&st->maps[i]);
    free(st->maps);
    free(st->tensors);
    free(st->tensor_file);
    qr_name_table_free(&st->index);
    free(st);
}

int qr_safetensors_parse(const void *data, size_t size, qr_safetensors **out, qrank_error *err) {
    *out = NULL;
    qr_safetensors *st = calloc(1, sizeof *st);
    if (!st) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    int rc = parse_into(st, data, data ? size : 0, 0, err);
    if (!rc) rc = build_index(st, err);
    if (rc) {
        qr_safetensors_close(st);
        return rc;
    }
    st->n_files = 1;
    *out = st;
    return QRANK_OK;
}

void qr_safetensors_drop_pages(const qr_safetensors *st, const void *p, size_t len) {
    for (size_t i = 0; i < st->n_maps; i++) qr_mapped_file_drop(&st->maps[i], p, len);
}

/* Maps path as file number st->n_maps and parses it. */
static int add_file(qr_safetensors *st, const char *path, qrank_error *err) {
    qr_mapped_file *maps = realloc(st->maps, (st->n_maps + 1) * sizeof *maps);
    if (!maps) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    st->maps = maps;
    int rc = qr_map_file(path, &st->maps[st->n_maps], err);
    if (rc) return rc;
    size_t file_no = st->n_maps++;
    rc = parse_into(st, st->maps[file_no].data, st->maps[file_no].size, file_no, err);
    if (rc) return qr_error_prefix(err, rc, "%s", path);
    st->n_files = st->n_maps;
    return QRANK_OK;
}

int qr_safetensors_open_file(const char *path, qr_safetensors **out, qrank_error *err) {
    *out = NULL;
    qr_safetensors *st = calloc(1, sizeof *st);
    if (!st) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    int rc = add_file(st, path, err);
    if (!rc) {
        rc = build_index(st, err);
        if (rc) qr_error_prefix(err, rc, "%s", path);
    }
    if (rc) {
        qr_safetensors_close(st);
        return rc;
    }
    *out = st;
    return QRANK_OK;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int plain_file_name(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n <= 255 && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* Opens the shards named by an index's weight_map, each once in order of first
 * mention, then checks that each mapped tensor is in its shard. */
static int open_sharded(qr_safetensors *st, const char *dir, const char *index_path,
                        qrank_error *err) {
    char *text;
    size_t len;
    int rc = qr_read_small_file(index_path, ST_MAX_INDEX_BYTES, &text, &len, err);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return qr_error(err, QRANK_E_FORMAT, "%s: not a JSON object", index_path);
    }
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return qr_error(err, QRANK_E_FORMAT, "%s: \"weight_map\" missing or not an object",
                        index_path);
    }
    const char **shards = NULL;
    size_t n_shards = 0;
    for (const cJSON *e = map->child; e && !rc; e = e->next) {
        char nb[96], nb2[96];
        if (!cJSON_IsString(e)) {
            rc = qr_error(err, QRANK_E_FORMAT, "%s: weight_map[\"%s\"] is not a string",
                          index_path, printable(e->string, nb));
            break;
        }
        if (!plain_file_name(e->valuestring)) {
            rc = qr_error(err, QRANK_E_FORMAT,
                          "%s: weight_map[\"%s\"] = \"%s\" is not a plain file name in the "
                          "directory",
                          index_path, printable(e->string, nb), printable(e->valuestring, nb2));
            break;
        }
        size_t k = 0;
        while (k < n_shards && strcmp(shards[k], e->valuestring) != 0) k++;
        if (k < n_shards) continue;
        if (n_shards == ST_MAX_SHARDS) {
            rc = qr_error(err, QRANK_E_FORMAT, "%s: more than %d shards", index_path,
                          ST_MAX_SHARDS);
            break;
        }
        const char **grown = realloc(shards, (n_shards + 1) * sizeof *shards);
        if (!grown) {
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
            break;
        }
        shards = grown;
        shards[n_shards++] = e->valuestring;
    }
    if (!rc && n_shards == 0)
        rc = qr_error(err, QRANK_E_FORMAT, "%s: weight_map is empty", index_path);
    for (size_t k = 0; k < n_shards && !rc; k++) {
        char *path = join_path(dir, shards[k]);
        if (!path) {
            rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
            break;
        }
        rc = add_file(st, path, err);
        free(path);
    }
    if (!rc) rc = build_index(st, err);
    for (const cJSON *e = map->child; e && !rc; e = e->next) {
        size_t i = qr_name_table_find(&st->index, "", 0, e->string, strlen(e->string),
                                      tensor_name_of, st->tensors);
        size_t k = 0;
        while (k < n_shards && strcmp(shards[k], e->valuestring) != 0) k++;
        if (i == SIZE_MAX || st->tensor_file[i] != k) {
            char nb[96], nb2[96];
            rc = qr_error(err, QRANK_E_FORMAT, "%s: tensor %s is not in %s", index_path,
                          printable(e->string, nb), printable(e->valuestring, nb2));
        }
    }
    free(shards);
    cJSON_Delete(root);
    return rc;
}

int qr_safetensors_open_dir(const char *dir, qr_safetensors **out, qrank_error *err) {
    *out = NULL;
    qr_safetensors *st = calloc(1, sizeof *st);
    if (!st) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    char *index_path = join_path(dir, "model.safetensors.index.json");
    char *single_path = join_path(dir, "model.safetensors");
    int rc = QRANK_OK;
    struct stat sb;
    if (!index_path || !single_path) {
        rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    } else if (stat(index_path, &sb) == 0) {
        rc = open_sharded(st, dir, index_path, err);
    } else if (errno != ENOENT) {
        int e = errno;
        rc = qr_error(err, QRANK_E_IO, "%s: cannot stat: %s", index_path, strerror(e));
    } else {
        rc = add_file(st, single_path, err);
        if (!rc) rc = build_index(st, err);
    }
    free(index_path);
    free(single_path);
    if (rc) {
        qr_safetensors_close(st);
        return rc;
    }
    *out = st;
    return QRANK_OK;
}

size_t qr_safetensors_n_tensors(const qr_safetensors *st) { return st->n_tensors; }

const qr_tensor *qr_safetensors_tensor_at(const qr_safetensors *st, size_t i) {
    return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const qr_tensor *qr_safetensors_tensor(const qr_safetensors *st, const char *name) {
    static const char prefix[] = "model.";
    const size_t plen = sizeof prefix - 1;
    size_t len = strlen(name);
    size_t i = qr_name_table_find(&st->index, "", 0, name, len, tensor_name_of, st->tensors);
    if (i == SIZE_MAX)
        i = qr_name_table_find(&st->index, prefix, plen, name, len, tensor_name_of, st->tensors);
    if (i == SIZE_MAX && len > plen && memcmp(name, prefix, plen) == 0)
        i = qr_name_table_find(&st->index, "", 0, name + plen, len - plen, tensor_name_of,
                               st->tensors);
    return i == SIZE_MAX ? NULL : &st->tensors[i];
}

size_t qr_safetensors_data_bytes(const qr_safetensors *st) { return st->data_bytes; }
