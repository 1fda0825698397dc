/* model.h - what a loaded model is inside the library.
 *
 * A qrank_model owns the mapped file(s), the tokenizer, pointers to every
 * weight tensor (never copied), small f32 copies of the norm vectors and of
 * the yes/no output rows (widened once at load so the hot path never looks at
 * their storage type), and the kernel table chosen for this CPU. After
 * loading it is read-only, so several threads may use it at once. */
#ifndef QRANK_MODEL_H
#define QRANK_MODEL_H

#include "gguf.h"
#include "kernels/acts.h"
#include "kernels/kernels.h"
#include "packing.h"
#include "qrank.h"
#include "safetensors.h"
#include "tensor.h"
#include "tokenizer.h"
#include "workspace.h"

typedef struct qr_prefix_cache qr_prefix_cache; /* prefix_cache.h, which needs this file's types */

typedef struct qr_hparams {
    int n_layers, hidden, ffn, n_heads, n_kv_heads, head_dim;
    int vocab_size, embedding_rows, context_length;
    double rope_theta, rms_eps;
} qr_hparams;

typedef struct qr_layer {
    const qr_tensor *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
    float *attn_norm, *q_norm, *k_norm, *ffn_norm; /* widened to f32 */
    /* The seven matrices as the model's own copies, where they get a
     * packed layout (model.c, plan_packing); wq.. then point here. */
    qr_tensor own[7];
} qr_layer;

/* How attention multiplies (attention.h). The bf16 paths round queries,
 * keys, values and probabilities to bf16 and keep f32 sums; qr_attention
 * falls back to f32 for head dims a path cannot take. */
typedef enum qr_att_path {
    QR_ATT_F32,      /* f32 throughout (attention.c) */
    QR_ATT_BF16_DOT, /* vdpbf16ps (attention_avx512_bf16.c): head_dim % 16 == 0, <= QR_ATT_DOT_MAX_HD */
    QR_ATT_BF16_AMX, /* AMX tiles (attention_avx512_amx.c): head_dim % 32 == 0, <= 256 */
} qr_att_path;

/* The bf16 attention a kernel table has (QR_ATT_F32: none), and what
 * --precision fast runs by default there: bf16 on AMX, and on vdpbf16ps
 * where that runs at the FMA's rate (kernels.h); f32 otherwise. */
static inline qr_att_path qr_att_bf16_path(const qr_kernels *k) {
    return k->amx ? QR_ATT_BF16_AMX : k->bf16_dot ? QR_ATT_BF16_DOT : QR_ATT_F32;
}
static inline qr_att_path qr_att_default_path(const qr_kernels *k) {
    return k->amx || k->bf16_dot_fast ? qr_att_bf16_path(k) : QR_ATT_F32;
}

struct qrank_model {
    qr_hparams hp;
    qrank_model_kind kind;
    char name[256];
    const char *file_format;
    const char *weight_type;

    qr_gguf *gguf;
    qr_safetensors *st;
    qr_tokenizer *tok;

    const qr_tensor *tok_embd;
    qr_layer *layers;
    float *output_norm;
    float *head_yes, *head_no; /* output rows of "yes" and "no", f32 */
    int has_cls_output;

    double *rope_inv_freq; /* head_dim / 2 */

    /* token ids the templates need */
    int32_t id_endoftext, id_im_start, id_im_end, id_think, id_end_think, id_yes, id_no;
    int32_t *rerank_prefix; /* the system prompt up to "<|im_start|>user\n" */
    size_t n_rerank_prefix;
    int32_t *rerank_suffix; /* "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n" */
    size_t n_rerank_suffix;

    qr_kernels kernels;
    qr_att_path fast_attention; /* attention under --precision fast where the matrices round (qr_fast_att_path) */
    /* every packed matrix, one mapping reserved at load (NULL: none) */
    void *packed;
    size_t packed_bytes;
    qr_pack_pool pack_pool;
    int n_threads;
    qrank_precision precision;
    qr_workspace_cache *workspace; /* forward passes' scratch, kept between calls (NULL: none kept) */
    qr_prefix_cache *prefix_cache; /* prompt prefixes' keys/values between calls (NULL: none) */

    /* tensor listing for qrank_model_get_tensor */
    const qr_tensor **all_tensors;
    size_t n_all_tensors;
    size_t weight_bytes;
};

/* What --precision fast runs w's matrix multiplications on: the kernel,
 * and in *acts the activations it reads (QR_TYPE_F32: none rounded, the
 * exact kernel). w as the fast calls find it: Q4_0, Q4_K and Q6_K are laid
 * out by the first of them where the model reserved them a copy (matmul.c,
 * qr_pack_use), and run on the f32 kernel where it did not (repack -1). */
static inline qr_gemm_fn qr_fast_plan(const qrank_model *m, const qr_tensor *w, qr_acts *acts) {
    return qr_acts_plan(&m->kernels, w->type, w->packed != NULL || w->slot != NULL, w->ne[0], acts);
}

/* The attention path under --precision fast of a layer whose matrices are
 * like w: as the model was loaded to run it (bf16 where the CPU multiplies
 * that faster) where those matrices' activations are rounded, f32 where
 * nothing is (F32 weights; F16 without gemm_f16; Q4 types with no copy),
 * whose fast path is then the exact one. */
static inline qr_att_path qr_fast_att_path(const qrank_model *m, const qr_tensor *w) {
    qr_acts acts;
    return qr_fast_plan(m, w, &acts) && acts.type != QR_TYPE_F32 ? m->fast_attention : QR_ATT_F32;
}

#endif
