/* test-eval.c - reranker evaluation without a model: the metrics against
 * hand computations, ties, averaging over queries, the parser against
 * hostile lines, and the shipped set eval/social-posts.jsonl (its shape,
 * languages, the three scenarios of the issue). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "qrank.h"

#include "check.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_metrics_by_hand(void) {
    /* Five documents in their original order with labels 0, 3, 1, 5, 2.
     * DCG@5 = 0/log2(2) + 3/log2(3) + 1/log2(4) + 5/log2(5) + 2/log2(6)
     *       = 0 + 1.892789 + 0.5 + 2.153383 + 0.773706 = 5.319878
     * ideal order 5, 3, 2, 1, 0:
     * IDCG@5 = 5/1 + 3/log2(3) + 2/log2(4) + 1/log2(5) + 0 = 8.323466
     * nDCG@5 = 5.319878 / 8.323466 = 0.639142; with 5 documents nDCG@10 is the same.
     * Relevant (label >= 3) documents are at ranks 2 and 4: MRR = 1/2; rank 1 has label 0: P@1 = 0. */
    int labels[5] = {0, 3, 1, 5, 2};
    size_t identity[5] = {0, 1, 2, 3, 4};
    qrank_eval_metrics m;
    qr_eval_metrics(labels, identity, 5, 3, &m);
    CHECK(fabs(m.ndcg_at_5 - 0.639142129176811) < 1e-12, "nDCG@5 %.15f", m.ndcg_at_5);
    CHECK(NEAR(m.ndcg_at_5, (3 / log2(3) + 1 / log2(4) + 5 / log2(5) + 2 / log2(6)) /
                                (5 + 3 / log2(3) + 2 / log2(4) + 1 / log2(5))),
          "nDCG@5 formula");
    CHECK(NEAR(m.ndcg_at_10, m.ndcg_at_5), "nDCG@10 %f", m.ndcg_at_10);
    CHECK(NEAR(m.mrr, 0.5), "MRR %f", m.mrr);
    CHECK(NEAR(m.precision_at_1, 0.0), "P@1 %f", m.precision_at_1);

    /* Scores 0.1, 0.7, 0.2, 0.9, 0.7: documents 1 and 4 tie at 0.7 and keep
     * their input order, so the ranking is 3, 1, 4, 2, 0 with labels 5, 3,
     * 2, 1, 0: the ideal order, nDCG 1, MRR 1, P@1 1. */
    float scores[5] = {0.1f, 0.7f, 0.2f, 0.9f, 0.7f};
    size_t order[5];
    qr_eval_order(scores, 5, order);
    size_t want[5] = {3, 1, 4, 2, 0};
    CHECK(memcmp(order, want, sizeof want) == 0, "order %zu %zu %zu %zu %zu", order[0], order[1], order[2],
          order[3], order[4]);
    qr_eval_metrics(labels, order, 5, 3, &m);
    CHECK(NEAR(m.ndcg_at_5, 1.0) && NEAR(m.ndcg_at_10, 1.0), "ideal order: %f %f", m.ndcg_at_5, m.ndcg_at_10);
    CHECK(NEAR(m.mrr, 1.0) && NEAR(m.precision_at_1, 1.0), "ideal order: MRR %f P@1 %f", m.mrr,
          m.precision_at_1);

    /* Twelve documents: label 1 first, label 4 last, zeros between.
     * Original order: DCG@5 = DCG@10 = 1/log2(2) = 1 (the 4 is at rank 12,
     * past both cuts); IDCG@5 = IDCG@10 = 4/1 + 1/log2(3) = 4.630930;
     * nDCG = 1 / 4.630930 = 0.215939. The only label >= 3 is at rank 12:
     * MRR = 1/12, P@1 = 0. With min_relevant 1 the first document counts:
     * MRR = 1, P@1 = 1. */
    int labels12[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4};
    size_t id12[12], rev12[12];
    for (size_t i = 0; i < 12; i++) {
        id12[i] = i;
        rev12[i] = 11 - i;
    }
    qr_eval_metrics(labels12, id12, 12, 3, &m);
    CHECK(fabs(m.ndcg_at_5 - 0.21593935844714157) < 1e-12, "nDCG@5 %.15f", m.ndcg_at_5);
    CHECK(fabs(m.ndcg_at_10 - 0.21593935844714157) < 1e-12, "nDCG@10 %.15f", m.ndcg_at_10);
    CHECK(NEAR(m.mrr, 1.0 / 12), "MRR %f", m.mrr);
    CHECK(NEAR(m.precision_at_1, 0.0), "P@1 %f", m.precision_at_1);
    qr_eval_metrics(labels12, id12, 12, 1, &m);
    CHECK(NEAR(m.mrr, 1.0) && NEAR(m.precision_at_1, 1.0), "min_relevant 1: %f %f", m.mrr, m.precision_at_1);
    /* Reversed: labels 4, 0 x 10, 1. DCG@5 = DCG@10 = 4 (the 1 is at rank 12);
     * nDCG = 4 / 4.630930 = 0.863757; MRR = 1; P@1 = 1. */
    qr_eval_metrics(labels12, rev12, 12, 3, &m);
    CHECK(fabs(m.ndcg_at_5 - 0.8637574337885663) < 1e-12, "nDCG@5 %.15f", m.ndcg_at_5);
    CHECK(fabs(m.ndcg_at_10 - 0.8637574337885663) < 1e-12, "nDCG@10 %.15f", m.ndcg_at_10);
    CHECK(NEAR(m.mrr, 1.0) && NEAR(m.precision_at_1, 1.0), "reversed: %f %f", m.mrr, m.precision_at_1);

    /* Where @5 and @10 differ: 8 documents, labels 0 0 0 0 0 2 0 0 in order.
     * DCG@5 = 0; DCG@10 = 2/log2(7) = 0.712414; IDCG = 2/1 = 2;
     * nDCG@5 = 0, nDCG@10 = 0.356207. */
    int labels8[8] = {0, 0, 0, 0, 0, 2, 0, 0};
    size_t id8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    qr_eval_metrics(labels8, id8, 8, 2, &m);
    CHECK(NEAR(m.ndcg_at_5, 0.0), "nDCG@5 %f", m.ndcg_at_5);
    CHECK(NEAR(m.ndcg_at_10, 1.0 / log2(7)), "nDCG@10 %f", m.ndcg_at_10);
    CHECK(NEAR(m.mrr, 1.0 / 6), "MRR %f", m.mrr);

    /* One document. */
    int one_label[1] = {4};
    size_t one_order[1] = {0};
    qr_eval_metrics(one_label, one_order, 1, 3, &m);
    CHECK(NEAR(m.ndcg_at_5, 1.0) && NEAR(m.mrr, 1.0) && NEAR(m.precision_at_1, 1.0), "single document");
}

static qrank_eval_set *parse(const char *text, qrank_error *err) {
    qrank_eval_set *set = NULL;
    int rc = qr_eval_set_parse(text, strlen(text), "t.jsonl", &set, err);
    if (rc != QRANK_OK) return NULL;
    return set;
}

static void test_set_scoring(void) {
    /* Two queries: the first one is the five documents above, the second
     * the twelve (labels 1, 0 x 10, 4), with a blank line and a CRLF ending. */
    const char *text =
        "{\"query\": \"q1\", \"documents\": [\"a\",\"b\",\"c\",\"d\",\"e\"], \"labels\": [0,3,1,5,2]}\r\n"
        "\n"
        "   \n"
        "{\"id\": 7, \"query\": \"q2\", \"instruction\": \"Find posts\", \"documents\": "
        "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\"], "
        "\"labels\": [1,0,0,0,0,0,0,0,0,0,0,4.0]}";
    qrank_error err = {0};
    qrank_eval_set *set = parse(text, &err);
    CHECK(set != NULL, "%s", err.message);
    if (!set) return;
    CHECK(qrank_eval_set_count(set) == 2, "count %zu", qrank_eval_set_count(set));
    qrank_eval_query q;
    CHECK(qrank_eval_set_get_query(set, 1, &q, NULL) == QRANK_OK, "get");
    CHECK(q.line == 4 && strcmp(q.query, "q2") == 0 && q.n_documents == 12, "line %zu", q.line);
    CHECK(q.instruction && strcmp(q.instruction, "Find posts") == 0, "instruction");
    CHECK(q.labels[11] == 4 && strcmp(q.documents[9], "10") == 0, "fields");
    CHECK(q.scores == NULL, "not scored yet");
    CHECK(qrank_eval_set_get_query(set, 2, &q, &err) == QRANK_E_INVALID_ARGUMENT, "past the end");
    qrank_eval_set_get_query(set, 0, &q, NULL);
    CHECK(q.instruction == NULL && q.line == 1, "no instruction");

    float s1[5] = {0.1f, 0.7f, 0.2f, 0.9f, 0.7f};
    float s2[12];
    for (int i = 0; i < 12; i++) s2[i] = (float)i; /* the reversed order */
    const float *scores[2] = {s1, s2};
    CHECK(qr_eval_set_score(set, scores, 3, &err) == QRANK_OK, "%s", err.message);
    qrank_eval_metrics r, o;
    qrank_eval_set_overall(set, &r, &o);
    /* Reranker: q1 ideal (1, 1, 1, 1), q2 reversed (0.863757, 0.863757, 1, 1).
     * Original: q1 (0.639142, 0.639142, 0.5, 0), q2 (0.215939, 0.215939, 1/12, 0). */
    CHECK(NEAR(r.ndcg_at_5, (1 + 0.8637574337885663) / 2), "overall nDCG@5 %f", r.ndcg_at_5);
    CHECK(NEAR(r.ndcg_at_10, (1 + 0.8637574337885663) / 2), "overall nDCG@10 %f", r.ndcg_at_10);
    CHECK(NEAR(r.mrr, 1.0) && NEAR(r.precision_at_1, 1.0), "overall MRR %f P@1 %f", r.mrr, r.precision_at_1);
    CHECK(NEAR(o.ndcg_at_5, (0.639142129176811 + 0.21593935844714157) / 2), "orig nDCG@5 %f", o.ndcg_at_5);
    CHECK(NEAR(o.mrr, (0.5 + 1.0 / 12) / 2), "orig MRR %f", o.mrr);
    CHECK(NEAR(o.precision_at_1, 0.0), "orig P@1 %f", o.precision_at_1);
    CHECK(qrank_eval_set_get_query(set, 1, &q, NULL) == QRANK_OK && q.scores && q.scores[11] == 11.0f,
          "scores kept");
    CHECK(NEAR(q.reranker.mrr, 1.0) && NEAR(q.original.mrr, 1.0 / 12), "per query");

    /* A threshold no document reaches is refused, naming the line. */
    CHECK(qr_eval_set_score(set, scores, 5, &err) == QRANK_E_INVALID_ARGUMENT, "threshold 5");
    CHECK(strstr(err.message, "line 4") != NULL, "message: %s", err.message);
    CHECK(qr_eval_set_score(set, scores, 0, &err) == QRANK_E_INVALID_ARGUMENT, "threshold 0");
    qrank_eval_params p = qrank_eval_default_params();
    CHECK(p.min_relevant == 3, "default threshold");
    CHECK(qrank_eval(NULL, set, &p, NULL, &err) == QRANK_E_INVALID_ARGUMENT, "no model");
    qrank_eval_set_free(set);
    qrank_eval_set_free(NULL);
}

static void test_hostile_lines(void) {
    static const struct {
        const char *text;
        const char *message; /* a part of the expected error */
    } cases[] = {
        {"", "no queries"},
        {"\n \n", "no queries"},
        {"{", "line 1: not valid JSON"},
        {"[1,2]", "line 1: expected a JSON object"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[1]} x", "text after"},
        {"{\"documents\":[\"a\"],\"labels\":[1]}", "\"query\" must be a string"},
        {"{\"query\":5,\"documents\":[\"a\"],\"labels\":[1]}", "\"query\" must be a string"},
        {"{\"query\":\"\",\"documents\":[\"a\"],\"labels\":[1]}", "\"query\" is empty"},
        {"{\"query\":\"q\",\"instruction\":3,\"documents\":[\"a\"],\"labels\":[1]}", "\"instruction\" must"},
        {"{\"query\":\"q\",\"labels\":[1]}", "\"documents\" must be"},
        {"{\"query\":\"q\",\"documents\":\"a\",\"labels\":[1]}", "\"documents\" must be"},
        {"{\"query\":\"q\",\"documents\":[],\"labels\":[]}", "\"documents\" is empty"},
        {"{\"query\":\"q\",\"documents\":[\"a\"]}", "\"labels\" must be"},
        {"{\"query\":\"q\",\"documents\":[\"a\",\"b\"],\"labels\":[1]}", "\"labels\" has 1 values but"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[1,2]}", "\"labels\" has 2 values but"},
        {"{\"query\":\"q\",\"documents\":[\"a\",7],\"labels\":[1,2]}", "document 1 is not a string"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[\"1\"]}", "label 0 is not a number"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[6]}", "label 0 is 6"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[-1]}", "label 0 is -1"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[2.5]}", "label 0 is 2.5"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[1e300]}", "label 0 is"},
        {"{\"query\":\"q\",\"documents\":[\"a\",\"b\"],\"labels\":[0,0]}", "every label is 0"},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[1]}\n{\"query\":\"q\"}", "line 2:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qrank_error err = {0};
        qrank_eval_set *set = (qrank_eval_set *)&err;
        int rc = qr_eval_set_parse(cases[i].text, strlen(cases[i].text), "t.jsonl", &set, &err);
        CHECK(rc == QRANK_E_FORMAT, "case %zu: rc %d", i, rc);
        CHECK(set == NULL, "case %zu: out not reset", i);
        CHECK(strstr(err.message, cases[i].message) != NULL, "case %zu: message \"%s\", want \"%s\"", i,
              err.message, cases[i].message);
    }
    /* A NUL byte inside a line must not cut the line short silently. */
    const char with_nul[] = "{\"query\":\"q\",\"documents\":[\"a\"],\"labels\":[1]}\0garbage";
    qrank_eval_set *set = NULL;
    qrank_error err = {0};
    CHECK(qr_eval_set_parse(with_nul, sizeof with_nul - 1, "t", &set, &err) == QRANK_E_FORMAT, "NUL");
    /* null instruction reads as none; unknown keys are ignored. */
    const char *ok = "{\"query\":\"q\",\"instruction\":null,\"lang\":\"zh\",\"documents\":[\"\"],\"labels\":[5]}";
    CHECK(qr_eval_set_parse(ok, strlen(ok), "t", &set, &err) == QRANK_OK, "%s", err.message);
    qrank_eval_set_free(set);
    CHECK(qrank_eval_set_load("/nonexistent/set.jsonl", &set, &err) == QRANK_E_IO, "missing file");
    CHECK(set == NULL, "no set");
}

static int has_cjk(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xE4 && *p <= 0xE9) return 1; /* lead bytes of U+4000..U+9FFF */
    return 0;
}

static int has_latin_word(const char *s) {
    int run = 0;
    for (const char *p = s; *p; p++) {
        run = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) ? run + 1 : 0;
        if (run >= 3) return 1;
    }
    return 0;
}

/* The shipped set: at least 12 queries in Chinese, English and both, 15..25
 * posts each, graded labels that use the scale (at least one relevant post
 * and at least one irrelevant one per query), and the scenarios. */
static void test_shipped_set(const char *source_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/eval/social-posts.jsonl", source_dir);
    qrank_eval_set *set = NULL;
    qrank_error err = {0};
    CHECK(qrank_eval_set_load(path, &set, &err) == QRANK_OK, "%s", err.message);
    if (!set) return;
    size_t n = qrank_eval_set_count(set);
    CHECK(n >= 12, "%zu queries", n);
    int zh = 0, en = 0, mixed = 0, scenarios = 0;
    const char *wanted[] = {"杭州亚运会闭幕式烟花秀", "China's new EV battery breakthrough", "这剧太上头了停不下来"};
    for (size_t i = 0; i < n; i++) {
        qrank_eval_query q;
        qrank_eval_set_get_query(set, i, &q, NULL);
        CHECK(q.n_documents >= 15 && q.n_documents <= 25, "line %zu: %zu posts", q.line, q.n_documents);
        int hi = 0, lo = 0, mid = 0, zh_docs = 0, en_docs = 0;
        for (size_t d = 0; d < q.n_documents; d++) {
            hi += q.labels[d] >= 3;
            lo += q.labels[d] == 0;
            mid += q.labels[d] == 1 || q.labels[d] == 2;
            CHECK(strchr(q.documents[d], '\n') == NULL, "line %zu: newline in a post", q.line);
            CHECK(strlen(q.documents[d]) > 0 && strlen(q.documents[d]) < 600, "line %zu: post length", q.line);
            zh_docs += has_cjk(q.documents[d]);
            en_docs += !has_cjk(q.documents[d]);
        }
        CHECK(hi >= 2 && lo >= 1 && mid >= 2, "line %zu: labels do not use the scale (%d hi %d mid %d lo)", q.line,
              hi, mid, lo);
        int qz = has_cjk(q.query), qe = has_latin_word(q.query);
        if (qz && qe) mixed++;
        else if (qz) zh++;
        else en++;
        if (zh_docs && en_docs) mixed++;
        for (size_t w = 0; w < 3; w++)
            if (strcmp(q.query, wanted[w]) == 0) {
                scenarios++;
                if (w == 1) CHECK(zh_docs >= 3 && en_docs >= 3, "the EV query needs Chinese and English posts");
            }
        for (size_t j = 0; j < i; j++) {
            qrank_eval_query other;
            qrank_eval_set_get_query(set, j, &other, NULL);
            CHECK(strcmp(other.query, q.query) != 0, "query on line %zu repeats", q.line);
        }
    }
    CHECK(scenarios == 3, "%d of the issue's three scenarios", scenarios);
    CHECK(zh >= 3 && en >= 3 && mixed >= 3, "languages: %d zh, %d en, %d mixed", zh, en, mixed);
    qrank_eval_set_free(set);
}

int main(int argc, char **argv) {
    const char *source_dir = argc > 1 ? argv[1] : ".";
    test_metrics_by_hand();
    test_set_scoring();
    test_hostile_lines();
    test_shipped_set(source_dir);
    if (failures) {
        fprintf(stderr, "test-eval: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-eval: ok\n");
    return 0;
}
