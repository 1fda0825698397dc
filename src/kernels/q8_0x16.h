/* q8_0x16.h - Q8_0 weights laid out for SIMD kernels that give each vector
 * lane its own output row.
 *
 * Sixteen weight rows ("a group") x one 32-block become 576 bytes: the 32
 * int8 of each row split into eight 4-byte pieces, piece k of all sixteen
 * rows side by side (qs[k] is one 64-byte vector: lane j = row j), then
 * -sum(w) of each row's block (int16) and its f16 scale. vpdpbusd on qs[k]
 * with 4 activation bytes broadcast yields sixteen partial dots at once, and
 * after eight of them every lane holds its row's exact block dot. The AVX-512
 * kernels read a group as one ZMM per piece, the AVX2 ones as two YMM halves.
 *
 * A whole tensor packed this way (qr_kernels.pack, once per model) is
 * group-major: block (group g, block b) is at index g * n_blocks + b, and
 * rows past the tensor's last row are zero. Kernels also build the same
 * blocks on the fly, a chunk at a time, for tensors that were not packed. */
#ifndef QRANK_KERNELS_Q8_0X16_H
#define QRANK_KERNELS_Q8_0X16_H

#include <stdint.h>

#include "kernels.h"

typedef struct {
    int8_t qs[8][64];   /* [piece][row * 4 + byte] */
    int16_t negsum[16]; /* -(sum of the row's 32 weights) */
    uint16_t d[16];     /* the row's f16 scale, as in the Q8_0 block */
} qr_q8_0x16;
_Static_assert(sizeof(qr_q8_0x16) == 576, "a packed group-block is nine cache lines");

/* The q8u activation layout, for the same kernels: a row of n values
 * (n / 32 blocks) is n bytes, each int8 value + 128 as an unsigned byte
 * (vpdpbusd multiplies unsigned by signed bytes), then one float per block,
 * its f16 scale widened, then one float per block, the sum of its 32 int8
 * values (what a weight format with a per-block offset, Q4_K's min, needs).
 * Same values as Q8_0 blocks, in the form the inner loop reads without a
 * copy. */
static inline size_t qr_q8u_row_bytes(int64_t n) { return (size_t)(n / QR_QK8_0) * (QR_QK8_0 + 8); }
/* The q8w layout, for kernels without an int8 dot product (the avx2
 * table's vpmaddwd): a row of n values is n int16, each int8 value widened,
 * then one float per block, its f16 scale widened. Twice the bytes of q8u,
 * but the inner loop broadcasts pairs of values straight from it, where q8u
 * would be widened again for every sixteen outputs. */
static inline size_t qr_q8w_row_bytes(int64_t n) { return (size_t)n * 2 + (size_t)(n / QR_QK8_0) * 4; }
/* Where a kernel tile finds its activation rows: row r's block b is the 32
 * bytes at q + r * q_stride + 32 * b (values + 128, so that vpdpbusd may take
 * them as unsigned), its scale the float at d + r * d_stride + 4 * b. Either
 * the caller's rows in the q8u layout, read where they are (qr_q8u_view), or
 * a kernel's own copy made from Q8_0 blocks. */
typedef struct {
    const uint8_t *q, *d;
    size_t q_stride, d_stride;
} qr_q8_view;

/* q8u rows r0.. of xq (rows of nb_all blocks), from block b0 on. */
static inline qr_q8_view qr_q8u_view(const qr_acts *xq, int64_t r0, int64_t b0, int64_t nb_all) {
    const uint8_t *row = (const uint8_t *)xq->data + (size_t)r0 * xq->row_bytes;
    return (qr_q8_view){row + 32 * b0, row + 32 * nb_all + 4 * b0, xq->row_bytes, xq->row_bytes};
}

/* Rewrites a row of Q8_0 blocks (n values) in the q8u layout. */
void qr_q8u_from_q8_0(const void *q8_0, void *out, int64_t n);
/* The same in the q8w layout. */
void qr_q8w_from_q8_0(const void *q8_0, void *out, int64_t n);

/* Bytes of w packed, or 0 when w is not a Q8_0 matrix. */
size_t qr_q8_0x16_size(const qr_tensor *w);
/* Packs all of w into dst (qr_q8_0x16_size bytes, 64-byte aligned). */
void qr_q8_0x16_pack(const qr_tensor *w, void *dst);

#endif
