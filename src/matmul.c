/* matmul.c - splits one matrix multiplication over the compute threads.
 *
 * The output columns (weight rows) are divided among threads so that every
 * thread streams a disjoint slice of the weights once while all activation
 * rows stay hot in cache; activations are quantised once, before the split,
 * for the fast paths. */
#include "matmul.h"

#include <omp.h>
#include <stdlib.h>

#include "error.h"
#include "kernels/q8_0x16.h"

int qr_matmul(const qr_kernels *k, int n_threads, qrank_precision precision, const qr_tensor *w,
              const float *x, int64_t n_rows, float *y, qrank_error *err) {
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    if (n_rows <= 0) return QRANK_OK;
    qr_gemm_fn gemm = k->gemm_f32;
    qr_acts acts = {QR_TYPE_F32, NULL, 0, 0};
    void *scratch = NULL;
    if (precision == QRANK_PRECISION_FAST) {
        if (w->type == QR_TYPE_Q8_0 && k->gemm_q8_0 && n_in % QR_QK8_0 == 0) {
            acts.type = QR_TYPE_Q8_0;
            acts.q8u = k->quantize_q8u != NULL;
            acts.row_bytes = acts.q8u ? qr_q8u_row_bytes(n_in) : qr_row_bytes(QR_TYPE_Q8_0, n_in);
            gemm = k->gemm_q8_0;
        } else if (w->type == QR_TYPE_BF16 && k->gemm_bf16) {
            acts.type = QR_TYPE_BF16;
            acts.row_bytes = (size_t)n_in * 2;
            gemm = k->gemm_bf16;
        }
        if (acts.type != QR_TYPE_F32) {
            scratch = malloc(acts.row_bytes * (size_t)n_rows);
            if (!scratch) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for activations");
#pragma omp parallel for num_threads(n_threads) schedule(static)
            for (int64_t r = 0; r < n_rows; r++) {
                void *dst = (char *)scratch + (size_t)r * acts.row_bytes;
                if (acts.q8u)
                    k->quantize_q8u(x + r * n_in, dst, n_in);
                else if (acts.type == QR_TYPE_Q8_0)
                    k->quantize_q8_0(x + r * n_in, dst, n_in);
                else
                    k->to_bf16(x + r * n_in, dst, n_in);
            }
            acts.data = scratch;
        }
    }
    /* Slices of 16 output columns keep SIMD kernels on whole tiles. */
    const int64_t n_slices = (n_out + 15) / 16;
    int nt = n_threads < 1 ? 1 : n_threads;
    if (nt > n_slices) nt = (int)n_slices;
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        const int64_t s0 = n_slices * t / T, s1 = n_slices * (t + 1) / T;
        const int64_t o0 = s0 * 16, o1 = s1 * 16 < n_out ? s1 * 16 : n_out;
        if (o0 < o1) gemm(w, x, &acts, n_rows, n_in, y, n_out, o0, o1);
    }
    free(scratch);
    return QRANK_OK;
}
