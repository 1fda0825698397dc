/* silu.h - the MLP's gate: SiLU(gate) * up. */
#ifndef QRANK_SILU_H
#define QRANK_SILU_H

#include <stdint.h>

/* gate[i] = gate[i] / (1 + e^-gate[i]) * up[i] for i < n, on n_threads,
 * in the build for vectors of `lanes` floats (a qr_kernels table's
 * f32_lanes: 16, 8, or anything else for the baseline's 4). */
void qr_silu_mul(float *gate, const float *up, int64_t n, int lanes, int n_threads);

/* silu_body.h's builds: _avx512 needs the avx512 table's CPU, _avx2 the
 * avx2 table's (kernels/dispatch.c). */
void qr_silu_mul_range_avx512(float *gate, const float *up, int64_t n);
void qr_silu_mul_range_avx2(float *gate, const float *up, int64_t n);
void qr_silu_mul_range_generic(float *gate, const float *up, int64_t n);

#endif
