/* isa.h - the per-ISA kernel functions that dispatch.c chooses among.
 *
 * Internal to src/kernels: each of these may only be called once dispatch.c
 * has checked the CPU (and OS) features its file was compiled for. */
#ifndef QRANK_KERNELS_ISA_H
#define QRANK_KERNELS_ISA_H

#include "kernels.h"
#include "q8_0x16.h"

/* avx2.c: AVX2 + FMA + F16C. The q8_0 kernel comes in two forms: AVX-VNNI
 * (vpdpbusd on YMM) and plain AVX2 (vpmaddwd on int16). */
void qr_gemm_f32_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                      float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_q8_0_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                       float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_q8_0_avxvnni(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows,
                          int64_t ldx, float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_bf16_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                       float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_kq_avx2(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                     int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_kq_avxvnni(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_quantize_q8_0_avx2(const float *x, void *out, int64_t n);
int qr_quantize_q8u_avx2(const float *x, void *out, int64_t n);
int qr_quantize_q8w_avx2(const float *x, void *out, int64_t n);
void qr_to_bf16_avx2(const float *x, uint16_t *out, int64_t n);
/* q8x16k.h's layouts, the same bytes as qr_q8x16k_pack */
void qr_q8x16k_pack_avx2(const qr_tensor *w, void *dst);

/* avx512.c: AVX-512 F/BW/VL/DQ/VNNI (not BF16: the avx512vnni table runs
 * them where the CPU lacks it). qr_gemm_bf16_avx512 is avx512_bf16.c's,
 * built with BF16 too. */
void qr_gemm_f32_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                        float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_q8_0_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                         float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_bf16_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                         float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_kq_avx512(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                       int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_quantize_q8_0_avx512(const float *x, void *out, int64_t n);
int qr_quantize_q8u_avx512(const float *x, void *out, int64_t n);
void qr_q8_0x16_pack_avx512(const qr_tensor *w, void *dst);
/* Where both Q8_0 kernels read weight rows [o0, o1) (at most 32: two
 * groups) x 32-blocks [b0, b0 + nb <= KC) of a Q8_0 matrix: gp[g] in its
 * packed copy (w->packed as the call read it once; o0 a multiple of 16
 * then), or laid out as q8_0x16 into chunk (2 x KC blocks; rows past o1
 * repeat row o0). */
enum { QR_Q8_0X16_KC = 32 };
void qr_q8_0x16_chunk_avx512(const qr_tensor *w, const qr_q8_0x16 *packed, int64_t o0, int64_t o1, int64_t b0, int nb,
                             qr_q8_0x16 *chunk, const qr_q8_0x16 *gp[2]);
void qr_to_bf16_avx512(const float *x, uint16_t *out, int64_t n);

/* avx512_amx.c: AMX-TILE and AMX-BF16 on top of avx512.c's features, for
 * BF16 weights. qr_amx_request asks the OS for the tile state (1: granted);
 * nothing else there may run before it has said yes. */
int qr_amx_request(void);
void qr_gemm_bf16_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                      int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_f16_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                     int64_t ldy, int64_t o_begin, int64_t o_end);
/* Q8_0 weights on AMX-INT8 tiles (CPUs with AMX-INT8 too), q8u rows; the
 * same bits as qr_gemm_q8_0_avx512, which takes rows of Q8_0 blocks.
 * qr_gemm_q8_0_amx, the amx table's, leaves calls of few rows to
 * qr_gemm_q8_0_avx512 (avx512_amx.c says why); _tiles takes any. */
void qr_gemm_q8_0_amx_tiles(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx,
                            float *y, int64_t ldy, int64_t o_begin, int64_t o_end);
void qr_gemm_q8_0_amx(const qr_tensor *w, const float *x, const qr_acts *xq, int64_t n_rows, int64_t ldx, float *y,
                      int64_t ldy, int64_t o_begin, int64_t o_end);
/* The bf16x16 layout (avx512.c): 0 for anything but BF16 with a
 * multiple of 32 inputs. */
size_t qr_bf16x16_size(const qr_tensor *w);
void qr_bf16x16_pack_avx512(const qr_tensor *w, void *dst);
/* Outputs first .. first + 15 of w (those at or past end: output pad, or
 * zeros when pad < 0), inputs [k0, k0 + n) for any n, as (n + 1) / 2 pair
 * rows of 64 bytes at dst (64-byte aligned); a pair past the row's end is
 * zero. What avx512.c's gemm_bf16 and the AMX kernel read when nothing was
 * packed. */
void qr_bf16x16_group_avx512(const qr_tensor *w, int64_t first, int64_t end, int64_t pad, int64_t k0, int64_t n,
                             uint8_t *dst);
/* Where both BF16 kernels read a chunk of at most QR_BF16X16_KC inputs
 * [k0, k0 + n) of outputs o0 .. hi - 1 (at most 32: two groups): in w's
 * packed copy (o0 a multiple of 16 then), or laid out into chunk, outputs
 * past hi repeating o0 (chunk may be NULL where w has its copy). Returns
 * the first group's pairs; *bg is the distance to the second's. */
enum {
    QR_BF16X16_PAIR = 64, /* bytes of one pair row of a group: 16 outputs x 2 bf16 */
    QR_BF16X16_KC = 512,
};
const uint8_t *qr_bf16x16_chunk_avx512(const qr_tensor *w, int64_t o0, int64_t hi, int64_t k0, int64_t n,
                                       uint8_t chunk[2][QR_BF16X16_KC / 2 * QR_BF16X16_PAIR], size_t *bg);

#endif
