/* generic.c - the plain-C reference kernels.
 *
 * Written for obviousness, not speed: the ISA files must agree with these
 * (tests/test-kernels.c). The exact path widens a few weight rows at a time
 * into f32 and reuses them for every activation row, which is all the
 * blocking it does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "q8x16k.h"

enum { W_TILE = 8 };

void qr_gemm_f32_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                         int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)xq;
    const int64_t n_in = w->ne[0];
    float *wbuf = malloc(sizeof(float) * (size_t)(n_in * W_TILE));
    if (!wbuf) abort(); /* a few KB per thread; matmul.c reserves memory up front */
    for (int64_t o0 = o_begin; o0 < o_end; o0 += W_TILE) {
        const int64_t nt = o_end - o0 < W_TILE ? o_end - o0 : W_TILE;
        for (int64_t t = 0; t < nt; t++) qr_dequantize_row(w, o0 + t, wbuf + t * n_in);
        for (int64_t r = 0; r < n_rows; r++) {
            const float *xr = x + r * ldx;
            for (int64_t t = 0; t < nt; t++) {
                const float *wr = wbuf + t * n_in;
                float sum = 0.0f;
                for (int64_t i = 0; i < n_in; i++) sum += xr[i] * wr[i];
                y[r * ldy + o0 + t] = sum;
            }
        }
    }
    free(wbuf);
}

void qr_gemm_q8_0_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                          int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t nb = w->ne[0] / QR_QK8_0;
    const size_t wrow = qr_row_bytes(QR_TYPE_Q8_0, w->ne[0]);
    for (int64_t o = o_begin; o < o_end; o++) {
        const qr_block_q8_0 *wb = (const qr_block_q8_0 *)((const uint8_t *)w->data + (size_t)o * wrow);
        for (int64_t r = 0; r < n_rows; r++) {
            const qr_block_q8_0 *xb =
                (const qr_block_q8_0 *)((const uint8_t *)xq->data + (size_t)r * xq->row_bytes);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int32_t isum = 0;
                for (int j = 0; j < QR_QK8_0; j++) isum += (int32_t)wb[b].qs[j] * (int32_t)xb[b].qs[j];
                sum += (float)isum * (qr_f16_to_f32(wb[b].d) * qr_f16_to_f32(xb[b].d));
            }
            y[r * ldy + o] = sum;
        }
    }
}

void qr_gemm_kq_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t nb = w->ne[0] / 32;
    for (int64_t o = o_begin; o < o_end; o++) {
        for (int64_t r = 0; r < n_rows; r++) {
            const qr_block_q8_0 *xb =
                (const qr_block_q8_0 *)((const uint8_t *)xq->data + (size_t)r * xq->row_bytes);
            double sum = 0.0;
            for (int64_t b = 0; b < nb; b++) {
                int8_t q[32];
                float scale[32], negmn;
                qr_q8x16k_block_of(w, o, b, q, scale, &negmn);
                double dot = 0.0;
                for (int i = 0; i < 32; i++)
                    dot += (double)xb[b].qs[i] * ((double)scale[i] * q[i] + negmn);
                sum += dot * qr_f16_to_f32(xb[b].d);
            }
            y[r * ldy + o] = (float)sum;
        }
    }
}

void qr_gemm_bf16_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                          int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end) {
    (void)x;
    (void)ldx;
    const int64_t n_in = w->ne[0];
    for (int64_t o = o_begin; o < o_end; o++) {
        const uint16_t *wr = (const uint16_t *)w->data + (size_t)o * (size_t)n_in;
        for (int64_t r = 0; r < n_rows; r++) {
            const uint16_t *xr = (const uint16_t *)((const uint8_t *)xq->data + (size_t)r * xq->row_bytes);
            float sum = 0.0f;
            for (int64_t i = 0; i < n_in; i++) sum += qr_bf16_to_f32(wr[i]) * qr_bf16_to_f32(xr[i]);
            y[r * ldy + o] = sum;
        }
    }
}

void qr_quantize_q8_0_generic(const float *x, void *out, int64_t n) {
    qr_block_q8_0 *b = out;
    for (int64_t i = 0; i < n / QR_QK8_0; i++) {
        const float *xb = x + i * QR_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QR_QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = qr_f32_to_f16(d);
        for (int j = 0; j < QR_QK8_0; j++) b[i].qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

void qr_to_bf16_generic(const float *x, uint16_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = qr_f32_to_bf16(x[i]);
}
