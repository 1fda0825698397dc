/* q8_0x16.c - packs a whole Q8_0 tensor into the q8_0x16 layout, once per model.
 *
 * Plain C on purpose: it runs once per model, it is the readable statement
 * of the layout that the SIMD kernels' own on-the-fly packers must match, and
 * it has to run on any x86-64 before a variant is known to work. */
#include "q8_0x16.h"

#include <string.h>

size_t qr_q8_0x16_size(const qr_tensor *w) {
    if (w->type != QR_TYPE_Q8_0 || w->ne[0] <= 0 || w->ne[0] % QR_QK8_0) return 0;
    const int64_t rows = qr_tensor_rows(w);
    if (rows <= 0) return 0;
    const size_t groups = (size_t)((rows + 15) / 16), blocks = (size_t)(w->ne[0] / QR_QK8_0);
    if (groups > SIZE_MAX / sizeof(qr_q8_0x16) / blocks) return 0;
    return groups * blocks * sizeof(qr_q8_0x16);
}

void qr_q8_0x16_pack(const qr_tensor *w, void *dst) {
    const int64_t rows = qr_tensor_rows(w), nb = w->ne[0] / QR_QK8_0;
    const size_t row_bytes = qr_row_bytes(QR_TYPE_Q8_0, w->ne[0]);
    qr_q8_0x16 *out = dst;
    for (int64_t g = 0; g < (rows + 15) / 16; g++) {
        for (int64_t b = 0; b < nb; b++) {
            qr_q8_0x16 *p = &out[g * nb + b];
            memset(p, 0, sizeof *p);
            for (int j = 0; j < 16 && g * 16 + j < rows; j++) {
                const qr_block_q8_0 *blk =
                    (const qr_block_q8_0 *)((const uint8_t *)w->data + (size_t)(g * 16 + j) * row_bytes) + b;
                for (int k = 0; k < 8; k++) memcpy(&p->qs[k][j * 4], &blk->qs[k * 4], 4);
                int sum = 0;
                for (int i = 0; i < QR_QK8_0; i++) sum += blk->qs[i];
                p->negsum[j] = (int16_t)-sum;
                p->d[j] = blk->d;
            }
        }
    }
}

void qr_q8u_from_q8_0(const void *q8_0, void *out, int64_t n) {
    const qr_block_q8_0 *blk = q8_0;
    const int64_t nb = n / QR_QK8_0;
    uint8_t *q = out, *d = q + nb * QR_QK8_0, *sums = d + 4 * nb;
    for (int64_t b = 0; b < nb; b++) {
        int sum = 0;
        for (int j = 0; j < QR_QK8_0; j++) {
            q[b * QR_QK8_0 + j] = (uint8_t)(blk[b].qs[j] + 128);
            sum += blk[b].qs[j];
        }
        const float f = qr_f16_to_f32(blk[b].d), fs = (float)sum;
        memcpy(d + 4 * b, &f, 4);
        memcpy(sums + 4 * b, &fs, 4);
    }
}

void qr_q8w_from_q8_0(const void *q8_0, void *out, int64_t n) {
    const qr_block_q8_0 *blk = q8_0;
    const int64_t nb = n / QR_QK8_0;
    uint8_t *q = out, *d = q + 2 * n;
    for (int64_t b = 0; b < nb; b++) {
        for (int j = 0; j < QR_QK8_0; j++) {
            const int16_t v = blk[b].qs[j];
            memcpy(q + 2 * (b * QR_QK8_0 + j), &v, 2);
        }
        const float f = qr_f16_to_f32(blk[b].d);
        memcpy(d + 4 * b, &f, 4);
    }
}
