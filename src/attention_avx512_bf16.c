/* attention_avx512_bf16.c - attention.c's blocked causal attention with its
 * two products on vdpbf16ps, for --precision fast on AVX-512 BF16 CPUs
 * without AMX (Zen 4, Zen 5).
 *
 * vdpbf16ps multiplies pairs of bf16 numbers and adds both products to an
 * f32 lane: twice an FMA's work per instruction. Zen 4 and Zen 5 issue it
 * at the FMA's rate (bench-kernels: bf16 448 against fp32 240 G ops/s on
 * one Zen 5 core), so both products take half the instructions of
 * attention.c's f32 loops. Queries, keys, values and the softmax
 * probabilities are rounded to bf16 for it, the sums stay f32: what the
 * AMX path (attention_avx512_amx.c) rounds, and what the fast path already
 * does to every matrix multiplication's activations on BF16 weights. The
 * exact path never comes here.
 *
 * The loop and the layout are attention.c's, with pairs where it has
 * single numbers: the sixteen queries of a block are the sixteen f32 lanes,
 * each lane holding a bf16 pair.
 *   S = Q.K^T   a lane holds its query's dims 2c and 2c + 1, times the key's
 *               same two dims broadcast: hd / 2 instructions per key;
 *   softmax     attention_softmax.h, on f32 scores as attention.c;
 *   O += P.V    a lane holds its query's probabilities of keys 2i and
 *               2i + 1, times the two keys' values of one output dim
 *               broadcast: one instruction per key pair and dim.
 * Per chunk of keys, the keys go to bf16 rows and the values to rows of key
 * pairs (the two keys' values of each dim side by side) once, for every
 * block and both query heads of the kv head, or once per layer where the
 * sequence is long (qr_att_laid in attention.h).
 *
 * A query's result depends on its own lane and keys only, and chunks start
 * at key 0 whatever the batch: a document scores the same alone or among
 * others (tests/test-vec.c, bit for bit). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "attention.h"
#include "attention_softmax.h"
#include "kernels/avx512_shared.h"
#include "vec.h"

_Static_assert(QR_VEC_W == 16, "a block's 16 queries are one vector here");

enum {
    DQ = 16, /* queries per block: the f32 lanes */
    DK = 64, /* keys per chunk */
    DNH = 2, /* query heads per call (one kv head) */
};

/* Per-thread buffers, carved from the caller's scratch. */
typedef struct {
    uint32_t *q;  /* [SB][DNH][hd / 2][DQ] bf16 pairs of dims, a lane per query */
    float *acc;   /* [SB][DNH][hd][DQ] outputs, not yet divided by the sum */
    uint16_t *kv; /* the chunk laid out: [DK][hd] its keys, bf16, then [DK / 2][hd] its values,
                   * bf16 pairs of keys 2i, 2i + 1 per dim */
    float *s;     /* [DNH][DK][DQ] scores, then probabilities, f32 */
    uint32_t *p;  /* [DNH][DK / 2][DQ] probabilities, bf16 pairs of keys */
} dot_bufs;

static size_t carve(void *scratch, int hd, dot_bufs *w) {
    const size_t per = (size_t)QR_ATT_SB * DNH;
    size_t at = 0;
    w->q = qr_att_take(scratch, &at, per * (size_t)(hd / 2) * DQ * 4);
    w->acc = qr_att_take(scratch, &at, per * (size_t)hd * DQ * 4);
    w->kv = qr_att_take(scratch, &at, (size_t)DK * (size_t)hd * 4);
    w->s = qr_att_take(scratch, &at, (size_t)DNH * DK * DQ * 4);
    w->p = qr_att_take(scratch, &at, (size_t)DNH * (DK / 2) * DQ * 4);
    return at;
}

size_t qr_attend_dot_scratch(int hd) {
    dot_bufs w;
    return carve(NULL, hd, &w);
}

static inline __attribute__((always_inline)) __m512 dot(__m512 acc, __m512i a, uint32_t pair) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)_mm512_set1_epi32((int)pair));
}

/* One block's share of the chunk (keys k0 .. k0 + nk - 1, laid out in w),
 * for both query heads: scores, softmax, P.V. */
static void attend_chunk(const dot_bufs *w, const uint16_t *keys, const uint32_t *vals, int hd, float scale,
                         const uint32_t *const qp[DNH], float *const acc[DNH], int64_t k0, int nk, int64_t limit0,
                         qr_vf mx[DNH], qr_vf sum[DNH]) {
    const int hp = hd / 2;
    float *const sa = w->s, *const sb = w->s + DK * DQ;
    const __m512 vs = _mm512_set1_ps(scale);
    /* scores: eight keys at a time, each key's dim pair broadcast to the
     * queries of both heads; sixteen independent chains */
    int j = 0;
    for (; j + 8 <= nk; j += 8) {
        const uint32_t *kr = (const uint32_t *)(keys + (size_t)j * hd);
        __m512 a[8], b[8];
        for (int i = 0; i < 8; i++) a[i] = b[i] = _mm512_setzero_ps();
        for (int c = 0; c < hp; c++) {
            const __m512i qa = _mm512_load_si512(qp[0] + c * DQ), qb = _mm512_load_si512(qp[1] + c * DQ);
            for (int i = 0; i < 8; i++) {
                const uint32_t kk = kr[i * hp + c];
                a[i] = dot(a[i], qa, kk);
                b[i] = dot(b[i], qb, kk);
            }
        }
        for (int i = 0; i < 8; i++) {
            _mm512_store_ps(sa + (j + i) * DQ, _mm512_mul_ps(a[i], vs));
            _mm512_store_ps(sb + (j + i) * DQ, _mm512_mul_ps(b[i], vs));
        }
    }
    for (; j < nk; j++) {
        const uint32_t *kr = (const uint32_t *)(keys + (size_t)j * hd);
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        for (int c = 0; c < hp; c++) {
            a = dot(a, _mm512_load_si512(qp[0] + c * DQ), kr[c]);
            b = dot(b, _mm512_load_si512(qp[1] + c * DQ), kr[c]);
        }
        _mm512_store_ps(sa + j * DQ, _mm512_mul_ps(a, vs));
        _mm512_store_ps(sb + j * DQ, _mm512_mul_ps(b, vs));
    }
    /* softmax, then the probabilities as bf16 pairs of keys; an odd last
     * key's partner is 0, so the value row it meets adds nothing */
    qr_vf corr[DNH];
    const int np = (nk + 1) / 2;
    for (int e = 0; e < DNH; e++) {
        float *s = w->s + e * DK * DQ;
        qr_att_softmax(s, nk, k0, limit0, &mx[e], &sum[e], &corr[e]);
        if (nk % 2) _mm512_store_ps(s + nk * DQ, _mm512_setzero_ps());
        uint32_t *p = w->p + e * (DK / 2) * DQ;
        for (int i = 0; i < np; i++)
            _mm512_store_si512(p + i * DQ, qr_bf16_pairs(qr_bf16_16(s + 2 * i * DQ), qr_bf16_16(s + (2 * i + 1) * DQ)));
    }
    /* P.V: eight output dims of both heads at a time, each dim's value
     * pair broadcast to the queries; sixteen independent chains */
    const uint32_t *const pa = w->p, *const pb = w->p + (DK / 2) * DQ;
    const __m512 ca = (__m512)corr[0], cb = (__m512)corr[1];
    for (int c0 = 0; c0 < hd; c0 += 8) {
        __m512 a[8], b[8];
        for (int i = 0; i < 8; i++) {
            a[i] = _mm512_mul_ps(_mm512_load_ps(acc[0] + (c0 + i) * DQ), ca);
            b[i] = _mm512_mul_ps(_mm512_load_ps(acc[1] + (c0 + i) * DQ), cb);
        }
        for (int i = 0; i < np; i++) {
            const __m512i xa = _mm512_load_si512(pa + i * DQ), xb = _mm512_load_si512(pb + i * DQ);
            const uint32_t *vr = vals + (size_t)i * hd + c0;
            for (int d = 0; d < 8; d++) {
                a[d] = dot(a[d], xa, vr[d]);
                b[d] = dot(b[d], xb, vr[d]);
            }
        }
        for (int i = 0; i < 8; i++) {
            _mm512_store_ps(acc[0] + (c0 + i) * DQ, a[i]);
            _mm512_store_ps(acc[1] + (c0 + i) * DQ, b[i]);
        }
    }
}

/* Keys and values k0 .. avail - 1 (at most DK) of sequence sq, kv head
 * kvh, into out: the keys as bf16 rows, then the values as rows of key
 * pairs, an odd last key's partner zero. Rows past them are left as they
 * are: a group reads only the keys it sees, and the value pairs that hold
 * them (the partner of its odd last key meets a probability of 0, so it
 * must be a number: zero, or a later key's laid out here). */
void qr_att_dot_lay_out(const qr_att_ctx *s, const qr_seq *sq, int kvh, int64_t k0, int64_t avail, uint8_t *out) {
    const int hd = s->m->hp.head_dim;
    const float *kpre, *vpre;
    const int64_t n_pre = qr_att_seq_prefix(s, sq, &kpre, &vpre);
    uint16_t *const dst = (uint16_t *)out;
    const int nk = (int)(avail - k0 < DK ? avail - k0 : DK);
    uint32_t *const vals = (uint32_t *)(dst + (size_t)DK * (size_t)hd);
    for (int j = 0; j < nk; j++) {
        uint16_t *row = dst + (size_t)j * hd;
        const float *k = qr_att_kv_row(s, sq, k0 + j, n_pre, kvh, kpre, s->k);
        for (int c = 0; c < hd; c += 16) _mm256_store_si256((__m256i *)(row + c), qr_bf16_16(k + c));
    }
    for (int i = 0; 2 * i < nk; i++) {
        uint32_t *row = vals + (size_t)i * hd;
        const float *va = qr_att_kv_row(s, sq, k0 + 2 * i, n_pre, kvh, vpre, s->v);
        const float *vb = 2 * i + 1 < nk ? qr_att_kv_row(s, sq, k0 + 2 * i + 1, n_pre, kvh, vpre, s->v) : NULL;
        for (int c = 0; c < hd; c += 16)
            _mm512_store_si512(row + c, qr_bf16_pairs(qr_bf16_16(va + c), vb ? qr_bf16_16(vb + c) : _mm256_setzero_si256()));
    }
}

void qr_attend_group_dot(const qr_att_ctx *s, const int64_t *rows, const qr_att_block *blks, int nsb, int h0, int nh,
                         const float *q, float *out, void *scratch) {
    const int hd = s->m->hp.head_dim, H = s->m->hp.n_heads, hp = hd / 2;
    qr_att_group gr;
    qr_att_group_init(&gr, s, rows, blks, nsb, h0);
    dot_bufs w;
    carve(scratch, hd, &w);
    const size_t qsz = (size_t)hp * DQ, asz = (size_t)hd * DQ;
    const uint32_t *qp[QR_ATT_SB][DNH];
    float *acc[QR_ATT_SB][DNH];
    qr_vf mx[QR_ATT_SB][DNH], sum[QR_ATT_SB][DNH];
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < DNH; e++) {
            const size_t at = (size_t)(b * DNH + e);
            uint32_t *qb = w.q + at * qsz;
            qp[b][e] = qb;
            acc[b][e] = w.acc + at * asz;
            /* each query's row to bf16, then its dim pairs to its lane;
             * lanes past the block zero, and a lone head's second copy the
             * first's (computed, never written out) */
            const int h = h0 + (e < nh ? e : 0);
            memset(qb, 0, sizeof(uint32_t) * qsz);
            for (int r = 0; r < blk.n; r++) {
                _Alignas(64) uint32_t row[QR_ATT_DOT_MAX_HD / 2];
                const float *x = q + ((blk.first + r) * H + h) * hd;
                for (int c = 0; c < hd; c += 16) _mm256_store_si256((__m256i *)(row + c / 2), qr_bf16_16(x + c));
                for (int c = 0; c < hp; c++) qb[c * DQ + r] = row[c];
            }
            memset(acc[b][e], 0, sizeof(float) * asz);
            mx[b][e] = QR_VF_SPLAT(-INFINITY);
            sum[b][e] = QR_VF_SPLAT(0.0f);
        }
    }
    for (int64_t k0 = 0; k0 < gr.max_keys; k0 += DK) {
        const int nk = (int)(gr.max_keys - k0 < DK ? gr.max_keys - k0 : DK);
        const uint16_t *keys = (const uint16_t *)qr_att_laid_chunk(s, gr.sq, gr.kvh, k0);
        if (!keys) {
            qr_att_dot_lay_out(s, gr.sq, gr.kvh, k0, k0 + nk, (uint8_t *)w.kv);
            keys = w.kv;
        }
        const uint32_t *const vals = (const uint32_t *)(keys + (size_t)DK * (size_t)hd);
        for (int b = 0; b < nsb; b++) {
            if (k0 >= gr.n_keys[b]) continue;
            const int nkb = (int)(gr.n_keys[b] - k0 < nk ? gr.n_keys[b] - k0 : nk);
            attend_chunk(&w, keys, vals, hd, gr.scale, qp[b], acc[b], k0, nkb, gr.limit0[b], mx[b], sum[b]);
        }
    }
    for (int b = 0; b < nsb; b++) {
        const qr_att_block blk = blks[b];
        for (int e = 0; e < nh; e++) {
            const float *a = acc[b][e];
            for (int r = 0; r < blk.n; r++) {
                const float inv = 1.0f / sum[b][e][r];
                float *o = out + ((blk.first + r) * H + h0 + e) * hd;
                for (int c = 0; c < hd; c++) o[c] = a[c * DQ + r] * inv;
            }
        }
    }
}
