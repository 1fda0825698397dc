/* kernels.h - the matrix kernels behind one small interface.
 *
 * Every kernel computes a block of Y = X . W^T: for rows r in [0, n_rows) and
 * outputs o in [o_begin, o_end), Y[r*ldy + o] = sum_i X[r*ldx + i] * W[o][i].
 * Kernels are single-threaded; src/matmul.c splits the output range over the
 * compute threads, and quantises activations once per call for the fast
 * paths. generic.c is the plain-C reference that every ISA file is tested
 * against (tests/test-kernels.c); dispatch.c picks variants from CPUID once,
 * when a model is loaded, into a qr_kernels table owned by that model. */
#ifndef QRANK_KERNELS_H
#define QRANK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

/* Activations prepared for a fast kernel: int8 blocks of 32 (scale
 * max|x|/127) or bf16, one row per X row. */
typedef struct qr_acts {
    qr_type type;        /* QR_TYPE_F32 (use X directly), QR_TYPE_Q8_0 or QR_TYPE_BF16 */
    const void *data;
    size_t row_bytes;
    /* Q8_0 only: 0 for rows of Q8_0 blocks, 1 for rows in the q8u layout
     * (kernels/q8_0x16.h), which only tables with quantize_q8u read. */
    int q8u;
    /* Q8_0 only, for gemm_q8_0 of tables with quantize_q8w: 1 for rows in
     * the q8w layout (kernels/q8_0x16.h); q8u is then 0. */
    int q8w;
} qr_acts;

typedef void (*qr_gemm_fn)(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                           int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end);

typedef struct qr_kernels {
    const char *name; /* "generic", "avx2", "avxvnni", "avx512vnni", "avx512", "amx" */
    /* 1 where the CPU and OS give AMX-BF16 tiles (the amx table): the fast
     * path runs attention on them too (attention_avx512_amx.c) */
    int amx;
    /* 1 where the table's CPU has vdpbf16ps (avx512, amx), for attention
     * (attention_avx512_bf16.c); bf16_dot_fast 1 where it also runs at the
     * FMA's rate, twice an FMA's work, so that the fast path picks it by
     * itself (dispatch.c says where) */
    int bf16_dot, bf16_dot_fast;
    /* The floats in one of this table's vector registers: 16 (avx512vnni,
     * avx512, amx), 8 (avx2, avxvnni), 4 (generic, SSE2). Picks the build of vec.h's
     * width-generic code that runs (vec_avx512.c, vec_avx2.c,
     * vec_generic.c): attention's f32 path and SiLU. */
    int f32_lanes;
    /* Exact: X in f32, W widened exactly, f32 accumulation. Any weight type.
     * Reads w->data, or w's packed copy where it is set (Q8_0, Q4_0, Q4_K,
     * Q6_K on the SIMD tables, BF16 on avx512 and amx), with the same bits. */
    qr_gemm_fn gemm_f32;
    /* Fast: NULL when this ISA has nothing faster for that weight type. */
    qr_gemm_fn gemm_q8_0; /* W Q8_0, xq Q8_0 */
    qr_gemm_fn gemm_bf16; /* W BF16, xq BF16 */
    /* W F16, xq BF16, inputs a multiple of 32 (amx): the weights exactly, as
     * two bf16 halves, against activations rounded as for BF16 weights */
    qr_gemm_fn gemm_f16;
    /* W Q4_0, Q4_K or Q6_K packed as q8x16k (w->packed set, kernels/q8x16k.h),
     * xq in the q8u layout. Needs quantize_q8u and pack. */
    qr_gemm_fn gemm_kq;
    /* x (n values, n % 32 == 0) -> Q8_0 blocks. */
    void (*quantize_q8_0)(const float *x, void *out, int64_t n);
    void (*to_bf16)(const float *x, uint16_t *out, int64_t n);
    /* Optional: the same quantisation as quantize_q8_0, written in the q8u
     * layout (qr_q8u_row_bytes(n) bytes), which this table's gemm_q8_0 reads
     * in place instead of copying every row tile; it still takes Q8_0 blocks
     * too. Returns 1 when x holds a NaN or an infinity (out then means
     * nothing), 0 otherwise: the check matmul.c needs, in the same pass.
     * NULL in tables whose gemm_q8_0 reads Q8_0 blocks only (generic). */
    int (*quantize_q8u)(const float *x, void *out, int64_t n);
    /* Optional, the same in the q8w layout (qr_q8w_row_bytes(n) bytes), which
     * matmul.c then prefers for Q8_0 weights (gemm_kq keeps q8u); gemm_q8_0
     * takes every layout. NULL where the kernel would gain nothing from it
     * (all tables but avx2). */
    int (*quantize_q8w)(const float *x, void *out, int64_t n);
    /* Optional, once per model (packing.c; model.c says which and when):
     * pack_size(w) is the size of w laid out for this table's fast kernel (0:
     * nothing to gain for this tensor), pack(w, dst) writes it to dst
     * (64-byte aligned); a w->packed = dst afterwards makes the fast kernel
     * for w's type read it. The other kernels, and every other table, keep
     * reading w->data. NULL in tables without a packed layout.
     * - Q8_0 as q8_0x16 (kernels/q8_0x16.h), the same layout for the avx2,
     *   avxvnni and AVX-512 tables (these pack with their own, faster code):
     *   gemm_q8_0 reads it instead of re-packing w->data on every call (worth
     *   ~25% at 20 rows, 5-10% at 100-1000).
     * - Q4_0, Q4_K, Q6_K as q8x16k (the avx2, avxvnni and AVX-512 tables):
     *   gemm_kq runs on nothing else.
     * - BF16 as bf16x16 (kernels/avx512.c; the AVX-512 tables, whose
     *   gemm_bf16 and gemm_f32 read it): without it they lay out a chunk at
     *   a time what they would read from the copy. */
    size_t (*pack_size)(const qr_tensor *w);
    void (*pack)(const qr_tensor *w, void *dst);
} qr_kernels;

/* The reference implementations. */
void qr_gemm_f32_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                         int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_q8_0_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                          int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_bf16_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                          int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
/* What gemm_kq computes, from w's own blocks and xq as Q8_0 blocks, in
 * double: the yardstick for the SIMD kernel, not a table entry. */
void qr_gemm_kq_generic(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_quantize_q8_0_generic(const float *x, void *out, int64_t n);
void qr_to_bf16_generic(const float *x, uint16_t *out, int64_t n);

/* Which variant to use: "generic", "avx2", "avxvnni", "avx512vnni", "avx512", "amx" or NULL for the best the
 * CPU has. Returns 0, or -1 when the named variant cannot run here. */
int qr_kernels_select(qr_kernels *k, const char *want);

#endif
