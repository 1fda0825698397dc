/* acts.h - which activation rows a kernel table's fast matrix
 * multiplication reads, and writing them: one choice for matmul.c and
 * bench-kernels, so that the benchmark times the rows the engine runs on. */
#ifndef QRANK_KERNELS_ACTS_H
#define QRANK_KERNELS_ACTS_H

#include <stdint.h>

#include "kernels.h"

/* The fast path of table k for weights of type wtype with rows of n_in
 * values (packed: the weights have k's packed copy, which the k-quant
 * kernels need). Sets *acts' type, row_bytes and layout flags (data NULL)
 * and returns the kernel; or, where the table has none for these weights,
 * sets *acts to F32 and returns NULL (gemm_f32 then reads X itself).
 *
 * Int8 rows are q8w for Q8_0 weights where the table has quantize_q8w
 * (AVX2 without VNNI), else q8u where it has quantize_q8u, which the
 * k-quant kernels need; else Q8_0 blocks. BF16 weights get bf16 rows, and
 * so do F16 weights where the table multiplies those on bf16 (amx). */
qr_gemm_fn qr_acts_plan(const qr_kernels *k, qr_type wtype, int packed, int64_t n_in, qr_acts *acts);

/* Writes x[0..n) at dst in the layout of acts (from qr_acts_plan, not F32).
 * Returns 1 when x holds a NaN or an infinity, which rounding would turn
 * into ordinary numbers: the caller stops there. */
int qr_acts_write_row(const qr_kernels *k, const qr_acts *acts, const float *x, void *dst, int64_t n);

#endif
