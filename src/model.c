/* model.c - turning a GGUF file or a Hugging Face directory into a qrank_model.
 *
 * Both formats end in the same place: hyper-parameters, a tokenizer and a
 * table of tensor pointers whose shapes have all been checked against the
 * hyper-parameters here, once, so the forward pass can trust them. Nothing
 * that is large is copied: matrices stay in the mapping. Only the norm
 * vectors and the two output rows the reranker needs ("yes", "no") are
 * widened to f32, a few KB. */
#include "model.h"
#include "prefix_cache.h"
#include "forward.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "kernels/acts.h"
#include "kernels/q8x16k.h"
#include "mapped_file.h"

#define MAX_JSON_BYTES ((size_t)64 << 20)

qrank_model_params qrank_model_default_params(void) {
    qrank_model_params p;
    memset(&p, 0, sizeof p);
    p.n_threads = 0;
    p.precision = QRANK_PRECISION_FAST;
    return p;
}

/* qrank_model_params.attention: NULL, "f32" or "bf16". */
static int choose_attention(qrank_model *m, const char *want, qrank_error *err) {
    const qr_kernels *k = &m->kernels;
    const qr_att_path bf16 = qr_att_bf16_path(k);
    if (!want || !*want) /* QRANK_ATTENTION= : the default */
        m->fast_attention = qr_att_default_path(k);
    else if (strcmp(want, "f32") == 0)
        m->fast_attention = QR_ATT_F32;
    else if (strcmp(want, "bf16") != 0)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "attention \"%s\": not known (f32, bf16)", want);
    else if (bf16 == QR_ATT_F32)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT,
                        "attention \"bf16\": the %s kernels have none (amx and avx512 have)", k->name);
    else
        m->fast_attention = bf16;
    return QRANK_OK;
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void qrank_model_set_threads(qrank_model *model, int n_threads) {
    model->n_threads = n_threads > 0 ? n_threads : default_threads();
}

/* ---- tensor lookup and checks ------------------------------------------------------------ */

typedef struct loader {
    qrank_model *m;
    qrank_error *err;
} loader;

static const qr_tensor *find_tensor(const qrank_model *m, const char *gguf_name, const char *hf_name) {
    if (m->gguf) return qr_gguf_tensor(m->gguf, gguf_name);
    return qr_safetensors_tensor(m->st, hf_name);
}

/* A 2-D (or 1-D when ne1 == 0) tensor with exactly this shape. */
static int get_tensor(loader *L, const char *gguf_name, const char *hf_name, int64_t ne0, int64_t ne1,
                      int optional, const qr_tensor **out) {
    const qr_tensor *t = find_tensor(L->m, gguf_name, hf_name);
    const char *shown = L->m->gguf ? gguf_name : hf_name;
    *out = t;
    if (!t) {
        if (optional) return QRANK_OK;
        return qr_error(L->err, QRANK_E_FORMAT, "tensor %s is missing", shown);
    }
    int64_t want1 = ne1 ? ne1 : 1;
    if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return qr_error(L->err, QRANK_E_FORMAT,
                        "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", shown,
                        (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)ne0, (long long)want1);
    if (!qr_type_get(t->type) || qr_row_bytes(t->type, t->ne[0]) == 0)
        return qr_error(L->err, QRANK_E_FORMAT, "tensor %s: unsupported type or row size", shown);
    if (qr_row_bytes(t->type, t->ne[0]) * (size_t)want1 > t->nbytes)
        return qr_error(L->err, QRANK_E_FORMAT, "tensor %s: data is shorter than its shape", shown);
    return QRANK_OK;
}

static int widen_vector(loader *L, const char *gguf_name, const char *hf_name, int64_t n, float **out) {
    const qr_tensor *t;
    int rc = get_tensor(L, gguf_name, hf_name, n, 0, 0, &t);
    if (rc) return rc;
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) return qr_error(L->err, QRANK_E_NO_MEMORY, "out of memory");
    qr_dequantize_row(t, 0, v);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            free(v);
            return qr_error(L->err, QRANK_E_FORMAT, "tensor %s holds a non-finite value",
                            L->m->gguf ? gguf_name : hf_name);
        }
    *out = v;
    return QRANK_OK;
}

static int widen_row(loader *L, const qr_tensor *t, int64_t row, float **out) {
    if (row < 0 || row >= t->ne[1])
        return qr_error(L->err, QRANK_E_FORMAT, "tensor %s has no row %lld", t->name, (long long)row);
    float *v = malloc(sizeof(float) * (size_t)t->ne[0]);
    if (!v) return qr_error(L->err, QRANK_E_NO_MEMORY, "out of memory");
    qr_dequantize_row(t, row, v);
    *out = v;
    return QRANK_OK;
}

static int check_hparams(const qr_hparams *hp, qrank_error *err) {
    if (hp->n_layers < 1 || hp->n_layers > 1024) return qr_error(err, QRANK_E_FORMAT, "layer count %d is out of range", hp->n_layers);
    if (hp->hidden < 1 || hp->hidden > 65536) return qr_error(err, QRANK_E_FORMAT, "hidden size %d is out of range", hp->hidden);
    if (hp->ffn < 1 || hp->ffn > 1 << 20) return qr_error(err, QRANK_E_FORMAT, "feed-forward size %d is out of range", hp->ffn);
    if (hp->n_heads < 1 || hp->n_heads > 1024) return qr_error(err, QRANK_E_FORMAT, "head count %d is out of range", hp->n_heads);
    if (hp->n_kv_heads < 1 || hp->n_kv_heads > hp->n_heads || hp->n_heads % hp->n_kv_heads)
        return qr_error(err, QRANK_E_FORMAT, "%d query heads cannot share %d key/value heads", hp->n_heads, hp->n_kv_heads);
    if (hp->head_dim < 2 || hp->head_dim > 1024 || hp->head_dim % 2)
        return qr_error(err, QRANK_E_FORMAT, "head dimension %d is out of range or odd", hp->head_dim);
    if (!(hp->rope_theta > 0) || !isfinite(hp->rope_theta)) return qr_error(err, QRANK_E_FORMAT, "RoPE base %g is invalid", hp->rope_theta);
    if (!(hp->rms_eps > 0) || hp->rms_eps > 1) return qr_error(err, QRANK_E_FORMAT, "RMSNorm epsilon %g is invalid", hp->rms_eps);
    if (hp->context_length < 1) return qr_error(err, QRANK_E_FORMAT, "context length %d is invalid", hp->context_length);
    return QRANK_OK;
}

/* Loads every tensor the forward pass needs and checks its shape. */
static int load_tensors(loader *L) {
    qrank_model *m = L->m;
    const qr_hparams *hp = &m->hp;
    const int64_t H = hp->hidden, qdim = (int64_t)hp->n_heads * hp->head_dim,
                  kvdim = (int64_t)hp->n_kv_heads * hp->head_dim;
    int rc;
    const qr_tensor *emb = find_tensor(m, "token_embd.weight", "embed_tokens.weight");
    if (!emb) return qr_error(L->err, QRANK_E_FORMAT, "the token embedding tensor is missing");
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return qr_error(L->err, QRANK_E_FORMAT, "the token embedding has %lld rows", (long long)emb->ne[1]);
    if ((rc = get_tensor(L, "token_embd.weight", "embed_tokens.weight", H, emb->ne[1], 0, &m->tok_embd))) return rc;
    m->hp.embedding_rows = (int)emb->ne[1];

    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return qr_error(L->err, QRANK_E_NO_MEMORY, "out of memory");
    for (int l = 0; l < hp->n_layers; l++) {
        qr_layer *ly = &m->layers[l];
        char g[96], h[96];
#define NAMES(gs, hs) (snprintf(g, sizeof g, "blk.%d." gs, l), snprintf(h, sizeof h, "layers.%d." hs, l))
        NAMES("attn_q.weight", "self_attn.q_proj.weight");
        if ((rc = get_tensor(L, g, h, H, qdim, 0, &ly->wq))) return rc;
        NAMES("attn_k.weight", "self_attn.k_proj.weight");
        if ((rc = get_tensor(L, g, h, H, kvdim, 0, &ly->wk))) return rc;
        NAMES("attn_v.weight", "self_attn.v_proj.weight");
        if ((rc = get_tensor(L, g, h, H, kvdim, 0, &ly->wv))) return rc;
        NAMES("attn_output.weight", "self_attn.o_proj.weight");
        if ((rc = get_tensor(L, g, h, qdim, H, 0, &ly->wo))) return rc;
        NAMES("ffn_gate.weight", "mlp.gate_proj.weight");
        if ((rc = get_tensor(L, g, h, H, hp->ffn, 0, &ly->w_gate))) return rc;
        NAMES("ffn_up.weight", "mlp.up_proj.weight");
        if ((rc = get_tensor(L, g, h, H, hp->ffn, 0, &ly->w_up))) return rc;
        NAMES("ffn_down.weight", "mlp.down_proj.weight");
        if ((rc = get_tensor(L, g, h, hp->ffn, H, 0, &ly->w_down))) return rc;
        NAMES("attn_norm.weight", "input_layernorm.weight");
        if ((rc = widen_vector(L, g, h, H, &ly->attn_norm))) return rc;
        NAMES("attn_q_norm.weight", "self_attn.q_norm.weight");
        if ((rc = widen_vector(L, g, h, hp->head_dim, &ly->q_norm))) return rc;
        NAMES("attn_k_norm.weight", "self_attn.k_norm.weight");
        if ((rc = widen_vector(L, g, h, hp->head_dim, &ly->k_norm))) return rc;
        NAMES("ffn_norm.weight", "post_attention_layernorm.weight");
        if ((rc = widen_vector(L, g, h, H, &ly->ffn_norm))) return rc;
#undef NAMES
    }
    if ((rc = widen_vector(L, "output_norm.weight", "norm.weight", H, &m->output_norm))) return rc;

    /* The reranker's head: cls.output (rows yes, no) in rerank GGUFs, else
     * the rows of "yes" and "no" in the LM head, which is the embedding
     * table when tied. */
    const qr_tensor *cls = NULL, *lm_head = NULL;
    if (m->gguf) {
        const qr_tensor *c = qr_gguf_tensor(m->gguf, "cls.output.weight");
        if (c) {
            if ((rc = get_tensor(L, "cls.output.weight", "", H, c->ne[1], 0, &cls))) return rc;
            if (cls->ne[1] < 2) return qr_error(L->err, QRANK_E_FORMAT, "cls.output.weight has fewer than 2 rows");
        }
        if ((rc = get_tensor(L, "output.weight", "", H, emb->ne[1], 1, &lm_head))) return rc;
    } else {
        const qr_tensor *t = qr_safetensors_tensor(m->st, "lm_head.weight");
        if (t && (rc = get_tensor(L, "", "lm_head.weight", H, t->ne[1], 0, &lm_head))) return rc;
    }
    if (cls) {
        m->has_cls_output = 1;
        if ((rc = widen_row(L, cls, 0, &m->head_yes)) || (rc = widen_row(L, cls, 1, &m->head_no))) return rc;
    } else {
        const qr_tensor *head = lm_head ? lm_head : m->tok_embd;
        if ((rc = widen_row(L, head, m->id_yes, &m->head_yes)) || (rc = widen_row(L, head, m->id_no, &m->head_no)))
            return rc;
    }
    return QRANK_OK;
}

/* ---- GGUF ------------------------------------------------------------------------------- */

static int gguf_int(qr_gguf *g, const char *key, int optional, int def, int *out, qrank_error *err) {
    uint64_t v = (uint64_t)def;
    int rc = qr_gguf_get_u64(g, key, optional, &v, err);
    if (rc) return rc;
    if (v > (uint64_t)1 << 30) return qr_error(err, QRANK_E_FORMAT, "%s = %llu is out of range", key, (unsigned long long)v);
    *out = (int)v;
    return QRANK_OK;
}

static int load_gguf(qrank_model *m, const char *path, qrank_error *err) {
    int rc = qr_gguf_open(path, &m->gguf, err);
    if (rc) return rc;
    qr_gguf *g = m->gguf;
    qr_str arch = {0};
    if ((rc = qr_gguf_get_str(g, "general.architecture", 0, &arch, err))) return rc;
    if (arch.len != 5 || memcmp(arch.ptr, "qwen3", 5) != 0)
        return qr_error(err, QRANK_E_UNSUPPORTED, "architecture \"%.*s\" is not supported (qrank runs qwen3)",
                        (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    qr_hparams *hp = &m->hp;
    if ((rc = gguf_int(g, "qwen3.block_count", 0, 0, &hp->n_layers, err)) ||
        (rc = gguf_int(g, "qwen3.embedding_length", 0, 0, &hp->hidden, err)) ||
        (rc = gguf_int(g, "qwen3.feed_forward_length", 0, 0, &hp->ffn, err)) ||
        (rc = gguf_int(g, "qwen3.attention.head_count", 0, 0, &hp->n_heads, err)))
        return rc;
    hp->n_kv_heads = hp->n_heads;
    if ((rc = gguf_int(g, "qwen3.attention.head_count_kv", 1, hp->n_heads, &hp->n_kv_heads, err))) return rc;
    hp->head_dim = hp->n_heads ? hp->hidden / hp->n_heads : 0;
    if ((rc = gguf_int(g, "qwen3.attention.key_length", 1, hp->head_dim, &hp->head_dim, err))) return rc;
    int vlen = hp->head_dim;
    if ((rc = gguf_int(g, "qwen3.attention.value_length", 1, hp->head_dim, &vlen, err))) return rc;
    if (vlen != hp->head_dim)
        return qr_error(err, QRANK_E_UNSUPPORTED, "key length %d differs from value length %d", hp->head_dim, vlen);
    hp->context_length = 40960;
    if ((rc = gguf_int(g, "qwen3.context_length", 1, 40960, &hp->context_length, err))) return rc;
    hp->rope_theta = 1000000.0;
    hp->rms_eps = 1e-6;
    if ((rc = qr_gguf_get_f64(g, "qwen3.rope.freq_base", 1, &hp->rope_theta, err)) ||
        (rc = qr_gguf_get_f64(g, "qwen3.attention.layer_norm_rms_epsilon", 1, &hp->rms_eps, err)))
        return rc;

    qr_str name = {0};
    if ((rc = qr_gguf_get_str(g, "general.name", 1, &name, err))) return rc;
    snprintf(m->name, sizeof m->name, "%.*s", (int)(name.len > 200 ? 200 : name.len), name.ptr ? name.ptr : "");
    if (!m->name[0]) {
        const char *base = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
    }

    /* Tokenizer from tokenizer.ggml.* */
    const qr_gguf_kv *tokens_kv = qr_gguf_find(g, "tokenizer.ggml.tokens");
    const qr_gguf_kv *merges_kv = qr_gguf_find(g, "tokenizer.ggml.merges");
    const qr_gguf_kv *types_kv = qr_gguf_find(g, "tokenizer.ggml.token_type");
    if (!tokens_kv || tokens_kv->type != QR_GGUF_ARRAY || tokens_kv->elem_type != QR_GGUF_STRING)
        return qr_error(err, QRANK_E_FORMAT, "tokenizer.ggml.tokens is missing or not a string array");
    if (!merges_kv || merges_kv->type != QR_GGUF_ARRAY || merges_kv->elem_type != QR_GGUF_STRING)
        return qr_error(err, QRANK_E_FORMAT, "tokenizer.ggml.merges is missing or not a string array");
    qr_str model_name = {0};
    if ((rc = qr_gguf_get_str(g, "tokenizer.ggml.model", 1, &model_name, err))) return rc;
    if (model_name.ptr && !(model_name.len == 4 && memcmp(model_name.ptr, "gpt2", 4) == 0))
        return qr_error(err, QRANK_E_UNSUPPORTED, "tokenizer model \"%.*s\" is not byte-level BPE (gpt2)",
                        (int)(model_name.len > 64 ? 64 : model_name.len), model_name.ptr);
    qr_str *tokens = NULL, *merges = NULL;
    int32_t *types = NULL;
    rc = qr_gguf_array_strings(tokens_kv, &tokens, err);
    if (!rc) rc = qr_gguf_array_strings(merges_kv, &merges, err);
    if (!rc && types_kv) {
        if (types_kv->type != QR_GGUF_ARRAY || types_kv->n_elems != tokens_kv->n_elems)
            rc = qr_error(err, QRANK_E_FORMAT, "tokenizer.ggml.token_type does not match the token list");
        else
            rc = qr_gguf_array_i32(types_kv, &types, err);
    }
    if (!rc) {
        qr_vocab_spec spec = {tokens, types, (size_t)tokens_kv->n_elems, merges, (size_t)merges_kv->n_elems, NULL};
        rc = qr_tokenizer_create(&spec, &m->tok, err);
        if (rc) qr_error_prefix(err, rc, "tokenizer");
    }
    free(tokens);
    free(merges);
    free(types);
    if (rc) return rc;

    uint64_t pooling = 0;
    int has_pooling = qr_gguf_find(g, "qwen3.pooling_type") != NULL;
    if ((rc = qr_gguf_get_u64(g, "qwen3.pooling_type", 1, &pooling, err))) return rc;
    if (qr_gguf_tensor(g, "cls.output.weight") || (has_pooling && pooling == 4))
        m->kind = QRANK_KIND_RERANKER;
    else if (has_pooling && pooling >= 1 && pooling <= 3)
        m->kind = QRANK_KIND_EMBEDDER;
    else
        m->kind = strstr(m->name, "mbed") ? QRANK_KIND_EMBEDDER : QRANK_KIND_RERANKER;
    m->file_format = "gguf";
    return QRANK_OK;
}

/* ---- Hugging Face directory ------------------------------------------------------------- */

static int load_hf(qrank_model *m, const char *dir, qrank_error *err) {
    char path[4096];
    char *json = NULL;
    size_t len = 0;
    int rc;
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "path too long");
    if ((rc = qr_read_small_file(path, 1 << 20, &json, &len, err))) return rc;
    qr_hf_config cfg;
    rc = qr_hf_config_parse(json, len, &cfg, err);
    free(json);
    if (rc) return qr_error_prefix(err, rc, "%s", path);
    if (strcmp(cfg.model_type, "qwen3") != 0)
        return qr_error(err, QRANK_E_UNSUPPORTED, "model_type \"%s\" is not supported (qrank runs qwen3)", cfg.model_type);
    qr_hparams *hp = &m->hp;
    hp->n_layers = cfg.n_layers;
    hp->hidden = cfg.hidden;
    hp->ffn = cfg.ffn;
    hp->n_heads = cfg.n_heads;
    hp->n_kv_heads = cfg.n_kv_heads;
    hp->head_dim = cfg.head_dim;
    hp->context_length = cfg.max_positions;
    hp->rope_theta = cfg.rope_theta;
    hp->rms_eps = cfg.rms_eps;

    if ((rc = qr_safetensors_open_dir(dir, &m->st, err))) return rc;

    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if ((rc = qr_read_small_file(path, MAX_JSON_BYTES, &json, &len, err))) return rc;
    rc = qr_tokenizer_from_json(json, len, &m->tok, err);
    free(json);
    if (rc) return qr_error_prefix(err, rc, "%s", path);

    /* The directory's own name is the only name a Hugging Face checkout has. */
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    size_t start = dl;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(m->name, sizeof m->name, "%.*s", (int)(dl - start > 200 ? 200 : dl - start), dir + start);
    /* Qwen3-Embedding stores its tensors without the "model." prefix and
     * has no LM head; its directory is named for it. */
    int prefixed = 0;
    for (size_t i = 0; i < qr_safetensors_n_tensors(m->st); i++)
        if (strncmp(qr_safetensors_tensor_at(m->st, i)->name, "model.", 6) == 0) prefixed = 1;
    char lower[256];
    for (size_t i = 0; i < sizeof lower; i++) {
        lower[i] = (char)tolower((unsigned char)m->name[i]);
        if (!m->name[i]) break;
    }
    lower[sizeof lower - 1] = '\0';
    if (strstr(lower, "embed") || (!prefixed && !strstr(lower, "rerank")))
        m->kind = QRANK_KIND_EMBEDDER;
    else
        m->kind = QRANK_KIND_RERANKER;
    m->file_format = "huggingface";
    return QRANK_OK;
}

/* ---- prompt templates ------------------------------------------------------------------- */

static int special(qrank_model *m, const char *text, int32_t *out, qrank_error *err) {
    *out = qr_tokenizer_find(m->tok, text);
    if (*out < 0) return qr_error(err, QRANK_E_FORMAT, "the vocabulary has no token %s", text);
    return QRANK_OK;
}

typedef struct id_list {
    int32_t *ids;
    size_t n, cap;
} id_list;

static int push_id(id_list *l, int32_t id, qrank_error *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *p = realloc(l->ids, cap * sizeof *p);
        if (!p) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return QRANK_OK;
}

static int push_text(qrank_model *m, id_list *l, const char *text, qrank_error *err) {
    return qr_tokenize(m->tok, text, strlen(text), &l->ids, &l->n, &l->cap, err);
}

/* The official template, split where the tokenizer splits it: special tokens
 * are matched exactly, the text between them is tokenized on its own. */
static int build_templates(qrank_model *m, qrank_error *err) {
    int rc;
    if ((rc = special(m, "<|endoftext|>", &m->id_endoftext, err)) ||
        (rc = special(m, "<|im_start|>", &m->id_im_start, err)) ||
        (rc = special(m, "<|im_end|>", &m->id_im_end, err)) ||
        (rc = special(m, "<think>", &m->id_think, err)) ||
        (rc = special(m, "</think>", &m->id_end_think, err)) || (rc = special(m, "yes", &m->id_yes, err)) ||
        (rc = special(m, "no", &m->id_no, err)))
        return rc;
    id_list pre = {0}, suf = {0};
    rc = push_id(&pre, m->id_im_start, err);
    if (!rc)
        rc = push_text(m, &pre,
                       "system\nJudge whether the Document meets the requirements based on the Query and "
                       "the Instruct provided. Note that the answer can only be \"yes\" or \"no\".",
                       err);
    if (!rc) rc = push_id(&pre, m->id_im_end, err);
    if (!rc) rc = push_text(m, &pre, "\n", err);
    if (!rc) rc = push_id(&pre, m->id_im_start, err);
    if (!rc) rc = push_text(m, &pre, "user\n", err);

    if (!rc) rc = push_id(&suf, m->id_im_end, err);
    if (!rc) rc = push_text(m, &suf, "\n", err);
    if (!rc) rc = push_id(&suf, m->id_im_start, err);
    if (!rc) rc = push_text(m, &suf, "assistant\n", err);
    if (!rc) rc = push_id(&suf, m->id_think, err);
    if (!rc) rc = push_text(m, &suf, "\n\n", err);
    if (!rc) rc = push_id(&suf, m->id_end_think, err);
    if (!rc) rc = push_text(m, &suf, "\n\n", err);
    m->rerank_prefix = pre.ids;
    m->n_rerank_prefix = pre.n;
    m->rerank_suffix = suf.ids;
    m->n_rerank_suffix = suf.n;
    return rc;
}

/* ---- load / free ------------------------------------------------------------------------ */

static const char *majority_type(const qrank_model *m) {
    /* the type of the attention and MLP matrices, by bytes */
    size_t bytes[64] = {0};
    for (int l = 0; l < m->hp.n_layers; l++) {
        const qr_tensor *ts[] = {m->layers[l].wq, m->layers[l].wk, m->layers[l].wv, m->layers[l].wo,
                                 m->layers[l].w_gate, m->layers[l].w_up, m->layers[l].w_down};
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
            if ((unsigned)ts[i]->type < 64) bytes[ts[i]->type] += ts[i]->nbytes;
    }
    int best = 0;
    for (int t = 1; t < 64; t++)
        if (bytes[t] > bytes[best]) best = t;
    const qr_type_traits *tt = qr_type_get(best);
    return tt ? tt->name : "?";
}

/* The model's file pages of a matrix that now has its packed copy. */
static void drop_pages(void *ctx, const void *p, size_t n) {
    const qrank_model *m = ctx;
    if (m->gguf) qr_gguf_drop_pages(m->gguf, p, n);
    if (m->st) qr_safetensors_drop_pages(m->st, p, n);
}

/* Which layer matrices get a packed copy for the kernel table's fast path
 * (kernels.h, pack) and when (qrank_model_params.repack):
 * - Q4_0, Q4_K, Q6_K: their int8 kernel reads nothing else; without a copy
 *   every fast call widens their weights to f32. Made at load (repack 1)
 *   or by the first fast call (0).
 * - Q8_0: its kernel packs a chunk at a time on the fly; the copy spares
 *   that on every later call (5-10%, ~25% on small batches) but costs more
 *   than one call spends on it, so only for long-lived processes: at load
 *   (repack 1) or while they are idle (2, qrank_model_pack_step). Optional:
 *   calls read the file's layout until a copy is made.
 * - BF16, for tables that pack it (avx512, amx): the same as Q8_0, its kernel
 *   laying out a chunk at a time what the copy holds whole.
 * repack < 0: no copies. */
static int wants_pack(const qrank_model *m, const qr_tensor *t, int repack) {
    if (repack < 0) return 0;
    if (t->type == QR_TYPE_Q8_0) return repack > 0 && m->kernels.gemm_q8_0 != NULL;
    if (t->type == QR_TYPE_BF16) return repack > 0 && m->kernels.pack_size(t) > 0;
    return qr_q8x16k_type(t->type) && m->kernels.gemm_kq;
}

/* Reserves one mapping for every packed copy and points the matrices at
 * their slots; with repack 1 makes the copies now. Reserving costs no
 * memory: pages arrive as the copies are made. Skipped, not failed, when
 * the table has no packed layout or the address space is not there: the
 * kernels read the file's layout then. --precision exact reads the file's
 * copy, which the kernel pages back in from the page cache once a packed
 * copy has let it go. */
static void plan_packing(qrank_model *m, int repack) {
    const qr_kernels *k = &m->kernels;
    if (!k->pack_size || !k->pack || m->hp.n_layers <= 0) return;
    const int n_jobs = m->hp.n_layers * 7;
    size_t *offset = malloc(sizeof(size_t) * (size_t)n_jobs);
    if (!offset) return;
    size_t total = 0;
    int n_slots = 0;
    for (int l = 0; l < m->hp.n_layers; l++) {
        const qr_layer *ly = &m->layers[l];
        const qr_tensor *ts[7] = {ly->wq, ly->wk, ly->wv, ly->wo, ly->w_gate, ly->w_up, ly->w_down};
        for (int i = 0; i < 7; i++) {
            const size_t size = wants_pack(m, ts[i], repack) ? k->pack_size(ts[i]) : 0;
            offset[l * 7 + i] = size ? total : SIZE_MAX;
            total += (size + 63) / 64 * 64;
            n_slots += size > 0;
        }
    }
    void *buf = total ? mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (buf == MAP_FAILED) {
        free(offset);
        return;
    }
    if (qr_pack_pool_init(&m->pack_pool, n_slots)) {
        munmap(buf, total);
        free(offset);
        return;
    }
    /* the kernels stream these: 2 MB pages spare most TLB misses and faults */
    madvise(buf, total, MADV_HUGEPAGE);
    m->packed = buf;
    m->packed_bytes = total;
    m->pack_pool.drop_pages = drop_pages;
    m->pack_pool.drop_ctx = m;
    for (int j = 0, n = 0; j < n_jobs; j++) {
        if (offset[j] == SIZE_MAX) continue;
        qr_layer *ly = &m->layers[j / 7];
        const qr_tensor **slot[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        qr_pack_slot *s = &m->pack_pool.slots[n++];
        s->pool = &m->pack_pool;
        s->tensor = *slot[j % 7];
        s->dst = (char *)buf + offset[j];
        s->size = k->pack_size(s->tensor);
        s->optional = s->tensor->type == QR_TYPE_Q8_0 || s->tensor->type == QR_TYPE_BF16;
        atomic_init(&s->made, 0);
        ly->own[j % 7] = **slot[j % 7];
        ly->own[j % 7].slot = s;
        *slot[j % 7] = &ly->own[j % 7];
    }
    free(offset);
    if (repack == 1) {
        qr_pack_pool_fill(&m->pack_pool, k, m->n_threads, 0);
        mprotect(buf, total, PROT_READ); /* nothing writes to it again */
    }
}

void qrank_model_pack(qrank_model *m) {
    if (m->packed) qr_pack_pool_fill(&m->pack_pool, &m->kernels, m->n_threads, 1);
}

int qrank_model_reserve(qrank_model *m, qrank_error *err) {
    if (qr_workspace_reserve(m->workspace)) /* keep_max: a QR_BATCH_TOKENS batch's scratch */
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for the scratch of a %d-token batch", QR_BATCH_TOKENS);
    return QRANK_OK;
}

int qrank_model_pack_step(qrank_model *m) {
    if (!m->packed) return 0;
    const int left = qr_pack_pool_step(&m->pack_pool, &m->kernels, m->n_threads);
    if (left == 0) mprotect(m->packed, m->packed_bytes, PROT_READ); /* nothing writes to it again */
    return left > 0;
}

static int collect_tensors(qrank_model *m, qrank_error *err) {
    size_t n = m->gguf ? qr_gguf_n_tensors(m->gguf) : qr_safetensors_n_tensors(m->st);
    m->all_tensors = calloc(n ? n : 1, sizeof *m->all_tensors);
    if (!m->all_tensors) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        m->all_tensors[i] = m->gguf ? qr_gguf_tensor_at(m->gguf, i) : qr_safetensors_tensor_at(m->st, i);
        m->weight_bytes += m->all_tensors[i]->nbytes;
    }
    m->n_all_tensors = n;
    return QRANK_OK;
}

int qrank_model_load(const char *path, const qrank_model_params *params, qrank_model **out,
                     qrank_error *err) {
    *out = NULL;
    if (!path || !*path) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no model path given");
    qrank_model_params p = params ? *params : qrank_model_default_params();
    struct stat st;
    if (stat(path, &st) != 0) return qr_error(err, QRANK_E_IO, "cannot open model %s: %s", path, strerror(errno));
    qrank_model *m = calloc(1, sizeof *m);
    if (!m) return qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
    int rc = S_ISDIR(st.st_mode) ? load_hf(m, path, err) : load_gguf(m, path, err);
    if (!rc) rc = check_hparams(&m->hp, err);
    if (!rc) {
        m->hp.vocab_size = (int)qr_tokenizer_n_tokens(m->tok);
        rc = build_templates(m, err);
    }
    if (!rc) {
        loader L = {m, err};
        rc = load_tensors(&L);
    }
    if (!rc && m->hp.embedding_rows < m->hp.vocab_size)
        rc = qr_error(err, QRANK_E_FORMAT, "the embedding has %d rows but the tokenizer has %d tokens",
                      m->hp.embedding_rows, m->hp.vocab_size);
    if (!rc) rc = collect_tensors(m, err);
    if (!rc) {
        m->weight_type = majority_type(m);
        int half = m->hp.head_dim / 2;
        m->rope_inv_freq = malloc(sizeof(double) * (size_t)half);
        if (!m->rope_inv_freq) rc = qr_error(err, QRANK_E_NO_MEMORY, "out of memory");
        else
            for (int i = 0; i < half; i++)
                m->rope_inv_freq[i] = pow(m->hp.rope_theta, -2.0 * i / m->hp.head_dim);
    }
    if (p.kernels && !*p.kernels) p.kernels = NULL; /* QRANK_KERNELS= : the default */
    if (!rc && qr_kernels_select(&m->kernels, p.kernels) != 0)
        rc = qr_error(err, QRANK_E_INVALID_ARGUMENT,
                      "kernels \"%s\": not known, or this CPU (or OS) cannot run them (generic, avx2, avxvnni, "
                      "avx512vnni, avx512, amx)",
                      p.kernels);
    if (!rc) rc = choose_attention(m, p.attention, err);
    if (!rc) {
        qrank_model_set_threads(m, p.n_threads);
        m->precision = p.precision;
        m->workspace = qr_workspace_cache_create(qr_forward_scratch_bytes(m, QR_BATCH_TOKENS));
        if (p.prefix_cache_mb >= 0)
            m->prefix_cache = qr_prefix_cache_create((size_t)(p.prefix_cache_mb ? p.prefix_cache_mb : 64) << 20);
        plan_packing(m, p.repack);
    }
    if (rc) {
        qr_error_prefix(err, rc, "loading %s", path);
        qrank_model_free(m);
        return rc;
    }
    *out = m;
    return QRANK_OK;
}

void qrank_model_free(qrank_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int l = 0; l < m->hp.n_layers; l++) {
            free(m->layers[l].attn_norm);
            free(m->layers[l].q_norm);
            free(m->layers[l].k_norm);
            free(m->layers[l].ffn_norm);
        }
        free(m->layers);
    }
    free(m->output_norm);
    free(m->head_yes);
    free(m->head_no);
    free(m->rope_inv_freq);
    free(m->rerank_prefix);
    free(m->rerank_suffix);
    free(m->all_tensors);
    qr_workspace_cache_free(m->workspace);
    qr_prefix_cache_free(m->prefix_cache);
    if (m->packed) {
        qr_pack_pool_destroy(&m->pack_pool);
        munmap(m->packed, m->packed_bytes);
    }
    qr_tokenizer_free(m->tok);
    if (m->gguf) qr_gguf_close(m->gguf);
    if (m->st) qr_safetensors_close(m->st);
    free(m);
}

/* ---- introspection ---------------------------------------------------------------------- */

void qrank_model_get_info(const qrank_model *m, qrank_model_info *info) {
    memset(info, 0, sizeof *info);
    info->kind = m->kind;
    info->name = m->name;
    info->file_format = m->file_format;
    info->weight_type = m->weight_type;
    info->n_layers = m->hp.n_layers;
    info->hidden = m->hp.hidden;
    info->ffn = m->hp.ffn;
    info->n_heads = m->hp.n_heads;
    info->n_kv_heads = m->hp.n_kv_heads;
    info->head_dim = m->hp.head_dim;
    info->vocab_size = m->hp.vocab_size;
    info->embedding_rows = m->hp.embedding_rows;
    info->context_length = m->hp.context_length;
    info->rope_theta = m->hp.rope_theta;
    info->rms_eps = m->hp.rms_eps;
    info->has_cls_output = m->has_cls_output;
    info->n_tensors = m->n_all_tensors;
    info->weight_bytes = m->weight_bytes;
    info->kernels = m->kernels.name;
    const qr_tensor *wq = m->layers[0].wq;
    const qr_att_path att = qr_fast_att_path(m, wq);
    info->attention = att == QR_ATT_BF16_AMX ? "bf16 amx" : att == QR_ATT_BF16_DOT ? "bf16 vdpbf16ps" : "f32";
    qr_acts acts;
    qr_fast_plan(m, wq, &acts);
    info->fast_activations = acts.type == QR_TYPE_Q8_0 ? "int8" : acts.type == QR_TYPE_BF16 ? "bf16" : "f32";
    info->packed_bytes = m->packed ? atomic_load(&m->pack_pool.packed_bytes) : 0;
    info->layout_bytes = m->packed ? m->packed_bytes : 0;
    qr_prefix_cache_stats pc;
    qr_prefix_cache_get_stats(m->prefix_cache, &pc);
    info->prefix_cache_hits = pc.hits;
    info->prefix_cache_misses = pc.misses;
    info->prefix_cache_bytes = pc.bytes;
}

int qrank_model_get_tensor(const qrank_model *m, size_t i, qrank_tensor_info *info) {
    if (i >= m->n_all_tensors) return QRANK_E_INVALID_ARGUMENT;
    const qr_tensor *t = m->all_tensors[i];
    const qr_type_traits *tt = qr_type_get(t->type);
    info->name = t->name;
    info->type = tt ? tt->name : "?";
    info->n_dims = t->n_dims;
    for (int d = 0; d < 4; d++) info->shape[d] = t->ne[d];
    return QRANK_OK;
}

int qrank_tokenize(const qrank_model *m, const char *text, size_t len, int32_t **ids, size_t *n_ids,
                   qrank_error *err) {
    *ids = NULL;
    *n_ids = 0;
    size_t cap = 0;
    int rc = qr_tokenize(m->tok, text, len, ids, n_ids, &cap, err);
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    return rc;
}

const char *qrank_token_text(const qrank_model *m, int32_t id) { return qr_tokenizer_token(m->tok, id); }
