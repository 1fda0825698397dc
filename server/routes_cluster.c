/* routes_cluster.c - POST /v1/cluster: group posts into topics and, given a
 * query, order each topic's posts by the reranker.
 *
 *   {texts: [string], k?, k_min?, k_max?, query?, instruction?,
 *    rerank_instruction?, seed?, model?}
 *   -> {object: "clustering", model, reranker?, query?, posts, dims, k,
 *       k_chosen_by, silhouette, inertia, silhouette_by_k: [{k, silhouette}],
 *       clusters: [{cluster, size, central: [{index, text}],
 *                   members: [{index, text, score?, similarity}]}],
 *       labels: [cluster per text], map: [[x, y] per text], usage}
 *
 * It is `qrank cluster --json` over HTTP, with the same field names and the
 * same 6-decimal rounding, so that a script can move between the two and the
 * tests can compare them number for number. Texts are named by their index
 * in the request (the CLI adds the line number of its file).
 *
 * The whole job (embedding, reranking for the query, k-means) is one
 * scheduler job, so it runs on the compute thread that owns the models; this
 * file only checks the request and writes the answer. Every field is checked
 * here, before the job is queued, so that a bad request costs no model time
 * and gets a message that names the field. Limits: --max-documents texts
 * and --max-request-tokens (the embedding prompts plus, with a query, the
 * rerank prompts, estimated in bytes as routes.c does) answer 413; k may not
 * exceed the number of texts (400). A client that hangs up while its job is
 * queued takes the job out of the queue (499).
 *
 * In parse-only mode (the fuzz target's server, no model) every text embeds
 * to the same unit vector and every score is zero, and those are clustered
 * on the spot: the whole path from bytes to answer runs without a model.
 *
 * The reply helpers are a copy of routes.c's few lines, kept here so that
 * this route lives in its own file; the error body is the same
 * {"error":{"message","type","code"}}. */
#include "routes_cluster.h"
#include "reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "scheduler.h"

/* JSON numbers are doubles: seeds above 2^53 would not survive the trip. */
#define MAX_SEED 9007199254740991L
#define MAX_K 100000L

/* ---- the request ------------------------------------------------------------------------- */

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

typedef struct cluster_call {
    const char **texts; /* into the request's cJSON tree */
    size_t n_texts;
    const char *model;
    qrank_cluster_params params;
    int k_given;
} cluster_call;

/* Fills call from the body; on any problem replies (400/413) and returns 0. */
static int read_request(server *srv, const cJSON *root, cluster_call *call, http_response *resp) {
    char why[256];
    const char *query = NULL, *instruction = NULL, *rerank_instruction = NULL;
    long k = 0, k_min = 0, k_max = 0, seed = 0;
    int has_k = 0, has_k_min = 0, has_k_max = 0, has_seed = 0, has_instruction = 0;
    if (json_get_text_list(root, "texts", 0, &call->texts, &call->n_texts, why, sizeof(why)) < 0 ||
        json_get_string(root, "model", 0, &call->model, why, sizeof(why)) < 0 ||
        json_get_string(root, "query", 0, &query, why, sizeof(why)) < 0 ||
        (has_instruction = json_get_string(root, "instruction", 0, &instruction, why,
                                           sizeof(why))) < 0 ||
        json_get_string(root, "rerank_instruction", 0, &rerank_instruction, why, sizeof(why)) < 0 ||
        (has_k = json_get_int(root, "k", 1, MAX_K, &k, why, sizeof(why))) < 0 ||
        (has_k_min = json_get_int(root, "k_min", 2, MAX_K, &k_min, why, sizeof(why))) < 0 ||
        (has_k_max = json_get_int(root, "k_max", 2, MAX_K, &k_max, why, sizeof(why))) < 0 ||
        (has_seed = json_get_int(root, "seed", 0, MAX_SEED, &seed, why, sizeof(why))) < 0) {
        reply_error(resp, 400, "%s", why);
        return 0;
    }
    for (size_t i = 0; i < call->n_texts; i++) {
        if (is_blank(call->texts[i])) {
            reply_error(resp, 400, "`texts[%zu]` is empty: every post needs some text", i);
            return 0;
        }
    }
    if (call->n_texts > srv->cfg.max_documents) {
        reply_error(resp, 413, "%zu texts is over this server's limit of %zu (--max-documents)",
                    call->n_texts, srv->cfg.max_documents);
        return 0;
    }
    if (query && is_blank(query)) {
        reply_error(resp, 400, "the query is empty (leave `query` out to cluster without one)");
        return 0;
    }
    if (rerank_instruction && !query) {
        reply_error(resp, 400, "`rerank_instruction` needs a `query` to rank the posts for");
        return 0;
    }
    if (has_k && (has_k_min || has_k_max)) {
        reply_error(resp, 400, "give `k`, or `k_min`/`k_max` to choose it by silhouette, not both");
        return 0;
    }
    if (has_k && (size_t)k > call->n_texts) {
        reply_error(resp, 400, "`k` is %ld but there are only %zu texts", k, call->n_texts);
        return 0;
    }

    qrank_cluster_params *p = &call->params;
    *p = qrank_cluster_default_params();
    if (has_k_min)
        p->k_min = (int)k_min;
    if (has_k_max)
        p->k_max = (int)k_max;
    if (p->k_min > p->k_max) {
        reply_error(resp, 400, "`k_min` %d is above `k_max` %d", p->k_min, p->k_max);
        return 0;
    }
    if (has_k)
        p->k = (int)k;
    if (has_seed)
        p->seed = (uint64_t)seed;
    /* Absent: the clustering instruction; "" embeds the posts as plain documents. */
    if (has_instruction)
        p->embed.instruction = instruction;
    p->embed.max_length = srv->cfg.max_length;
    p->query = query;
    p->rerank.instruction = rerank_instruction;
    p->rerank.max_length = srv->cfg.max_length;
    p->n_threads = srv->cfg.n_threads;
    call->k_given = has_k;

    size_t cost = scheduler_embed_cost(call->texts, call->n_texts, p->embed.max_length);
    if (query) {
        qrank_rerank_request r = {.query = query, .docs = call->texts, .n_docs = call->n_texts,
                                  .params = p->rerank};
        cost += scheduler_rerank_cost(&r);
    }
    if (cost > srv->cfg.max_request_tokens) {
        reply_error(resp, 413, "clustering these texts could need up to %zu tokens, over this "
                               "server's limit of %zu per request (--max-request-tokens): send "
                               "fewer or shorter texts", cost, srv->cfg.max_request_tokens);
        return 0;
    }
    return 1;
}

/* Parse-only mode: what the model-free answer is clustered from. */
static int cluster_without_model(const cluster_call *call, qrank_clustering **out,
                                 qrank_error *err) {
    const size_t dims = 32;
    float *vectors = calloc(call->n_texts * dims, sizeof(float));
    float *scores = calloc(call->n_texts, sizeof(float));
    int rc = QRANK_E_NO_MEMORY;
    if (vectors && scores) {
        for (size_t i = 0; i < call->n_texts; i++)
            vectors[i * dims] = 1.0f;
        rc = qrank_cluster_vectors(vectors, call->n_texts, dims,
                                   call->params.query ? scores : NULL, &call->params, out, err);
    }
    free(vectors);
    free(scores);
    return rc;
}

/* ---- the answer -------------------------------------------------------------------------- */

static double round6(double v) { return round(v * 1e6) / 1e6; }

/* Appends item to arr; on failure deletes it. Returns item or NULL. */
static cJSON *append(cJSON *arr, cJSON *item) {
    if (!item)
        return NULL;
    if (!arr || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

static cJSON *post_item(cJSON *arr, const cluster_call *call, size_t index) {
    cJSON *o = append(arr, cJSON_CreateObject());
    if (!o || !cJSON_AddNumberToObject(o, "index", (double)index) ||
        !cJSON_AddStringToObject(o, "text", call->texts[index]))
        return NULL;
    return o;
}

static int add_clusters(cJSON *root, const qrank_clustering *c, const qrank_clustering_info *info,
                        const cluster_call *call) {
    cJSON *clusters = cJSON_AddArrayToObject(root, "clusters");
    if (!clusters)
        return 0;
    for (int k = 0; k < info->k; k++) {
        qrank_cluster_members m;
        if (qrank_clustering_get_cluster(c, k, &m, NULL) != QRANK_OK)
            return 0;
        cJSON *o = append(clusters, cJSON_CreateObject());
        if (!o || !cJSON_AddNumberToObject(o, "cluster", k) ||
            !cJSON_AddNumberToObject(o, "size", (double)m.size))
            return 0;
        cJSON *central = cJSON_AddArrayToObject(o, "central");
        if (!central)
            return 0;
        for (size_t j = 0; j < m.n_central; j++)
            if (!post_item(central, call, m.central[j]))
                return 0;
        cJSON *members = cJSON_AddArrayToObject(o, "members");
        if (!members)
            return 0;
        for (size_t j = 0; j < m.size; j++) {
            cJSON *item = post_item(members, call, m.members[j]);
            if (!item || (m.scores && !cJSON_AddNumberToObject(item, "score", round6(m.scores[j]))) ||
                !cJSON_AddNumberToObject(item, "similarity", round6(m.similarity[j])))
                return 0;
        }
    }
    return 1;
}

static cJSON *answer(server *srv, const qrank_clustering *c, const cluster_call *call,
                     const qrank_usage *usage) {
    qrank_clustering_info info;
    qrank_clustering_get_info(c, &info);
    const char *query = call->params.query;
    cJSON *root = cJSON_CreateObject();
    int ok = root && cJSON_AddStringToObject(root, "object", "clustering") &&
             cJSON_AddStringToObject(root, "model", call->model ? call->model : srv->embed_id) &&
             (!query || (cJSON_AddStringToObject(root, "reranker", srv->rerank_id) &&
                         cJSON_AddStringToObject(root, "query", query))) &&
             cJSON_AddNumberToObject(root, "posts", (double)info.n_texts) &&
             cJSON_AddNumberToObject(root, "dims", (double)info.dims) &&
             cJSON_AddNumberToObject(root, "k", info.k) &&
             cJSON_AddStringToObject(root, "k_chosen_by", call->k_given ? "given" : "silhouette") &&
             cJSON_AddNumberToObject(root, "silhouette", round6(info.silhouette)) &&
             cJSON_AddNumberToObject(root, "inertia", round6(info.inertia));
    cJSON *by_k = ok ? cJSON_AddArrayToObject(root, "silhouette_by_k") : NULL;
    ok = by_k != NULL;
    for (int k = info.k_min; ok && k <= info.k_max; k++) {
        cJSON *o = append(by_k, cJSON_CreateObject());
        double s = info.silhouette_by_k[k - info.k_min];
        ok = o && cJSON_AddNumberToObject(o, "k", k) &&
             (isfinite(s) ? cJSON_AddNumberToObject(o, "silhouette", round6(s))
                          : cJSON_AddNullToObject(o, "silhouette")) != NULL;
    }
    ok = ok && add_clusters(root, c, &info, call);
    cJSON *labels = ok ? cJSON_AddArrayToObject(root, "labels") : NULL;
    cJSON *map = ok ? cJSON_AddArrayToObject(root, "map") : NULL;
    ok = labels && map;
    for (size_t i = 0; ok && i < info.n_texts; i++) {
        cJSON *xy = append(map, cJSON_CreateArray());
        ok = append(labels, cJSON_CreateNumber(info.labels[i])) && xy &&
             append(xy, cJSON_CreateNumber(round6(info.map[2 * i]))) &&
             append(xy, cJSON_CreateNumber(round6(info.map[2 * i + 1])));
    }
    cJSON *u = ok ? cJSON_AddObjectToObject(root, "usage") : NULL;
    ok = u && cJSON_AddNumberToObject(u, "prompt_tokens", (double)usage->prompt_tokens) &&
         cJSON_AddNumberToObject(u, "total_tokens", (double)usage->prompt_tokens) &&
         cJSON_AddNumberToObject(u, "truncated_texts", (double)usage->truncated_documents);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

void routes_cluster(server *srv, const http_request *req, http_response *resp) {
    if (!srv->has_embedder) {
        reply_error(resp, 501, "no embedding model is loaded: clustering needs one; start qrank "
                               "serve with --embed-model PATH (a Qwen3-Embedding GGUF or "
                               "directory)");
        return;
    }
    char why[256];
    cJSON *root = json_parse_body(req->body, req->body_len, why, sizeof(why));
    if (!root) {
        reply_error(resp, 400, "%s", why);
        return;
    }
    cluster_call call = {0};
    qrank_clustering *c = NULL;
    if (!cJSON_IsObject(root)) {
        reply_error(resp, 400, "the request body must be a JSON object");
        goto done;
    }
    if (!read_request(srv, root, &call, resp))
        goto done;
    qrank_usage usage = {0};
    qrank_error err = {0};
    int rc;
    if (srv->cfg.parse_only) {
        rc = cluster_without_model(&call, &c, &err);
    } else {
        sched_watch watch = {req->client_gone, req->client_ctx};
        rc = scheduler_cluster(srv->scheduler, call.texts, call.n_texts, &call.params, &c, &usage,
                               &watch, &err);
    }
    if (rc != SCHED_OK) {
        reply_model_error(resp, rc, &err);
        goto done;
    }
    reply_json(resp, 200, answer(srv, c, &call, &usage));
done:
    qrank_clustering_free(c);
    free(call.texts);
    cJSON_Delete(root);
}
