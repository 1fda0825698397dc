/* q8x16k.h - Q4_0, Q4_K and Q6_K weights laid out for the int8 kernels.
 *
 * The same idea as q8_0x16.h (sixteen weight rows side by side, one per
 * vector lane, a 32-value block as eight 4-byte pieces) for the formats
 * llama.cpp users download most (Q4_K_M mixes Q4_K and Q6_K). Every one of
 * them is, per 32 values of a row, small integers times a scale plus an
 * offset, so one layout holds all three exactly:
 *
 *   value i (0..31) = s_lo * q_i + negmn   for i < 16
 *                     s_hi * q_i + negmn   for i >= 16
 *
 *   Q4_0: q = nibble - 8,  s_lo = s_hi = d,              negmn = 0
 *   Q4_K: q = nibble,      s_lo = s_hi = d * sc,         negmn = -dmin * m
 *   Q6_K: q = six bits - 32, s_lo = d * sc[2k], s_hi = d * sc[2k + 1], negmn = 0
 *
 * The scales are floats: d * sc is a product of an f16 and a 6- or 8-bit
 * integer, exact in f32 but not in f16. negsum_lo/hi are -(sum of q) over
 * each half, for the +128 activation offset of vpdpbusd (as in q8_0x16).
 * 768 bytes per 16 rows x 32 values, 1.5 bytes a weight: more than the
 * file's 0.56-0.82, which buys the int8 kernels instead of widening every
 * weight to f32 on every call.
 *
 * A whole tensor is group-major like q8_0x16: block (group g, block b) at
 * g * n_blocks + b; rows past the last are zero. Built once at load time
 * (plain C, q8x16k.c), read by the AVX-512 kernel only. */
#ifndef QRANK_KERNELS_Q8X16K_H
#define QRANK_KERNELS_Q8X16K_H

#include <stdint.h>

#include "kernels.h"

typedef struct {
    int8_t qs[8][64]; /* [piece][row * 4 + byte], as q8_0x16 */
    float s_lo[16], s_hi[16], negmn[16];
    int16_t negsum_lo[16], negsum_hi[16];
} qr_q8x16k;
_Static_assert(sizeof(qr_q8x16k) == 768, "a packed k-block is twelve cache lines");

/* Whether t's type has this layout (Q4_0, Q4_K, Q6_K). */
int qr_q8x16k_type(qr_type t);
/* Bytes of w packed, or 0 when w is not one of those types or not a matrix. */
size_t qr_q8x16k_size(const qr_tensor *w);
/* Packs all of w into dst (qr_q8x16k_size bytes, 64-byte aligned). */
void qr_q8x16k_pack(const qr_tensor *w, void *dst);
/* The 32 values of row `row`, block b, as the layout defines them, for tests:
 * q[i], scale[i] and negmn such that value i = scale[i] * q[i] + negmn. */
void qr_q8x16k_block_of(const qr_tensor *w, int64_t row, int64_t b, int8_t q[32], float scale[32], float *negmn);

#endif
