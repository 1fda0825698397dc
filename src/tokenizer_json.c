/* tokenizer_json.c - a Hugging Face tokenizer.json reduced to a qr_vocab_spec.
 *
 * Only what qrank implements is accepted, and everything else is refused by
 * name (QRANK_E_UNSUPPORTED) instead of being half-honoured: a byte-level BPE
 * model with an NFC normalizer, a pre-tokenizer that is one Split regex
 * ("Isolated", not inverted) plus a ByteLevel without its own regex, or a
 * ByteLevel alone (GPT-2's regex). Options that change ids in ways qrank
 * does not implement (dropout, byte_fallback, ignore_merges, subword
 * prefixes/suffixes, add_prefix_space) are refused too.
 *
 * Token table: model.vocab gives type 1 (normal); added_tokens give type 3
 * (special: true) or 4 (special: false), so that qr_tokenize never produces
 * them. Ids must cover 0..n-1 exactly once, except that an added token may
 * repeat a vocab entry with the same id and text. Merges come in the old
 * "a b" form or the newer ["a", "b"] form; the latter is joined to "a b"
 * (byte-level tokens never contain a space, and one that does is refused). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer.h"
#include "tokenizer_regex.h"

static const char *type_of(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static int is_true(const cJSON *obj, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* A non-empty string option that we do not implement. */
static int has_text(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0];
}

static int check_model(const cJSON *model, qrank_error *err) {
    if (!cJSON_IsObject(model))
        return qr_error(err, QRANK_E_FORMAT, "tokenizer.json has no \"model\" object");
    const char *type = type_of(model);
    if (type && strcmp(type, "BPE") != 0)
        return qr_error(err, QRANK_E_UNSUPPORTED, "tokenizer model \"%s\" is not supported (BPE only)",
                        type);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return qr_error(err, QRANK_E_UNSUPPORTED, "BPE dropout is not supported");
    if (is_true(model, "byte_fallback"))
        return qr_error(err, QRANK_E_UNSUPPORTED, "BPE byte_fallback is not supported");
    if (is_true(model, "ignore_merges"))
        return qr_error(err, QRANK_E_UNSUPPORTED, "BPE ignore_merges is not supported");
    if (has_text(model, "continuing_subword_prefix") || has_text(model, "end_of_word_suffix"))
        return qr_error(err, QRANK_E_UNSUPPORTED, "BPE subword prefixes/suffixes are not supported");
    return QRANK_OK;
}

static int check_normalizer(const cJSON *norm, qrank_error *err) {
    const char *type = cJSON_IsObject(norm) ? type_of(norm) : NULL;
    if (type && strcmp(type, "NFC") == 0)
        return QRANK_OK;
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
        const cJSON *item;
        int n = 0;
        cJSON_ArrayForEach(item, list) {
            const char *t = cJSON_IsObject(item) ? type_of(item) : NULL;
            if (!t || strcmp(t, "NFC") != 0)
                return qr_error(err, QRANK_E_UNSUPPORTED, "normalizer \"%s\" is not supported (NFC only)",
                                t ? t : "?");
            n++;
        }
        if (n > 0)
            return QRANK_OK;
    }
    return qr_error(err, QRANK_E_UNSUPPORTED, "normalizer \"%s\" is not supported (qrank applies NFC)",
                    type ? type : "none");
}

/* Finds the split pattern; *pattern is malloc'd (Oniguruma syntax). */
static int read_pre_tokenizer(const cJSON *pre, char **pattern, qrank_error *err) {
    *pattern = NULL;
    const cJSON *single[1] = {pre};
    const cJSON *list = NULL;
    const char *type = cJSON_IsObject(pre) ? type_of(pre) : NULL;
    if (!type)
        return qr_error(err, QRANK_E_UNSUPPORTED, "tokenizer.json has no pre_tokenizer (byte-level BPE needs one)");
    if (strcmp(type, "Sequence") == 0) {
        list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        if (!cJSON_IsArray(list))
            return qr_error(err, QRANK_E_FORMAT, "pre_tokenizer Sequence has no pretokenizers array");
    }
    int n_items = list ? cJSON_GetArraySize(list) : 1;
    const cJSON *split = NULL;
    int byte_level = 0, byte_level_regex = 0;
    for (int i = 0; i < n_items; i++) {
        const cJSON *item = list ? cJSON_GetArrayItem(list, i) : single[0];
        const char *t = cJSON_IsObject(item) ? type_of(item) : NULL;
        if (t && strcmp(t, "Split") == 0) {
            if (split)
                return qr_error(err, QRANK_E_UNSUPPORTED, "more than one Split pre-tokenizer");
            split = item;
        } else if (t && strcmp(t, "ByteLevel") == 0) {
            if (byte_level)
                return qr_error(err, QRANK_E_UNSUPPORTED, "more than one ByteLevel pre-tokenizer");
            byte_level = 1;
            if (is_true(item, "add_prefix_space"))
                return qr_error(err, QRANK_E_UNSUPPORTED, "ByteLevel add_prefix_space is not supported");
            const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(item, "use_regex");
            byte_level_regex = !cJSON_IsFalse(use_regex); /* HF's default is true */
        } else {
            return qr_error(err, QRANK_E_UNSUPPORTED, "pre-tokenizer \"%s\" is not supported",
                            t ? t : "?");
        }
    }
    if (!byte_level)
        return qr_error(err, QRANK_E_UNSUPPORTED, "the pre-tokenizer is not byte-level");
    if (split && byte_level_regex)
        return qr_error(err, QRANK_E_UNSUPPORTED, "a Split followed by ByteLevel's own regex is not supported");
    const char *source = QR_GPT2_PRETOKENIZER_PATTERN;
    if (split) {
        const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(split, "behavior");
        if (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated") != 0)
            return qr_error(err, QRANK_E_UNSUPPORTED, "Split behaviour \"%s\" is not supported (Isolated only)",
                            cJSON_IsString(behavior) ? behavior->valuestring : "?");
        if (is_true(split, "invert"))
            return qr_error(err, QRANK_E_UNSUPPORTED, "an inverted Split is not supported");
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
        const cJSON *regex = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *literal = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (cJSON_IsString(regex)) {
            source = regex->valuestring;
        } else if (cJSON_IsString(literal)) {
            return qr_regex_escape_literal(literal->valuestring, strlen(literal->valuestring), pattern,
                                           err);
        } else {
            return qr_error(err, QRANK_E_FORMAT, "Split pre-tokenizer has no Regex or String pattern");
        }
    }
    *pattern = strdup(source);
    if (!*pattern)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory copying the pre-tokenizer regex");
    return QRANK_OK;
}

static int read_id(const cJSON *v, int32_t *id) {
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)INT32_MAX - 1) || floor(d) != d)
        return 0;
    *id = (int32_t)d;
    return 1;
}

typedef struct json_vocab {
    qr_str *tokens;
    int32_t *types;
    size_t n_tokens;
    qr_str *merges;
    size_t n_merges;
    char *joined; /* texts of ["a","b"] merges as "a b" */
} json_vocab;

static int read_tokens(const cJSON *model, const cJSON *added, json_vocab *v, qrank_error *err) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab))
        return qr_error(err, QRANK_E_FORMAT, "model.vocab is not an object");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return qr_error(err, QRANK_E_FORMAT, "added_tokens is not an array");
    int32_t max_id = -1, id;
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        if (!read_id(item, &id))
            return qr_error(err, QRANK_E_FORMAT, "model.vocab[\"%.64s\"] is not a valid id", item->string);
        if (id > max_id)
            max_id = id;
    }
    cJSON_ArrayForEach(item, added) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        if (!read_id(cJSON_GetObjectItemCaseSensitive(item, "id"), &id) || !cJSON_IsString(content))
            return qr_error(err, QRANK_E_FORMAT, "an added token lacks a valid id or content");
        if (id > max_id)
            max_id = id;
    }
    if (max_id < 0)
        return qr_error(err, QRANK_E_FORMAT, "model.vocab is empty");
    /* Ids cover 0..max_id once each, so there are at least max_id + 1
     * entries; checking first keeps a lone huge id from costing gigabytes. */
    size_t entries = (size_t)cJSON_GetArraySize(vocab) + (size_t)(added ? cJSON_GetArraySize(added) : 0);
    if ((size_t)max_id >= entries)
        return qr_error(err, QRANK_E_FORMAT, "id %d is beyond the %zu tokens given", (int)max_id, entries);
    v->n_tokens = (size_t)max_id + 1;
    v->tokens = calloc(v->n_tokens, sizeof *v->tokens);
    v->types = calloc(v->n_tokens, sizeof *v->types);
    if (!v->tokens || !v->types)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu tokens", v->n_tokens);
    cJSON_ArrayForEach(item, vocab) {
        read_id(item, &id);
        if (v->tokens[id].ptr)
            return qr_error(err, QRANK_E_FORMAT, "id %d is given to \"%.64s\" and \"%.64s\"", (int)id,
                            v->tokens[id].ptr, item->string);
        v->tokens[id] = (qr_str){item->string, strlen(item->string)};
        v->types[id] = 1;
    }
    cJSON_ArrayForEach(item, added) {
        const char *content = cJSON_GetObjectItemCaseSensitive(item, "content")->valuestring;
        read_id(cJSON_GetObjectItemCaseSensitive(item, "id"), &id);
        if (v->tokens[id].ptr && strcmp(v->tokens[id].ptr, content) != 0)
            return qr_error(err, QRANK_E_FORMAT, "added token \"%.64s\" takes id %d of \"%.64s\"", content,
                            (int)id, v->tokens[id].ptr);
        v->tokens[id] = (qr_str){content, strlen(content)};
        v->types[id] = is_true(item, "special") ? 3 : 4;
    }
    for (size_t i = 0; i < v->n_tokens; i++)
        if (!v->tokens[i].ptr)
            return qr_error(err, QRANK_E_FORMAT, "no token has id %zu (ids must be 0..%zu)", i,
                            v->n_tokens - 1);
    return QRANK_OK;
}

static int read_merges(const cJSON *model, json_vocab *v, qrank_error *err) {
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!merges || cJSON_IsNull(merges))
        return QRANK_OK;
    if (!cJSON_IsArray(merges))
        return qr_error(err, QRANK_E_FORMAT, "model.merges is not an array");
    size_t n = (size_t)cJSON_GetArraySize(merges), joined_len = 0, r = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, merges) {
        if (cJSON_IsArray(item)) {
            const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1);
            if (cJSON_GetArraySize(item) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
                return qr_error(err, QRANK_E_FORMAT, "merge %zu is not a pair of strings", r);
            if (strchr(a->valuestring, ' ') || strchr(b->valuestring, ' '))
                return qr_error(err, QRANK_E_UNSUPPORTED, "merge %zu has a token with a space", r);
            joined_len += strlen(a->valuestring) + strlen(b->valuestring) + 1;
        } else if (!cJSON_IsString(item)) {
            return qr_error(err, QRANK_E_FORMAT, "merge %zu is neither \"a b\" nor [\"a\", \"b\"]", r);
        }
        r++;
    }
    v->merges = malloc((n ? n : 1) * sizeof *v->merges);
    v->joined = malloc(joined_len ? joined_len : 1);
    if (!v->merges || !v->joined)
        return qr_error(err, QRANK_E_NO_MEMORY, "out of memory for %zu merges", n);
    size_t off = 0;
    cJSON_ArrayForEach(item, merges) {
        if (cJSON_IsString(item)) {
            v->merges[v->n_merges++] = (qr_str){item->valuestring, strlen(item->valuestring)};
            continue;
        }
        const char *a = cJSON_GetArrayItem(item, 0)->valuestring;
        const char *b = cJSON_GetArrayItem(item, 1)->valuestring;
        size_t la = strlen(a), lb = strlen(b);
        char *dst = v->joined + off;
        memcpy(dst, a, la);
        dst[la] = ' ';
        memcpy(dst + la + 1, b, lb);
        v->merges[v->n_merges++] = (qr_str){dst, la + lb + 1};
        off += la + lb + 1;
    }
    return QRANK_OK;
}

int qr_tokenizer_from_json(const char *json, size_t len, qr_tokenizer **out, qrank_error *err) {
    if (!out)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_tokenizer_from_json: out is NULL");
    *out = NULL;
    if (!json)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qr_tokenizer_from_json: json is NULL");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root)
        return qr_error(err, QRANK_E_FORMAT, "tokenizer.json is not valid JSON (at byte %zu)",
                        end && end >= json ? (size_t)(end - json) : (size_t)0);
    json_vocab v = {0};
    char *pattern = NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    int rc = cJSON_IsObject(root) ? QRANK_OK
                                  : qr_error(err, QRANK_E_FORMAT, "tokenizer.json is not an object");
    if (!rc)
        rc = check_model(model, err);
    if (!rc)
        rc = check_normalizer(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err);
    if (!rc)
        rc = read_pre_tokenizer(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &pattern, err);
    if (!rc)
        rc = read_tokens(model, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), &v, err);
    if (!rc)
        rc = read_merges(model, &v, err);
    if (!rc) {
        qr_vocab_spec spec = {v.tokens, v.types, v.n_tokens, v.merges, v.n_merges, pattern};
        rc = qr_tokenizer_create(&spec, out, err);
    }
    if (rc)
        qr_error_prefix(err, rc, "tokenizer.json");
    free(pattern);
    free(v.tokens);
    free(v.types);
    free(v.merges);
    free(v.joined);
    cJSON_Delete(root);
    return rc;
}
