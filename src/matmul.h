/* matmul.h - Y = X . W^T over all compute threads. */
#ifndef QRANK_MATMUL_H
#define QRANK_MATMUL_H

#include "kernels/kernels.h"
#include "qrank.h"

/* Y[n_rows][W->ne[1]] = X[n_rows][W->ne[0]] . W^T (rows of X and Y are
 * contiguous). In QRANK_PRECISION_FAST the activations are rounded to the
 * weights' type when the kernel table has a native kernel for it. */
int qr_matmul(const qr_kernels *k, int n_threads, qrank_precision precision, const qr_tensor *w,
              const float *x, int64_t n_rows, float *y, qrank_error *err);
/* The same for n_w (at most 4) matrices of one input X: Y_i = X . W_i^T.
 * Matrices of the same type and input width share one quantisation of X
 * and one split of all their columns over the threads. */
int qr_matmul_n(const qr_kernels *k, int n_threads, qrank_precision precision, int n_w,
                const qr_tensor *const *ws, const float *x, int64_t n_rows, float *const *ys, qrank_error *err);
/* How many 16-column slices go to a thread at a time when n_slices are
 * split over n_threads (matmul.c says why): an even number, about 8 runs
 * per thread, all of them for one thread. bench-kernels splits the same way. */
int64_t qr_matmul_run_slices(int64_t n_slices, int n_threads);

#endif
