/* silu_body.h - SiLU(gate) * up over a piece of the FFN activations,
 * written once for vectors of QR_VEC_W lanes (vec.h) and built per ISA by
 * vec_avx512.c, vec_avx2.c and vec_generic.c; silu.c splits the work. */
#include <stdint.h>

#include "silu.h"
#include "vec.h"

void QR_VEC_FN(qr_silu_mul_range)(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    const qr_vf one = QR_VF_SPLAT(1.0f);
    for (; i + QR_VEC_W <= n; i += QR_VEC_W) {
        const qr_vf g = QR_VF_LOAD(gate + i);
        qr_vf e = -g;
        qr_vf_exp(&e);
        QR_VF_STORE(gate + i, g / (one + e) * QR_VF_LOAD(up + i));
    }
    if (i < n) { /* the tail through the same vector code, via a padded copy */
        float g[QR_VEC_W] = {0}, u[QR_VEC_W] = {0};
        for (int64_t j = i; j < n; j++) {
            g[j - i] = gate[j];
            u[j - i] = up[j];
        }
        const qr_vf gv = QR_VF_LOAD(g);
        qr_vf e = -gv;
        qr_vf_exp(&e);
        QR_VF_STORE(g, gv / (one + e) * QR_VF_LOAD(u));
        for (int64_t j = i; j < n; j++) gate[j] = g[j - i];
    }
}
