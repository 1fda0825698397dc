/* tensor.h - a weight tensor as the engine sees it, whatever file it came from.
 *
 * Shapes use ggml's order: ne[0] is the innermost (contiguous) dimension, so a
 * Hugging Face weight of shape [out, in] is ne[0] = in, ne[1] = out. Data
 * points into the mmap'd file and is never copied. */
#ifndef QRANK_TENSOR_H
#define QRANK_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* Values are GGML's type ids, so a GGUF file's type field maps directly. */
typedef enum qr_type {
    QR_TYPE_F32 = 0,
    QR_TYPE_F16 = 1,
    QR_TYPE_Q4_0 = 2,
    QR_TYPE_Q8_0 = 8,
    QR_TYPE_Q4_K = 12,
    QR_TYPE_Q6_K = 14,
    QR_TYPE_BF16 = 30,
} qr_type;

#define QR_QK8_0 32
typedef struct {
    uint16_t d; /* f16 scale */
    int8_t qs[QR_QK8_0];
} qr_block_q8_0;
_Static_assert(sizeof(qr_block_q8_0) == 34, "Q8_0 block is 34 bytes");

#define QR_QK4_0 32
typedef struct {
    uint16_t d;
    uint8_t qs[QR_QK4_0 / 2];
} qr_block_q4_0;
_Static_assert(sizeof(qr_block_q4_0) == 18, "Q4_0 block is 18 bytes");

#define QR_QK_K 256
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QR_QK_K / 2];
} qr_block_q4_k;
_Static_assert(sizeof(qr_block_q4_k) == 144, "Q4_K block is 144 bytes");

typedef struct {
    uint8_t ql[QR_QK_K / 2];
    uint8_t qh[QR_QK_K / 4];
    int8_t scales[QR_QK_K / 16];
    uint16_t d;
} qr_block_q6_k;
_Static_assert(sizeof(qr_block_q6_k) == 210, "Q6_K block is 210 bytes");

typedef struct qr_type_traits {
    const char *name;
    int block_size;     /* values per block */
    size_t block_bytes; /* bytes per block */
} qr_type_traits;

/* NULL for a type qrank does not know. */
const qr_type_traits *qr_type_get(int type);

/* Bytes of one row of n values, or 0 when n is not a whole number of blocks. */
size_t qr_row_bytes(qr_type type, int64_t n);

typedef struct qr_tensor {
    const char *name;
    qr_type type;
    int n_dims;
    int64_t ne[4]; /* unused dimensions are 1 */
    const void *data;
    size_t nbytes;
    /* Optional copy of data in the layout of the model's kernel table
     * (qr_kernels.pack, kernels/kernels.h), set only once the whole copy is
     * there; NULL when there is none. data stays valid and authoritative
     * either way. */
    const void *packed;
    /* Where a model's matrix gets that copy on first use (packing.h); NULL
     * for every other tensor. */
    struct qr_pack_slot *slot;
} qr_tensor;

static inline int64_t qr_tensor_rows(const qr_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }

/* Scalar conversions used by every path. */
float qr_f16_to_f32(uint16_t h);
uint16_t qr_f32_to_f16(float f);
float qr_bf16_to_f32(uint16_t h);
uint16_t qr_f32_to_bf16(float f); /* round to nearest even */

/* Widens row `row` of a 2-D tensor into dst[0..ne[0]). Exact for every type. */
void qr_dequantize_row(const qr_tensor *t, int64_t row, float *dst);

#endif
