/* test-safetensors.c - safetensors files, HF directories and config.json.
 *
 * Part 1 opens directories that tools/make_model.py wrote (tests/files.cmake):
 * a single bf16 file with "model." names and three f32 shards without the
 * prefix. Names are looked up both ways, shapes come out in ggml order, and
 * the values equal those of the GGUF f32 file of the same seed (exactly) and
 * of the bf16 directory (after rounding), which ties the two writers and the
 * two readers together. Part 2 corrupts single files (truncation, header byte
 * flips, crafted headers), directories (shard names with "../", missing
 * shards, tensors in the wrong shard) and config.json (wrong types, insane
 * values). */
#include "error.h"
#include "files_util.h"
#include "gguf.h"
#include "mapped_file.h"
#include "safetensors.h"

static int has(const qrank_error *e, const char *needle) { return strstr(e->message, needle) != NULL; }

static void check_shape(const qr_safetensors *st, const char *name, const char *stored, qr_type type,
                        int n_dims, int64_t ne0, int64_t ne1) {
    const qr_tensor *t = qr_safetensors_tensor(st, name);
    CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    CHECK(strcmp(t->name, stored) == 0, "%s stored as %s, expected %s", name, t->name, stored);
    CHECK(t->type == type, "%s: type %d", name, t->type);
    CHECK(t->n_dims == n_dims && t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1,
          "%s: n_dims %d ne %lld x %lld", name, t->n_dims, (long long)t->ne[0], (long long)t->ne[1]);
    CHECK(t->nbytes == (size_t)(ne0 * ne1) * (type == QR_TYPE_F32 ? 4u : 2u), "%s: nbytes", name);
}

static qr_hf_config parse_config_file(const char *dir) {
    qr_hf_config c;
    memset(&c, 0, sizeof c);
    char *path = path_join(dir, "config.json");
    char *text;
    size_t len;
    qrank_error err = {0};
    CHECK(qr_read_small_file(path, 1 << 20, &text, &len, &err) == QRANK_OK, "%s", err.message);
    if (text) {
        CHECK(qr_hf_config_parse(text, len, &c, &err) == QRANK_OK, "%s: %s", path, err.message);
        free(text);
    }
    free(path);
    return c;
}

/* --------------------------------------------------------------------------------------- */
/* Part 1: generated directories                                                           */

static void check_single_bf16(const char *dir) {
    qr_safetensors *st;
    qrank_error err = {0};
    int rc = qr_safetensors_open_dir(dir, &st, &err);
    CHECK(rc == QRANK_OK, "%s: %s", dir, err.message);
    if (rc) return;
    CHECK(qr_safetensors_n_tensors(st) == 24, "%zu tensors", qr_safetensors_n_tensors(st));
    check_shape(st, "embed_tokens.weight", "model.embed_tokens.weight", QR_TYPE_BF16, 2, 64, 151669);
    check_shape(st, "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.weight",
                QR_TYPE_BF16, 2, 64, 128);
    check_shape(st, "layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                QR_TYPE_BF16, 2, 64, 64);
    check_shape(st, "layers.1.self_attn.o_proj.weight", "model.layers.1.self_attn.o_proj.weight",
                QR_TYPE_BF16, 2, 128, 64);
    check_shape(st, "layers.1.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight",
                QR_TYPE_BF16, 2, 128, 64);
    check_shape(st, "layers.1.self_attn.q_norm.weight", "model.layers.1.self_attn.q_norm.weight",
                QR_TYPE_BF16, 1, 32, 1);
    check_shape(st, "norm.weight", "model.norm.weight", QR_TYPE_BF16, 1, 64, 1);
    CHECK(qr_safetensors_tensor(st, "lm_head.weight") == NULL, "tied: no lm_head");
    CHECK(qr_safetensors_tensor(st, "norm") == NULL && qr_safetensors_tensor(st, "") == NULL,
          "no partial matches");
    CHECK(qr_safetensors_tensor_at(st, 24) == NULL, "tensor_at past the end");
    size_t sum = 0;
    for (size_t i = 0; i < qr_safetensors_n_tensors(st); i++) {
        const qr_tensor *t = qr_safetensors_tensor_at(st, i);
        sum += t->nbytes;
        CHECK(qr_safetensors_tensor(st, t->name) == t, "lookup %s", t->name);
    }
    CHECK(sum == qr_safetensors_data_bytes(st), "data bytes %zu vs %zu", sum,
          qr_safetensors_data_bytes(st));
    qr_safetensors_close(st);

    qr_hf_config c = parse_config_file(dir);
    CHECK(c.n_layers == 2 && c.hidden == 64 && c.ffn == 128 && c.n_heads == 4 && c.n_kv_heads == 2 &&
              c.head_dim == 32 && c.vocab_size == 151669 && c.max_positions == 40960 &&
              c.rope_theta == 1e6 && c.rms_eps == 1e-6 && c.tie_embeddings == 1 &&
              strcmp(c.model_type, "qwen3") == 0 && strcmp(c.architecture, "Qwen3ForCausalLM") == 0,
          "config of %s", dir);
}

/* HF name (unprefixed) -> GGUF name for the tensors compared across formats. */
static const char *const name_pairs[][2] = {
    {"embed_tokens.weight", "token_embd.weight"},
    {"layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
    {"layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
    {"layers.1.self_attn.o_proj.weight", "blk.1.attn_output.weight"},
    {"layers.1.self_attn.k_norm.weight", "blk.1.attn_k_norm.weight"},
    {"layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
    {"layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight"},
    {"layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
    {"layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
    {"norm.weight", "output_norm.weight"},
};

static void check_shards_f32(const char *dir, const char *gguf_f32, const char *bf16_dir) {
    qr_safetensors *st, *b16;
    qr_gguf *g;
    qrank_error err = {0};
    int rc = qr_safetensors_open_dir(dir, &st, &err);
    CHECK(rc == QRANK_OK, "%s: %s", dir, err.message);
    if (rc) return;
    CHECK(qr_gguf_open(gguf_f32, &g, &err) == QRANK_OK, "%s", err.message);
    CHECK(qr_safetensors_open_dir(bf16_dir, &b16, &err) == QRANK_OK, "%s", err.message);
    CHECK(qr_safetensors_n_tensors(st) == 24, "%zu tensors", qr_safetensors_n_tensors(st));
    check_shape(st, "model.embed_tokens.weight", "embed_tokens.weight", QR_TYPE_F32, 2, 64, 151669);
    check_shape(st, "layers.1.mlp.up_proj.weight", "layers.1.mlp.up_proj.weight", QR_TYPE_F32, 2, 64,
                128);
    for (size_t i = 0; g && b16 && i < sizeof name_pairs / sizeof name_pairs[0]; i++) {
        const qr_tensor *h = qr_safetensors_tensor(st, name_pairs[i][0]);
        const qr_tensor *gt = qr_gguf_tensor(g, name_pairs[i][1]);
        const qr_tensor *hb = qr_safetensors_tensor(b16, name_pairs[i][0]);
        CHECK(h && gt && hb, "%s present in all three", name_pairs[i][0]);
        if (!h || !gt || !hb) continue;
        CHECK(h->n_dims == gt->n_dims && h->ne[0] == gt->ne[0] && h->ne[1] == gt->ne[1] &&
                  h->nbytes == gt->nbytes,
              "%s: shape differs from GGUF", name_pairs[i][0]);
        if (h->nbytes == gt->nbytes)
            CHECK(memcmp(h->data, gt->data, h->nbytes) == 0, "%s: values differ from GGUF",
                  name_pairs[i][0]);
        const float *f = h->data;
        const uint16_t *bf = hb->data;
        size_t n = h->nbytes / 4;
        for (size_t k = 0; k < n; k += (n > 4096 ? 97 : 1))
            if (bf[k] != qr_f32_to_bf16(f[k])) {
                CHECK(0, "%s[%zu]: bf16 %04x is not the rounding of %g", name_pairs[i][0], k, bf[k],
                      f[k]);
                break;
            }
    }
    qr_gguf_close(g);
    qr_safetensors_close(b16);
    qr_safetensors_close(st);
}

/* --------------------------------------------------------------------------------------- */
/* Part 2: corruption                                                                      */

static void expect_fail(const uint8_t *data, size_t size, const char *needle, const char *what) {
    uint8_t *copy = dup_bytes(data, size);
    qr_safetensors *st = (qr_safetensors *)1;
    qrank_error err = {0};
    int rc = qr_safetensors_parse(copy, size, &st, &err);
    CHECK(rc == QRANK_E_FORMAT && st == NULL, "%s: rc %d", what, rc);
    CHECK(err.code == rc && err.message[0], "%s: no message", what);
    CHECK(!needle || has(&err, needle), "%s: message \"%s\" lacks \"%s\"", what, err.message,
          needle ? needle : "");
    free(copy);
}

static void truncations_and_flips(const uint8_t *file, size_t size) {
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)file[i] << (8 * i);
    size_t header_end = 8 + (size_t)hlen;
    uint64_t seed = 11;
    int n = 0;
    for (size_t cut = 0; cut < 40; cut++, n++) expect_fail(file, cut, NULL, "truncated start");
    for (int k = 0; k < 150; k++, n++) {
        size_t cut = k < 120 ? rng_below(&seed, header_end + 1)
                             : header_end + rng_below(&seed, size - header_end);
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu", cut);
        expect_fail(file, cut, NULL, what);
    }
    expect_fail(file, size - 1, "not inside the data area", "last byte cut");
    printf("%d truncations rejected\n", n + 1);

    uint8_t *buf = dup_bytes(file, size);
    int rejected = 0, total = 0;
    for (int k = 0; k < 2000; k++, total++) {
        size_t pos = k % 10 == 0 ? rng_below(&seed, 8) : rng_below(&seed, header_end);
        uint8_t old = buf[pos];
        buf[pos] ^= (uint8_t)(1u << rng_below(&seed, 8));
        if (k % 4 == 0) buf[pos] = (uint8_t)"0123456789\",:[]{}e-. \\"[rng_below(&seed, 22)];
        qr_safetensors *st = NULL;
        qrank_error err = {0};
        int rc = qr_safetensors_parse(buf, size, &st, &err);
        CHECK(rc == QRANK_OK || (rc == QRANK_E_FORMAT && err.message[0]), "flip at %zu: rc %d", pos,
              rc);
        if (rc == QRANK_OK) {
            for (size_t i = 0; i < qr_safetensors_n_tensors(st); i++) {
                const qr_tensor *t = qr_safetensors_tensor_at(st, i);
                const uint8_t *p = t->data;
                CHECK(p >= buf + header_end && p + t->nbytes <= buf + size, "flip at %zu: outside",
                      pos);
            }
            qr_safetensors_close(st);
        } else {
            rejected++;
        }
        buf[pos] = old;
    }
    printf("%d of %d header flips rejected, the rest opened consistently\n", rejected, total);
    CHECK(rejected > total / 4, "suspiciously few flips rejected (%d)", rejected);
    free(buf);
}

/* A file from a header text and a data area of data_len zero bytes. Unless the
 * length is overridden, the header is padded with spaces so that the data
 * starts 8-aligned, as the reference writer does. */
static void st_build(bytes *b, const char *json, uint64_t hlen_override, size_t data_len) {
    size_t n = strlen(json), pad = hlen_override ? 0 : (8 - n % 8) % 8;
    b->n = 0;
    put_u64(b, hlen_override ? hlen_override : n + pad);
    put(b, json, n);
    put(b, "        ", pad);
    put_zeros(b, data_len);
}

static void crafted(void) {
    bytes b = {0};
    qrank_error err = {0};

    /* a valid file first, so that each bad case below differs by one thing */
    st_build(&b, "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                 "\"data_offsets\":[0,24]},\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[24,26]}}",
             0, 26);
    uint8_t *keep = dup_bytes(b.p, b.n);
    qr_safetensors *st = NULL;
    CHECK(qr_safetensors_parse(keep, b.n, &st, &err) == QRANK_OK, "valid: %s", err.message);
    if (st) {
        const qr_tensor *w = qr_safetensors_tensor(st, "w"), *s = qr_safetensors_tensor(st, "s");
        CHECK(w && w->n_dims == 2 && w->ne[0] == 3 && w->ne[1] == 2 && w->type == QR_TYPE_F32, "w");
        CHECK(s && s->n_dims == 1 && s->ne[0] == 1 && s->nbytes == 2, "scalar");
        CHECK(qr_safetensors_data_bytes(st) == 26, "data bytes");
        qr_safetensors_close(st);
    }
    free(keep);

    struct {
        const char *json;
        size_t data_len;
        const char *needle;
    } cases[] = {
        {"not json at all", 0, "not valid JSON"},
        {"[1,2,3]", 0, "not a JSON object"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, "after its JSON"},
        {"{\"w\":5}", 0, "not an object"},
        {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "I64 is not supported"},
        {"{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "not supported"},
        {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "5 dimensions"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "shape[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,4]}}",
         4, "overflows"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "pair"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, "pair"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "not inside"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, "not inside"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551616,4]}}", 4,
         "pair"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "appears twice"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "aligned"},
        {"{\"__metadata__\":[1],\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "__metadata__"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "length 0"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[[[[[[[[[[1]]]]]]]]]],\"data_offsets\":[0,4]}}", 4,
         "shape[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_build(&b, cases[i].json, 0, cases[i].data_len);
        char what[64];
        snprintf(what, sizeof what, "crafted header %zu", i);
        expect_fail(b.p, b.n, cases[i].needle, what);
    }
    st_build(&b, "{}", 1000, 0);
    expect_fail(b.p, b.n, "larger than the rest", "header length past the end");
    st_build(&b, "{}", UINT64_MAX, 0);
    expect_fail(b.p, b.n, "larger than the rest", "header length 2^64-1");
    b.n = 0;
    put_u64(&b, 4);
    put(&b, "{\0}}", 4);
    expect_fail(b.p, b.n, "NUL", "NUL in header");
    expect_fail((const uint8_t *)"", 0, "too small", "empty");

    /* deep nesting must end in an error, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 8);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    st_build(&b, deep, 0, 0);
    expect_fail(b.p, b.n, NULL, "deeply nested header");
    free(deep);
    free(b.p);

    qr_safetensors *sp = (qr_safetensors *)1;
    CHECK(qr_safetensors_open_file("/nonexistent/m.safetensors", &sp, &err) == QRANK_E_IO && !sp &&
              has(&err, "/nonexistent/m.safetensors"),
          "missing file: %s", err.message);
}

/* --------------------------------------------------------------------------------------- */
/* directories                                                                             */

static void write_text(const char *dir, const char *name, const char *text) {
    char *p = path_join(dir, name);
    CHECK(write_file(p, text, strlen(text)) == 0, "write %s", p);
    free(p);
}

/* A valid one-tensor shard holding "name" as F32 [2]. */
static void write_shard(const char *dir, const char *file, const char *name) {
    char json[256];
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             name);
    bytes b = {0};
    st_build(&b, json, 0, 8);
    char *p = path_join(dir, file);
    CHECK(write_file(p, b.p, b.n) == 0, "write %s", p);
    free(p);
    free(b.p);
}

static char *case_dir(const char *root, const char *name) {
    char *d = path_join(root, name);
    make_dir(d);
    return d;
}

static void expect_dir(const char *dir, int code, const char *needle, const char *what) {
    qr_safetensors *st = (qr_safetensors *)1;
    qrank_error err = {0};
    int rc = qr_safetensors_open_dir(dir, &st, &err);
    CHECK(rc == code && st == NULL, "%s: rc %d (%s)", what, rc, err.message);
    CHECK(!needle || has(&err, needle), "%s: message \"%s\" lacks \"%s\"", what, err.message, needle);
}

static void directories(const char *build_dir) {
    char *root = path_join(build_dir, "files-st-dirs");
    make_dir(root);
    qrank_error err = {0};

    char *d = case_dir(root, "ok");
    write_shard(d, "s1.safetensors", "model.a");
    write_shard(d, "s2.safetensors", "model.b");
    write_text(d, "model.safetensors.index.json",
               "{\"metadata\":{},\"weight_map\":{\"model.a\":\"s1.safetensors\","
               "\"model.b\":\"s2.safetensors\"}}");
    qr_safetensors *st = NULL;
    CHECK(qr_safetensors_open_dir(d, &st, &err) == QRANK_OK, "ok dir: %s", err.message);
    if (st) {
        CHECK(qr_safetensors_n_tensors(st) == 2 && qr_safetensors_tensor(st, "a") &&
                  qr_safetensors_tensor(st, "model.b") && qr_safetensors_data_bytes(st) == 16,
              "two shards");
        qr_safetensors_close(st);
    }
    free(d);

    struct {
        const char *name, *index;
        int code;
        const char *needle;
    } cases[] = {
        {"dotdot", "{\"weight_map\":{\"model.a\":\"../ok/s1.safetensors\"}}", QRANK_E_FORMAT,
         "plain file name"},
        {"absolute", "{\"weight_map\":{\"model.a\":\"/etc/passwd\"}}", QRANK_E_FORMAT,
         "plain file name"},
        {"dot", "{\"weight_map\":{\"model.a\":\"..\"}}", QRANK_E_FORMAT, "plain file name"},
        {"no-map", "{\"metadata\":{}}", QRANK_E_FORMAT, "weight_map"},
        {"map-array", "{\"weight_map\":[]}", QRANK_E_FORMAT, "weight_map"},
        {"empty-map", "{\"weight_map\":{}}", QRANK_E_FORMAT, "empty"},
        {"not-string", "{\"weight_map\":{\"model.a\":3}}", QRANK_E_FORMAT, "not a string"},
        {"bad-json", "{\"weight_map\":", QRANK_E_FORMAT, "not a JSON object"},
        {"missing-shard", "{\"weight_map\":{\"model.a\":\"s9.safetensors\"}}", QRANK_E_IO,
         "s9.safetensors"},
        {"wrong-shard",
         "{\"weight_map\":{\"model.a\":\"s2.safetensors\",\"model.b\":\"s1.safetensors\"}}",
         QRANK_E_FORMAT, "is not in"},
        {"missing-tensor", "{\"weight_map\":{\"model.zzz\":\"s1.safetensors\"}}", QRANK_E_FORMAT,
         "model.zzz"},
        {"dup-across", "{\"weight_map\":{\"model.a\":\"s1.safetensors\",\"x\":\"s3.safetensors\"}}",
         QRANK_E_FORMAT, "appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        d = case_dir(root, cases[i].name);
        write_shard(d, "s1.safetensors", "model.a");
        write_shard(d, "s2.safetensors", "model.b");
        write_shard(d, "s3.safetensors", "model.a");
        write_text(d, "model.safetensors.index.json", cases[i].index);
        expect_dir(d, cases[i].code, cases[i].needle, cases[i].name);
        free(d);
    }

    d = case_dir(root, "nothing");
    char *leftover = path_join(d, "model.safetensors"); /* from an earlier run */
    remove(leftover);
    free(leftover);
    expect_dir(d, QRANK_E_IO, "model.safetensors", "empty directory");
    write_text(d, "model.safetensors", "");
    expect_dir(d, QRANK_E_FORMAT, "too small", "empty model.safetensors");
    free(d);
    expect_dir("/nonexistent-dir", QRANK_E_IO, NULL, "missing directory");
    free(root);
}

/* --------------------------------------------------------------------------------------- */
/* config.json                                                                             */

#define BASE_CONFIG                                                                           \
    "\"num_hidden_layers\":2,\"hidden_size\":64,\"intermediate_size\":128,"                 \
    "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"        \
    "\"model_type\":\"qwen3\""

static void configs(void) {
    qr_hf_config c;
    qrank_error err = {0};
    const char *ok = "{" BASE_CONFIG ",\"num_key_value_heads\":null,\"rope_scaling\":null}";
    CHECK(qr_hf_config_parse(ok, strlen(ok), &c, &err) == QRANK_OK, "defaults: %s", err.message);
    CHECK(c.n_kv_heads == 4 && c.head_dim == 16 && c.rope_theta == 10000.0 && c.rms_eps == 1e-6 &&
              c.tie_embeddings == 1 && c.architecture[0] == '\0',
          "defaults: kv %d hd %d theta %g", c.n_kv_heads, c.head_dim, c.rope_theta);
    const char *full = "{" BASE_CONFIG ",\"num_key_value_heads\":2,\"head_dim\":128,"
                       "\"rope_theta\":1000000.0,\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false,"
                       "\"architectures\":[\"Qwen3ForCausalLM\"]}";
    CHECK(qr_hf_config_parse(full, strlen(full), &c, &err) == QRANK_OK, "full: %s", err.message);
    CHECK(c.n_kv_heads == 2 && c.head_dim == 128 && c.rope_theta == 1e6 && c.rms_eps == 1e-5 &&
              c.tie_embeddings == 0 && strcmp(c.architecture, "Qwen3ForCausalLM") == 0,
          "full values");
    /* the text need not be NUL-terminated: parse a prefix of a longer buffer */
    char buf[512];
    size_t n = strlen(ok);
    memcpy(buf, ok, n);
    memcpy(buf + n, "garbage", 8);
    CHECK(qr_hf_config_parse(buf, n, &c, &err) == QRANK_OK, "prefix of a buffer: %s", err.message);

    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"num_hidden_layers\":2,\"hidden_size\":\"64\",\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "\"hidden_size\" must be an integer"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":64.5,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "hidden_size"},
        {"{\"num_hidden_layers\":true,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "num_hidden_layers"},
        {"{\"num_hidden_layers\":2000,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "num_hidden_layers"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":131072,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "hidden_size"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":0,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "num_attention_heads"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":5,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "not divisible"},
        {"{\"num_hidden_layers\":1e300,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"qwen3\"}",
         "num_hidden_layers"},
        {"{" BASE_CONFIG ",\"num_key_value_heads\":3}", "multiple"},
        {"{" BASE_CONFIG ",\"num_key_value_heads\":8}", "multiple"},
        {"{" BASE_CONFIG ",\"num_key_value_heads\":0}", "num_key_value_heads"},
        {"{" BASE_CONFIG ",\"head_dim\":33}", "not even"},
        {"{" BASE_CONFIG ",\"rope_theta\":\"1e6\"}", "rope_theta"},
        {"{" BASE_CONFIG ",\"rope_theta\":-1}", "rope_theta"},
        {"{" BASE_CONFIG ",\"rms_norm_eps\":0}", "rms_norm_eps"},
        {"{" BASE_CONFIG ",\"tie_word_embeddings\":\"true\"}", "tie_word_embeddings"},
        {"{" BASE_CONFIG ",\"architectures\":\"Qwen3ForCausalLM\"}", "architectures"},
        {"{" BASE_CONFIG ",\"architectures\":[7]}", "architectures[0]"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512}",
         "model_type"},
        {"{\"num_hidden_layers\":2,\"hidden_size\":64,\"intermediate_size\":128,"
         "\"num_attention_heads\":4,\"vocab_size\":1000,\"max_position_embeddings\":512,"
         "\"model_type\":\"a-very-long-model-type-name-over-32\"}",
         "model_type"},
        {"{\"hidden_size\":64,\"intermediate_size\":128,\"num_attention_heads\":4,"
         "\"vocab_size\":1000,\"max_position_embeddings\":512,\"model_type\":\"qwen3\"}",
         "num_hidden_layers"},
        {"[1]", "not a JSON object"},
        {"{", "not valid JSON"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&c, 0x5a, sizeof c);
        qr_hf_config before = c;
        int rc = qr_hf_config_parse(bad[i].json, strlen(bad[i].json), &c, &err);
        CHECK(rc == QRANK_E_FORMAT && has(&err, bad[i].needle), "config %zu: rc %d \"%s\" lacks %s", i,
              rc, err.message, bad[i].needle);
        CHECK(memcmp(&c, &before, sizeof c) == 0, "config %zu: output written on failure", i);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOURCE_DIR BUILD_DIR\n", argv[0]);
        return 2;
    }
    char *models = path_join(argv[2], "models");
    char *bf16 = path_join(models, "files-hf-bf16");
    char *shards = path_join(models, "files-hf-f32-shards");
    char *gguf_f32 = path_join(models, "files-rerank-f32.gguf");
    char *single = path_join(bf16, "model.safetensors");

    check_single_bf16(bf16);
    check_shards_f32(shards, gguf_f32, bf16);
    qr_hf_config c = parse_config_file(shards);
    CHECK(c.n_layers == 2 && c.tie_embeddings == 1, "shards config");

    size_t size = 0;
    uint8_t *file = read_file(single, &size);
    CHECK(file != NULL, "cannot read %s", single);
    if (file) {
        truncations_and_flips(file, size);
        free(file);
    }
    crafted();
    directories(argv[2]);
    configs();

    free(single);
    free(gguf_f32);
    free(shards);
    free(bf16);
    free(models);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all safetensors checks passed\n");
    return 0;
}
