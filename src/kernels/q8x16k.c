/* q8x16k.c - packs Q4_0, Q4_K and Q6_K tensors into the q4x16 / q6x16 layouts.
 *
 * Plain C: the readable statement of the layouts, which avx2.c's SIMD packer
 * (the one the SIMD tables run, once per model, packing.c) must match byte
 * for byte.
 * The decoding follows ggml's dequantize_row_* block by block; where those
 * compute d * sc * q - dmin * m, this keeps q, d * sc and -dmin * m apart. */
#include "q8x16k.h"

#include <string.h>

int qr_q8x16k_type(qr_type t) { return t == QR_TYPE_Q4_0 || t == QR_TYPE_Q4_K || t == QR_TYPE_Q6_K; }

size_t qr_q8x16k_size(const qr_tensor *w) {
    if (!qr_q8x16k_type(w->type) || w->ne[0] <= 0) return 0;
    const qr_type_traits *tt = qr_type_get(w->type);
    if (!tt || w->ne[0] % tt->block_size) return 0;
    const int64_t rows = qr_tensor_rows(w);
    if (rows <= 0) return 0;
    const size_t groups = (size_t)((rows + 15) / 16), blocks = (size_t)(w->ne[0] / 32);
    const size_t unit = qr_q8x16k_unit(w->type);
    if (groups > SIZE_MAX / unit / blocks) return 0;
    return groups * blocks * unit;
}

/* Q4_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
static void q4_k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Where the 32-block b of a row lies (q8x16k.h):
 * - Q4_0: block b; its nibbles as they are (-8 d is the offset).
 * - Q4_K: sub-block b % 8 of super-block b / 8; sub-blocks 2p and 2p + 1
 *   share 32 bytes, low and high nibbles.
 * - Q6_K: super-block b / 8, half (b % 8) / 4, quarter b % 4; scales of
 *   16-value groups in order. */
void qr_q8x16k_scales(const uint8_t *src, qr_type type, int64_t b, float *s_lo, float *s_hi, float *negmn) {
    switch (type) {
    case QR_TYPE_Q4_0: {
        const float d = qr_f16_to_f32(((const qr_block_q4_0 *)src + b)->d);
        *s_lo = *s_hi = d;
        *negmn = -8.0f * d;
        return;
    }
    case QR_TYPE_Q4_K: {
        const qr_block_q4_k *blk = (const qr_block_q4_k *)src + b / 8;
        int sc, m;
        q4_k_scale_min(blk->scales, (int)(b % 8), &sc, &m);
        *s_lo = *s_hi = qr_f16_to_f32(blk->d) * (float)sc;
        *negmn = -(qr_f16_to_f32(blk->dmin) * (float)m);
        return;
    }
    case QR_TYPE_Q6_K: {
        const qr_block_q6_k *blk = (const qr_block_q6_k *)src + b / 8;
        const float d = qr_f16_to_f32(blk->d);
        const int8_t *sc = blk->scales + 8 * ((b % 8) / 4) + 2 * (b % 4);
        *s_lo = d * (float)sc[0];
        *s_hi = d * (float)sc[1];
        *negmn = 0.0f;
        return;
    }
    default:
        *s_lo = *s_hi = *negmn = 0.0f;
        return;
    }
}

/* Row bytes `src`, 32-value block b: q, the scales of values 0-15 and
 * 16-31, and the offset (q8x16k.h). */
static inline void decode(const uint8_t *src, qr_type type, int64_t b, int8_t q[32], float *s_lo, float *s_hi,
                          float *negmn) {
    qr_q8x16k_scales(src, type, b, s_lo, s_hi, negmn);
    switch (type) {
    case QR_TYPE_Q4_0: {
        const qr_block_q4_0 *blk = (const qr_block_q4_0 *)src + b;
        for (int i = 0; i < 16; i++) {
            q[i] = (int8_t)(blk->qs[i] & 0xF);
            q[i + 16] = (int8_t)(blk->qs[i] >> 4);
        }
        return;
    }
    case QR_TYPE_Q4_K: {
        const int j = (int)(b % 8);
        const uint8_t *qs = ((const qr_block_q4_k *)src + b / 8)->qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int i = 0; i < 32; i++) q[i] = (int8_t)((qs[i] >> shift) & 0xF);
        return;
    }
    case QR_TYPE_Q6_K: {
        const qr_block_q6_k *blk = (const qr_block_q6_k *)src + b / 8;
        const int half = (int)(b % 8) / 4, quarter = (int)(b % 4);
        const uint8_t *ql = blk->ql + 64 * half + 32 * (quarter % 2), *qh = blk->qh + 32 * half;
        const int lshift = 4 * (quarter / 2), hshift = 2 * quarter;
        for (int l = 0; l < 32; l++)
            q[l] = (int8_t)((((ql[l] >> lshift) & 0xF) | ((qh[l] >> hshift) & 3) << 4) - 32);
        return;
    }
    default:
        memset(q, 0, 32);
        return;
    }
}

void qr_q8x16k_block_of(const qr_tensor *w, int64_t row, int64_t b, int8_t q[32], float scale[32],
                        float *negmn) {
    const uint8_t *src = (const uint8_t *)w->data + (size_t)row * qr_row_bytes(w->type, w->ne[0]);
    float s_lo, s_hi;
    decode(src, w->type, b, q, &s_lo, &s_hi, negmn);
    for (int i = 0; i < 32; i++) scale[i] = i < 16 ? s_lo : s_hi;
}

/* Lane j of one packed block from the reading of its row's 32 values. */
static inline void put_q4(void *block, int j, const int8_t q[32], float s_lo, float s_hi, float negmn) {
    (void)s_hi; /* equal to s_lo for Q4_0 and Q4_K */
    qr_q4x16 *p = block;
    int sum = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) p->qs[k][4 * j + i] = (uint8_t)(q[4 * k + i] | q[16 + 4 * k + i] << 4);
    for (int i = 0; i < 32; i++) sum += q[i];
    p->s[j] = s_lo;
    p->negmn[j] = negmn;
    p->negsum[j] = (int16_t)-sum;
}

static inline void put_q6(void *block, int j, const int8_t q[32], float s_lo, float s_hi, float negmn) {
    (void)negmn; /* zero for Q6_K */
    qr_q6x16 *p = block;
    for (int k = 0; k < 8; k++) memcpy(&p->qs[k][j * 4], &q[k * 4], 4);
    int lo = 0, hi = 0;
    for (int i = 0; i < 16; i++) {
        lo += q[i];
        hi += q[i + 16];
    }
    p->s_lo[j] = s_lo;
    p->s_hi[j] = s_hi;
    p->negsum_lo[j] = (int16_t)-lo;
    p->negsum_hi[j] = (int16_t)-hi;
}

/* The whole tensor for one type, a constant at each call below: one loop
 * for both layouts, decode and put specialised per type. */
static inline __attribute__((always_inline)) void pack_as(const qr_tensor *w, void *dst, qr_type type) {
    const int six = type == QR_TYPE_Q6_K;
    const size_t unit = qr_q8x16k_unit(type);
    const int64_t rows = qr_tensor_rows(w), nb = w->ne[0] / 32;
    const size_t row_bytes = qr_row_bytes(type, w->ne[0]);
    for (int64_t g = 0; g < (rows + 15) / 16; g++) {
        const int n = rows - g * 16 < 16 ? (int)(rows - g * 16) : 16;
        const uint8_t *src = (const uint8_t *)w->data + (size_t)(g * 16) * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            void *block = (uint8_t *)dst + (size_t)(g * nb + b) * unit;
            memset(block, 0, unit); /* rows past the last stay zero */
            for (int j = 0; j < n; j++) {
                int8_t q[32];
                float s_lo, s_hi, negmn;
                decode(src + (size_t)j * row_bytes, type, b, q, &s_lo, &s_hi, &negmn);
                if (six)
                    put_q6(block, j, q, s_lo, s_hi, negmn);
                else
                    put_q4(block, j, q, s_lo, s_hi, negmn);
            }
        }
    }
}

void qr_q8x16k_pack(const qr_tensor *w, void *dst) {
    switch (w->type) {
    case QR_TYPE_Q4_0: pack_as(w, dst, QR_TYPE_Q4_0); break;
    case QR_TYPE_Q4_K: pack_as(w, dst, QR_TYPE_Q4_K); break;
    case QR_TYPE_Q6_K: pack_as(w, dst, QR_TYPE_Q6_K); break;
    default: break;
    }
}
