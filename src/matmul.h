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

#endif
