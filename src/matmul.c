/* matmul.c - splits matrix multiplications over the compute threads.
 *
 * The output columns (weight rows) are divided among threads so that every
 * thread streams a disjoint slice of the weights once while all activation
 * rows stay hot in cache; activations are quantised once, before the split,
 * for the fast paths. Several matrices that read the same X (keys and
 * values, gate and up) go through one call: one quantisation and one
 * parallel region over all their columns. */
#include "matmul.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"
#include "kernels/acts.h"
#include "packing.h"

static int all_packed(const qr_tensor *const *ws, int n_w) {
    for (int i = 0; i < n_w; i++)
        if (!ws[i]->packed) return 0;
    return 1;
}

int qr_matmul_n(const qr_kernels *k, int n_threads, qrank_precision precision, int n_w,
                const qr_tensor *const *ws_in, const float *x, int64_t n_rows, float *const *ys, qrank_error *err) {
    if (n_rows <= 0 || n_w <= 0) return QRANK_OK;
    enum { MAX_W = 4 };
    if (n_w > MAX_W) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_matmul_n takes at most %d matrices", MAX_W);
    /* the model's packed copies, made now if this is the fast call to make
     * them; an exact call reads those already made */
    qr_tensor with_packed[MAX_W];
    const qr_tensor *ws[MAX_W];
    for (int i = 0; i < n_w; i++)
        ws[i] = precision == QRANK_PRECISION_FAST ? qr_pack_use(k, n_threads, ws_in[i], &with_packed[i])
                                                  : qr_pack_made(ws_in[i], &with_packed[i]);
    const int64_t n_in = ws[0]->ne[0];
    for (int i = 1; i < n_w; i++)
        if (ws[i]->ne[0] != n_in || ws[i]->type != ws[0]->type) { /* nothing to share: one at a time */
            for (int j = 0; j < n_w; j++) {
                const int rc = qr_matmul_n(k, n_threads, precision, 1, &ws[j], x, n_rows, &ys[j], err);
                if (rc) return rc;
            }
            return QRANK_OK;
        }
    const qr_tensor *w0 = ws[0];
    qr_gemm_fn gemm = k->gemm_f32;
    qr_acts acts = {QR_TYPE_F32, NULL, 0, 0, 0};
    void *scratch = NULL;
    if (precision == QRANK_PRECISION_FAST) {
        const qr_gemm_fn fast = qr_acts_plan(k, w0->type, all_packed(ws, n_w), n_in, &acts);
        if (fast) gemm = fast;
        if (acts.type != QR_TYPE_F32) {
            scratch = malloc(acts.row_bytes * (size_t)n_rows);
            if (!scratch) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for activations");
            /* Rounding to int8 or bf16 would turn a NaN or an infinity (corrupt
             * weights upstream) into ordinary numbers, and the score would
             * come out finite and wrong: stop here instead. The exact path
             * carries them through to the score, which rerank.c checks. */
            int bad = 0;
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(| : bad)
            for (int64_t r = 0; r < n_rows; r++)
                bad |= qr_acts_write_row(k, &acts, x + r * n_in, (char *)scratch + (size_t)r * acts.row_bytes, n_in);
            acts.data = scratch;
            if (bad) {
                free(scratch);
                return qr_error(err, QRANK_E_FORMAT, "the model computed a non-finite value: its weights are "
                                                     "probably corrupt");
            }
        }
    }
    /* Slices of 16 output columns keep SIMD kernels on whole tiles; the
     * matrices' slices are numbered one after another and cut into runs
     * (an even number of slices: the kernels' tiles are 32 columns wide),
     * about 8 per thread, handed out as threads come free. A core that runs
     * slower than the others (a busy SMT sibling, an efficiency core, a VM's
     * shared vCPU) then takes fewer runs instead of holding the rest at the
     * end of the region: on this project's 2-core Intel VM one vCPU ran the
     * AMX kernel 30-45% slower, whichever thread it held. Each column's
     * result does not depend on the run it falls in. */
    int64_t first_slice[MAX_W + 1];
    first_slice[0] = 0;
    for (int i = 0; i < n_w; i++) first_slice[i + 1] = first_slice[i] + (ws[i]->ne[1] + 15) / 16;
    const int64_t n_slices = first_slice[n_w];
    int nt = n_threads < 1 ? 1 : n_threads;
    if (nt > n_slices) nt = (int)n_slices;
    const int64_t run = qr_matmul_run_slices(n_slices, nt);
    const int64_t n_runs = (n_slices + run - 1) / run;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t ri = 0; ri < n_runs; ri++) {
        const int64_t s0 = ri * run, s1 = s0 + run < n_slices ? s0 + run : n_slices;
        for (int i = 0; i < n_w; i++) {
            const int64_t a = s0 > first_slice[i] ? s0 : first_slice[i];
            const int64_t b = s1 < first_slice[i + 1] ? s1 : first_slice[i + 1];
            if (a >= b) continue;
            const int64_t n_out = ws[i]->ne[1];
            const int64_t o0 = (a - first_slice[i]) * 16, o1 = (b - first_slice[i]) * 16 < n_out ? (b - first_slice[i]) * 16 : n_out;
            if (o0 < o1) gemm(ws[i], x, &acts, n_rows, n_in, ys[i], n_out, o0, o1);
        }
    }
    free(scratch);
    return QRANK_OK;
}

int64_t qr_matmul_run_slices(int64_t n_slices, int n_threads) {
    int64_t run = n_threads <= 1 ? n_slices : (n_slices + 8 * n_threads - 1) / (8 * n_threads);
    return run + run % 2;
}

int qr_matmul(const qr_kernels *k, int n_threads, qrank_precision precision, const qr_tensor *w,
              const float *x, int64_t n_rows, float *y, qrank_error *err) {
    return qr_matmul_n(k, n_threads, precision, 1, &w, x, n_rows, &y, err);
}
