/* tensor.c - the table of weight types and exact widening to f32.
 *
 * Every path that reads weights (the exact matmul, embedding lookups, the
 * yes/no head) widens through qr_dequantize_row, so the type layouts live in
 * one place. The layouts are GGML's (see tensor.h's static asserts). */
#include "tensor.h"

#include <math.h>
#include <string.h>

static const qr_type_traits type_f32 = {"F32", 1, 4};
static const qr_type_traits type_f16 = {"F16", 1, 2};
static const qr_type_traits type_bf16 = {"BF16", 1, 2};
static const qr_type_traits type_q8_0 = {"Q8_0", QR_QK8_0, sizeof(qr_block_q8_0)};
static const qr_type_traits type_q4_0 = {"Q4_0", QR_QK4_0, sizeof(qr_block_q4_0)};
static const qr_type_traits type_q4_k = {"Q4_K", QR_QK_K, sizeof(qr_block_q4_k)};
static const qr_type_traits type_q6_k = {"Q6_K", QR_QK_K, sizeof(qr_block_q6_k)};

const qr_type_traits *qr_type_get(int type) {
    switch (type) {
    case QR_TYPE_F32: return &type_f32;
    case QR_TYPE_F16: return &type_f16;
    case QR_TYPE_BF16: return &type_bf16;
    case QR_TYPE_Q8_0: return &type_q8_0;
    case QR_TYPE_Q4_0: return &type_q4_0;
    case QR_TYPE_Q4_K: return &type_q4_k;
    case QR_TYPE_Q6_K: return &type_q6_k;
    default: return NULL;
    }
}

size_t qr_row_bytes(qr_type type, int64_t n) {
    const qr_type_traits *t = qr_type_get(type);
    if (!t || n <= 0 || n % t->block_size) return 0;
    return (size_t)(n / t->block_size) * t->block_bytes;
}

float qr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * 5.9604644775390625e-8f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t qr_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00); /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (absx < 0x38800000u) { /* subnormal or zero in f16 */
        float a;
        memcpy(&a, &absx, 4);
        /* round to nearest even multiple of 2^-24 */
        float scaled = a * 16777216.0f;
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t exp = (absx >> 23) - 112;
    uint32_t man = absx & 0x7fffff;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float qr_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t qr_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static void dequant_q4_k_block(const qr_block_q4_k *b, float *y) {
    const float d = qr_f16_to_f32(b->d), dmin = qr_f16_to_f32(b->dmin);
    const uint8_t *q = b->qs;
    for (int j = 0, is = 0; j < QR_QK_K; j += 64, is += 2) {
        uint8_t sc[2], m[2];
        for (int k = 0; k < 2; k++) {
            int idx = is + k;
            if (idx < 4) {
                sc[k] = b->scales[idx] & 63;
                m[k] = b->scales[idx + 4] & 63;
            } else {
                sc[k] = (uint8_t)((b->scales[idx + 4] & 0xF) | ((b->scales[idx - 4] >> 6) << 4));
                m[k] = (uint8_t)((b->scales[idx + 4] >> 4) | ((b->scales[idx] >> 6) << 4));
            }
        }
        for (int l = 0; l < 32; l++) *y++ = d * sc[0] * (q[l] & 0xF) - dmin * m[0];
        for (int l = 0; l < 32; l++) *y++ = d * sc[1] * (q[l] >> 4) - dmin * m[1];
        q += 32;
    }
}

static void dequant_q6_k_block(const qr_block_q6_k *b, float *y) {
    const float d = qr_f16_to_f32(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int n = 0; n < QR_QK_K; n += 128) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

void qr_dequantize_row(const qr_tensor *t, int64_t row, float *dst) {
    const int64_t n = t->ne[0];
    const uint8_t *src = (const uint8_t *)t->data + (size_t)row * qr_row_bytes(t->type, n);
    switch (t->type) {
    case QR_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case QR_TYPE_F16: {
        const uint16_t *h = (const uint16_t *)src;
        for (int64_t i = 0; i < n; i++) dst[i] = qr_f16_to_f32(h[i]);
        break;
    }
    case QR_TYPE_BF16: {
        const uint16_t *h = (const uint16_t *)src;
        for (int64_t i = 0; i < n; i++) dst[i] = qr_bf16_to_f32(h[i]);
        break;
    }
    case QR_TYPE_Q8_0: {
        const qr_block_q8_0 *b = (const qr_block_q8_0 *)src;
        for (int64_t i = 0; i < n / QR_QK8_0; i++) {
            const float d = qr_f16_to_f32(b[i].d);
            for (int j = 0; j < QR_QK8_0; j++) dst[i * QR_QK8_0 + j] = d * b[i].qs[j];
        }
        break;
    }
    case QR_TYPE_Q4_0: {
        const qr_block_q4_0 *b = (const qr_block_q4_0 *)src;
        for (int64_t i = 0; i < n / QR_QK4_0; i++) {
            const float d = qr_f16_to_f32(b[i].d);
            for (int j = 0; j < QR_QK4_0 / 2; j++) {
                dst[i * QR_QK4_0 + j] = d * ((b[i].qs[j] & 0xF) - 8);
                dst[i * QR_QK4_0 + j + QR_QK4_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
            }
        }
        break;
    }
    case QR_TYPE_Q4_K: {
        const qr_block_q4_k *b = (const qr_block_q4_k *)src;
        for (int64_t i = 0; i < n / QR_QK_K; i++) dequant_q4_k_block(&b[i], dst + i * QR_QK_K);
        break;
    }
    case QR_TYPE_Q6_K: {
        const qr_block_q6_k *b = (const qr_block_q6_k *)src;
        for (int64_t i = 0; i < n / QR_QK_K; i++) dequant_q6_k_block(&b[i], dst + i * QR_QK_K);
        break;
    }
    }
}
