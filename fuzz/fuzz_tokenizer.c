/* fuzz_tokenizer.c - libFuzzer target: Qwen3's tokenizer over hostile text.
 *
 * The real tokenizer.json (data/qwen3/tokenizer.json, or $QRANK_TOKENIZER) is
 * loaded once; each input is tokenized as a user's document would be. Not
 * crashing is not enough: the ids are decoded back to bytes through the
 * byte-level alphabet and must equal the NFC of the input after the
 * project's invalid-UTF-8 rule (utf8_repair.h), so a lost, duplicated or
 * invented byte is a finding too. And no id may be a special token: text is
 * always plain text, so "<|im_end|>" in a post cannot end the prompt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"
#include "utf8_repair.h"

#ifndef QRANK_SOURCE_DIR
#define QRANK_SOURCE_DIR "."
#endif

/* The fuzzer's process-wide fixture: read-only after LLVMFuzzerInitialize. */
static qr_tokenizer *g_tok;
static int g_byte_of[512]; /* byte-level code point -> byte */
static int32_t g_first_special;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = n > 0 ? (size_t)n : 0;
    }
    fclose(f);
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *path = getenv("QRANK_TOKENIZER");
    if (!path)
        path = QRANK_SOURCE_DIR "/data/qwen3/tokenizer.json";
    size_t len = 0;
    char *json = read_file(path, &len);
    qrank_error err = {0};
    if (!json || qr_tokenizer_from_json(json, len, &g_tok, &err) != QRANK_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path,
                json ? err.message : "cannot read it");
        exit(1);
    }
    free(json);
    /* GPT-2's byte-level alphabet: printable bytes stand for themselves, the
     * others for U+0100 onwards, in byte order. */
    for (int i = 0; i < 512; i++)
        g_byte_of[i] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        g_byte_of[printable ? b : next++] = b;
    }
    g_first_special = qr_tokenizer_find(g_tok, "<|endoftext|>");
    if (g_first_special < 0) {
        fprintf(stderr, "fuzz_tokenizer: %s has no <|endoftext|>\n", path);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    qrank_error err = {0};
    if (qr_tokenize(g_tok, (const char *)data, size, &ids, &n, &cap, &err) != QRANK_OK)
        abort(); /* any bytes are a valid text */
    size_t rl = qr_utf8_repaired_len((const char *)data, size);
    char *repaired = malloc(rl + 1);
    char *decoded = malloc(size * 3 + 16);
    if (!repaired || !decoded)
        abort();
    qr_utf8_repair((const char *)data, size, repaired);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= qr_tokenizer_n_tokens(g_tok) || ids[i] >= g_first_special)
            abort(); /* out of range, or a special token made from user text */
        const unsigned char *t = (const unsigned char *)qr_tokenizer_token(g_tok, ids[i]);
        while (t && *t) {
            unsigned cp = t[0] < 0x80 ? t[0] : ((t[0] & 0x1Fu) << 6) | (t[1] & 0x3Fu);
            t += t[0] < 0x80 ? 1 : 2;
            if (cp >= 512 || g_byte_of[cp] < 0 || o >= size * 3 + 16)
                abort(); /* not a byte-level token */
            decoded[o++] = (char)g_byte_of[cp];
        }
    }
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t nl = rl ? utf8proc_map((const utf8proc_uint8_t *)repaired, (utf8proc_ssize_t)rl,
                                            &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE)
                             : 0;
    if (nl < 0 || (size_t)nl != o || (o && memcmp(nfc, decoded, o) != 0)) {
        fprintf(stderr, "fuzz_tokenizer: %zu input bytes decode to %zu bytes, NFC has %zd\n", size,
                o, nl);
        abort();
    }
    free(nfc);
    free(repaired);
    free(decoded);
    free(ids);
    return 0;
}
