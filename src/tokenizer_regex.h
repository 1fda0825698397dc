/* tokenizer_regex.h - pre-tokenizer patterns: tokenizer.json's Oniguruma
 * syntax rewritten for PCRE2 so that both engines split text the same way. */
#ifndef QRANK_TOKENIZER_REGEX_H
#define QRANK_TOKENIZER_REGEX_H

#include <stddef.h>

#include "qrank.h"

/* Qwen2/Qwen3's pattern exactly as tokenizer.json spells it (GGUF: pre = "qwen2"). */
#define QR_QWEN2_PRETOKENIZER_PATTERN                                                              \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" \
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* GPT-2's pattern: what a ByteLevel pre-tokenizer with use_regex = true applies. */
#define QR_GPT2_PRETOKENIZER_PATTERN                                                               \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Rewrites an Oniguruma pattern (as the Rust tokenizers crate compiles it)
 * into a NUL-terminated PCRE2 pattern (malloc'd, *out) meant for
 * PCRE2_UTF | PCRE2_UCP. Constructs whose meaning differs between the engines
 * are spelled out; constructs that cannot be carried over faithfully give
 * QRANK_E_UNSUPPORTED naming them. */
int qr_regex_onig_to_pcre2(const char *src, size_t len, char **out, qrank_error *err);

/* A PCRE2 pattern that matches the literal string s (a Split "String" pattern). */
int qr_regex_escape_literal(const char *s, size_t len, char **out, qrank_error *err);

#endif
