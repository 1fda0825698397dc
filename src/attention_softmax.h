/* attention_softmax.h - the online softmax step of one 16-query block,
 * shared by the f32 (attention.c) and the vdpbf16ps
 * (attention_avx512_bf16.c) paths, which both keep a block's scores with
 * the queries in the lanes: p[j * 16 + lane] is query lane's scaled score
 * of key k0 + j. */
#ifndef QRANK_ATTENTION_SOFTMAX_H
#define QRANK_ATTENTION_SOFTMAX_H

#include <math.h>
#include <stdint.h>

#include "vec16.h"

/* Masks the keys each query cannot see (key k0 + j is seen by the lanes
 * with limit0 + lane >= k0 + j), replaces the nk scores by e^(s - max),
 * and updates the running max *mx and sum *sum; *corr gets the factor for
 * what was summed under the old max. Always inlined, so it is built for
 * the ISA of its caller. */
static inline __attribute__((always_inline)) void qr_att_softmax16(float *p, int nk, int64_t k0, int64_t limit0,
                                                                   qr_v16 *mx, qr_v16 *sum, qr_v16 *corr) {
    const qr_v16 lanef = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const qr_v16 neg_inf = QR_V16_SPLAT(-INFINITY), zero = QR_V16_SPLAT(0.0f);
    /* Only a chunk that crosses the diagonal needs a mask. Lanes past the
     * block (lane >= n) run on zero queries and are never written out:
     * they need none. The threshold is compared as a float (exact below
     * 2^24) because GCC turned the int64-to-lane compare into sixteen
     * scalar selects. */
    qr_v16 bm = neg_inf;
    int j;
    if (k0 + nk - 1 > limit0) {
        for (j = 0; j < nk; j++) {
            const qr_v16 first = QR_V16_SPLAT((float)(k0 + j - limit0));
            const qr_v16 sj = QR_V16_SELECT(lanef >= first, QR_V16_LOAD(p + j * 16), neg_inf);
            QR_V16_STORE(p + j * 16, sj);
            bm = QR_V16_MAX(bm, sj);
        }
    } else {
        qr_v16 bm2 = neg_inf;
        for (j = 0; j + 2 <= nk; j += 2) {
            bm = QR_V16_MAX(bm, QR_V16_LOAD(p + j * 16));
            bm2 = QR_V16_MAX(bm2, QR_V16_LOAD(p + (j + 1) * 16));
        }
        if (j < nk) bm = QR_V16_MAX(bm, QR_V16_LOAD(p + j * 16));
        bm = QR_V16_MAX(bm, bm2);
    }
    /* a lane that has seen no key yet keeps max -inf, and subtracting 0
     * instead keeps its exponentials at 0 */
    const qr_v16 new_max = QR_V16_MAX(*mx, bm);
    const qr_v16 base = QR_V16_SELECT(new_max == neg_inf, zero, new_max);
    qr_v16 c = *mx - base;
    qr_v16_exp(&c);
    qr_v16 s = *sum * c;
    for (j = 0; j < nk; j++) {
        qr_v16 pj = QR_V16_LOAD(p + j * 16) - base;
        qr_v16_exp_nonpos(&pj);
        QR_V16_STORE(p + j * 16, pj);
        s += pj;
    }
    *sum = s;
    *mx = new_max;
    *corr = c;
}

#endif
