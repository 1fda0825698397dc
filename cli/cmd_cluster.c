/* cmd_cluster.c - `qrank cluster`: group posts into topics with an embedder
 * and, given a query and a reranker, order each group's posts by relevance.
 *
 * Posts are the non-empty lines of the input; outputs name them by their
 * 1-based line number so that a reader can find them in the file. The text
 * output is for people (each cluster with its central posts and its best
 * members, cut to --show), --json carries everything, map included. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void usage(FILE *f) {
    fputs("usage: qrank cluster -m EMBED_MODEL [-r RERANK_MODEL -q QUERY] [-k K | --k-min A --k-max B]\n"
          "                     [--seed S] [-f FILE] [--json] [options]\n"
          "Groups the posts (one per line of FILE, default stdin; empty lines are skipped) into\n"
          "topics: k-means++ on their embeddings, k chosen by silhouette in 2..10 unless given.\n"
          "Each cluster is named by its most central posts; with -q its members are ordered by\n"
          "the reranker's P(yes) for QUERY, otherwise by closeness to the cluster's centre.\n"
          "\n"
          "  -i, --instruction TEXT    embedding instruction; \"\" embeds the posts as they are; default:\n"
          "                            \"" QRANK_DEFAULT_CLUSTER_INSTRUCTION "\"\n"
          "  --rerank-instruction TEXT reranker instruction (default: the web-search one)\n"
          "  --dims D                  embed with the first D dimensions (MRL)\n"
          "  --restarts N              k-means++ runs per k (default 8)\n"
          "  --central N               central posts shown per cluster (default 3)\n"
          "  --show N                  members listed per cluster in text output (default 10, 0 = all)\n"
          "  --max-length N            tokens per post (and per rerank prompt)\n"
          "  --precision exact|fast    --threads N\n",
          f);
}

typedef struct posts {
    char **texts; /* borrowed from the line list */
    size_t *line; /* 1-based line numbers */
    size_t n;
} posts;

static double round6(double v) { return round(v * 1e6) / 1e6; }

static cJSON *post_json(const posts *p, size_t index) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)index);
    cJSON_AddNumberToObject(o, "line", (double)p->line[index]);
    cJSON_AddStringToObject(o, "text", p->texts[index]);
    return o;
}

static int print_json(const qrank_clustering *c, const posts *p, const char *embed_name,
                      const char *rerank_name, const char *query, int k_given, const qrank_usage *u) {
    qrank_clustering_info info;
    qrank_clustering_get_info(c, &info);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", embed_name);
    if (rerank_name) cJSON_AddStringToObject(root, "reranker", rerank_name);
    if (query) cJSON_AddStringToObject(root, "query", query);
    cJSON_AddNumberToObject(root, "posts", (double)info.n_texts);
    cJSON_AddNumberToObject(root, "dims", (double)info.dims);
    cJSON_AddNumberToObject(root, "k", info.k);
    cJSON_AddStringToObject(root, "k_chosen_by", k_given ? "given" : "silhouette");
    cJSON_AddNumberToObject(root, "silhouette", round6(info.silhouette));
    cJSON_AddNumberToObject(root, "inertia", round6(info.inertia));
    cJSON *by_k = cJSON_AddArrayToObject(root, "silhouette_by_k");
    for (int k = info.k_min; k <= info.k_max; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "k", k);
        double s = info.silhouette_by_k[k - info.k_min];
        if (isfinite(s)) cJSON_AddNumberToObject(o, "silhouette", round6(s));
        else cJSON_AddNullToObject(o, "silhouette");
        cJSON_AddItemToArray(by_k, o);
    }
    cJSON *clusters = cJSON_AddArrayToObject(root, "clusters");
    for (int k = 0; k < info.k; k++) {
        qrank_cluster_members m;
        qrank_clustering_get_cluster(c, k, &m, NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "cluster", k);
        cJSON_AddNumberToObject(o, "size", (double)m.size);
        cJSON *central = cJSON_AddArrayToObject(o, "central");
        for (size_t j = 0; j < m.n_central; j++) cJSON_AddItemToArray(central, post_json(p, m.central[j]));
        cJSON *members = cJSON_AddArrayToObject(o, "members");
        for (size_t j = 0; j < m.size; j++) {
            cJSON *item = post_json(p, m.members[j]);
            if (m.scores) cJSON_AddNumberToObject(item, "score", round6(m.scores[j]));
            cJSON_AddNumberToObject(item, "similarity", round6(m.similarity[j]));
            cJSON_AddItemToArray(members, item);
        }
        cJSON_AddItemToArray(clusters, o);
    }
    cJSON *labels = cJSON_AddArrayToObject(root, "labels");
    cJSON *map = cJSON_AddArrayToObject(root, "map");
    for (size_t i = 0; i < info.n_texts; i++) {
        cJSON_AddItemToArray(labels, cJSON_CreateNumber(info.labels[i]));
        cJSON *xy = cJSON_CreateArray();
        cJSON_AddItemToArray(xy, cJSON_CreateNumber(round6(info.map[2 * i])));
        cJSON_AddItemToArray(xy, cJSON_CreateNumber(round6(info.map[2 * i + 1])));
        cJSON_AddItemToArray(map, xy);
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

static void print_text(const qrank_clustering *c, const posts *p, const char *query, int k_given, int show) {
    qrank_clustering_info info;
    qrank_clustering_get_info(c, &info);
    printf("%zu posts in %d cluster%s", info.n_texts, info.k, info.k == 1 ? "" : "s");
    if (info.k >= 2) printf(", silhouette %.4f", info.silhouette);
    if (!k_given && info.k_max > info.k_min) {
        printf(" (k by silhouette:");
        for (int k = info.k_min; k <= info.k_max; k++) {
            double s = info.silhouette_by_k[k - info.k_min];
            if (isfinite(s)) printf(" %d:%.3f%s", k, s, k == info.k ? "*" : "");
            else printf(" %d:-", k);
        }
        printf(")");
    }
    printf("\n");
    if (query) printf("query: %s\n", query);
    for (int k = 0; k < info.k; k++) {
        qrank_cluster_members m;
        qrank_clustering_get_cluster(c, k, &m, NULL);
        printf("\n== cluster %d: %zu post%s\n", k + 1, m.size, m.size == 1 ? "" : "s");
        if (m.n_central) {
            printf("central posts:\n");
            for (size_t j = 0; j < m.n_central; j++)
                printf("  line %-5zu %s\n", p->line[m.central[j]], p->texts[m.central[j]]);
        }
        printf("%s:\n", m.scores ? "members by P(yes) for the query" : "members by closeness to the centre");
        size_t n_show = show > 0 && (size_t)show < m.size ? (size_t)show : m.size;
        for (size_t j = 0; j < n_show; j++)
            printf("  %.4f  line %-5zu %s\n", m.scores ? m.scores[j] : m.similarity[j], p->line[m.members[j]],
                   p->texts[m.members[j]]);
        if (n_show < m.size) printf("  ... %zu more (--show 0 lists all)\n", m.size - n_show);
    }
}

int cmd_cluster(int argc, char **argv) {
    const char *model_path = NULL, *rerank_path = NULL, *query = NULL, *file = NULL;
    int threads = 0, json = 0, show = 10, k_range_given = 0, max_length = 0;
    qrank_precision precision = QRANK_PRECISION_FAST;
    qrank_cluster_params cp = qrank_cluster_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            if (!(model_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-r", "--reranker")) {
            if (!(rerank_path = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-q", "--query")) {
            if (!(query = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-f", "--file")) {
            if (!(file = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-i", "--instruction")) {
            if (!(cp.embed.instruction = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, NULL, "--rerank-instruction")) {
            if (!(cp.rerank.instruction = cli_opt_value(argc, argv, &i))) return 2;
        } else if (cli_opt_is(a, "-k", "--k")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 100000, &cp.k)) return 2;
        } else if (cli_opt_is(a, NULL, "--k-min")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 2, 100000, &cp.k_min)) return 2;
            k_range_given = 1;
        } else if (cli_opt_is(a, NULL, "--k-max")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 2, 100000, &cp.k_max)) return 2;
            k_range_given = 1;
        } else if (cli_opt_is(a, NULL, "--seed")) {
            char *end;
            if (!(v = cli_opt_value(argc, argv, &i))) return 2;
            cp.seed = strtoull(v, &end, 10);
            if (end == v || *end || *v == '-') return cli_fail("--seed expects a non-negative integer, got \"%s\"", v) + 1;
        } else if (cli_opt_is(a, NULL, "--dims")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1 << 20, &cp.embed.dims)) return 2;
        } else if (cli_opt_is(a, NULL, "--restarts")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 1000, &cp.n_restarts)) return 2;
        } else if (cli_opt_is(a, NULL, "--central")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 1000, &cp.n_central)) return 2;
        } else if (cli_opt_is(a, NULL, "--show")) {
            if (!(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 1 << 30, &show)) return 2;
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
    if (!model_path) return cli_fail("cluster needs -m EMBED_MODEL") + 1;
    if (query && !*query) return cli_fail("the query is empty") + 1;
    if (query && !rerank_path) return cli_fail("-q QUERY needs -r RERANK_MODEL to score the posts") + 1;
    if (rerank_path && !query) return cli_fail("-r RERANK_MODEL needs -q QUERY") + 1;
    if (cp.k && k_range_given) return cli_fail("give -k or --k-min/--k-max, not both") + 1;
    if (cp.k_min > cp.k_max) return cli_fail("--k-min %d is above --k-max %d", cp.k_min, cp.k_max) + 1;
    cp.query = query;
    cp.n_threads = threads;
    cp.embed.precision = cp.rerank.precision = precision;
    if (max_length) cp.embed.max_length = cp.rerank.max_length = max_length;

    line_list lines;
    if (cli_read_lines(file, &lines)) return 1;
    posts p = {0};
    p.texts = malloc((lines.n ? lines.n : 1) * sizeof(char *));
    p.line = malloc((lines.n ? lines.n : 1) * sizeof(size_t));
    if (!p.texts || !p.line) {
        free(p.texts);
        free(p.line);
        cli_free_lines(&lines);
        return cli_fail("out of memory");
    }
    for (size_t i = 0; i < lines.n; i++) {
        const char *s = lines.lines[i];
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) continue;
        p.texts[p.n] = lines.lines[i];
        p.line[p.n] = i + 1;
        p.n++;
    }
    int rc = 0;
    qrank_model *embedder = NULL, *reranker = NULL;
    qrank_clustering *c = NULL;
    if (p.n == 0) {
        rc = cli_fail("no posts: give one per line in %s", file ? file : "stdin");
        goto done;
    }
    if (cp.k > 0 && (size_t)cp.k > p.n) {
        rc = cli_fail("-k %d but there are only %zu posts", cp.k, p.n);
        goto done;
    }
    if (!(embedder = cli_load_model(model_path, threads, precision))) {
        rc = 1;
        goto done;
    }
    if (rerank_path && !(reranker = cli_load_model(rerank_path, threads, precision))) {
        rc = 1;
        goto done;
    }
    qrank_usage u;
    qrank_error err;
    if (qrank_cluster(embedder, reranker, (const char *const *)p.texts, p.n, &cp, &c, &u, &err)) {
        rc = cli_fail("%s", err.message);
        goto done;
    }
    qrank_model_info ei, ri;
    qrank_model_get_info(embedder, &ei);
    if (reranker) qrank_model_get_info(reranker, &ri);
    if (json)
        rc = print_json(c, &p, ei.name, reranker ? ri.name : NULL, query, cp.k > 0, &u);
    else
        print_text(c, &p, query, cp.k > 0, show);
    if (!rc && u.truncated_documents)
        fprintf(stderr, "qrank: note: %zu post(s) truncated to fit the length limit\n", u.truncated_documents);
done:
    qrank_clustering_free(c);
    qrank_model_free(embedder);
    qrank_model_free(reranker);
    free(p.texts);
    free(p.line);
    cli_free_lines(&lines);
    return rc;
}
