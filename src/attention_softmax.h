/* attention_softmax.h - the online softmax step of a 16-query block's
 * lanes, shared by the f32 (attention_f32_body.h) and the vdpbf16ps
 * (attention_avx512_bf16.c) paths, which both keep a block's scores with
 * the queries in the lanes: p[j * 16 + lane] is query lane's scaled score
 * of key k0 + j. A vector of QR_VEC_W lanes (vec.h) takes the whole block
 * at 16, a slice of it (p offset by the slice's first lane) at 8 or 4. */
#ifndef QRANK_ATTENTION_SOFTMAX_H
#define QRANK_ATTENTION_SOFTMAX_H

#include <math.h>
#include <stdint.h>

#include "vec.h"

/* Masks the keys each query cannot see (key k0 + j is seen by the lanes
 * with limit0 + lane >= k0 + j, lane counted from p), replaces the nk
 * scores by e^(s - max), and updates the running max *mx and sum *sum;
 * *corr gets the factor for what was summed under the old max. Always
 * inlined, so it is built for the ISA of its caller. */
static inline __attribute__((always_inline)) void qr_att_softmax(float *p, int nk, int64_t k0, int64_t limit0,
                                                                 qr_vf *mx, qr_vf *sum, qr_vf *corr) {
    const qr_vf lanef = QR_VF_IOTA;
    const qr_vf neg_inf = QR_VF_SPLAT(-INFINITY), zero = QR_VF_SPLAT(0.0f);
    /* Only a chunk that crosses the diagonal needs a mask. Lanes past the
     * block (lane >= n) run on zero queries and are never written out:
     * they need none. The threshold is compared as a float (exact below
     * 2^24) because GCC turned the int64-to-lane compare into sixteen
     * scalar selects. */
    qr_vf bm = neg_inf;
    int j;
    if (k0 + nk - 1 > limit0) {
        for (j = 0; j < nk; j++) {
            const qr_vf first = QR_VF_SPLAT((float)(k0 + j - limit0));
            const qr_vf sj = QR_VF_SELECT(lanef >= first, QR_VF_LOAD(p + j * 16), neg_inf);
            QR_VF_STORE(p + j * 16, sj);
            bm = QR_VF_MAX(bm, sj);
        }
    } else {
        qr_vf bm2 = neg_inf;
        for (j = 0; j + 2 <= nk; j += 2) {
            bm = QR_VF_MAX(bm, QR_VF_LOAD(p + j * 16));
            bm2 = QR_VF_MAX(bm2, QR_VF_LOAD(p + (j + 1) * 16));
        }
        if (j < nk) bm = QR_VF_MAX(bm, QR_VF_LOAD(p + j * 16));
        bm = QR_VF_MAX(bm, bm2);
    }
    /* a lane that has seen no key yet keeps max -inf, and subtracting 0
     * instead keeps its exponentials at 0 */
    const qr_vf new_max = QR_VF_MAX(*mx, bm);
    const qr_vf base = QR_VF_SELECT(new_max == neg_inf, zero, new_max);
    qr_vf c = *mx - base;
    qr_vf_exp(&c);
    qr_vf s = *sum * c;
    for (j = 0; j < nk; j++) {
        qr_vf pj = QR_VF_LOAD(p + j * 16) - base;
        qr_vf_exp_nonpos(&pj);
        QR_VF_STORE(p + j * 16, pj);
        s += pj;
    }
    *sum = s;
    *mx = new_max;
    *corr = c;
}

#endif
