/* q8x16k.h - Q4_0, Q4_K and Q6_K weights laid out for the int8 kernels.
 *
 * The idea of q8_0x16.h (sixteen weight rows side by side, one per vector
 * lane, a 32-value block as eight 4-byte pieces) for the formats llama.cpp
 * users download most (Q4_K_M mixes Q4_K and Q6_K). Each of them is, per 32
 * values of a row, small integers times a scale plus an offset:
 *
 *   value i (0..31) = scale_i * q_i + negmn
 *
 *   Q4_0: q = nibble (0..15),      scale = d,                negmn = -8 d
 *   Q4_K: q = nibble,              scale = d * sc,           negmn = -dmin * m
 *   Q6_K: q = six bits - 32,       scale = d * sc[2k] for values 0-15,
 *                                  d * sc[2k + 1] for 16-31, negmn = 0
 *
 * qr_q8x16k_block_of spells this reading out; tests hold it to tensor.c's
 * dequantisation value for value. Scales are floats: d * sc is exact in f32
 * but not in f16. negsum is -(sum of q), for the +128 activation offset of
 * vpdpbusd, as in q8_0x16.
 *
 * Two layouts, so that 4-bit weights stay 4 bits:
 * - qr_q4x16 (Q4_0, Q4_K): byte 4j + i of piece k (k < 4) holds value 4k + i
 *   of row j in its low nibble and value 16 + 4k + i in its high nibble, so
 *   one 64-byte load, a mask and a shift give pieces k and k + 4. 448 bytes
 *   per 16 rows x 32 values, 0.875 bytes a weight.
 * - qr_q6x16 (Q6_K): int8 pieces as q8_0x16, a scale per half. 704 bytes,
 *   1.375 bytes a weight.
 * A whole tensor is group-major like q8_0x16: block (group g, block b) at
 * g * n_blocks + b; rows past the last are zero. Built once per model
 * (plain C, q8x16k.c, the statement of the layout; avx2.c's SIMD packer
 * writes the same bytes for the SIMD tables), read by the gemm_kq kernels
 * (avx512.c, avx2.c). */
#ifndef QRANK_KERNELS_Q8X16K_H
#define QRANK_KERNELS_Q8X16K_H

#include <stdint.h>

#include "kernels.h"

typedef struct {
    uint8_t qs[4][64]; /* [piece k, low nibble; piece k + 4, high nibble][row * 4 + byte] */
    float s[16], negmn[16];
    int16_t negsum[16];
    int16_t pad[16];
} qr_q4x16;
_Static_assert(sizeof(qr_q4x16) == 448, "a packed 4-bit block is seven cache lines");

typedef struct {
    int8_t qs[8][64]; /* [piece][row * 4 + byte], as q8_0x16 */
    float s_lo[16], s_hi[16];
    int16_t negsum_lo[16], negsum_hi[16];
} qr_q6x16;
_Static_assert(sizeof(qr_q6x16) == 704, "a packed 6-bit block is eleven cache lines");

/* Whether t's type has one of these layouts (Q4_0, Q4_K, Q6_K). */
int qr_q8x16k_type(qr_type t);
/* Bytes of one packed 16-row x 32-value block of type t. */
static inline size_t qr_q8x16k_unit(qr_type t) { return t == QR_TYPE_Q6_K ? sizeof(qr_q6x16) : sizeof(qr_q4x16); }
/* Bytes of w packed, or 0 when w is not one of those types or not a matrix. */
size_t qr_q8x16k_size(const qr_tensor *w);
/* Packs all of w into dst (qr_q8x16k_size bytes, 64-byte aligned). */
void qr_q8x16k_pack(const qr_tensor *w, void *dst);
/* Row bytes src, 32-value block b: the scales of its values 0-15 and
 * 16-31 and its offset, as the layouts store them. */
void qr_q8x16k_scales(const uint8_t *src, qr_type type, int64_t b, float *s_lo, float *s_hi, float *negmn);
/* Row `row`, 32-value block b, read as above: value i = scale[i] * q[i] + negmn. */
void qr_q8x16k_block_of(const qr_tensor *w, int64_t row, int64_t b, int8_t q[32], float scale[32], float *negmn);

#endif
