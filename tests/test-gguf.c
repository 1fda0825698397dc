/* test-gguf.c - the GGUF reader on generated models and on hostile bytes.
 *
 * Part 1 opens models that tools/make_model.py wrote (tests/files.cmake
 * generates them into BUILD_DIR/models as a CTest fixture) and checks keys,
 * tokenizer arrays, tensor names/shapes/types, and values across weight
 * types of one seed (Q8_0 within half a quantisation step of F32, the cls
 * head equal to the yes/no embedding rows). Part 2 corrupts: every truncation
 * must fail, header byte flips must never crash, and crafted files hit each
 * check with the message that names it. Buffers are exact-size allocations so
 * that an ASan build catches any read past the end. */
#include <math.h>

#include "error.h"
#include "files_util.h"
#include "gguf.h"

static int has(const qrank_error *e, const char *needle) { return strstr(e->message, needle) != NULL; }

static int str_is(qr_str s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

static uint64_t get_u64(const qr_gguf *g, const char *key) {
    uint64_t v = UINT64_MAX;
    qrank_error err = {0};
    CHECK(qr_gguf_get_u64(g, key, 0, &v, &err) == QRANK_OK, "%s: %s", key, err.message);
    return v;
}

static void check_shape(const qr_gguf *g, const char *name, qr_type type, int n_dims, int64_t ne0,
                        int64_t ne1) {
    const qr_tensor *t = qr_gguf_tensor(g, name);
    CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    CHECK(strcmp(t->name, name) == 0, "%s vs %s", t->name, name);
    CHECK(t->type == type, "%s: type %d, expected %d", name, t->type, type);
    CHECK(t->n_dims == n_dims && t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 &&
              t->ne[3] == 1,
          "%s: n_dims %d ne %lld x %lld", name, t->n_dims, (long long)t->ne[0],
          (long long)t->ne[1]);
    CHECK(t->nbytes == qr_row_bytes(type, ne0) * (size_t)ne1, "%s: nbytes %zu", name, t->nbytes);
}

/* --------------------------------------------------------------------------------------- */
/* Part 1: generated models                                                                */

static void check_reranker_q8(const char *path) {
    qr_gguf *g;
    qrank_error err = {0};
    double t0 = now_ms();
    int rc = qr_gguf_open(path, &g, &err);
    double ms = now_ms() - t0;
    CHECK(rc == QRANK_OK, "%s: %s", path, err.message);
    if (rc) return;
    printf("opened %s (%zu bytes) in %.2f ms\n", path, qr_gguf_file_size(g), ms);
    CHECK(qr_gguf_version(g) == 3, "version %u", qr_gguf_version(g));
    CHECK(qr_gguf_alignment(g) == 32, "alignment %zu", qr_gguf_alignment(g));
    CHECK(qr_gguf_data_offset(g) % 32 == 0, "data offset %zu", qr_gguf_data_offset(g));

    qr_str s;
    CHECK(qr_gguf_get_str(g, "general.architecture", 0, &s, &err) == QRANK_OK && str_is(s, "qwen3"),
          "architecture");
    CHECK(qr_gguf_get_str(g, "tokenizer.ggml.model", 0, &s, &err) == QRANK_OK && str_is(s, "gpt2"),
          "tokenizer model");
    CHECK(qr_gguf_get_str(g, "tokenizer.ggml.pre", 0, &s, &err) == QRANK_OK && str_is(s, "qwen2"),
          "pre");
    CHECK(qr_gguf_get_str(g, "tokenizer.chat_template.rerank", 0, &s, &err) == QRANK_OK &&
              s.len > 100 && memmem(s.ptr, s.len, "{document}", 10) != NULL,
          "rerank template");
    CHECK(get_u64(g, "general.file_type") == 7, "file_type");
    CHECK(get_u64(g, "qwen3.block_count") == 2, "block_count");
    CHECK(get_u64(g, "qwen3.embedding_length") == 64, "embedding_length");
    CHECK(get_u64(g, "qwen3.feed_forward_length") == 128, "ffn");
    CHECK(get_u64(g, "qwen3.attention.head_count") == 4, "heads");
    CHECK(get_u64(g, "qwen3.attention.head_count_kv") == 2, "kv heads");
    CHECK(get_u64(g, "qwen3.attention.key_length") == 32, "key_length");
    CHECK(get_u64(g, "qwen3.attention.value_length") == 32, "value_length");
    CHECK(get_u64(g, "qwen3.context_length") == 40960, "context");
    CHECK(get_u64(g, "qwen3.pooling_type") == 4, "pooling");
    CHECK(get_u64(g, "tokenizer.ggml.eos_token_id") == 151643, "eos");
    CHECK(get_u64(g, "tokenizer.ggml.padding_token_id") == 151643, "pad");
    double f = 0;
    CHECK(qr_gguf_get_f64(g, "qwen3.rope.freq_base", 0, &f, &err) == QRANK_OK && f == 1e6, "rope %g",
          f);
    CHECK(qr_gguf_get_f64(g, "qwen3.attention.layer_norm_rms_epsilon", 0, &f, &err) == QRANK_OK &&
              fabs(f - 1e-6) < 1e-12,
          "eps %g", f);

    /* getters: wrong type, missing required, missing optional */
    uint64_t u = 12345;
    CHECK(qr_gguf_get_u64(g, "general.name", 0, &u, &err) == QRANK_E_FORMAT &&
              has(&err, "general.name"),
          "u64 of a string: %s", err.message);
    CHECK(qr_gguf_get_u64(g, "no.such.key", 0, &u, &err) == QRANK_E_FORMAT && has(&err, "no.such.key"),
          "missing required: %s", err.message);
    CHECK(qr_gguf_get_u64(g, "no.such.key", 1, &u, &err) == QRANK_OK && u == 12345, "optional");
    CHECK(qr_gguf_get_str(g, "qwen3.block_count", 0, &s, &err) == QRANK_E_FORMAT, "str of u32");
    CHECK(qr_gguf_get_f64(g, "qwen3.block_count", 0, &f, &err) == QRANK_OK && f == 2.0, "f64 of u32");
    CHECK(qr_gguf_find(g, "no.such.key") == NULL, "find absent");

    /* tokenizer arrays */
    const qr_gguf_kv *tokens = qr_gguf_find(g, "tokenizer.ggml.tokens");
    const qr_gguf_kv *types = qr_gguf_find(g, "tokenizer.ggml.token_type");
    const qr_gguf_kv *merges = qr_gguf_find(g, "tokenizer.ggml.merges");
    const qr_gguf_kv *labels = qr_gguf_find(g, "qwen3.classifier.output_labels");
    CHECK(tokens && types && merges && labels, "tokenizer arrays present");
    if (tokens && types && merges && labels) {
        qr_str *tok = NULL, *mer = NULL, *lab = NULL;
        int32_t *typ = NULL;
        CHECK(qr_gguf_array_strings(tokens, &tok, &err) == QRANK_OK, "%s", err.message);
        CHECK(qr_gguf_array_i32(types, &typ, &err) == QRANK_OK, "%s", err.message);
        CHECK(qr_gguf_array_strings(merges, &mer, &err) == QRANK_OK, "%s", err.message);
        CHECK(qr_gguf_array_strings(labels, &lab, &err) == QRANK_OK, "%s", err.message);
        CHECK(tokens->n_elems == 151669 && types->n_elems == 151669, "%llu tokens",
              (unsigned long long)tokens->n_elems);
        CHECK(merges->n_elems == 151387, "%llu merges", (unsigned long long)merges->n_elems);
        if (tok && typ && mer && lab) {
            CHECK(str_is(tok[9693], "yes") && str_is(tok[2152], "no") && str_is(tok[198], "Ċ"),
                  "yes/no/newline tokens");
            CHECK(str_is(tok[151643], "<|endoftext|>") && str_is(tok[151668], "</think>"),
                  "added tokens");
            CHECK(typ[0] == 1 && typ[9693] == 1 && typ[151643] == 3 && typ[151656] == 3 &&
                      typ[151657] == 4 && typ[151667] == 4,
                  "token types %d %d %d %d", typ[0], typ[151643], typ[151657], typ[151667]);
            CHECK(str_is(mer[0], "Ġ Ġ") && str_is(mer[2], "i n"), "merges[0] = %.*s",
                  (int)mer[0].len, mer[0].ptr);
            CHECK(labels->n_elems == 2 && str_is(lab[0], "yes") && str_is(lab[1], "no"), "labels");
        }
        int32_t *bad = NULL;
        CHECK(qr_gguf_array_i32(tokens, &bad, &err) == QRANK_E_FORMAT && bad == NULL,
              "i32 of a string array");
        qr_str *bad_s = NULL;
        CHECK(qr_gguf_array_strings(types, &bad_s, &err) == QRANK_E_FORMAT && bad_s == NULL,
              "strings of an int array");
        const qr_gguf_kv *name = qr_gguf_find(g, "general.name");
        CHECK(name && qr_gguf_array_strings(name, &bad_s, &err) == QRANK_E_FORMAT,
              "strings of a scalar");
        free(tok);
        free(typ);
        free(mer);
        free(lab);
    }

    /* tensors: embedding + 11 per layer + output norm + cls */
    CHECK(qr_gguf_n_tensors(g) == 25, "%zu tensors", qr_gguf_n_tensors(g));
    check_shape(g, "token_embd.weight", QR_TYPE_Q8_0, 2, 64, 151669);
    check_shape(g, "blk.0.attn_q.weight", QR_TYPE_Q8_0, 2, 64, 128);
    check_shape(g, "blk.0.attn_k.weight", QR_TYPE_Q8_0, 2, 64, 64);
    check_shape(g, "blk.1.attn_v.weight", QR_TYPE_Q8_0, 2, 64, 64);
    check_shape(g, "blk.1.attn_output.weight", QR_TYPE_Q8_0, 2, 128, 64);
    check_shape(g, "blk.0.attn_q_norm.weight", QR_TYPE_F32, 1, 32, 1);
    check_shape(g, "blk.0.attn_k_norm.weight", QR_TYPE_F32, 1, 32, 1);
    check_shape(g, "blk.1.attn_norm.weight", QR_TYPE_F32, 1, 64, 1);
    check_shape(g, "blk.1.ffn_norm.weight", QR_TYPE_F32, 1, 64, 1);
    check_shape(g, "blk.0.ffn_gate.weight", QR_TYPE_Q8_0, 2, 64, 128);
    check_shape(g, "blk.0.ffn_up.weight", QR_TYPE_Q8_0, 2, 64, 128);
    check_shape(g, "blk.1.ffn_down.weight", QR_TYPE_Q8_0, 2, 128, 64);
    check_shape(g, "output_norm.weight", QR_TYPE_F32, 1, 64, 1);
    check_shape(g, "cls.output.weight", QR_TYPE_Q8_0, 2, 64, 2);
    CHECK(qr_gguf_tensor(g, "blk.2.attn_q.weight") == NULL, "no third layer");
    CHECK(qr_gguf_tensor(g, "output.weight") == NULL, "tied embeddings");
    CHECK(qr_gguf_tensor_at(g, qr_gguf_n_tensors(g)) == NULL, "tensor_at past the end");

    const uint8_t *lo = NULL, *hi = NULL;
    for (size_t i = 0; i < qr_gguf_n_tensors(g); i++) {
        const qr_tensor *t = qr_gguf_tensor_at(g, i);
        const uint8_t *p = t->data;
        if (!lo || p < lo) lo = p;
        if (!hi || p + t->nbytes > hi) hi = p + t->nbytes;
        CHECK(qr_gguf_tensor(g, t->name) == t, "lookup of %s", t->name);
    }
    CHECK(lo && (size_t)(hi - lo) <= qr_gguf_file_size(g) - qr_gguf_data_offset(g), "extent");

    /* the cls head is exactly the "yes" and "no" embedding rows */
    const qr_tensor *emb = qr_gguf_tensor(g, "token_embd.weight");
    const qr_tensor *cls = qr_gguf_tensor(g, "cls.output.weight");
    if (emb && cls) {
        float a[64], b[64];
        const int64_t ids[2] = {9693, 2152};
        for (int r = 0; r < 2; r++) {
            qr_dequantize_row(emb, ids[r], a);
            qr_dequantize_row(cls, r, b);
            CHECK(memcmp(a, b, sizeof a) == 0, "cls row %d differs from embedding row %lld", r,
                  (long long)ids[r]);
        }
        /* scores must be able to move: the yes/no rows differ substantially */
        qr_dequantize_row(cls, 0, a);
        double diff = 0, norm = 0;
        for (int i = 0; i < 64; i++) {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            norm += a[i] * a[i];
        }
        CHECK(diff > 0.1 * norm, "yes/no rows too close: %g vs %g", diff, norm);
    }
    qr_gguf_close(g);
}

/* The Q8_0 file holds the F32 file's values quantised exactly as ggml's
 * quantize_row_q8_0_ref does: d = amax/127 stored as f16, q = roundf(x / d)
 * computed as x * (1/d) in f32. Other tensors (norms stay F32) are identical. */
static void check_q8_against_f32(const char *q8_path, const char *f32_path) {
    qr_gguf *q, *f;
    qrank_error err = {0};
    CHECK(qr_gguf_open(q8_path, &q, &err) == QRANK_OK, "%s", err.message);
    CHECK(qr_gguf_open(f32_path, &f, &err) == QRANK_OK, "%s", err.message);
    if (!q || !f) {
        qr_gguf_close(q);
        qr_gguf_close(f);
        return;
    }
    CHECK(get_u64(f, "general.file_type") == 0, "f32 file_type");
    size_t blocks = 0;
    for (size_t n = 0; n < qr_gguf_n_tensors(q); n++) {
        const qr_tensor *a = qr_gguf_tensor_at(q, n), *b = qr_gguf_tensor(f, a->name);
        CHECK(b && a->ne[0] == b->ne[0] && a->ne[1] == b->ne[1] && b->type == QR_TYPE_F32,
              "%s shapes", a->name);
        if (!b) continue;
        if (a->type == QR_TYPE_F32) {
            CHECK(a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0,
                  "%s: F32 tensors differ", a->name);
            continue;
        }
        CHECK(a->type == QR_TYPE_Q8_0, "%s: type %d", a->name, a->type);
        const qr_block_q8_0 *qb = a->data;
        const float *x = b->data;
        size_t nb = a->nbytes / sizeof(qr_block_q8_0);
        size_t step = nb > 20000 ? 37 : 1; /* sample the big embedding */
        for (size_t i = 0; i < nb; i += step, blocks++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[i * 32 + j]));
            float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            int bad = qb[i].d != qr_f32_to_f16(d);
            for (int j = 0; j < 32; j++) bad |= qb[i].qs[j] != (int8_t)roundf(x[i * 32 + j] * id);
            if (bad) {
                CHECK(0, "%s block %zu is not ggml's quantisation", a->name, i);
                break;
            }
        }
    }
    CHECK(blocks > 10000, "only %zu blocks compared", blocks);
    qr_gguf_close(q);
    qr_gguf_close(f);
}

static void check_embedder_f16(const char *path, const char *f32_path) {
    qr_gguf *g, *f;
    qrank_error err = {0};
    CHECK(qr_gguf_open(path, &g, &err) == QRANK_OK, "%s", err.message);
    CHECK(qr_gguf_open(f32_path, &f, &err) == QRANK_OK, "%s", err.message);
    if (!g || !f) {
        qr_gguf_close(g);
        qr_gguf_close(f);
        return;
    }
    CHECK(get_u64(g, "qwen3.pooling_type") == 3, "pooling last");
    CHECK(get_u64(g, "general.file_type") == 1, "file_type f16");
    CHECK(qr_gguf_find(g, "qwen3.classifier.output_labels") == NULL, "no labels");
    CHECK(qr_gguf_tensor(g, "cls.output.weight") == NULL, "no cls");
    CHECK(qr_gguf_n_tensors(g) == 24, "%zu tensors", qr_gguf_n_tensors(g));
    check_shape(g, "token_embd.weight", QR_TYPE_F16, 2, 64, 151936);
    check_shape(g, "blk.0.attn_norm.weight", QR_TYPE_F32, 1, 64, 1);
    const qr_gguf_kv *tokens = qr_gguf_find(g, "tokenizer.ggml.tokens");
    const qr_gguf_kv *types = qr_gguf_find(g, "tokenizer.ggml.token_type");
    if (tokens && types) {
        qr_str *tok = NULL;
        int32_t *typ = NULL;
        CHECK(qr_gguf_array_strings(tokens, &tok, &err) == QRANK_OK, "%s", err.message);
        CHECK(qr_gguf_array_i32(types, &typ, &err) == QRANK_OK, "%s", err.message);
        CHECK(tokens->n_elems == 151936, "padded tokens %llu", (unsigned long long)tokens->n_elems);
        if (tok && typ)
            CHECK(str_is(tok[151669], "[PAD151669]") && typ[151669] == 5 && typ[151668] == 4,
                  "padding tokens");
        free(tok);
        free(typ);
    } else {
        CHECK(0, "tokenizer arrays missing");
    }
    /* same seed, same shape: the rows shared with the unpadded f32 model are its values in f16 */
    const qr_tensor *a = qr_gguf_tensor(g, "token_embd.weight");
    const qr_tensor *b = qr_gguf_tensor(f, "token_embd.weight");
    if (a && b) {
        float ra[64], rb[64];
        const int64_t rows[] = {0, 1, 2152, 9693, 151668};
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
            qr_dequantize_row(a, rows[k], ra);
            qr_dequantize_row(b, rows[k], rb);
            for (int i = 0; i < 64; i++)
                if (ra[i] != qr_f16_to_f32(qr_f32_to_f16(rb[i]))) {
                    CHECK(0, "row %lld col %d: f16 %g vs f32 %g", (long long)rows[k], i, ra[i], rb[i]);
                    break;
                }
        }
    }
    qr_gguf_close(g);
    qr_gguf_close(f);
}

static void check_bf16_nocls(const char *path) {
    qr_gguf *g;
    qrank_error err = {0};
    CHECK(qr_gguf_open(path, &g, &err) == QRANK_OK, "%s", err.message);
    if (!g) return;
    CHECK(get_u64(g, "general.file_type") == 32, "file_type bf16");
    CHECK(get_u64(g, "qwen3.pooling_type") == 4, "rank pooling");
    CHECK(qr_gguf_tensor(g, "cls.output.weight") == NULL, "--no-cls");
    check_shape(g, "blk.1.ffn_up.weight", QR_TYPE_BF16, 2, 64, 128);
    check_shape(g, "blk.1.attn_k_norm.weight", QR_TYPE_F32, 1, 32, 1);
    qr_gguf_close(g);
}

/* --------------------------------------------------------------------------------------- */
/* Part 2: corruption                                                                      */

static void expect_fail(const uint8_t *data, size_t size, const char *needle, const char *what) {
    uint8_t *copy = dup_bytes(data, size);
    qr_gguf *g = (qr_gguf *)1;
    qrank_error err = {0};
    int rc = qr_gguf_open_memory(copy, size, &g, &err);
    CHECK(rc == QRANK_E_FORMAT && g == NULL, "%s: rc %d", what, rc);
    CHECK(err.code == rc && err.message[0], "%s: no message", what);
    CHECK(!needle || has(&err, needle), "%s: message \"%s\" lacks \"%s\"", what, err.message,
          needle ? needle : "");
    free(copy);
}

static qr_gguf *expect_ok(const uint8_t *data, size_t size, uint8_t **keep, const char *what) {
    *keep = dup_bytes(data, size);
    qr_gguf *g = NULL;
    qrank_error err = {0};
    int rc = qr_gguf_open_memory(*keep, size, &g, &err);
    CHECK(rc == QRANK_OK && g, "%s: %s", what, err.message);
    return g;
}

/* Where the data of the last tensor ends (0 when the file does not open). */
static size_t tensors_end(const uint8_t *file, size_t size, size_t *data_offset) {
    uint8_t *copy = dup_bytes(file, size);
    qr_gguf *g;
    qrank_error err = {0};
    size_t end = 0;
    if (qr_gguf_open_memory(copy, size, &g, &err) == QRANK_OK) {
        *data_offset = qr_gguf_data_offset(g);
        for (size_t i = 0; i < qr_gguf_n_tensors(g); i++) {
            const qr_tensor *t = qr_gguf_tensor_at(g, i);
            size_t e = (size_t)((const uint8_t *)t->data - copy) + t->nbytes;
            if (e > end) end = e;
        }
        qr_gguf_close(g);
    }
    CHECK(end > 0, "reference open: %s", err.message);
    free(copy);
    return end;
}

/* Every prefix shorter than the end of the last tensor must be rejected: the
 * first 64 cuts (every header field), then n_random seeded points, three
 * quarters of them in the header. */
static void truncations(const uint8_t *file, size_t size, int n_random, uint64_t seed,
                        const char *label) {
    size_t data_offset = 0, end = tensors_end(file, size, &data_offset);
    if (!end) return;
    int n = 0;
    for (size_t cut = 0; cut < 64 && cut < end; cut++, n++) expect_fail(file, cut, NULL, "truncated start");
    for (int k = 0; k < n_random; k++, n++) {
        size_t cut = k < n_random * 3 / 4 ? rng_below(&seed, data_offset + 1)
                                           : data_offset + rng_below(&seed, end - data_offset);
        char what[64];
        snprintf(what, sizeof what, "%s truncated at %zu", label, cut);
        expect_fail(file, cut, NULL, what);
    }
    expect_fail(file, end - 1, "past the end", "last byte of the last tensor cut");
    printf("%s: %d truncations rejected\n", label, n + 1);
}

static void truncated_path(const uint8_t *file, const char *build_dir) {
    char *trunc_path = path_join(build_dir, "files-truncated.gguf");
    qrank_error err = {0};
    CHECK(write_file(trunc_path, file, 1000) == 0, "write %s", trunc_path);
    qr_gguf *gp = (qr_gguf *)1;
    CHECK(qr_gguf_open(trunc_path, &gp, &err) == QRANK_E_FORMAT && gp == NULL &&
              has(&err, "files-truncated.gguf"),
          "truncated file: %s", err.message);
    remove(trunc_path);
    free(trunc_path);
}

/* Flipped header bytes: an error or a file whose every tensor and string
 * array is still inside the buffer; never a crash or an out-of-bounds read. */
static void header_flips(const uint8_t *file, size_t size, int n_flips, uint64_t seed,
                         const char *label) {
    uint8_t *buf = dup_bytes(file, size);
    size_t data_offset = 0;
    if (!tensors_end(file, size, &data_offset)) {
        free(buf);
        return;
    }
    size_t zone = data_offset < 4096 ? data_offset : 4096;
    int rejected = 0, total = 0;
    qrank_error err = {0};
    for (int k = 0; k < n_flips; k++) {
        /* a third anywhere in the header, a third in its first 4 KiB (counts, the
         * small keys) and a third in its last 4 KiB (tensor infos), where flips
         * change structure rather than token text */
        size_t pos;
        int where = k % 3;
        if (where == 0) pos = rng_below(&seed, data_offset);
        else if (where == 1) pos = rng_below(&seed, zone);
        else pos = data_offset - 1 - rng_below(&seed, zone);
        uint8_t old = buf[pos], x = (uint8_t)(1u << rng_below(&seed, 8));
        if (rng_below(&seed, 4) == 0) x = (uint8_t)(rng_next(&seed) | 1);
        buf[pos] ^= x;
        qr_gguf *g = NULL;
        memset(&err, 0, sizeof err);
        int rc = qr_gguf_open_memory(buf, size, &g, &err);
        CHECK(rc == QRANK_OK || (rc == QRANK_E_FORMAT && err.message[0]), "flip at %zu: rc %d",
              pos, rc);
        if (rc == QRANK_OK) {
            for (size_t i = 0; i < qr_gguf_n_tensors(g); i++) {
                const qr_tensor *t = qr_gguf_tensor_at(g, i);
                const uint8_t *p = t->data;
                CHECK(p >= buf + qr_gguf_data_offset(g) && p + t->nbytes <= buf + size,
                      "flip at %zu: tensor %zu outside", pos, i);
            }
            for (size_t i = 0; i < qr_gguf_n_kv(g); i++) {
                const qr_gguf_kv *kv = qr_gguf_kv_at(g, i);
                if (kv->type == QR_GGUF_ARRAY && kv->elem_type == QR_GGUF_STRING) {
                    qr_str *s = NULL;
                    CHECK(qr_gguf_array_strings(kv, &s, &err) == QRANK_OK, "flip at %zu", pos);
                    free(s);
                }
            }
            qr_gguf_close(g);
        } else {
            rejected++;
        }
        total++;
        buf[pos] = old;
    }
    printf("%s: %d of %d header flips rejected, the rest opened consistently\n", label, rejected,
           total);
    CHECK(rejected > total / 20, "suspiciously few flips rejected (%d)", rejected);
    free(buf);
}

/* A tiny GGUF builder for crafted files. */
static void gg_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void gg_header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

static void gg_kv_u32(bytes *b, const char *key, uint32_t v) {
    gg_str(b, key);
    put_u32(b, QR_GGUF_UINT32);
    put_u32(b, v);
}

static void gg_tensor(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                      uint64_t offset) {
    gg_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void gg_pad(bytes *b, size_t align) {
    while (b->n % align) put_u8(b, 0);
}

/* A valid file: one key, two F32 tensors [8] at 0 and [4,2] at 32. */
static void build_valid(bytes *b, const uint64_t *off1) {
    const uint64_t ne_a[1] = {8}, ne_b[2] = {4, 2};
    gg_header(b, 3, 2, 1);
    gg_kv_u32(b, "general.alignment", 32);
    gg_tensor(b, "a", 1, ne_a, QR_TYPE_F32, 0);
    gg_tensor(b, "b", 2, ne_b, QR_TYPE_F32, off1 ? *off1 : 32);
    gg_pad(b, 32);
    put_zeros(b, 64);
}

/* The generated model re-encoded small: every key with arrays cut to their
 * first 40 elements, every tensor with at most 3 rows. Same structure as the
 * real file, a few KB of header, so thousands of corruptions run in seconds
 * even under ASan. */
static void reencode_small(const uint8_t *file, size_t size, bytes *out) {
    uint8_t *copy = dup_bytes(file, size);
    qr_gguf *g;
    qrank_error err = {0};
    out->n = 0;
    if (qr_gguf_open_memory(copy, size, &g, &err) != QRANK_OK) {
        CHECK(0, "%s", err.message);
        free(copy);
        return;
    }
    gg_header(out, 3, qr_gguf_n_tensors(g), qr_gguf_n_kv(g));
    for (size_t i = 0; i < qr_gguf_n_kv(g); i++) {
        const qr_gguf_kv *kv = qr_gguf_kv_at(g, i);
        put_u64(out, kv->key.len);
        put(out, kv->key.ptr, kv->key.len);
        put_u32(out, kv->type);
        switch (kv->type) {
        case QR_GGUF_STRING:
            put_u64(out, kv->v.str.len);
            put(out, kv->v.str.ptr, kv->v.str.len);
            break;
        case QR_GGUF_ARRAY: {
            uint64_t n = kv->n_elems < 40 ? kv->n_elems : 40;
            put_u32(out, kv->elem_type);
            put_u64(out, n);
            if (kv->elem_type == QR_GGUF_STRING) {
                qr_str *s = NULL;
                CHECK(qr_gguf_array_strings(kv, &s, &err) == QRANK_OK, "%s", err.message);
                for (uint64_t k = 0; s && k < n; k++) {
                    put_u64(out, s[k].len);
                    put(out, s[k].ptr, s[k].len);
                }
                free(s);
            } else {
                put(out, kv->array_data, (size_t)(kv->array_bytes / kv->n_elems * n));
            }
            break;
        }
        case QR_GGUF_FLOAT32: {
            float f = (float)kv->v.f64;
            put(out, &f, 4);
            break;
        }
        case QR_GGUF_UINT32: put_u32(out, (uint32_t)kv->v.u64); break;
        case QR_GGUF_BOOL: put_u8(out, (uint8_t)kv->v.u64); break;
        default: CHECK(0, "re-encoding: unexpected key type %d", kv->type);
        }
    }
    uint64_t offset = 0, data_end = 0;
    for (size_t i = 0; i < qr_gguf_n_tensors(g); i++) {
        const qr_tensor *t = qr_gguf_tensor_at(g, i);
        uint64_t ne[4] = {(uint64_t)t->ne[0], (uint64_t)(t->ne[1] < 3 ? t->ne[1] : 3), 1, 1};
        gg_tensor(out, t->name, (uint32_t)t->n_dims, ne, t->type, offset);
        data_end = offset + qr_row_bytes(t->type, t->ne[0]) * ne[1];
        offset = (data_end + 31) / 32 * 32;
    }
    gg_pad(out, 32);
    put_zeros(out, (size_t)data_end); /* no padding after the last tensor: every cut fails */
    qr_gguf_close(g);
    free(copy);
}

static void crafted(void) {
    bytes b = {0};
    uint8_t *keep;
    qrank_error err = {0};

    build_valid(&b, NULL);
    qr_gguf *g = expect_ok(b.p, b.n, &keep, "valid crafted file");
    if (g) {
        const qr_tensor *t = qr_gguf_tensor(g, "b");
        CHECK(t && t->n_dims == 2 && t->ne[0] == 4 && t->ne[1] == 2 && t->nbytes == 32 &&
                  (const uint8_t *)t->data == keep + qr_gguf_data_offset(g) + 32,
              "tensor b");
        qr_gguf_close(g);
    }
    free(keep);

    b.n = 0; /* empty but valid: no keys, no tensors */
    gg_header(&b, 2, 0, 0);
    g = expect_ok(b.p, b.n, &keep, "empty v2 file");
    if (g) {
        CHECK(qr_gguf_n_tensors(g) == 0 && qr_gguf_n_kv(g) == 0 && qr_gguf_version(g) == 2, "empty");
        qr_gguf_close(g);
    }
    free(keep);

    /* header */
    expect_fail((const uint8_t *)"", 0, "too small", "empty file");
    b.n = 0;
    build_valid(&b, NULL);
    b.p[0] = 'X';
    expect_fail(b.p, b.n, "magic", "bad magic");
    const uint32_t versions[] = {1, 4, 0x03000000u};
    const char *vmsg[] = {"version 1", "version 4", "big-endian"};
    for (int i = 0; i < 3; i++) {
        b.n = 0;
        build_valid(&b, NULL);
        for (int k = 0; k < 4; k++) b.p[4 + k] = (uint8_t)(versions[i] >> (8 * k));
        expect_fail(b.p, b.n, vmsg[i], vmsg[i]);
    }
    b.n = 0;
    gg_header(&b, 3, 0, (uint64_t)1 << 60);
    put_zeros(&b, 64);
    expect_fail(b.p, b.n, "cannot fit", "absurd n_kv");
    b.n = 0;
    gg_header(&b, 3, UINT64_MAX, 1);
    put_zeros(&b, 64);
    expect_fail(b.p, b.n, "cannot fit", "absurd n_tensors");

    /* keys and values */
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    put_u64(&b, (uint64_t)1 << 62);
    put(&b, "key", 3);
    put_zeros(&b, 64);
    expect_fail(b.p, b.n, "string length", "huge key length");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "k");
    put_u32(&b, QR_GGUF_STRING);
    put_u64(&b, UINT64_MAX);
    put_zeros(&b, 16);
    expect_fail(b.p, b.n, "key 0 (k)", "huge string value");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "k");
    put_u32(&b, 13);
    put_zeros(&b, 16);
    expect_fail(b.p, b.n, "unknown value type 13", "unknown type");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "k");
    put_u32(&b, QR_GGUF_BOOL);
    put_u8(&b, 2);
    expect_fail(b.p, b.n, "BOOL", "bool 2");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "arr");
    put_u32(&b, QR_GGUF_ARRAY);
    put_u32(&b, QR_GGUF_UINT32);
    put_u64(&b, (uint64_t)1 << 62); /* times 4 bytes overflows 64 bits */
    put_zeros(&b, 64);
    expect_fail(b.p, b.n, "cannot fit", "huge array count");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "arr");
    put_u32(&b, QR_GGUF_ARRAY);
    put_u32(&b, QR_GGUF_STRING);
    put_u64(&b, 3);
    gg_str(&b, "one");
    gg_str(&b, "two");
    put_u64(&b, 1000); /* third string runs off the end */
    put(&b, "x", 1);
    expect_fail(b.p, b.n, "element 2", "string array element past the end");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "arr");
    put_u32(&b, QR_GGUF_ARRAY);
    put_u32(&b, QR_GGUF_ARRAY);
    put_u64(&b, 1);
    put_u32(&b, QR_GGUF_UINT8);
    put_u64(&b, 1);
    put_u8(&b, 0);
    expect_fail(b.p, b.n, "arrays of arrays", "nested array");
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "arr");
    put_u32(&b, QR_GGUF_ARRAY);
    put_u32(&b, 99);
    put_u64(&b, 1);
    put_zeros(&b, 8);
    expect_fail(b.p, b.n, "element type 99", "unknown element type");
    b.n = 0;
    gg_header(&b, 3, 0, 2);
    gg_kv_u32(&b, "same", 1);
    gg_kv_u32(&b, "same", 2);
    expect_fail(b.p, b.n, "duplicate", "duplicate key");
    /* 1, 2 and 4 would let an F16 tensor start at an odd address (a fuzzer finding). */
    const uint32_t bad_align[] = {0, 1, 2, 4, 48, 1u << 30};
    for (int i = 0; i < 6; i++) {
        b.n = 0;
        gg_header(&b, 3, 0, 1);
        gg_kv_u32(&b, "general.alignment", bad_align[i]);
        expect_fail(b.p, b.n, "power of two", "bad alignment");
    }
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "general.alignment");
    put_u32(&b, QR_GGUF_STRING);
    gg_str(&b, "32");
    expect_fail(b.p, b.n, "general.alignment", "alignment of the wrong type");

    /* array widening: int32 out of range */
    b.n = 0;
    gg_header(&b, 3, 0, 1);
    gg_str(&b, "ids");
    put_u32(&b, QR_GGUF_ARRAY);
    put_u32(&b, QR_GGUF_UINT64);
    put_u64(&b, 2);
    put_u64(&b, 5);
    put_u64(&b, (uint64_t)1 << 40);
    g = expect_ok(b.p, b.n, &keep, "u64 array");
    if (g) {
        int32_t *v = NULL;
        CHECK(qr_gguf_array_i32(qr_gguf_find(g, "ids"), &v, &err) == QRANK_E_FORMAT && !v &&
                  has(&err, "int32"),
              "int32 range: %s", err.message);
        qr_gguf_close(g);
    }
    free(keep);

    /* tensor infos */
    struct {
        uint32_t n_dims;
        uint64_t ne[5];
        uint32_t type;
        uint64_t offset;
        const char *needle;
    } bad[] = {
        {0, {1}, QR_TYPE_F32, 0, "n_dims 0"},
        {5, {1, 1, 1, 1, 1}, QR_TYPE_F32, 0, "n_dims 5"},
        {2, {4, 0}, QR_TYPE_F32, 0, "dimension 1 is 0"},
        {2, {(uint64_t)1 << 32, (uint64_t)1 << 32}, QR_TYPE_F32, 0, "dimension 1"},
        {1, {UINT64_MAX}, QR_TYPE_F32, 0, "dimension 0"},
        {1, {8}, 7, 0, "unknown tensor type 7"},
        {1, {8}, 99, 0, "unknown tensor type 99"},
        {1, {33}, QR_TYPE_Q8_0, 0, "not a multiple"},
        {1, {8}, QR_TYPE_F32, 16, "not a multiple of the alignment"},
        {1, {8}, QR_TYPE_F32, 1u << 20, "past the end"},
        {1, {8}, QR_TYPE_F32, UINT64_MAX - 31, "past the end"},
        {3, {(uint64_t)1 << 20, (uint64_t)1 << 20, (uint64_t)1 << 20}, QR_TYPE_F32, 0, "past the end"},
        {2, {(uint64_t)1 << 31, (uint64_t)1 << 31}, QR_TYPE_F32, 0, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b.n = 0;
        gg_header(&b, 3, 1, 0);
        gg_tensor(&b, "t", bad[i].n_dims, bad[i].ne, bad[i].type, bad[i].offset);
        gg_pad(&b, 32);
        put_zeros(&b, 64);
        char what[64];
        snprintf(what, sizeof what, "bad tensor info %zu", i);
        expect_fail(b.p, b.n, bad[i].needle, what);
    }
    b.n = 0; /* the example message of the brief: name, offset, size, file size */
    {
        const uint64_t ne[2] = {64, 4};
        gg_header(&b, 3, 1, 0);
        gg_tensor(&b, "blk.0.attn_q.weight", 2, ne, QR_TYPE_F32, 32);
        gg_pad(&b, 32);
        put_zeros(&b, 64);
        expect_fail(b.p, b.n, "tensor 0 (blk.0.attn_q.weight): data offset 32 + 1024 bytes is past the end",
                    "named message");
    }
    const uint64_t overlap = 16; /* "a" is [0, 32): "b" at 16 overlaps, but 16 is also misaligned */
    b.n = 0;
    gg_header(&b, 3, 2, 1);
    gg_kv_u32(&b, "general.alignment", 8);
    {
        const uint64_t ne_a[1] = {8}, ne_b[1] = {4};
        gg_tensor(&b, "a", 1, ne_a, QR_TYPE_F32, 0);
        gg_tensor(&b, "b", 1, ne_b, QR_TYPE_F32, overlap);
    }
    gg_pad(&b, 8);
    put_zeros(&b, 64);
    expect_fail(b.p, b.n, "overlaps", "overlapping tensors");
    b.n = 0;
    {
        const uint64_t ne[1] = {8};
        gg_header(&b, 3, 2, 0);
        gg_tensor(&b, "a", 1, ne, QR_TYPE_F32, 0);
        gg_tensor(&b, "a", 1, ne, QR_TYPE_F32, 32);
        gg_pad(&b, 32);
        put_zeros(&b, 64);
        expect_fail(b.p, b.n, "duplicate of tensor 0", "duplicate tensor");
        b.n = 0;
        gg_header(&b, 3, 1, 0);
        gg_tensor(&b, "", 1, ne, QR_TYPE_F32, 0);
        gg_pad(&b, 32);
        put_zeros(&b, 64);
        expect_fail(b.p, b.n, "name length 0", "empty name");
        b.n = 0;
        gg_header(&b, 3, 1, 0);
        put_u64(&b, 3);
        put(&b, "a\0b", 3);
        put_u32(&b, 1);
        put_u64(&b, 8);
        put_u32(&b, QR_TYPE_F32);
        put_u64(&b, 0);
        gg_pad(&b, 32);
        put_zeros(&b, 64);
        expect_fail(b.p, b.n, "NUL", "NUL in name");
        b.n = 0; /* the data section itself starts past the end */
        gg_header(&b, 3, 1, 0);
        gg_tensor(&b, "a", 1, ne, QR_TYPE_F32, 0);
        expect_fail(b.p, b.n, "past the end", "no data section");
    }
    /* a custom alignment is honoured */
    b.n = 0;
    {
        const uint64_t ne[1] = {8};
        gg_header(&b, 3, 2, 1);
        gg_kv_u32(&b, "general.alignment", 64);
        gg_tensor(&b, "a", 1, ne, QR_TYPE_F32, 0);
        gg_tensor(&b, "b", 1, ne, QR_TYPE_F32, 64);
        gg_pad(&b, 64);
        put_zeros(&b, 128);
        g = expect_ok(b.p, b.n, &keep, "alignment 64");
        if (g) {
            CHECK(qr_gguf_alignment(g) == 64 && qr_gguf_data_offset(g) % 64 == 0, "alignment 64");
            qr_gguf_close(g);
        }
        free(keep);
        b.n = 0; /* offset 32 is aligned to the default, not to 64 */
        gg_header(&b, 3, 2, 1);
        gg_kv_u32(&b, "general.alignment", 64);
        gg_tensor(&b, "a", 1, ne, QR_TYPE_F32, 0);
        gg_tensor(&b, "b", 1, ne, QR_TYPE_F32, 32);
        gg_pad(&b, 64);
        put_zeros(&b, 128);
        expect_fail(b.p, b.n, "alignment 64", "offset aligned to 32 only");
    }
    free(b.p);

    /* I/O errors name the path */
    qr_gguf *gp = (qr_gguf *)1;
    CHECK(qr_gguf_open("/nonexistent/x.gguf", &gp, &err) == QRANK_E_IO && gp == NULL &&
              has(&err, "/nonexistent/x.gguf"),
          "missing file: %s", err.message);
    CHECK(qr_gguf_open("/", &gp, &err) == QRANK_E_IO, "directory: %s", err.message);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOURCE_DIR BUILD_DIR\n", argv[0]);
        return 2;
    }
    char *models = path_join(argv[2], "models");
    char *q8 = path_join(models, "files-rerank-q8_0.gguf");
    char *f32 = path_join(models, "files-rerank-f32.gguf");
    char *f16 = path_join(models, "files-embed-f16-padded.gguf");
    char *bf16 = path_join(models, "files-rerank-bf16-nocls.gguf");

    check_reranker_q8(q8);
    check_q8_against_f32(q8, f32);
    check_embedder_f16(f16, f32);
    check_bf16_nocls(bf16);

    size_t size = 0;
    uint8_t *file = read_file(q8, &size);
    CHECK(file != NULL, "cannot read %s", q8);
    if (file) {
        /* the real file: its 5 MB header makes each parse cost milliseconds */
        truncations(file, size, 60, 42, "generated model");
        header_flips(file, size, 150, 7, "generated model");
        truncated_path(file, argv[2]);
        bytes small = {0};
        reencode_small(file, size, &small);
        CHECK(small.n > 1000 && small.n < 200000, "re-encoded size %zu", small.n);
        uint8_t *keep = NULL;
        qr_gguf *g = expect_ok(small.p, small.n, &keep, "re-encoded model");
        if (g) {
            CHECK(qr_gguf_n_tensors(g) == 25 && qr_gguf_tensor(g, "cls.output.weight"), "re-encoded");
            qr_gguf_close(g);
        }
        free(keep);
        truncations(small.p, small.n, 3000, 43, "re-encoded model");
        header_flips(small.p, small.n, 20000, 8, "re-encoded model");
        free(small.p);
        free(file);
    }
    crafted();

    free(q8);
    free(f32);
    free(f16);
    free(bf16);
    free(models);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all gguf checks passed\n");
    return 0;
}
