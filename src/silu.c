/* silu.c - SiLU(gate) * up over a chunk's whole FFN activations.
 *
 * One exponential per FFN value (3072 per token for the 0.6B model) made
 * expf calls a visible share of a forward pass; qr_v16_exp does sixteen at
 * once. Built for AVX-512, AVX2 and plain x86-64 (target_clones). */
#include "silu.h"

#include "vec16.h"

__attribute__((target_clones("avx512f", "avx2", "default"))) static void silu_mul_range(float *gate, const float *up,
                                                                                      int64_t n) {
    int64_t i = 0;
    const qr_v16 one = QR_V16_SPLAT(1.0f);
    for (; i + 16 <= n; i += 16) {
        const qr_v16 g = QR_V16_LOAD(gate + i);
        qr_v16 e = -g;
        qr_v16_exp(&e);
        QR_V16_STORE(gate + i, g / (one + e) * QR_V16_LOAD(up + i));
    }
    if (i < n) { /* the tail through the same vector code, via a padded copy */
        float g[16] = {0}, u[16] = {0};
        for (int64_t j = i; j < n; j++) {
            g[j - i] = gate[j];
            u[j - i] = up[j];
        }
        const qr_v16 gv = QR_V16_LOAD(g);
        qr_v16 e = -gv;
        qr_v16_exp(&e);
        QR_V16_STORE(g, gv / (one + e) * QR_V16_LOAD(u));
        for (int64_t j = i; j < n; j++) gate[j] = g[j - i];
    }
}

void qr_silu_mul(float *gate, const float *up, int64_t n, int n_threads) {
    enum { PIECE = 4096 };
    const int64_t pieces = (n + PIECE - 1) / PIECE;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t p = 0; p < pieces; p++) {
        const int64_t a = p * PIECE, b = a + PIECE < n ? a + PIECE : n;
        silu_mul_range(gate + a, up + a, b - a);
    }
}
