/* silu.c - SiLU(gate) * up over a chunk's whole FFN activations.
 *
 * One exponential per FFN value (3072 per token for the 0.6B model) made
 * expf calls a visible share of a forward pass; qr_vf_exp does a vector of
 * them at once, in silu_body.h's build for the kernel table's width. */
#include "silu.h"

void qr_silu_mul(float *gate, const float *up, int64_t n, int lanes, int n_threads) {
    enum { PIECE = 4096 };
    void (*const range)(float *, const float *, int64_t) = lanes == 16  ? qr_silu_mul_range_avx512
                                                           : lanes == 8 ? qr_silu_mul_range_avx2
                                                                        : qr_silu_mul_range_generic;
    const int64_t pieces = (n + PIECE - 1) / PIECE;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t p = 0; p < pieces; p++) {
        const int64_t a = p * PIECE, b = a + PIECE < n ? a + PIECE : n;
        range(gate + a, up + a, b - a);
    }
}
