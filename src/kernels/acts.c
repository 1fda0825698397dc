/* acts.c - see acts.h. */
#include "acts.h"

#include <string.h>

#include "q8_0x16.h"
#include "q8x16k.h"

qr_gemm_fn qr_acts_plan(const qr_kernels *k, qr_type wtype, int packed, int64_t n_in, qr_acts *acts) {
    *acts = (qr_acts){QR_TYPE_F32, NULL, 0, 0, 0};
    if (wtype == QR_TYPE_Q8_0 && k->gemm_q8_0 && n_in % QR_QK8_0 == 0) {
        acts->type = QR_TYPE_Q8_0;
        acts->q8w = k->quantize_q8w != NULL;
        acts->q8u = !acts->q8w && k->quantize_q8u != NULL;
        acts->row_bytes = acts->q8w   ? qr_q8w_row_bytes(n_in)
                          : acts->q8u ? qr_q8u_row_bytes(n_in)
                                      : qr_row_bytes(QR_TYPE_Q8_0, n_in);
        return k->gemm_q8_0;
    }
    if (qr_q8x16k_type(wtype) && packed && k->gemm_kq && k->quantize_q8u) {
        acts->type = QR_TYPE_Q8_0; /* int8 activations, as for Q8_0 weights */
        acts->q8u = 1;
        acts->row_bytes = qr_q8u_row_bytes(n_in);
        return k->gemm_kq;
    }
    if ((wtype == QR_TYPE_BF16 && k->gemm_bf16) || (wtype == QR_TYPE_F16 && k->gemm_f16 && n_in % 32 == 0)) {
        acts->type = QR_TYPE_BF16;
        acts->row_bytes = (size_t)n_in * 2;
        return wtype == QR_TYPE_BF16 ? k->gemm_bf16 : k->gemm_f16;
    }
    return NULL;
}

/* 1 when x[0..n) holds an infinity or a NaN: the exponent bits all set.
 * On bits so that the loop vectorises (no float compare order to keep). */
static int has_nonfinite(const float *x, int64_t n) {
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        any |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return any != 0;
}

int qr_acts_write_row(const qr_kernels *k, const qr_acts *acts, const float *x, void *dst, int64_t n) {
    if (acts->q8w) return k->quantize_q8w(x, dst, n); /* these two check as they go */
    if (acts->q8u) return k->quantize_q8u(x, dst, n);
    if (acts->type == QR_TYPE_Q8_0)
        k->quantize_q8_0(x, dst, n);
    else
        k->to_bf16(x, dst, n);
    return has_nonfinite(x, n);
}
