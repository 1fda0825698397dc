/* silu.h - the MLP's gate: SiLU(gate) * up. */
#ifndef QRANK_SILU_H
#define QRANK_SILU_H

#include <stdint.h>

/* gate[i] = gate[i] / (1 + e^-gate[i]) * up[i] for i < n, on n_threads. */
void qr_silu_mul(float *gate, const float *up, int64_t n, int n_threads);

#endif
