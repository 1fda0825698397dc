/* safetensors.h - checked readers for a Hugging Face model directory:
 * config.json, model.safetensors or sharded model-0000N-of-0000M.safetensors
 * with model.safetensors.index.json.
 *
 * Each .safetensors file is mmap'd; its JSON header is parsed and every
 * tensor's dtype, shape and [begin, end) offsets are checked against the data
 * area (in bounds, no overlap, size = product of shape x dtype size) before
 * any tensor is handed out. Tensor names keep the file's spelling; lookup
 * accepts the name with or without the "model." prefix. */
#ifndef QRANK_SAFETENSORS_H
#define QRANK_SAFETENSORS_H

#include <stddef.h>

#include "qrank.h"
#include "tensor.h"

typedef struct qr_hf_config {
    int n_layers;        /* num_hidden_layers */
    int hidden;          /* hidden_size */
    int ffn;             /* intermediate_size */
    int n_heads;         /* num_attention_heads */
    int n_kv_heads;      /* num_key_value_heads (defaults to n_heads) */
    int head_dim;        /* head_dim (defaults to hidden / n_heads) */
    int vocab_size;      /* vocab_size */
    int max_positions;   /* max_position_embeddings */
    double rope_theta;   /* rope_theta (default 10000) */
    double rms_eps;      /* rms_norm_eps (default 1e-6) */
    int tie_embeddings;  /* tie_word_embeddings (default 1 for Qwen3 small models) */
    char model_type[32]; /* "qwen3" */
    char architecture[64]; /* architectures[0], e.g. "Qwen3ForCausalLM" */
} qr_hf_config;

/* Parses config.json text; every required key present with the right type and
 * a sane value, else QRANK_E_FORMAT naming the key. */
int qr_hf_config_parse(const char *json, size_t len, qr_hf_config *out, qrank_error *err);

typedef struct qr_safetensors qr_safetensors;

/* Opens a directory: reads model.safetensors.index.json when present (and
 * opens every shard it names, each once), else model.safetensors. */
int qr_safetensors_open_dir(const char *dir, qr_safetensors **out, qrank_error *err);
/* Opens one .safetensors file (used by the directory reader and the fuzzer). */
int qr_safetensors_open_file(const char *path, qr_safetensors **out, qrank_error *err);
/* Parses a header from memory that the caller keeps alive (fuzz target). */
int qr_safetensors_parse(const void *data, size_t size, qr_safetensors **out, qrank_error *err);
void qr_safetensors_close(qr_safetensors *st);
/* qr_mapped_file_drop on whichever of the files holds [p, p + len). */
void qr_safetensors_drop_pages(const qr_safetensors *st, const void *p, size_t len);

size_t qr_safetensors_n_tensors(const qr_safetensors *st);
const qr_tensor *qr_safetensors_tensor_at(const qr_safetensors *st, size_t i);
/* Finds "name" or "model.name"; NULL if absent. */
const qr_tensor *qr_safetensors_tensor(const qr_safetensors *st, const char *name);
size_t qr_safetensors_data_bytes(const qr_safetensors *st);

#endif
