/* attention_f32_body.h - attention.c's f32 path (FMAs on f32 queries, keys
 * and values), written once for vectors of QR_VEC_W lanes (vec.h) and built
 * per ISA by vec_avx512.c (16 lanes), vec_avx2.c (8) and vec_generic.c (4),
 * which define QR_VEC_W and QR_VEC_SUFFIX and include this file.
 *
 * The sixteen queries of a block are stored transposed everywhere (one row
 * of 16 per head dimension or key: qt[c * 16 + lane]), so a vector of 16
 * lanes holds the whole block, and one of 8 or 4 a slice of it whose lanes
 * lie together in each row. Slices walk the keys one after another and
 * share nothing but the chunk's key and value pointers; a slice with no
 * query of the block is skipped (a block of up to 8 rows is one slice on
 * AVX2). Each query's arithmetic is the same in every width: the score is
 * one chain of FMAs over the head dims in order, the softmax and P.V the
 * same per lane, so the AVX-512 and AVX2 builds agree bit for bit
 * (tests/test-vec.c); the baseline has no FMA and rounds each product. */
#include <string.h>

#include "attention.h"
#include "attention_softmax.h"
#include "vec.h"

enum {
    F32_BQ = QR_ATT_BQ,
    F32_BK = QR_ATT_F32_BK,
    F32_NH = QR_ATT_NH,
    F32_SB = QR_ATT_SB,
    F32_W = QR_VEC_W,
    /* keys through Q.K^T, and output dims through P.V, per step, each for
     * both heads of a pair: independent FMA chains enough to cover the FMA
     * latency (one chain ran at a quarter speed), with the accumulators,
     * the queries and a broadcast still in registers (32 ZMM; 16 YMM or
     * XMM take 4 x 2 + 3) */
    F32_STEP = QR_VEC_W == 16 ? 8 : 4,
};

/* One slice's share of one chunk of keys (k0 .. k0 + nk - 1), for the
 * query heads of a pair: scores, causal mask, online softmax, P.V. qt, acc
 * and pp point at the slice's first lane of a 16-lane row; limit0 is the
 * slice's first query's last key. vt holds the chunk's values F32_STEP
 * dims at a time (vt[(c / F32_STEP) * F32_BK + j][c % F32_STEP] is value
 * j's dim c); dims past the last whole F32_STEP are read from vpp. */
static inline __attribute__((always_inline)) void attend_chunk(
    const int hd, const float scale, float *const qt[F32_NH], float *const acc[F32_NH], float *const pp[F32_NH],
    const float *const *kpp, const float *const *vpp, const float *vt, const int64_t k0, const int nk,
    const int64_t limit0,
    qr_vf mx[F32_NH], qr_vf sum[F32_NH]) {
    const qr_vf zero = QR_VF_SPLAT(0.0f);
    /* scores: F32_STEP keys at a time, each key value broadcast to all
     * queries of both heads */
    int j = 0;
    for (; j + F32_STEP <= nk; j += F32_STEP) {
        const float *const *kp = kpp + j;
        qr_vf sa[F32_STEP], sb[F32_STEP];
        for (int i = 0; i < F32_STEP; i++) sa[i] = sb[i] = zero;
        for (int c = 0; c < hd; c++) {
            const qr_vf qa = QR_VF_LOAD(qt[0] + c * F32_BQ), qb = QR_VF_LOAD(qt[1] + c * F32_BQ);
            for (int i = 0; i < F32_STEP; i++) {
                const float kv = kp[i][c];
                sa[i] += qa * kv;
                sb[i] += qb * kv;
            }
        }
        for (int i = 0; i < F32_STEP; i++) {
            QR_VF_STORE(pp[0] + (j + i) * F32_BQ, sa[i] * scale);
            QR_VF_STORE(pp[1] + (j + i) * F32_BQ, sb[i] * scale);
        }
    }
    for (; j < nk; j++) {
        const float *a = kpp[j];
        qr_vf sa = zero, sb = zero;
        for (int c = 0; c < hd; c++) {
            sa += QR_VF_LOAD(qt[0] + c * F32_BQ) * a[c];
            sb += QR_VF_LOAD(qt[1] + c * F32_BQ) * a[c];
        }
        QR_VF_STORE(pp[0] + j * F32_BQ, sa * scale);
        QR_VF_STORE(pp[1] + j * F32_BQ, sb * scale);
    }
    qr_vf corr[F32_NH];
    for (int e = 0; e < F32_NH; e++) qr_att_softmax(pp[e], nk, k0, limit0, &mx[e], &sum[e], &corr[e]);
    /* P.V into acc[c] (lanes: queries), F32_STEP output dims of both heads
     * at a time, each value broadcast to all their queries */
    int c0 = 0;
    for (; c0 + F32_STEP <= hd; c0 += F32_STEP) {
        qr_vf a[F32_STEP], b[F32_STEP];
        for (int i = 0; i < F32_STEP; i++) {
            a[i] = QR_VF_LOAD(acc[0] + (c0 + i) * F32_BQ) * corr[0];
            b[i] = QR_VF_LOAD(acc[1] + (c0 + i) * F32_BQ) * corr[1];
        }
        for (j = 0; j < nk; j++) {
            const qr_vf pa = QR_VF_LOAD(pp[0] + j * F32_BQ), pb = QR_VF_LOAD(pp[1] + j * F32_BQ);
            const float *v = vt + ((size_t)(c0 / F32_STEP) * F32_BK + j) * F32_STEP;
            for (int i = 0; i < F32_STEP; i++) {
                a[i] += pa * v[i];
                b[i] += pb * v[i];
            }
        }
        for (int i = 0; i < F32_STEP; i++) {
            QR_VF_STORE(acc[0] + (c0 + i) * F32_BQ, a[i]);
            QR_VF_STORE(acc[1] + (c0 + i) * F32_BQ, b[i]);
        }
    }
    for (; c0 < hd; c0++) { /* head_dim not a multiple of F32_STEP */
        for (int e = 0; e < F32_NH; e++) {
            qr_vf a = QR_VF_LOAD(acc[e] + c0 * F32_BQ) * corr[e];
            for (j = 0; j < nk; j++) a += QR_VF_LOAD(pp[e] + j * F32_BQ) * vpp[j][c0];
            QR_VF_STORE(acc[e] + c0 * F32_BQ, a);
        }
    }
}

/* attention.h says what this computes. Each chunk of F32_BK keys and values is
 * read once for the whole group and then stays in L1/L2 while every block
 * uses it, so a long document streams its keys and values from L3 or
 * memory once per 128 queries instead of once per 16 (8 blocks measured 5%
 * faster than 4 on long-8k; copying each chunk into contiguous rows, to
 * avoid the 4 KB stride between rows, was 15% slower on an Intel Xeon; the
 * values are laid out by dims instead, below). Each key and value
 * number loaded feeds both heads' FMAs. With nh 1 the second head's lanes
 * repeat the first and are dropped. */
void QR_VEC_FN(qr_attend_group_f32)(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb,
                                     int h0, int nh, const float *q, float *out, void *scratch) {
    enum { SLICES = F32_BQ / F32_W };
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads;
    qr_att_group gr;
    qr_att_group_init(&gr, s, rows, blks, nsb, h0);
    const qr_seq *const sq = gr.sq;
    const int64_t n_pre = gr.n_pre, max_keys = gr.max_keys, *const limit0 = gr.limit0, *const n_keys = gr.n_keys;
    const qr_vf neg_inf = QR_VF_SPLAT(-INFINITY), zero = QR_VF_SPLAT(0.0f), one = QR_VF_SPLAT(1.0f);
    const size_t hd16 = (size_t)hd * F32_BQ, bk16 = (size_t)F32_BK * F32_BQ;
    float *qt_all, *acc_all, *p_all, *vt;
    qr_att_f32_carve(scratch, hd, &qt_all, &acc_all, &p_all, &vt);
    const float *kp[F32_BK], *vp[F32_BK];
    float *qt[F32_SB][F32_NH], *acc[F32_SB][F32_NH], *pp[F32_NH];
    qr_vf mx[F32_SB][SLICES][F32_NH], sum[F32_SB][SLICES][F32_NH];
    int slices[F32_SB]; /* those holding a query of the block */
    for (int e = 0; e < F32_NH; e++) pp[e] = p_all + e * bk16;
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        slices[b] = (blk.n + F32_W - 1) / F32_W;
        for (int e = 0; e < F32_NH; e++) {
            qt[b][e] = qt_all + ((size_t)b * F32_NH + e) * hd16;
            acc[b][e] = acc_all + ((size_t)b * F32_NH + e) * hd16;
            const int h = h0 + (e < nh ? e : 0);
            for (int c = 0; c < hd; c++)
                for (int k = 0; k < F32_BQ; k++)
                    qt[b][e][c * F32_BQ + k] = k < blk.n ? q[((blk.first + k) * H + h) * hd + c] : 0.0f;
            memset(acc[b][e], 0, sizeof(float) * hd16);
            for (int sl = 0; sl < SLICES; sl++) {
                mx[b][sl][e] = neg_inf;
                sum[b][sl][e] = zero;
            }
        }
    }
    for (int64_t k0 = 0; k0 < max_keys; k0 += F32_BK) {
        const int nk = (int)(max_keys - k0 < F32_BK ? max_keys - k0 : F32_BK);
        for (int j = 0; j < nk; j++) {
            kp[j] = qr_att_kv_row(s, sq, k0 + j, n_pre, gr.kvh, gr.kpre, s->k);
            vp[j] = qr_att_kv_row(s, sq, k0 + j, n_pre, gr.kvh, gr.vpre, s->v);
        }
        /* P.V takes, for every F32_STEP output dims, one value of each of
         * the chunk's keys. The rows as they are lie 4 KB apart in the 0.6B
         * shape, all in the same few sets of an 8-way L1, and each of those
         * reads missed it: laid out so that they follow one another, once
         * per chunk for all the group's blocks, f32 attention ran 20-30%
         * faster on an AMD Zen 3 (bench/README.md). The copy reads each row
         * in order (dims outer left 5 ms more of a 2,048-token run). Keys
         * laid out alike (four keys' dims interleaved) gained nothing. */
        for (int j = 0; j < nk; j++)
            for (int cb = 0; cb < hd / F32_STEP; cb++)
                memcpy(vt + ((size_t)cb * F32_BK + j) * F32_STEP, vp[j] + cb * F32_STEP, sizeof(float) * F32_STEP);
        for (int b = 0; b < nsb; b++) {
            if (k0 >= n_keys[b]) continue;
            const int nkb = (int)(n_keys[b] - k0 < nk ? n_keys[b] - k0 : nk);
            for (int sl = 0; sl < slices[b]; sl++) {
                const int l0 = sl * F32_W;
                float *const qs[F32_NH] = {qt[b][0] + l0, qt[b][1] + l0};
                float *const as[F32_NH] = {acc[b][0] + l0, acc[b][1] + l0};
                float *const ps[F32_NH] = {pp[0] + l0, pp[1] + l0};
                attend_chunk(hd, gr.scale, qs, as, ps, kp, vp, vt, k0, nkb, limit0[b] + l0, mx[b][sl], sum[b][sl]);
            }
        }
    }
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < nh; e++) {
            float *a = acc[b][e];
            for (int sl = 0; sl < slices[b]; sl++) {
                const int l0 = sl * F32_W;
                /* lanes past the block have summed nothing */
                const qr_vf inv = one / QR_VF_SELECT(QR_VF_IOTA < QR_VF_SPLAT((float)(blk.n - l0)), sum[b][sl][e], one);
                for (int c = 0; c < hd; c++)
                    QR_VF_STORE(a + c * F32_BQ + l0, QR_VF_LOAD(a + c * F32_BQ + l0) * inv);
            }
            for (int k = 0; k < blk.n; k++) {
                float *o = out + ((blk.first + k) * H + h0 + e) * hd;
                for (int c = 0; c < hd; c++) o[c] = a[c * F32_BQ + k];
            }
        }
    }
}
