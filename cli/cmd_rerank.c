/* cmd_rerank.c - `qrank rerank`: documents one per line, best first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void usage(FILE *f) {
    fputs("usage: qrank rerank -m MODEL -q QUERY [-i INSTRUCTION] [-f FILE] [--top-n N]\n"
          "                    [--max-length N] [--precision exact|fast] [--threads N] [--json]\n"
          "Scores each line of FILE (default stdin) as a document for QUERY and prints them\n"
          "best first: rank, P(yes) with 4 decimals, original index, document.\n",
          f);
}

static int print_json(const qrank_model *m, const line_list *docs, const float *scores, const size_t *order,
                      size_t top, const qrank_usage *u) {
    qrank_model_info info;
    qrank_model_get_info(m, &info);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", info.name);
    cJSON *results = cJSON_AddArrayToObject(root, "results");
    for (size_t r = 0; r < top; r++) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "index", (double)order[r]);
        cJSON_AddNumberToObject(item, "relevance_score", (double)scores[order[r]]);
        cJSON *doc = cJSON_AddObjectToObject(item, "document");
        cJSON_AddStringToObject(doc, "text", docs->lines[order[r]]);
        cJSON_AddItemToArray(results, item);
    }
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

int cmd_rerank(int argc, char **argv) {
    const char *model_path = NULL, *query = NULL, *instruction = NULL, *file = NULL;
    int top_n = 0, threads = 0, json = 0;
    qrank_rerank_params rp = qrank_rerank_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-q", "--query")) {
            if (!(query = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-i", "--instruction")) {
            if (!(instruction = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-f", "--file")) {
            if (!(file = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, NULL, "--top-n")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1 << 30, &top_n)) return 2;
        } else if (cli_opt_is(a, NULL, "--max-length")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1 << 24, &rp.max_length)) return 2;
        } else if (cli_opt_is(a, NULL, "--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 4096, &threads)) return 2;
        } else if (cli_opt_is(a, NULL, "--precision")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_precision(v, &rp.precision)) return 2;
        } else {
            usage(stderr);
            return cli_fail("unknown option %s", a) + 1;
        }
    }
    if (!model_path) return cli_fail("rerank needs -m MODEL") + 1;
    if (!query) return cli_fail("rerank needs -q QUERY") + 1;
    if (!*query) return cli_fail("the query is empty") + 1;
    rp.instruction = instruction;

    line_list docs;
    if (cli_read_lines(file, &docs)) return 1;
    if (docs.n == 0) {
        cli_free_lines(&docs);
        return cli_fail("no documents: give one per line in %s", file ? file : "stdin");
    }
    qrank_model *m = cli_load_model(model_path, threads, rp.precision);
    if (!m) {
        cli_free_lines(&docs);
        return 1;
    }
    float *scores = malloc(docs.n * sizeof *scores);
    size_t *order = malloc(docs.n * sizeof *order);
    int rc = 0;
    qrank_usage u;
    qrank_error err;
    if (!scores || !order) {
        rc = cli_fail("out of memory");
    } else if (qrank_rerank(m, query, (const char *const *)docs.lines, docs.n, &rp, scores, NULL, &u, &err)) {
        rc = cli_fail("%s", err.message);
    } else {
        qrank_rank_order(scores, docs.n, order);
        size_t top = top_n > 0 && (size_t)top_n < docs.n ? (size_t)top_n : docs.n;
        if (json) {
            rc = print_json(m, &docs, scores, order, top, &u);
        } else {
            for (size_t r = 0; r < top; r++)
                printf("%zu\t%.4f\t%zu\t%s\n", r + 1, scores[order[r]], order[r], docs.lines[order[r]]);
        }
        if (!rc && u.truncated_documents)
            fprintf(stderr, "qrank: note: %zu document(s) truncated to fit --max-length %d\n",
                    u.truncated_documents, rp.max_length);
    }
    free(scores);
    free(order);
    qrank_model_free(m);
    cli_free_lines(&docs);
    return rc;
}
