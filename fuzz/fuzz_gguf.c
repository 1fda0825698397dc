/* fuzz_gguf.c - libFuzzer target: qr_gguf_open_memory over hostile bytes.
 *
 * A GGUF file comes from the internet, so every byte of it is the attacker's.
 * The reader promises that once a file opens, every key, array and tensor it
 * hands out lies inside the file; this target takes that promise at its word
 * and walks everything (string arrays, integer arrays, the first and last row
 * of every tensor), so AddressSanitizer sees any view that points outside the
 * buffer. libFuzzer's buffer has the input's exact size, so one byte past
 * the end is caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static void walk_tensor(const qr_tensor *t, const uint8_t *data, size_t size) {
    const uint8_t *p = t->data;
    if (t->nbytes > 0 && (p < data || p > data + size || t->nbytes > (size_t)(data + size - p)))
        abort(); /* a tensor outside the file */
    if (t->n_dims < 1 || t->n_dims > 4)
        abort();
    int64_t rows = qr_tensor_rows(t);
    size_t row_bytes = qr_row_bytes(t->type, t->ne[0]);
    if (row_bytes == 0 || rows <= 0 || t->ne[0] > (1 << 24))
        return;
    if ((size_t)rows > t->nbytes / row_bytes)
        abort(); /* rows that the tensor's bytes cannot hold */
    float *row = malloc((size_t)t->ne[0] * sizeof(float));
    if (!row)
        return;
    qr_dequantize_row(t, 0, row);
    qr_dequantize_row(t, rows - 1, row);
    free(row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qr_gguf *g = NULL;
    qrank_error err = {0};
    if (qr_gguf_open_memory(data, size, &g, &err) != QRANK_OK)
        return 0;
    for (size_t i = 0; i < qr_gguf_n_kv(g); i++) {
        const qr_gguf_kv *kv = qr_gguf_kv_at(g, i);
        if (kv->type == QR_GGUF_STRING && kv->v.str.len > 0)
            (void)((const volatile char *)kv->v.str.ptr)[kv->v.str.len - 1];
        if (kv->type != QR_GGUF_ARRAY)
            continue;
        if (kv->elem_type == QR_GGUF_STRING) {
            qr_str *strs = NULL;
            if (qr_gguf_array_strings(kv, &strs, &err) == QRANK_OK) {
                for (uint64_t k = 0; k < kv->n_elems; k++)
                    if (strs[k].len > 0)
                        (void)((const volatile char *)strs[k].ptr)[strs[k].len - 1];
                free(strs);
            }
        } else {
            int32_t *ints = NULL;
            if (qr_gguf_array_i32(kv, &ints, &err) == QRANK_OK)
                free(ints);
        }
    }
    uint64_t u;
    double f;
    qr_str s;
    qr_gguf_get_u64(g, "qwen3.block_count", 1, &u, &err);
    qr_gguf_get_f64(g, "qwen3.rope.freq_base", 1, &f, &err);
    qr_gguf_get_str(g, "general.architecture", 1, &s, &err);
    for (size_t i = 0; i < qr_gguf_n_tensors(g); i++) {
        const qr_tensor *t = qr_gguf_tensor_at(g, i);
        walk_tensor(t, data, size);
        if (qr_gguf_tensor(g, t->name) == NULL)
            abort(); /* a listed tensor that lookup cannot find */
    }
    qr_gguf_close(g);
    return 0;
}
