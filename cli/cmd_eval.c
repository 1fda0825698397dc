/* cmd_eval.c - `qrank eval`: how well a reranker orders a labelled set
 * (JSON lines of query, documents, graded labels), next to the documents'
 * original order, per query and overall. The set is read and checked before
 * the model is loaded, so a typo in the file costs no model load. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void usage(FILE *f) {
    fputs("usage: qrank eval -m RERANK_MODEL -f SET.jsonl [--json] [-i INSTRUCTION] [--min-relevant N]\n"
          "                  [--max-length N] [--precision exact|fast] [--threads N]\n"
          "Each line of SET.jsonl is {\"query\": ..., \"instruction\": ... (optional), \"documents\": [...],\n"
          "\"labels\": [graded relevance 0..5, one per document]}. Prints nDCG@5, nDCG@10 (linear gain),\n"
          "MRR and P@1 of the reranker's order and of the original order, per query and averaged.\n"
          "A document counts as relevant for MRR and P@1 when its label is >= N (default 3).\n"
          "-i is the instruction for lines without one (default: the web-search one).\n",
          f);
}

static double round6(double v) { return round(v * 1e6) / 1e6; }

static cJSON *metrics_json(const qrank_eval_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ndcg@5", round6(m->ndcg_at_5));
    cJSON_AddNumberToObject(o, "ndcg@10", round6(m->ndcg_at_10));
    cJSON_AddNumberToObject(o, "mrr", round6(m->mrr));
    cJSON_AddNumberToObject(o, "p@1", round6(m->precision_at_1));
    return o;
}

static int print_json(const qrank_eval_set *set, const char *model_name, int min_relevant, const qrank_usage *u) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model_name);
    cJSON_AddNumberToObject(root, "min_relevant", min_relevant);
    cJSON *queries = cJSON_AddArrayToObject(root, "queries");
    size_t n = qrank_eval_set_count(set);
    for (size_t i = 0; i < n; i++) {
        qrank_eval_query q;
        qrank_eval_set_get_query(set, i, &q, NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "line", (double)q.line);
        cJSON_AddStringToObject(o, "query", q.query);
        cJSON_AddNumberToObject(o, "documents", (double)q.n_documents);
        cJSON_AddItemToObject(o, "reranker", metrics_json(&q.reranker));
        cJSON_AddItemToObject(o, "original", metrics_json(&q.original));
        cJSON *scores = cJSON_AddArrayToObject(o, "scores");
        for (size_t d = 0; d < q.n_documents; d++)
            cJSON_AddItemToArray(scores, cJSON_CreateNumber(round6(q.scores[d])));
        cJSON_AddItemToArray(queries, o);
    }
    qrank_eval_metrics r, orig;
    qrank_eval_set_overall(set, &r, &orig);
    cJSON *overall = cJSON_AddObjectToObject(root, "overall");
    cJSON_AddNumberToObject(overall, "queries", (double)n);
    cJSON_AddItemToObject(overall, "reranker", metrics_json(&r));
    cJSON_AddItemToObject(overall, "original", metrics_json(&orig));
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", (double)u->prompt_tokens);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return cli_fail("out of memory printing JSON");
    puts(text);
    free(text);
    return 0;
}

static void print_text(const qrank_eval_set *set, int min_relevant) {
    printf("reranker / original order; relevant for MRR and P@1: label >= %d\n\n", min_relevant);
    printf("%5s %5s  %-13s %-13s %-13s %-13s %s\n", "line", "docs", "nDCG@5", "nDCG@10", "MRR", "P@1", "query");
    size_t n = qrank_eval_set_count(set);
    for (size_t i = 0; i < n; i++) {
        qrank_eval_query q;
        qrank_eval_set_get_query(set, i, &q, NULL);
        printf("%5zu %5zu  %.3f / %.3f %.3f / %.3f %.3f / %.3f %.3f / %.3f %s\n", q.line, q.n_documents,
               q.reranker.ndcg_at_5, q.original.ndcg_at_5, q.reranker.ndcg_at_10, q.original.ndcg_at_10,
               q.reranker.mrr, q.original.mrr, q.reranker.precision_at_1, q.original.precision_at_1, q.query);
    }
    qrank_eval_metrics r, o;
    qrank_eval_set_overall(set, &r, &o);
    printf("\noverall, mean of %zu quer%s:\n", n, n == 1 ? "y" : "ies");
    printf("  %-9s nDCG@5 %.4f  nDCG@10 %.4f  MRR %.4f  P@1 %.4f\n", "reranker", r.ndcg_at_5, r.ndcg_at_10, r.mrr,
           r.precision_at_1);
    printf("  %-9s nDCG@5 %.4f  nDCG@10 %.4f  MRR %.4f  P@1 %.4f\n", "original", o.ndcg_at_5, o.ndcg_at_10, o.mrr,
           o.precision_at_1);
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    int threads = 0, json = 0, max_length = 0;
    qrank_precision precision = QRANK_PRECISION_FAST;
    qrank_eval_params ep = qrank_eval_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-f", "--file")) {
            if (!(file = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-i", "--instruction")) {
            if (!(ep.rerank.instruction = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, NULL, "--min-relevant")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 5, &ep.min_relevant)) return 2;
        } else if (cli_opt_is(a, NULL, "--max-length")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1 << 24, &max_length)) return 2;
        } else if (cli_opt_is(a, NULL, "--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 4096, &threads)) return 2;
        } else if (cli_opt_is(a, NULL, "--precision")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_precision(v, &precision)) return 2;
        } else {
            usage(stderr);
            return cli_fail("unknown option %s", a) + 1;
        }
    }
    if (!model_path) return cli_fail("eval needs -m RERANK_MODEL") + 1;
    if (!file) return cli_fail("eval needs -f SET.jsonl") + 1;
    ep.rerank.precision = precision;
    if (max_length) ep.rerank.max_length = max_length;

    qrank_eval_set *set = NULL;
    qrank_error err;
    if (qrank_eval_set_load(file, &set, &err)) return cli_fail("%s", err.message);
    qrank_model *m = cli_load_model(model_path, threads, precision);
    if (!m) {
        qrank_eval_set_free(set);
        return 1;
    }
    int rc = 0;
    qrank_usage u;
    if (qrank_eval(m, set, &ep, &u, &err)) {
        rc = cli_fail("%s", err.message);
    } else {
        qrank_model_info info;
        qrank_model_get_info(m, &info);
        if (json) rc = print_json(set, info.name, ep.min_relevant, &u);
        else print_text(set, ep.min_relevant);
        if (!rc && u.truncated_documents)
            fprintf(stderr, "qrank: note: %zu document(s) truncated to fit the length limit\n",
                    u.truncated_documents);
    }
    qrank_eval_set_free(set);
    qrank_model_free(m);
    return rc;
}
