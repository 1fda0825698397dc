/* tokenizer.h - Qwen3's byte-level BPE, exactly as tokenizer.json describes it:
 * NFC (utf8proc), the pre-tokenizer regex (PCRE2 with JIT), GPT-2's
 * byte-to-unicode map, then merges by rank.
 *
 * qr_tokenize always treats its input as plain text: the strings of added or
 * special tokens ("<|im_end|>") are split like any other text. Special tokens
 * enter a prompt only through qr_tokenizer_find (the prompt templates).
 * Invalid UTF-8 bytes are replaced by U+FFFD before normalisation. */
#ifndef QRANK_TOKENIZER_H
#define QRANK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h" /* qr_str */
#include "qrank.h"

typedef struct qr_tokenizer qr_tokenizer;

/* What both file formats reduce to. tokens[i] is the byte-level (GPT-2
 * mapped) text of id i; types[i] uses GGUF's token types (1 normal,
 * 3 control, 4 user-defined; may be NULL: all normal). merges are "a b"
 * strings, highest priority first. */
typedef struct qr_vocab_spec {
    const qr_str *tokens;
    const int32_t *types;
    size_t n_tokens;
    const qr_str *merges;
    size_t n_merges;
    const char *pre_regex; /* NULL = Qwen2/Qwen3's pattern */
} qr_vocab_spec;

int qr_tokenizer_create(const qr_vocab_spec *spec, qr_tokenizer **out, qrank_error *err);
/* Builds from the text of a tokenizer.json (model.vocab, model.merges in
 * either the "a b" or the ["a","b"] form, added_tokens, pre_tokenizer). */
int qr_tokenizer_from_json(const char *json, size_t len, qr_tokenizer **out, qrank_error *err);
void qr_tokenizer_free(qr_tokenizer *tok);

size_t qr_tokenizer_n_tokens(const qr_tokenizer *tok);
/* Exact lookup of a token's vocabulary text (e.g. "<|im_start|>", "yes"); -1 if absent. */
int32_t qr_tokenizer_find(const qr_tokenizer *tok, const char *text);
/* The vocabulary text of id, NUL-terminated; NULL if out of range. */
const char *qr_tokenizer_token(const qr_tokenizer *tok, int32_t id);

/* Appends the ids of `text` to a growing array (realloc'd *ids with
 * capacity *cap and length *n). Safe to call from several threads at once. */
int qr_tokenize(const qr_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *n,
                size_t *cap, qrank_error *err);

#endif
