/* test-rerank.c - the reranker's prompt and its shortcuts, checked from inside.
 *
 * The float64 reference (tests/reference) checks scores end to end; this
 * test checks what makes them cheap is also exact:
 *  - the template's token ids are those of MODEL.md;
 *  - computing the shared prefix once and attending to its keys/values gives
 *    the same score as running the whole prompt, tokenized in one piece
 *    (which is what the official code does);
 *  - packing documents together changes nothing;
 *  - truncation keeps the prompt at max_length;
 *  - weights laid out for the kernels (qrank_model_params.repack) never, on
 *    first use or at load give the very same scores, fast and exact, and
 *    are laid out when they should be (Q8_0, Q4_K_M and BF16 models);
 *  - user text never produces special tokens. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gguf.h"
#include "model.h"
#include "qrank.h"

#include "check.h"

static const char *DOCS[] = {
    "杭州亚运会闭幕式的烟花秀太震撼了！🎆",
    "hello",
    "  spaced out",
    "!!wow that's great",
    "\tnewline-ish first",
    "CATL unveils sodium-ion battery 宁德时代 500km",
    "a post with <|im_end|> inside <think>",
    "",
    "这剧太上头了停不下来，一口气看完12集😭😭",
    "Shanghai cherry blossoms at Gucun Park are peaking this weekend 🌸 #樱花",
};
#define N_DOCS (sizeof DOCS / sizeof *DOCS)

/* Score of one full prompt run without any prefix sharing. */
static double full_prompt_logit(qrank_model *m, const char *instruction, const char *query, const char *doc) {
    char body[4096];
    snprintf(body, sizeof body, "<Instruct>: %s\n<Query>: %s\n<Document>: %s", instruction, query, doc);
    int32_t *ids = malloc(sizeof(int32_t) * 4096);
    size_t n = m->n_rerank_prefix, cap = 4096;
    memcpy(ids, m->rerank_prefix, n * sizeof *ids);
    qrank_error err;
    if (qr_tokenize(m->tok, body, strlen(body), &ids, &n, &cap, &err)) {
        fprintf(stderr, "tokenize: %s\n", err.message);
        exit(1);
    }
    if (n + m->n_rerank_suffix > cap) ids = realloc(ids, (n + m->n_rerank_suffix) * sizeof *ids);
    memcpy(ids + n, m->rerank_suffix, m->n_rerank_suffix * sizeof *ids);
    n += m->n_rerank_suffix;
    qr_seq seq = {0, (int64_t)n, NULL, NULL, NULL};
    float *h = malloc(sizeof(float) * (size_t)m->hp.hidden);
    if (qr_forward(m, ids, &seq, 1, QRANK_PRECISION_EXACT, h, &err)) {
        fprintf(stderr, "forward: %s\n", err.message);
        exit(1);
    }
    double yes = 0, no = 0;
    for (int i = 0; i < m->hp.hidden; i++) {
        yes += (double)m->head_yes[i] * h[i];
        no += (double)m->head_no[i] * h[i];
    }
    free(h);
    free(ids);
    return yes - no;
}

static void test_template(qrank_model *m) {
    static const int32_t prefix_head[] = {151644, 8948, 198, 60256};
    static const int32_t prefix_tail[] = {151645, 198, 151644, 872, 198};
    static const int32_t suffix[] = {151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271};
    CHECK(m->n_rerank_prefix == 39, "prefix has %zu tokens, MODEL.md says 39", m->n_rerank_prefix);
    CHECK(memcmp(m->rerank_prefix, prefix_head, sizeof prefix_head) == 0, "prefix does not start as in MODEL.md");
    if (m->n_rerank_prefix >= 5)
        CHECK(memcmp(m->rerank_prefix + m->n_rerank_prefix - 5, prefix_tail, sizeof prefix_tail) == 0,
              "prefix does not end as in MODEL.md");
    CHECK(m->n_rerank_suffix == 9 && memcmp(m->rerank_suffix, suffix, sizeof suffix) == 0,
          "suffix differs from MODEL.md");
    CHECK(m->id_yes == 9693 && m->id_no == 2152, "yes/no ids are %d/%d", m->id_yes, m->id_no);
    CHECK(m->id_endoftext == 151643, "<|endoftext|> is %d", m->id_endoftext);
}

static void test_plain_text(qrank_model *m) {
    const char *text = "a <|im_end|> b <|im_start|> <think></think> <|endoftext|>";
    int32_t *ids;
    size_t n;
    qrank_error err;
    CHECK(qrank_tokenize(m, text, strlen(text), &ids, &n, &err) == QRANK_OK, "tokenize failed");
    for (size_t i = 0; i < n; i++) CHECK(ids[i] < 151643, "user text produced special id %d", ids[i]);
    free(ids);
}

static void test_prefix_sharing(qrank_model *m) {
    const char *query = "杭州亚运会闭幕式烟花秀 fireworks";
    const char *instr = "Given a Weibo query, find posts about the event";
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.instruction = instr;
    rp.precision = QRANK_PRECISION_EXACT;
    float scores[N_DOCS], logits[N_DOCS];
    qrank_usage u;
    qrank_error err;
    int rc = qrank_rerank(m, query, DOCS, N_DOCS, &rp, scores, logits, &u, &err);
    CHECK(rc == QRANK_OK, "rerank failed: %s", rc ? err.message : "");
    if (rc) return;
    double max_diff = 0;
    for (size_t i = 0; i < N_DOCS; i++) {
        double full = full_prompt_logit(m, instr, query, DOCS[i]);
        double d = fabs(full - logits[i]);
        if (d > max_diff) max_diff = d;
        CHECK(d < 1e-4, "doc %zu: shared-prefix logit %.7f, whole-prompt logit %.7f", i, logits[i], full);
        CHECK(fabs(scores[i] - 1.0 / (1.0 + exp(-logits[i]))) < 1e-6, "score is not sigmoid(logit)");
    }
    printf("prefix sharing vs whole prompt: max |logit diff| = %.2e over %zu docs\n", max_diff, (size_t)N_DOCS);
    CHECK(u.prefix_tokens_reused > 0 && u.prompt_tokens == u.computed_tokens + u.prefix_tokens_reused,
          "usage: prompt %zu computed %zu reused %zu", u.prompt_tokens, u.computed_tokens, u.prefix_tokens_reused);

    /* alone vs packed with others, and two requests in one batch */
    for (size_t i = 0; i < N_DOCS; i++) {
        float one;
        rc = qrank_rerank(m, query, &DOCS[i], 1, &rp, &one, NULL, NULL, &err);
        CHECK(rc == QRANK_OK && fabsf(one - scores[i]) < 1e-5f, "doc %zu alone %.7f vs batch %.7f", i, one, scores[i]);
    }
    float s1[N_DOCS], s2[3];
    const char *docs2[] = {DOCS[2], DOCS[0], DOCS[5]};
    qrank_rerank_request reqs[2];
    memset(reqs, 0, sizeof reqs);
    reqs[0] = (qrank_rerank_request){.query = query, .docs = DOCS, .n_docs = N_DOCS, .params = rp, .scores = s1};
    reqs[1] = (qrank_rerank_request){.query = "another query", .docs = docs2, .n_docs = 3, .params = rp, .scores = s2};
    reqs[1].params.instruction = NULL;
    rc = qrank_rerank_batch(m, reqs, 2, &err);
    CHECK(rc == QRANK_OK, "batch failed");
    for (size_t i = 0; i < N_DOCS && !rc; i++) CHECK(fabsf(s1[i] - scores[i]) < 1e-5f, "batch of two requests changed doc %zu", i);
    float s2_alone[3];
    rc = qrank_rerank(m, "another query", docs2, 3, NULL, s2_alone, NULL, NULL, &err);
    /* NULL params = default precision (fast); compare in exact */
    qrank_rerank_params def = qrank_rerank_default_params();
    def.precision = QRANK_PRECISION_EXACT;
    rc = qrank_rerank(m, "another query", docs2, 3, &def, s2_alone, NULL, NULL, &err);
    for (size_t i = 0; i < 3 && !rc; i++) CHECK(fabsf(s2[i] - s2_alone[i]) < 1e-5f, "second request doc %zu differs", i);
}

/* More documents than one forward call takes (rerank.c, BATCH_TOKENS 4096):
 * the first request's prefix runs in the first call with its first
 * documents, and its later documents attend to the keys/values kept from
 * there; the second request's prefix runs in the batch of its first
 * document, a later one, behind the first request's last documents. Every
 * logit must match the whole prompt's. */
static void test_later_batches(qrank_model *m) {
    enum { N_A = 80, N_B = 3 };
    static char texts[N_A][256];
    const char *docs_a[N_A], *docs_b[N_B] = {DOCS[4], DOCS[7], DOCS[1]};
    for (int i = 0; i < N_A; i++) {
        snprintf(texts[i], sizeof texts[i],
                 "post %d: 杭州亚运会闭幕式 fireworks over the Qiantang river %d, photos from the Olympic Sports "
                 "Center 奥体中心 and crowds 人山人海, then the subway 地铁 home at %d:%02d",
                 i, i * 7, 20 + i % 4, i % 60);
        docs_a[i] = texts[i];
    }
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.precision = QRANK_PRECISION_EXACT;
    rp.instruction = "Find posts about the closing ceremony";
    float la[N_A], sa[N_A], lb[N_B], sb[N_B];
    qrank_rerank_request reqs[2];
    memset(reqs, 0, sizeof reqs);
    reqs[0] = (qrank_rerank_request){.query = "闭幕式烟花", .docs = docs_a, .n_docs = N_A, .params = rp, .scores = sa,
                                     .logits = la};
    reqs[1] = (qrank_rerank_request){.query = "battery news", .docs = docs_b, .n_docs = N_B, .params = rp,
                                     .scores = sb, .logits = lb};
    qrank_error err;
    int rc = qrank_rerank_batch(m, reqs, 2, &err);
    CHECK(rc == QRANK_OK, "two requests over several batches: %s", rc ? err.message : "");
    if (rc) return;
    CHECK(reqs[0].usage.prompt_tokens > 4096 + 100, "the first request has only %zu prompt tokens, one batch",
          reqs[0].usage.prompt_tokens);
    double worst = 0;
    for (int i = 0; i < N_A + N_B; i++) {
        if (i < N_A && i % 9 != 0 && i != N_A - 1) continue; /* a sample of the first request's batches */
        const int b = i >= N_A;
        const char *doc = b ? docs_b[i - N_A] : docs_a[i];
        const double got = b ? lb[i - N_A] : la[i];
        const double d = fabs(full_prompt_logit(m, rp.instruction, b ? "battery news" : "闭幕式烟花", doc) - got);
        if (d > worst) worst = d;
        CHECK(d < 1e-4, "request %d doc %d: logit off the whole prompt's by %g", b, b ? i - N_A : i, d);
    }
    printf("documents in later batches: max |logit diff| = %.2e\n", worst);
}

/* qr_forward refuses prefixes it cannot honour, before any work. */
static void test_forward_arguments(qrank_model *m) {
    const int32_t ids[6] = {100, 200, 300, 400, 500, 600};
    float h[3 * 4096];
    qr_kv_prefix kv;
    qrank_error err;
    qr_seq later[2] = {{0, 3, NULL, NULL, NULL}, {3, 3, NULL, NULL, NULL}};
    later[0].prefix_seq = &later[1]; /* a prefix after its sequence */
    CHECK(qr_forward(m, ids, later, 2, QRANK_PRECISION_EXACT, h, &err) == QRANK_E_INVALID_ARGUMENT,
          "a prefix sequence after its sequence was accepted");
    qr_seq chain[3] = {{0, 2, NULL, NULL, NULL}, {2, 2, NULL, NULL, NULL}, {4, 2, NULL, NULL, NULL}};
    chain[1].prefix_seq = &chain[0];
    chain[2].prefix_seq = &chain[1]; /* a prefix with a prefix */
    CHECK(qr_forward(m, ids, chain, 3, QRANK_PRECISION_EXACT, h, &err) == QRANK_E_INVALID_ARGUMENT,
          "a prefix sequence with a prefix of its own was accepted");
    qr_seq outside = {0, 3, NULL, &chain[0], NULL}; /* not in this batch */
    CHECK(qr_forward(m, ids, &outside, 1, QRANK_PRECISION_EXACT, h, &err) == QRANK_E_INVALID_ARGUMENT,
          "a prefix sequence from another array was accepted");
    qr_seq cap[2] = {{0, 3, NULL, NULL, NULL}, {3, 3, NULL, NULL, &kv}};
    cap[1].prefix_seq = &cap[0]; /* capture of a sequence with a prefix */
    CHECK(qr_forward(m, ids, cap, 2, QRANK_PRECISION_EXACT, h, &err) == QRANK_E_INVALID_ARGUMENT,
          "a capture of a sequence with a prefix was accepted");

    /* a prefix in the batch: its output row is zero, and the sequence after
     * it ends as the six tokens would whole */
    const int H = m->hp.hidden;
    qr_seq pair[2] = {{0, 3, NULL, NULL, NULL}, {3, 3, NULL, NULL, NULL}}, whole = {0, 6, NULL, NULL, NULL};
    pair[1].prefix_seq = &pair[0];
    float *want = h + 2 * H;
    for (int i = 0; i < 2 * H; i++) h[i] = 1.0f;
    CHECK(qr_forward(m, ids, pair, 2, QRANK_PRECISION_EXACT, h, &err) == QRANK_OK, "prefix in the batch failed");
    CHECK(qr_forward(m, ids, &whole, 1, QRANK_PRECISION_EXACT, want, &err) == QRANK_OK, "whole sequence failed");
    int nonzero = 0, off = 0;
    for (int i = 0; i < H; i++) {
        nonzero += h[i] != 0.0f;
        off += !(fabsf(h[H + i] - want[i]) <= 1e-5f);
    }
    CHECK(nonzero == 0, "the prefix sequence's output row has %d nonzero values", nonzero);
    CHECK(off == 0, "%d values of the last hidden state differ from the whole sequence's", off);
}

/* Attention walks keys in blocks: sweep the prefix length across block
 * boundaries with documents long enough to span several blocks, so that
 * some query rows meet key blocks lying wholly in their future. */
static void test_block_boundaries(qrank_model *m) {
    const char *doc = "Hangzhou 杭州 fireworks 烟花 over the Qiantang river, the closing ceremony of the "
                      "Asian Games, photos from the Olympic Sports Center 奥体中心, crowds 人山人海 and "
                      "a digital torch bearer 数字火炬手 again, then the subway 地铁 home.";
    char query[512];
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.precision = QRANK_PRECISION_EXACT;
    rp.instruction = "Judge";
    double worst = 0;
    for (int words = 0; words < 40; words++) {
        size_t pos = 0;
        query[0] = '\0';
        for (int w = 0; w < words; w++) pos += (size_t)snprintf(query + pos, sizeof query - pos, " q%d", w);
        const char *q = words ? query : "q";
        float score, logit;
        qrank_error err;
        int rc = qrank_rerank(m, q, &doc, 1, &rp, &score, &logit, NULL, &err);
        CHECK(rc == QRANK_OK && isfinite(logit), "query of %d words: rc %d logit %f", words, rc, logit);
        if (rc) continue;
        double d = fabs(full_prompt_logit(m, "Judge", q, doc) - logit);
        if (d > worst) worst = d;
        CHECK(d < 1e-4, "query of %d words: shared-prefix and whole-prompt logits differ by %g", words, d);
    }
    printf("prefix lengths across attention blocks: max |logit diff| = %.2e\n", worst);
}

static void test_truncation(qrank_model *m) {
    char long_doc[8192];
    size_t pos = 0;
    while (pos + 40 < sizeof long_doc) pos += (size_t)snprintf(long_doc + pos, sizeof long_doc - pos, "word%zu 长文本 ", pos);
    const char *docs[] = {long_doc, "short"};
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.max_length = 120;
    rp.precision = QRANK_PRECISION_EXACT;
    float scores[2];
    qrank_usage u;
    qrank_error err;
    int rc = qrank_rerank(m, "query", docs, 2, &rp, scores, NULL, &u, &err);
    CHECK(rc == QRANK_OK, "truncating rerank failed: %s", rc ? err.message : "");
    CHECK(u.truncated_documents == 1, "%zu documents truncated, expected 1", u.truncated_documents);

    /* the truncated document's prompt is exactly max_length tokens: check through prompt_tokens */
    float one;
    qrank_usage u1;
    rc = qrank_rerank(m, "query", docs, 1, &rp, &one, NULL, &u1, &err);
    CHECK(rc == QRANK_OK && u1.prompt_tokens == 120, "truncated prompt has %zu tokens", u1.prompt_tokens);

    rp.max_length = 40; /* smaller than the template itself */
    rc = qrank_rerank(m, "query", docs, 2, &rp, scores, NULL, NULL, &err);
    CHECK(rc == QRANK_E_INVALID_ARGUMENT, "max_length 40 should be refused, got %d", rc);
    rp.max_length = 1 << 24;
    rc = qrank_rerank(m, "query", docs, 2, &rp, scores, NULL, NULL, &err);
    CHECK(rc == QRANK_E_INVALID_ARGUMENT, "max_length over the context should be refused, got %d", rc);
}

static void test_rank_order(void) {
    const float s[] = {0.5f, 0.9f, 0.5f, 0.1f, 0.9f};
    size_t order[5];
    qrank_rank_order(s, 5, order);
    const size_t want[] = {1, 4, 0, 2, 3};
    CHECK(memcmp(order, want, sizeof want) == 0, "rank order %zu %zu %zu %zu %zu", order[0], order[1], order[2],
          order[3], order[4]);
}

/* DOCS scored for one query in precision p: what every packing check compares. */
static int score_docs(qrank_model *m, qrank_precision p, float out[sizeof DOCS / sizeof DOCS[0]]) {
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.precision = p;
    qrank_error err;
    const int rc = qrank_rerank(m, "烟花 fireworks", DOCS, sizeof DOCS / sizeof DOCS[0], &rp, out, NULL, NULL, &err);
    if (rc) fprintf(stderr, "rerank: %s\n", err.message);
    return rc;
}

/* The packed copies (packing.h) made never, by default and at load give
 * the very same scores, fast and exact, and are made when they should be:
 * by default Q8_0 and BF16 never, Q4_K/Q6_K (kquant) on the first fast
 * call. Their int8 kernel runs on the copy only: with repack -1 their fast
 * scores come from the f32 kernel, the exact ones bit for bit. Tables lay out
 * BF16 only where their kernel reads pairs of inputs (avx512, amx). */
static void test_repack(const char *path, int kquant) {
    qrank_model *never = NULL, *lazy = NULL, *eager = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    mp.repack = -1;
    CHECK(qrank_model_load(path, &mp, &never, &err) == QRANK_OK, "%s", err.message);
    mp.repack = 0;
    CHECK(qrank_model_load(path, &mp, &lazy, &err) == QRANK_OK, "%s", err.message);
    mp.repack = 1;
    CHECK(qrank_model_load(path, &mp, &eager, &err) == QRANK_OK, "%s", err.message);
    if (!never || !lazy || !eager) goto out;
    const int has_layout = eager->kernels.pack_size != NULL && (!kquant || eager->kernels.gemm_kq) &&
                           eager->kernels.pack_size(eager->layers[0].w_gate) > 0;
    if (!has_layout)
        printf("repack (%s): the %s kernel table has no packed layout; only the plain path ran\n", path,
               eager->kernels.name);
    qrank_model_info ni, li, ei;
    qrank_model_get_info(never, &ni);
    qrank_model_get_info(lazy, &li);
    qrank_model_get_info(eager, &ei);
    CHECK(ei.kernels && strcmp(ei.kernels, eager->kernels.name) == 0, "info names kernels %s", ei.kernels);
    CHECK((ei.layout_bytes > 0) == has_layout && ei.packed_bytes == ei.layout_bytes, "at load: %zu of %zu bytes",
          ei.packed_bytes, ei.layout_bytes);
    CHECK(li.layout_bytes == (kquant ? ei.layout_bytes : 0) && li.packed_bytes == 0,
          "by default, loaded: %zu of %zu bytes", li.packed_bytes, li.layout_bytes);
    CHECK(ni.layout_bytes == 0 && ni.packed_bytes == 0, "never: %zu of %zu bytes", ni.packed_bytes, ni.layout_bytes);
    /* what the fast path rounds, as info says: the same whatever the
     * copies, except for k-quants without one, whose fast path is then the
     * exact one, attention included (model.h, qr_fast_plan) */
    const char *lazy_acts = kquant && has_layout ? "int8" : kquant ? "f32" : li.fast_activations;
    CHECK(li.fast_activations && strcmp(li.fast_activations, lazy_acts) == 0 && ei.fast_activations &&
              strcmp(ei.fast_activations, lazy_acts) == 0,
          "fast activations by default %s, at load %s, expected %s", li.fast_activations, ei.fast_activations,
          lazy_acts);
    CHECK(ni.fast_activations && strcmp(ni.fast_activations, kquant ? "f32" : lazy_acts) == 0,
          "fast activations without copies: %s", ni.fast_activations);
    CHECK(!kquant || (ni.attention && strcmp(ni.attention, "f32") == 0),
          "a k-quant model without copies runs fast attention on %s, not f32 like its matrices", ni.attention);
    /* what a server does before it reports ready: the default's copies now */
    qrank_model *ready = NULL;
    mp.repack = 0;
    CHECK(qrank_model_load(path, &mp, &ready, &err) == QRANK_OK, "%s", err.message);
    if (ready) {
        qrank_model_pack(ready);
        qrank_model_info ri;
        qrank_model_get_info(ready, &ri);
        CHECK(ri.packed_bytes == ri.layout_bytes && ri.layout_bytes == li.layout_bytes,
              "qrank_model_pack laid out %zu of %zu bytes", ri.packed_bytes, ri.layout_bytes);
        float a[sizeof DOCS / sizeof DOCS[0]], b[sizeof DOCS / sizeof DOCS[0]];
        CHECK(score_docs(eager, QRANK_PRECISION_FAST, a) == QRANK_OK, "rerank at load");
        CHECK(score_docs(ready, QRANK_PRECISION_FAST, b) == QRANK_OK, "rerank after qrank_model_pack");
        CHECK(memcmp(a, b, sizeof a) == 0, "scores differ between copies made by qrank_model_pack and at load");
        qrank_model_free(ready);
    }
    for (int exact = 1; exact >= 0; exact--) {
        const qrank_precision p = exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST;
        float a[sizeof DOCS / sizeof DOCS[0]], b[sizeof DOCS / sizeof DOCS[0]];
        CHECK(score_docs(eager, p, a) == QRANK_OK, "rerank at load");
        if (exact || !kquant) {
            CHECK(score_docs(never, p, b) == QRANK_OK, "rerank without copies");
            CHECK(memcmp(a, b, sizeof a) == 0, "%s scores differ between no copy and a copy made at load",
                  exact ? "exact" : "fast");
        } else { /* no copy: the fast path is the exact one */
            float e[sizeof DOCS / sizeof DOCS[0]];
            CHECK(score_docs(never, QRANK_PRECISION_EXACT, e) == QRANK_OK, "exact rerank without copies");
            CHECK(score_docs(never, p, b) == QRANK_OK, "fast rerank without copies");
            CHECK(memcmp(e, b, sizeof e) == 0, "without copies, a k-quant model's fast scores differ from exact");
        }
        for (int call = 0; call < 2; call++) {
            CHECK(score_docs(lazy, p, b) == QRANK_OK, "rerank by default");
            CHECK(memcmp(a, b, sizeof a) == 0, "%s call %d: scores differ between copies made by default and at "
                  "load", exact ? "exact" : "fast", call);
            qrank_model_get_info(lazy, &li);
            const size_t want = exact ? 0 : li.layout_bytes;
            CHECK(li.packed_bytes == want, "%s call %d: %zu bytes laid out by default, expected %zu",
                  exact ? "exact" : "fast", call, li.packed_bytes, want);
        }
    }
out:
    qrank_model_free(never);
    qrank_model_free(lazy);
    qrank_model_free(eager);
}

/* The kept scratch block (workspace.h): reused when big enough, grown when
 * not, a second block for a call that finds it taken; ASan's leak check
 * sees that nothing is lost. */
static void test_workspace(void) {
    qr_workspace_cache *c = qr_workspace_cache_create(1 << 20);
    CHECK(c != NULL, "qr_workspace_cache_create");
    unsigned char *a = qr_workspace_take(c, 1000);
    CHECK(a && ((uintptr_t)a & 63) == 0, "take: %p, not 64-byte aligned", (void *)a);
    if (a) memset(a, 1, 1000);
    unsigned char *b = qr_workspace_take(c, 10); /* while a is out: a block of its own */
    CHECK(b && b != a, "a second take while the block is out returned %p (first %p)", (void *)b, (void *)a);
    qr_workspace_give(c, a);
    qr_workspace_give(c, b); /* the cache holds a: b is freed */
    unsigned char *again = qr_workspace_take(c, 500);
    CHECK(again == a, "a smaller take did not reuse the kept block");
    qr_workspace_give(c, again);
    unsigned char *big = qr_workspace_take(c, 1 << 20);
    CHECK(big != NULL, "a larger take failed");
    if (big) memset(big, 2, 1 << 20); /* all of it is there (ASan) */
    qr_workspace_give(c, big);
    CHECK(qr_workspace_take(c, 100) == big, "a block of keep_max was not kept");
    qr_workspace_give(c, big);
    CHECK(qr_workspace_kept(c) == 1 << 20, "kept %zu bytes, not the 1 MB block", qr_workspace_kept(c));
    unsigned char *huge = qr_workspace_take(c, (1 << 20) + 1); /* over keep_max: freed on give */
    CHECK(huge != NULL, "a take over keep_max");
    qr_workspace_give(c, huge);
    CHECK(qr_workspace_kept(c) == 0, "a block over keep_max was kept (%zu bytes)", qr_workspace_kept(c));
    CHECK(qr_workspace_reserve(c) == 0 && qr_workspace_kept(c) == 1 << 20, "reserve kept %zu bytes, not keep_max",
          qr_workspace_kept(c));
    unsigned char *reserved = qr_workspace_take(c, 5000);
    CHECK(reserved != NULL && reserved[4999] == 0, "the reserved block is not the one kept, touched");
    qr_workspace_give(c, reserved);
    CHECK(qr_workspace_take(c, (size_t)-1) == NULL, "an impossible size was granted");
    qr_workspace_give(c, NULL);
    qr_workspace_cache_free(c);
    /* without a cache: plain allocation */
    void *p = qr_workspace_take(NULL, 64);
    CHECK(p != NULL, "take without a cache");
    qr_workspace_give(NULL, p);
}

static void *pack_all_steps(void *arg) {
    while (qrank_model_pack_step(arg)) {
    }
    return NULL;
}

/* repack 2: copies made a few at a time by qrank_model_pack_step (what qrank
 * serve does while idle). A call scores the same, bit for bit, before any
 * copy, with some made, while another thread makes the rest, and after. */
static void test_repack_idle(const char *path, int kquant) {
    qrank_model *idle = NULL, *eager = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    /* A step makes one matrix per compute thread: with all of a 16-core
     * machine's threads, one step made every copy of these small models
     * (seen on a lent 16-core Xeon), and the checks below need some left. */
    mp.n_threads = 2;
    mp.repack = 1;
    CHECK(qrank_model_load(path, &mp, &eager, &err) == QRANK_OK, "%s", err.message);
    mp.repack = 2;
    CHECK(qrank_model_load(path, &mp, &idle, &err) == QRANK_OK, "%s", err.message);
    if (!idle || !eager) goto out;
    qrank_model_info ii, ei;
    qrank_model_get_info(idle, &ii);
    qrank_model_get_info(eager, &ei);
    CHECK(ii.layout_bytes == ei.layout_bytes && ii.packed_bytes == 0, "idle, loaded: %zu of %zu bytes (at load %zu)",
          ii.packed_bytes, ii.layout_bytes, ei.layout_bytes);
    enum { N = sizeof DOCS / sizeof DOCS[0] };
    float want[2][N], got[N];
    for (int exact = 0; exact < 2; exact++)
        CHECK(score_docs(eager, exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST, want[exact]) == QRANK_OK,
              "rerank at load");
    if (!kquant) {
        CHECK(score_docs(idle, QRANK_PRECISION_FAST, got) == QRANK_OK && memcmp(got, want[0], sizeof got) == 0,
              "idle, before any copy: scores differ from copies made at load");
        qrank_model_get_info(idle, &ii);
        CHECK(ii.packed_bytes == 0, "a fast call made %zu bytes of Q8_0 copies; they are left for idle time",
              ii.packed_bytes);
    }
    if (ei.layout_bytes > 0) {
        CHECK(qrank_model_pack_step(idle) == 1, "one step made every copy of a model with several layers");
        qrank_model_get_info(idle, &ii);
        CHECK(ii.packed_bytes > 0 && ii.packed_bytes < ii.layout_bytes, "one step: %zu of %zu bytes",
              ii.packed_bytes, ii.layout_bytes);
        CHECK(score_docs(idle, QRANK_PRECISION_FAST, got) == QRANK_OK && memcmp(got, want[0], sizeof got) == 0,
              "idle, some copies made: scores differ from copies made at load");
        pthread_t th;
        CHECK(pthread_create(&th, NULL, pack_all_steps, idle) == 0, "pthread_create");
        for (int call = 0; call < 3; call++)
            CHECK(score_docs(idle, QRANK_PRECISION_FAST, got) == QRANK_OK && memcmp(got, want[0], sizeof got) == 0,
                  "idle, call %d beside the steps: scores differ from copies made at load", call);
        pthread_join(th, NULL);
    }
    CHECK(qrank_model_pack_step(idle) == 0, "a step after the last copy says more remain");
    qrank_model_get_info(idle, &ii);
    CHECK(ii.packed_bytes == ii.layout_bytes, "idle, every step done: %zu of %zu bytes", ii.packed_bytes,
          ii.layout_bytes);
    for (int exact = 0; exact < 2; exact++)
        CHECK(score_docs(idle, exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST, got) == QRANK_OK &&
                  memcmp(got, want[exact], sizeof got) == 0,
              "idle, every copy made: %s scores differ from copies made at load", exact ? "exact" : "fast");
out:
    qrank_model_free(idle);
    qrank_model_free(eager);
}

typedef struct {
    qrank_model *m;
    float scores[sizeof DOCS / sizeof DOCS[0]];
    int rc;
} concurrent_call;

static void *rerank_thread(void *arg) {
    concurrent_call *c = arg;
    c->rc = score_docs(c->m, QRANK_PRECISION_FAST, c->scores);
    return NULL;
}

/* Calls that arrive together at a model whose copies nobody has made yet:
 * one makes them, once, and every call scores as with copies made at load. */
static void test_concurrent_first_calls(const char *path) {
    qrank_model *lazy = NULL, *eager = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    mp.n_threads = 1;
    CHECK(qrank_model_load(path, &mp, &lazy, &err) == QRANK_OK, "%s", err.message);
    mp.repack = 1;
    CHECK(qrank_model_load(path, &mp, &eager, &err) == QRANK_OK, "%s", err.message);
    if (!lazy || !eager) goto out;
    concurrent_call want = {eager, {0}, 0}, calls[4];
    rerank_thread(&want);
    CHECK(want.rc == QRANK_OK, "rerank at load: %d", want.rc);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        calls[i] = (concurrent_call){lazy, {0}, -1};
        CHECK(pthread_create(&th[i], NULL, rerank_thread, &calls[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(calls[i].rc == QRANK_OK && memcmp(calls[i].scores, want.scores, sizeof want.scores) == 0,
              "concurrent first call %d: rc %d, scores differ from copies made at load", i, calls[i].rc);
    }
    qrank_model_info li;
    qrank_model_get_info(lazy, &li);
    CHECK(li.packed_bytes == li.layout_bytes, "concurrent first calls laid out %zu bytes of %zu", li.packed_bytes,
          li.layout_bytes);
out:
    qrank_model_free(lazy);
    qrank_model_free(eager);
}

/* A NaN among the weights (a corrupt file that loads) must end in an
 * error in both precisions, never in a score: rounding activations to int8
 * would otherwise turn it into a finite, wrong one. */
/* The prefix cache (prefix_cache.h): a query scored again skips its shared
 * rows and gives the very same scores, fast and exact, also for documents in
 * later batches; another instruction misses; a small budget evicts. */
static int rerank_q(qrank_model *m, const char *q, const char *instruction, const char *const *docs, size_t n,
                    qrank_precision p, float *out, qrank_usage *u) {
    qrank_rerank_params rp = qrank_rerank_default_params();
    rp.precision = p;
    rp.instruction = instruction;
    qrank_error err;
    const int rc = qrank_rerank(m, q, docs, n, &rp, out, NULL, u, &err);
    if (rc) fprintf(stderr, "rerank: %s\n", err.message);
    return rc;
}

static void test_prefix_cache(const char *path) {
    qrank_model *m = NULL, *off = NULL, *small = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    CHECK(qrank_model_load(path, &mp, &m, &err) == QRANK_OK, "%s", err.message);
    mp.prefix_cache_mb = -1;
    CHECK(qrank_model_load(path, &mp, &off, &err) == QRANK_OK, "%s", err.message);
    mp.prefix_cache_mb = 1;
    CHECK(qrank_model_load(path, &mp, &small, &err) == QRANK_OK, "%s", err.message);
    if (!m || !off || !small) goto out;
    enum { MANY = 300 };
    const char *many[MANY];
    for (int i = 0; i < MANY; i++) many[i] = DOCS[i % N_DOCS];
    static float want[MANY], got[MANY];
    qrank_model_info info;
    for (int exact = 0; exact < 2; exact++) {
        const qrank_precision p = exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST;
        const char *q = "烟花 fireworks tonight"; /* the same ids: precision is part of the key */
        qrank_usage u0, u1, u2;
        CHECK(rerank_q(off, q, NULL, DOCS, N_DOCS, p, want, &u0) == QRANK_OK, "no cache");
        CHECK(rerank_q(m, q, NULL, DOCS, N_DOCS, p, got, &u1) == QRANK_OK && memcmp(got, want, N_DOCS * 4) == 0,
              "%s, first call: scores differ from a model without a cache", exact ? "exact" : "fast");
        CHECK(rerank_q(m, q, NULL, DOCS, N_DOCS, p, got, &u2) == QRANK_OK && memcmp(got, want, N_DOCS * 4) == 0,
              "%s, prefix from the cache: scores differ", exact ? "exact" : "fast");
        CHECK(u1.computed_tokens == u0.computed_tokens && u2.prompt_tokens == u0.prompt_tokens &&
                  u2.computed_tokens < u1.computed_tokens &&
                  u2.prefix_tokens_reused == u2.prompt_tokens - u2.computed_tokens,
              "usage: computed %zu, then %zu (of %zu prompt tokens)", u1.computed_tokens, u2.computed_tokens,
              u2.prompt_tokens);
        /* a call spanning several batches, every one on the kept prefix */
        CHECK(rerank_q(off, q, NULL, many, MANY, p, want, NULL) == QRANK_OK, "no cache, many");
        CHECK(rerank_q(m, q, NULL, many, MANY, p, got, &u1) == QRANK_OK && memcmp(got, want, sizeof want) == 0,
              "%s: %d documents on the kept prefix differ", exact ? "exact" : "fast", MANY);
        /* another instruction is another prefix */
        CHECK(rerank_q(off, q, "Find posts about fireworks", DOCS, N_DOCS, p, want, &u0) == QRANK_OK &&
                  rerank_q(m, q, "Find posts about fireworks", DOCS, N_DOCS, p, got, &u2) == QRANK_OK &&
                  memcmp(got, want, N_DOCS * 4) == 0 && u2.computed_tokens == u0.computed_tokens,
              "%s: another instruction: scores, or computed %zu tokens, not %zu", exact ? "exact" : "fast",
              u2.computed_tokens, u0.computed_tokens);
    }
    qrank_model_get_info(m, &info);
    CHECK(info.prefix_cache_hits == 4 && info.prefix_cache_misses == 4 && info.prefix_cache_bytes > 0,
          "cache: %llu hits, %llu misses, %zu bytes", (unsigned long long)info.prefix_cache_hits,
          (unsigned long long)info.prefix_cache_misses, info.prefix_cache_bytes);
    qrank_model_get_info(off, &info);
    CHECK(info.prefix_cache_hits == 0 && info.prefix_cache_misses == 0 && info.prefix_cache_bytes == 0,
          "no cache: %llu hits", (unsigned long long)info.prefix_cache_hits);
    /* 1 MB: 40 queries do not fit; the budget holds, and a query evicted and
     * scored again still gives the same scores */
    for (int i = 0; i < 40; i++) {
        char q[32];
        snprintf(q, sizeof q, "query %d", i);
        CHECK(rerank_q(small, q, NULL, DOCS, 2, QRANK_PRECISION_FAST, got, NULL) == QRANK_OK, "%s", q);
    }
    qrank_model_get_info(small, &info);
    CHECK(info.prefix_cache_bytes > 0 && info.prefix_cache_bytes <= (1 << 20) && info.prefix_cache_misses == 40,
          "1 MB cache after 40 queries: %zu bytes, %llu misses", info.prefix_cache_bytes,
          (unsigned long long)info.prefix_cache_misses);
    CHECK(rerank_q(off, "query 0", NULL, DOCS, N_DOCS, QRANK_PRECISION_FAST, want, NULL) == QRANK_OK &&
              rerank_q(small, "query 0", NULL, DOCS, N_DOCS, QRANK_PRECISION_FAST, got, NULL) == QRANK_OK &&
              memcmp(got, want, N_DOCS * 4) == 0,
          "an evicted query scored again differs");
    /* a prefix bigger than the whole budget (about 1 KB per token here) is
     * not kept (rerank.c does not even capture it), and scores as without a
     * cache */
    {
        static char longq[4001]; /* digits are a token each: about 4,000 tokens, 4 MB */
        for (size_t i = 0; i < sizeof longq - 1; i++) longq[i] = (char)('0' + i % 10);
        qrank_model_info before;
        qrank_model_get_info(small, &before);
        for (int call = 0; call < 2; call++)
            CHECK(rerank_q(off, longq, NULL, DOCS, 3, QRANK_PRECISION_FAST, want, NULL) == QRANK_OK &&
                      rerank_q(small, longq, NULL, DOCS, 3, QRANK_PRECISION_FAST, got, NULL) == QRANK_OK &&
                      memcmp(got, want, 3 * 4) == 0,
                  "a query over the budget, call %d: scores differ", call);
        qrank_model_get_info(small, &info);
        CHECK(info.prefix_cache_bytes == before.prefix_cache_bytes &&
                  info.prefix_cache_misses == before.prefix_cache_misses + 2,
              "a query over the budget was kept: %zu -> %zu bytes, %llu -> %llu misses", before.prefix_cache_bytes,
              info.prefix_cache_bytes, (unsigned long long)before.prefix_cache_misses,
              (unsigned long long)info.prefix_cache_misses);
    }
out:
    qrank_model_free(m);
    qrank_model_free(off);
    qrank_model_free(small);
}

/* Embeddings with an instruction share its prefix (embed.c): the vectors of
 * a first call, of a call on the kept prefix and of a call over several
 * batches equal, bit for bit, those of a model without a cache; usage counts
 * the prefix once. (That they equal the whole-string inputs' vectors is
 * reference-embed's check, against the float64 reference.) */
/* Requests of one call with the same query (a client's documents split over
 * parallel requests, batched by the server's scheduler) compute its prefix
 * once: scores equal separate calls bit for bit, on a model without a cache,
 * also when the second request's documents land in later batches. */
static void test_shared_in_round(const char *path) {
    qrank_model *off = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    mp.prefix_cache_mb = -1;
    CHECK(qrank_model_load(path, &mp, &off, &err) == QRANK_OK, "%s", err.message);
    if (!off) return;
    enum { MANY = 300 };
    const char *many[MANY];
    for (int i = 0; i < MANY; i++) many[i] = DOCS[i % N_DOCS];
    static float got[3][MANY], want[3][MANY];
    const char *const queries[3] = {"烟花 tonight", "battery news", "烟花 tonight"};
    const size_t splits[2][3][2] = {{{0, 4}, {4, 7}, {7, 10}}, {{0, 150}, {0, 20}, {150, MANY}}};
    for (int v = 0; v < 2; v++) {
        qrank_rerank_request reqs[3];
        memset(reqs, 0, sizeof reqs);
        qrank_usage alone[3];
        for (int r = 0; r < 3; r++) {
            const size_t a = splits[v][r][0], n = splits[v][r][1] - a;
            reqs[r].query = queries[r];
            reqs[r].docs = many + a;
            reqs[r].n_docs = n;
            reqs[r].params = qrank_rerank_default_params();
            reqs[r].scores = got[r];
            CHECK(qrank_rerank(off, queries[r], many + a, n, NULL, want[r], NULL, &alone[r], &err) == QRANK_OK, "%s",
                  err.message);
        }
        CHECK(qrank_rerank_batch(off, reqs, 3, &err) == QRANK_OK, "%s", err.message);
        for (int r = 0; r < 3; r++)
            CHECK(memcmp(got[r], want[r], sizeof(float) * reqs[r].n_docs) == 0,
                  "split %d, request %d: scores differ from a call of its own", v, r);
        CHECK(reqs[0].usage.computed_tokens == alone[0].computed_tokens &&
                  reqs[1].usage.computed_tokens == alone[1].computed_tokens &&
                  reqs[2].usage.computed_tokens < alone[2].computed_tokens &&
                  reqs[2].usage.prompt_tokens == alone[2].prompt_tokens,
              "split %d: the third request computed %zu tokens (alone %zu)", v, reqs[2].usage.computed_tokens,
              alone[2].computed_tokens);
    }
    /* with a cache: the round looks each prefix up once (new: one miss; then
     * kept: one hit), and the repeat shares what the first found */
    qrank_model *m = NULL;
    mp.prefix_cache_mb = 0;
    CHECK(qrank_model_load(path, &mp, &m, &err) == QRANK_OK, "%s", err.message);
    for (int round = 0; m && round < 2; round++) {
        qrank_rerank_request reqs[3];
        memset(reqs, 0, sizeof reqs);
        for (int r = 0; r < 3; r++) {
            reqs[r].query = queries[r];
            reqs[r].docs = many + splits[1][r][0];
            reqs[r].n_docs = splits[1][r][1] - splits[1][r][0];
            reqs[r].params = qrank_rerank_default_params();
            reqs[r].scores = got[r];
            CHECK(qrank_rerank(off, queries[r], reqs[r].docs, reqs[r].n_docs, NULL, want[r], NULL, NULL, &err) ==
                      QRANK_OK, "%s", err.message);
        }
        CHECK(qrank_rerank_batch(m, reqs, 3, &err) == QRANK_OK, "%s", err.message);
        for (int r = 0; r < 3; r++)
            CHECK(memcmp(got[r], want[r], sizeof(float) * reqs[r].n_docs) == 0,
                  "cache, round %d, request %d: scores differ from a call of its own", round, r);
        qrank_model_info info;
        qrank_model_get_info(m, &info);
        CHECK(info.prefix_cache_misses == 2 && info.prefix_cache_hits == (uint64_t)(2 * round),
              "cache, round %d: %llu hits, %llu misses (two prefixes, looked up once each per round)", round,
              (unsigned long long)info.prefix_cache_hits, (unsigned long long)info.prefix_cache_misses);
    }
    qrank_model_free(m);
    qrank_model_free(off);
}

static void test_embed_prefix(const char *path) {
    qrank_model *m = NULL, *off = NULL;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    CHECK(qrank_model_load(path, &mp, &m, &err) == QRANK_OK, "%s", err.message);
    mp.prefix_cache_mb = -1;
    CHECK(qrank_model_load(path, &mp, &off, &err) == QRANK_OK, "%s", err.message);
    if (!m || !off) goto out;
    enum { MANY = 400 };
    const char *many[MANY];
    for (int i = 0; i < MANY; i++) many[i] = DOCS[i % N_DOCS];
    const int H = 64; /* engine-f32's hidden size (engine.cmake) */
    static float want[MANY * 64], got[MANY * 64];
    qrank_model_info info;
    qrank_model_get_info(m, &info);
    CHECK(info.hidden == H, "the test model's hidden size is %d, not %d", info.hidden, H);
    if (info.hidden != H) goto out;
    qrank_embed_params ep = qrank_embed_default_params();
    ep.instruction = "Identify the topic or theme of the given social media posts";
    for (int exact = 0; exact < 2; exact++) {
        ep.precision = exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST;
        qrank_usage u0, u1;
        CHECK(qrank_embed(off, DOCS, N_DOCS, &ep, want, &u0, &err) == QRANK_OK, "%s", err.message);
        for (int call = 0; call < 2; call++)
            CHECK(qrank_embed(m, DOCS, N_DOCS, &ep, got, &u1, &err) == QRANK_OK &&
                      memcmp(got, want, sizeof(float) * N_DOCS * H) == 0,
                  "%s, call %d: embeddings differ from a model without a cache", exact ? "exact" : "fast", call);
        CHECK(u0.prefix_tokens_reused > 0 && u0.prompt_tokens == u1.prompt_tokens &&
                  u1.computed_tokens < u0.computed_tokens,
              "usage: %zu prompt, %zu computed, %zu reused; then %zu computed", u0.prompt_tokens, u0.computed_tokens,
              u0.prefix_tokens_reused, u1.computed_tokens);
        CHECK(qrank_embed(off, many, MANY, &ep, want, NULL, &err) == QRANK_OK &&
                  qrank_embed(m, many, MANY, &ep, got, NULL, &err) == QRANK_OK &&
                  memcmp(got, want, sizeof(float) * MANY * H) == 0,
              "%s: %d texts over several batches differ", exact ? "exact" : "fast", MANY);
    }
    /* no room for the prefix: whole inputs, cut from the tail as before */
    ep.max_length = 8;
    CHECK(qrank_embed(off, DOCS, N_DOCS, &ep, want, NULL, &err) == QRANK_OK &&
              qrank_embed(m, DOCS, N_DOCS, &ep, got, NULL, &err) == QRANK_OK &&
              memcmp(got, want, sizeof(float) * N_DOCS * H) == 0,
          "max_length 8: embeddings differ");
out:
    qrank_model_free(m);
    qrank_model_free(off);
}

static void test_nonfinite(const char *path, const char *build_dir) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    const int read_ok = buf && fread(buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    CHECK(read_ok, "cannot read %s", path);
    qr_gguf *g = NULL;
    qrank_error err;
    if (!read_ok || qr_gguf_open_memory(buf, (size_t)size, &g, &err)) {
        CHECK(0, "%s: %s", path, read_ok ? err.message : "unread");
        free(buf);
        return;
    }
    const qr_tensor *t = qr_gguf_tensor(g, "blk.1.ffn_up.weight");
    CHECK(t && t->type == QR_TYPE_Q8_0, "no Q8_0 blk.1.ffn_up.weight");
    const size_t at = t ? (size_t)((const uint8_t *)t->data - buf) : 0;
    qr_gguf_close(g);
    if (!t) {
        free(buf);
        return;
    }
    buf[at] = 0x00; /* the first block's f16 scale: 0x7e00, a NaN */
    buf[at + 1] = 0x7e;
    char bad[4096];
    snprintf(bad, sizeof bad, "%s/models/engine-q8_0-nan.gguf", build_dir);
    f = fopen(bad, "wb");
    const int wrote = f && fwrite(buf, 1, (size_t)size, f) == (size_t)size;
    if (f) fclose(f);
    free(buf);
    CHECK(wrote, "cannot write %s", bad);
    qrank_model *m = NULL;
    qrank_model_params mp = qrank_model_default_params();
    CHECK(qrank_model_load(bad, &mp, &m, &err) == QRANK_OK, "a NaN scale should load: %s", err.message);
    if (!m) return;
    for (int exact = 0; exact < 2; exact++) {
        qrank_rerank_params rp = qrank_rerank_default_params();
        rp.precision = exact ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST;
        float sc[2] = {0.25f, 0.25f};
        const char *docs[2] = {"烟花 tonight", "a post about the weather"};
        const int rc = qrank_rerank(m, "烟花 fireworks", docs, 2, &rp, sc, NULL, NULL, &err);
        CHECK(rc == QRANK_E_FORMAT && strstr(err.message, "non-finite"), "%s: NaN weights gave rc %d (%s), scores %g %g",
              exact ? "exact" : "fast", rc, rc ? err.message : "", sc[0], sc[1]);
    }
    qrank_model_free(m);
    remove(bad);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test-rerank SOURCE_DIR BUILD_DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/models/engine-f32.gguf", argv[2]);
    qrank_model *m;
    qrank_error err;
    qrank_model_params mp = qrank_model_default_params();
    if (qrank_model_load(path, &mp, &m, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.message);
        return 1;
    }
    test_template(m);
    test_plain_text(m);
    test_prefix_sharing(m);
    test_block_boundaries(m);
    test_later_batches(m);
    test_forward_arguments(m);
    test_truncation(m);
    test_rank_order();
    test_workspace();
    qrank_model_free(m);
    test_prefix_cache(path);
    test_embed_prefix(path);
    test_shared_in_round(path);
    snprintf(path, sizeof path, "%s/models/engine-q8_0.gguf", argv[2]);
    test_repack(path, 0);
    test_repack_idle(path, 0);
    test_nonfinite(path, argv[2]);
    snprintf(path, sizeof path, "%s/models/engine-q4_k_m.gguf", argv[2]);
    test_repack(path, 1);
    test_repack_idle(path, 1);
    test_concurrent_first_calls(path);
    snprintf(path, sizeof path, "%s/models/engine-bf16.gguf", argv[2]);
    test_repack(path, 0);
    test_repack_idle(path, 0);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test-rerank: all checks passed\n");
    return 0;
}
