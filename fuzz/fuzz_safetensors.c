/* fuzz_safetensors.c - libFuzzer target: qr_safetensors_parse over hostile
 * bytes (the 8-byte header length, the JSON header, the data section).
 *
 * Like the GGUF target, it walks everything an opened file hands out: each
 * tensor must lie inside the buffer and hold its rows, and its first and last
 * rows are read, so AddressSanitizer catches any view past the end. */
#include <stdint.h>
#include <stdlib.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qr_safetensors *st = NULL;
    qrank_error err = {0};
    if (qr_safetensors_parse(data, size, &st, &err) != QRANK_OK)
        return 0;
    for (size_t i = 0; i < qr_safetensors_n_tensors(st); i++) {
        const qr_tensor *t = qr_safetensors_tensor_at(st, i);
        const uint8_t *p = t->data;
        if (t->nbytes > 0 && (p < data || p > data + size || t->nbytes > (size_t)(data + size - p)))
            abort();
        if (!qr_safetensors_tensor(st, t->name))
            abort();
        int64_t rows = qr_tensor_rows(t);
        size_t row_bytes = qr_row_bytes(t->type, t->ne[0]);
        if (row_bytes == 0 || rows <= 0 || t->ne[0] > (1 << 24))
            continue;
        if ((size_t)rows > t->nbytes / row_bytes)
            abort();
        float *row = malloc((size_t)t->ne[0] * sizeof(float));
        if (!row)
            continue;
        qr_dequantize_row(t, 0, row);
        qr_dequantize_row(t, rows - 1, row);
        free(row);
    }
    qr_safetensors_close(st);
    return 0;
}
