/* hf_config.c - config.json of a Hugging Face Qwen3 directory -> qr_hf_config.
 *
 * Every number is checked for its JSON type, for being an exact integer where
 * one is meant, and against a sane range before it can size an allocation:
 * a config.json is as hostile as a weight file, and a "hidden_size": 1e12
 * must end here, not in malloc. A key set to null counts as absent (HF writes
 * nulls for unused options). Whether model_type is one qrank runs is the
 * loader's decision; this file only checks that the text is well formed. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "safetensors.h"

#define MAX_LAYERS 1024
#define MAX_HIDDEN 65536
#define MAX_FFN (1 << 20)
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 4096
#define MAX_VOCAB (1 << 24)
#define MAX_POSITIONS (1 << 24)
#define MAX_CONFIG_BYTES (1 << 24)

static const cJSON *get(const cJSON *root, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNull(j) ? NULL : j;
}

/* An integer key in [lo, hi]; *out untouched when absent and optional. */
static int get_int(const cJSON *root, const char *key, int optional, int lo, int hi, int *out,
                   qrank_error *err) {
    const cJSON *j = get(root, key);
    if (!j) {
        if (optional) return QRANK_OK;
        return qr_error(err, QRANK_E_FORMAT, "config.json: required key \"%s\" is missing", key);
    }
    if (!cJSON_IsNumber(j) || floor(j->valuedouble) != j->valuedouble)
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" must be an integer", key);
    double d = j->valuedouble;
    if (!(d >= lo && d <= hi))
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" = %.17g is not in %d..%d", key,
                        d, lo, hi);
    *out = (int)d;
    return QRANK_OK;
}

/* A number key in the open interval (lo, hi). */
static int get_num(const cJSON *root, const char *key, double lo, double hi, double *out,
                   qrank_error *err) {
    const cJSON *j = get(root, key);
    if (!j) return QRANK_OK;
    if (!cJSON_IsNumber(j))
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" must be a number", key);
    if (!(j->valuedouble > lo && j->valuedouble < hi))
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" = %.17g is not in (%g, %g)", key,
                        j->valuedouble, lo, hi);
    *out = j->valuedouble;
    return QRANK_OK;
}

static int get_str(const cJSON *j, const char *key, char *out, size_t cap, qrank_error *err) {
    if (!cJSON_IsString(j))
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" must be a string", key);
    size_t n = strlen(j->valuestring);
    if (n >= cap)
        return qr_error(err, QRANK_E_FORMAT, "config.json: \"%s\" is longer than %zu bytes", key,
                        cap - 1);
    memcpy(out, j->valuestring, n + 1);
    return QRANK_OK;
}

static int parse_root(const cJSON *root, qr_hf_config *c, qrank_error *err) {
    int rc;
    if ((rc = get_int(root, "num_hidden_layers", 0, 1, MAX_LAYERS, &c->n_layers, err)) ||
        (rc = get_int(root, "hidden_size", 0, 1, MAX_HIDDEN, &c->hidden, err)) ||
        (rc = get_int(root, "intermediate_size", 0, 1, MAX_FFN, &c->ffn, err)) ||
        (rc = get_int(root, "num_attention_heads", 0, 1, MAX_HEADS, &c->n_heads, err)) ||
        (rc = get_int(root, "vocab_size", 0, 1, MAX_VOCAB, &c->vocab_size, err)) ||
        (rc = get_int(root, "max_position_embeddings", 0, 1, MAX_POSITIONS, &c->max_positions,
                      err)))
        return rc;
    c->n_kv_heads = c->n_heads;
    if ((rc = get_int(root, "num_key_value_heads", 1, 1, MAX_HEADS, &c->n_kv_heads, err)))
        return rc;
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return qr_error(err, QRANK_E_FORMAT,
                        "config.json: num_attention_heads %d is not a multiple of "
                        "num_key_value_heads %d",
                        c->n_heads, c->n_kv_heads);
    if (get(root, "head_dim")) {
        if ((rc = get_int(root, "head_dim", 0, 2, MAX_HEAD_DIM, &c->head_dim, err))) return rc;
    } else {
        if (c->hidden % c->n_heads != 0)
            return qr_error(err, QRANK_E_FORMAT,
                            "config.json: hidden_size %d is not divisible by num_attention_heads "
                            "%d (and head_dim is absent)",
                            c->hidden, c->n_heads);
        c->head_dim = c->hidden / c->n_heads;
    }
    if (c->head_dim % 2 != 0) /* rotate-half RoPE pairs dimension i with i + head_dim/2 */
        return qr_error(err, QRANK_E_FORMAT, "config.json: head_dim %d is not even", c->head_dim);
    if ((rc = get_num(root, "rope_theta", 1.0, 1e12, &c->rope_theta, err)) ||
        (rc = get_num(root, "rms_norm_eps", 0.0, 1.0, &c->rms_eps, err)))
        return rc;
    const cJSON *tie = get(root, "tie_word_embeddings");
    if (tie) {
        if (!cJSON_IsBool(tie))
            return qr_error(err, QRANK_E_FORMAT,
                            "config.json: \"tie_word_embeddings\" must be true or false");
        c->tie_embeddings = cJSON_IsTrue(tie) ? 1 : 0;
    }
    const cJSON *mt = get(root, "model_type");
    if (!mt) return qr_error(err, QRANK_E_FORMAT, "config.json: required key \"model_type\" is missing");
    if ((rc = get_str(mt, "model_type", c->model_type, sizeof c->model_type, err))) return rc;
    const cJSON *arch = get(root, "architectures");
    if (arch) {
        if (!cJSON_IsArray(arch))
            return qr_error(err, QRANK_E_FORMAT, "config.json: \"architectures\" must be an array");
        const cJSON *first = cJSON_GetArrayItem(arch, 0);
        if (first &&
            (rc = get_str(first, "architectures[0]", c->architecture, sizeof c->architecture, err)))
            return rc;
    }
    return QRANK_OK;
}

int qr_hf_config_parse(const char *json, size_t len, qr_hf_config *out, qrank_error *err) {
    qr_hf_config c;
    memset(&c, 0, sizeof c);
    c.rope_theta = 10000.0;
    c.rms_eps = 1e-6;
    c.tie_embeddings = 1;
    if (len > MAX_CONFIG_BYTES)
        return qr_error(err, QRANK_E_FORMAT, "config.json: %zu bytes is over the limit of %d", len,
                        MAX_CONFIG_BYTES);
    /* cJSON gets a terminated copy, so it can never read past the caller's bytes. */
    char *text = malloc(len + 1);
    if (!text) return qr_error(err, QRANK_E_NO_MEMORY, "config.json: out of memory");
    memcpy(text, json, len);
    text[len] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return qr_error(err, QRANK_E_FORMAT, "config.json: not valid JSON");
    int rc = cJSON_IsObject(root) ? parse_root(root, &c, err)
                                  : qr_error(err, QRANK_E_FORMAT, "config.json: not a JSON object");
    cJSON_Delete(root);
    if (rc) return rc;
    *out = c;
    return QRANK_OK;
}
