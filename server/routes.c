/* routes.c - every URL of `qrank serve` and the API shapes behind them.
 *
 * One reranker serves several dialects, because clients already exist for
 * each: Cohere v1 / Jina (`documents`, `relevance_score`), Cohere v2, TEI
 * (`texts`, a bare array back) and the original Gradio app's /api/predict.
 * Each handler only translates its dialect into one rerank_call and back;
 * validation, limits, scheduling and error mapping are shared, so every route
 * refuses the same things with the same codes.
 *
 * Checks run in a fixed order for every request: unknown path 404, wrong
 * method 405, missing key 401, body over the limit 413, model not ready 503,
 * then the handler's own 400/413/429. Every error body is
 * {"error":{"message","type","code"}}.
 *
 * Nothing is queued for the model before its cost is known: a request whose
 * estimated tokens (bytes, an upper bound) exceed --max-request-tokens is
 * refused with 413 here, so a huge request is refused by arithmetic, never by
 * the kernel's OOM killer. A client that hangs up while its request waits
 * in the queue takes its request out of the queue (499, as nginx logs it).
 *
 * cfg.parse_only (the fuzz target's server) answers every request as if the
 * model had returned zeros, so the whole path from bytes to answer can be
 * fuzzed without loading a model. */
#include "routes.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "metrics.h"
#include "page_assets.h"
#include "reply.h"
#include "routes_cluster.h"
#include "scheduler.h"

#define DEMO_NOTICE                                                                              \
    "This is a random-weight demo model: its scores mean nothing. Serve a real Qwen3 reranker "  \
    "GGUF (e.g. models/qwen3-reranker-0.6b-q8_0.gguf) with -m to get real scores."

typedef void (*handler_fn)(server *srv, const http_request *req, http_response *resp);

typedef struct route {
    const char *path;
    const char *method;
    handler_fn handler;
    int needs_auth;
    int needs_model;
} route;

/* ---- shared request pieces --------------------------------------------------------------- */

/* A UUID-shaped id, unique within a run and unlikely to repeat across runs. */
static void make_id(server *srv, char out[37]) {
    uint64_t x = srv->id_seed + 0x9E3779B97F4A7C15ull * (atomic_fetch_add(&srv->next_request_id, 1) + 1);
    uint64_t parts[2];
    for (int i = 0; i < 2; i++) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        parts[i] = z ^ (z >> 31);
    }
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(parts[0] >> 32),
             (unsigned)(parts[0] >> 16) & 0xFFFF, (unsigned)parts[0] & 0xFFF,
             (unsigned)((parts[1] >> 48) & 0x3FFF) | 0x8000,
             (unsigned long long)(parts[1] & 0xFFFFFFFFFFFFull));
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

static cJSON *parse_object(const http_request *req, http_response *resp) {
    char why[256];
    cJSON *root = json_parse_body(req->body, req->body_len, why, sizeof(why));
    if (!root) {
        reply_error(resp, 400, "%s", why);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        reply_error(resp, 400, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* Maps a scheduler or model failure to its HTTP answer. */

/* One query against its documents, whatever dialect it came in. */
typedef struct rerank_call {
    const char *query;
    const char **docs;
    size_t n_docs;
    const char *instruction;
    long max_tokens_per_doc;
    float *scores;
    float *logits;
    size_t *order; /* best first */
    qrank_usage usage;
} rerank_call;

static void rerank_call_free(rerank_call *call) {
    free(call->docs);
    free(call->scores);
    free(call->logits);
    free(call->order);
}

/* Scores call->docs; on failure replies and returns 0. */
static int run_rerank(server *srv, const http_request *req, rerank_call *call,
                      http_response *resp) {
    if (is_blank(call->query)) {
        reply_error(resp, 400, "the query is empty");
        return 0;
    }
    if (call->n_docs == 0) {
        reply_error(resp, 400, "there are no documents to rank");
        return 0;
    }
    if (call->n_docs > srv->cfg.max_documents) {
        reply_error(resp, 413, "%zu documents is over this server's limit of %zu (--max-documents)",
                    call->n_docs, srv->cfg.max_documents);
        return 0;
    }
    call->scores = malloc(call->n_docs * sizeof(float));
    call->logits = malloc(call->n_docs * sizeof(float));
    call->order = malloc(call->n_docs * sizeof(size_t));
    if (!call->scores || !call->logits || !call->order) {
        reply_out_of_memory(resp);
        return 0;
    }
    qrank_rerank_request request = {
        .query = call->query,
        .docs = call->docs,
        .n_docs = call->n_docs,
        .params = qrank_rerank_default_params(),
        .scores = call->scores,
        .logits = call->logits,
    };
    request.params.instruction = call->instruction;
    request.params.max_length = srv->cfg.max_length;
    request.params.max_tokens_per_doc = (int)call->max_tokens_per_doc;
    size_t cost = scheduler_rerank_cost(&request);
    if (cost > srv->cfg.max_request_tokens) {
        reply_error(resp, 413, "this request could need up to %zu tokens, over this server's "
                               "limit of %zu per request (--max-request-tokens): send fewer or "
                               "shorter documents, or set max_tokens_per_doc",
                    cost, srv->cfg.max_request_tokens);
        return 0;
    }
    if (srv->cfg.parse_only) {
        memset(call->scores, 0, call->n_docs * sizeof(float));
        memset(call->logits, 0, call->n_docs * sizeof(float));
        memset(&request.usage, 0, sizeof(request.usage));
    } else {
        qrank_error err = {0};
        sched_watch watch = {req->client_gone, req->client_ctx};
        int rc = scheduler_rerank(srv->scheduler, &request, &watch, &err);
        if (rc != SCHED_OK) {
            reply_model_error(resp, rc, &err);
            return 0;
        }
    }
    call->usage = request.usage;
    qrank_rank_order(call->scores, call->n_docs, call->order);
    return 1;
}

/* Reads the fields every rerank dialect shares. Returns 0 after replying 400. */
static int read_rerank_options(const cJSON *root, rerank_call *call, http_response *resp) {
    char why[256];
    if (json_get_string(root, "query", 1, &call->query, why, sizeof(why)) < 0 ||
        json_get_string(root, "instruction", 0, &call->instruction, why, sizeof(why)) < 0 ||
        json_get_int(root, "max_tokens_per_doc", 1, 1 << 30, &call->max_tokens_per_doc, why,
                     sizeof(why)) < 0) {
        reply_error(resp, 400, "%s", why);
        return 0;
    }
    return 1;
}

static size_t search_units(size_t n_docs) {
    return n_docs == 0 ? 1 : (n_docs + 99) / 100; /* Cohere bills one unit per 100 documents */
}

/* ---- rerank dialects ---------------------------------------------------------------------- */

/* TEI: {query, texts, return_text?, raw_scores?, truncate?, truncation_direction?}. */
static void rerank_tei(server *srv, const http_request *req, const cJSON *root,
                       http_response *resp) {
    rerank_call call = {0};
    char why[256];
    int return_text = 0, raw_scores = 0, truncate = 0;
    const char *direction = NULL;
    if (!read_rerank_options(root, &call, resp))
        return;
    if (json_get_text_list(root, "texts", 0, &call.docs, &call.n_docs, why, sizeof(why)) < 0 ||
        json_get_bool(root, "return_text", &return_text, why, sizeof(why)) < 0 ||
        json_get_bool(root, "raw_scores", &raw_scores, why, sizeof(why)) < 0 ||
        json_get_bool(root, "truncate", &truncate, why, sizeof(why)) < 0 ||
        json_get_string(root, "truncation_direction", 0, &direction, why, sizeof(why)) < 0) {
        reply_error(resp, 400, "%s", why);
        goto done;
    }
    if (direction && strcasecmp(direction, "right") != 0) {
        reply_error(resp, 400, "`truncation_direction` %s is not supported: qrank cuts the end "
                               "of a document (Right)", direction);
        goto done;
    }
    if (!run_rerank(srv, req, &call, resp))
        goto done;
    if (!truncate && call.usage.truncated_documents > 0) {
        /* TEI refuses rather than silently cutting unless asked to truncate. */
        reply_error(resp, 413, "%zu of the texts do not fit --max-length %d tokens; send "
                               "\"truncate\": true to cut them",
                    call.usage.truncated_documents, srv->cfg.max_length);
        goto done;
    }
    cJSON *out = cJSON_CreateArray();
    for (size_t r = 0; out && r < call.n_docs; r++) {
        size_t i = call.order[r];
        cJSON *item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(out, item) ||
            !cJSON_AddNumberToObject(item, "index", (double)i) ||
            !cJSON_AddNumberToObject(item, "score", raw_scores ? call.logits[i] : call.scores[i]) ||
            (return_text && !cJSON_AddStringToObject(item, "text", call.docs[i]))) {
            cJSON_Delete(out);
            out = NULL;
        }
    }
    reply_json(resp, 200, out);
done:
    rerank_call_free(&call);
}

/* Cohere v1 / Jina (`v2` = 0) and Cohere v2 (`v2` = 1). */
static void rerank_cohere(server *srv, const http_request *req, const cJSON *root, int v2,
                          http_response *resp) {
    rerank_call call = {0};
    char why[256];
    const char *model = NULL;
    long top_n = 0;
    int return_documents = 0;
    if (!read_rerank_options(root, &call, resp))
        return;
    if (json_get_string(root, "model", 0, &model, why, sizeof(why)) < 0 ||
        json_get_text_list(root, "documents", 1, &call.docs, &call.n_docs, why, sizeof(why)) < 0 ||
        json_get_int(root, "top_n", 1, 1L << 30, &top_n, why, sizeof(why)) < 0 ||
        (!v2 && json_get_bool(root, "return_documents", &return_documents, why, sizeof(why)) < 0)) {
        reply_error(resp, 400, "%s", why);
        goto done;
    }
    if (!run_rerank(srv, req, &call, resp))
        goto done;
    size_t n_out = top_n > 0 && (size_t)top_n < call.n_docs ? (size_t)top_n : call.n_docs;
    char id[37];
    make_id(srv, id);
    cJSON *root_out = cJSON_CreateObject();
    cJSON *results = cJSON_AddArrayToObject(root_out, "results");
    int ok = results && cJSON_AddStringToObject(root_out, "id", id);
    if (ok && !v2)
        ok = cJSON_AddStringToObject(root_out, "model", model ? model : srv->rerank_id) != NULL;
    for (size_t r = 0; ok && r < n_out; r++) {
        size_t i = call.order[r];
        cJSON *item = cJSON_CreateObject();
        ok = item && cJSON_AddItemToArray(results, item) &&
             cJSON_AddNumberToObject(item, "index", (double)i) &&
             cJSON_AddNumberToObject(item, "relevance_score", call.scores[i]);
        if (ok && return_documents) {
            cJSON *doc = cJSON_AddObjectToObject(item, "document");
            ok = doc && cJSON_AddStringToObject(doc, "text", call.docs[i]);
        }
    }
    if (ok && !v2) {
        cJSON *usage = cJSON_AddObjectToObject(root_out, "usage");
        ok = usage &&
             cJSON_AddNumberToObject(usage, "prompt_tokens", (double)call.usage.prompt_tokens) &&
             cJSON_AddNumberToObject(usage, "total_tokens", (double)call.usage.prompt_tokens);
    }
    cJSON *meta = ok ? cJSON_AddObjectToObject(root_out, "meta") : NULL;
    cJSON *version = meta ? cJSON_AddObjectToObject(meta, "api_version") : NULL;
    cJSON *billed = meta ? cJSON_AddObjectToObject(meta, "billed_units") : NULL;
    cJSON *tokens = meta ? cJSON_AddObjectToObject(meta, "tokens") : NULL;
    ok = version && billed && tokens &&
         cJSON_AddStringToObject(version, "version", v2 ? "2" : "1") &&
         cJSON_AddNumberToObject(billed, "search_units", (double)search_units(call.n_docs)) &&
         cJSON_AddNumberToObject(tokens, "input_tokens", (double)call.usage.prompt_tokens) &&
         cJSON_AddNumberToObject(tokens, "output_tokens", 0);
    if (!ok) {
        cJSON_Delete(root_out);
        root_out = NULL;
    }
    reply_json(resp, 200, root_out);
done:
    rerank_call_free(&call);
}

static void handle_rerank(server *srv, const http_request *req, http_response *resp) {
    cJSON *root = parse_object(req, resp);
    if (!root)
        return;
    int tei = cJSON_HasObjectItem(root, "texts") && !cJSON_HasObjectItem(root, "documents");
    if (tei)
        rerank_tei(srv, req, root, resp);
    else
        rerank_cohere(srv, req, root, 0, resp);
    cJSON_Delete(root);
}

static void handle_rerank_v2(server *srv, const http_request *req, http_response *resp) {
    cJSON *root = parse_object(req, resp);
    if (!root)
        return;
    rerank_cohere(srv, req, root, 1, resp);
    cJSON_Delete(root);
}

/* The original Gradio app: {"data": [query, "doc1\ndoc2", instruction, batch_size]}. The
 * batch size is accepted and ignored: the scheduler decides how documents are batched. */
static void handle_predict(server *srv, const http_request *req, http_response *resp) {
    double start = server_now();
    cJSON *root = parse_object(req, resp);
    if (!root)
        return;
    rerank_call call = {0};
    char *lines = NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) < 2) {
        reply_error(resp, 400, "`data` must be [query, documents (one per line), instruction?, "
                               "batch_size?]");
        goto done;
    }
    const cJSON *query = cJSON_GetArrayItem(data, 0);
    const cJSON *docs = cJSON_GetArrayItem(data, 1);
    const cJSON *instruction = cJSON_GetArrayItem(data, 2);
    const cJSON *batch = cJSON_GetArrayItem(data, 3);
    if (!cJSON_IsString(query) || !cJSON_IsString(docs)) {
        reply_error(resp, 400, "`data[0]` (the query) and `data[1]` (the documents, one per "
                               "line) must be strings");
        goto done;
    }
    if (instruction && !cJSON_IsNull(instruction) && !cJSON_IsString(instruction)) {
        reply_error(resp, 400, "`data[2]` (the instruction) must be a string");
        goto done;
    }
    if (batch && !cJSON_IsNull(batch) && !cJSON_IsNumber(batch)) {
        reply_error(resp, 400, "`data[3]` (the batch size) must be a number");
        goto done;
    }
    call.query = query->valuestring;
    if (cJSON_IsString(instruction) && !is_blank(instruction->valuestring))
        call.instruction = instruction->valuestring;

    /* One document per non-blank line, trimmed, as the original app split them. */
    size_t len = strlen(docs->valuestring);
    lines = malloc(len + 1);
    call.docs = malloc((len / 2 + 1) * sizeof(*call.docs));
    if (!lines || !call.docs) {
        reply_out_of_memory(resp);
        goto done;
    }
    memcpy(lines, docs->valuestring, len + 1);
    for (char *line = lines; line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        char *end = line + strlen(line);
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (*line)
            call.docs[call.n_docs++] = line;
        line = next;
    }
    if (!run_rerank(srv, req, &call, resp))
        goto done;

    cJSON *out = cJSON_CreateObject();
    cJSON *out_data = cJSON_AddArrayToObject(out, "data");
    cJSON *ranked = cJSON_CreateArray();
    cJSON *scores = cJSON_CreateArray();
    int ok = out_data && ranked && scores && cJSON_AddItemToArray(out_data, ranked);
    if (!ok)
        cJSON_Delete(ranked);
    ok = ok && cJSON_AddItemToArray(out_data, scores);
    if (!ok)
        cJSON_Delete(scores);
    for (size_t r = 0; ok && r < call.n_docs; r++) {
        size_t i = call.order[r];
        cJSON *doc = cJSON_CreateString(call.docs[i]);
        cJSON *score = cJSON_CreateNumber(call.scores[i]);
        ok = doc && score && cJSON_AddItemToArray(ranked, doc) &&
             cJSON_AddItemToArray(scores, score);
        if (!ok) {
            cJSON_Delete(doc);
            cJSON_Delete(score);
        }
    }
    ok = ok && cJSON_AddNumberToObject(out, "duration", server_now() - start);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    reply_json(resp, 200, out);
done:
    free(lines);
    rerank_call_free(&call);
    cJSON_Delete(root);
}

/* ---- embeddings ---------------------------------------------------------------------------- */

/* OpenAI: {input: string | [string], model?, dimensions?, encoding_format?: float|base64}.
 * `instruction` (qrank's own) embeds the texts as queries of that task. */
static void handle_embeddings(server *srv, const http_request *req, http_response *resp) {
    if (!srv->has_embedder) {
        reply_error(resp, 501, "no embedding model is loaded: start qrank serve with "
                               "--embed-model PATH (a Qwen3-Embedding GGUF or directory)");
        return;
    }
    cJSON *root = parse_object(req, resp);
    if (!root)
        return;
    char why[256];
    const char *model = NULL, *format = NULL, *instruction = NULL;
    const char **texts = NULL;
    size_t n_texts = 0;
    float *vectors = NULL;
    long dims = 0;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (cJSON_IsString(input)) {
        texts = malloc(sizeof(*texts));
        if (!texts) {
            reply_out_of_memory(resp);
            goto done;
        }
        texts[0] = input->valuestring;
        n_texts = 1;
    } else if (json_get_text_list(root, "input", 0, &texts, &n_texts, why, sizeof(why)) < 0) {
        reply_error(resp, 400, "%s (`input` is a string or an array of strings; token arrays "
                               "are not accepted)", why);
        goto done;
    }
    if (json_get_string(root, "model", 0, &model, why, sizeof(why)) < 0 ||
        json_get_string(root, "encoding_format", 0, &format, why, sizeof(why)) < 0 ||
        json_get_string(root, "instruction", 0, &instruction, why, sizeof(why)) < 0 ||
        json_get_int(root, "dimensions", 32, srv->embed_info.hidden, &dims, why, sizeof(why)) < 0) {
        reply_error(resp, 400, "%s", why);
        goto done;
    }
    int base64 = format && strcmp(format, "base64") == 0;
    if (format && !base64 && strcmp(format, "float") != 0) {
        reply_error(resp, 400, "`encoding_format` must be \"float\" or \"base64\"");
        goto done;
    }
    if (n_texts > srv->cfg.max_documents) {
        reply_error(resp, 413, "%zu inputs is over this server's limit of %zu (--max-documents)",
                    n_texts, srv->cfg.max_documents);
        goto done;
    }
    qrank_embed_params params = qrank_embed_default_params();
    params.dims = (int)dims;
    params.max_length = srv->cfg.max_length;
    if (instruction && !is_blank(instruction))
        params.instruction = instruction;
    size_t width = dims > 0 ? (size_t)dims : (size_t)srv->embed_info.hidden;
    vectors = malloc(n_texts * width * sizeof(float));
    if (!vectors) {
        reply_out_of_memory(resp);
        goto done;
    }
    size_t cost = scheduler_embed_cost(texts, n_texts, params.max_length);
    if (cost > srv->cfg.max_request_tokens) {
        reply_error(resp, 413, "these inputs could need up to %zu tokens, over this server's "
                               "limit of %zu per request (--max-request-tokens): send fewer or "
                               "shorter inputs", cost, srv->cfg.max_request_tokens);
        goto done;
    }
    qrank_usage usage = {0};
    if (srv->cfg.parse_only) {
        memset(vectors, 0, n_texts * width * sizeof(float));
    } else {
        qrank_error err = {0};
        sched_watch watch = {req->client_gone, req->client_ctx};
        int rc = scheduler_embed(srv->scheduler, texts, n_texts, &params, vectors, &usage, &watch,
                                 &err);
        if (rc != SCHED_OK) {
            reply_model_error(resp, rc, &err);
            goto done;
        }
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(out, "data");
    int ok = data && cJSON_AddStringToObject(out, "object", "list");
    for (size_t i = 0; ok && i < n_texts; i++) {
        cJSON *item = cJSON_CreateObject();
        ok = item && cJSON_AddItemToArray(data, item) &&
             cJSON_AddStringToObject(item, "object", "embedding") &&
             cJSON_AddNumberToObject(item, "index", (double)i);
        const float *row = vectors + i * width;
        if (ok && base64) {
            /* float32, little-endian, as OpenAI sends it; x86-64 is already little-endian
             * but the bytes are laid out explicitly so the format does not depend on it. */
            unsigned char *bytes = malloc(width * 4);
            for (size_t k = 0; bytes && k < width; k++) {
                uint32_t bits;
                memcpy(&bits, &row[k], 4);
                for (int b = 0; b < 4; b++)
                    bytes[k * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b));
            }
            char *encoded = bytes ? base64_encode(bytes, width * 4) : NULL;
            ok = encoded && cJSON_AddStringToObject(item, "embedding", encoded);
            free(encoded);
            free(bytes);
        } else if (ok) {
            cJSON *vec = cJSON_AddArrayToObject(item, "embedding");
            for (size_t k = 0; ok && k < width; k++) {
                cJSON *num = cJSON_CreateNumber(row[k]);
                ok = num && cJSON_AddItemToArray(vec, num);
                if (!ok)
                    cJSON_Delete(num);
            }
        }
    }
    cJSON *u = ok ? cJSON_AddObjectToObject(out, "usage") : NULL;
    ok = u && cJSON_AddStringToObject(out, "model", model ? model : srv->embed_id) &&
         cJSON_AddNumberToObject(u, "prompt_tokens", (double)usage.prompt_tokens) &&
         cJSON_AddNumberToObject(u, "total_tokens", (double)usage.prompt_tokens);
    if (!ok) {
        cJSON_Delete(out);
        out = NULL;
    }
    reply_json(resp, 200, out);
done:
    free(vectors);
    free(texts);
    cJSON_Delete(root);
}

/* ---- status routes --------------------------------------------------------------------------- */

static void handle_health(server *srv, const http_request *req, http_response *resp) {
    int state = atomic_load(&srv->state);
    if (state != SERVER_READY) {
        const char *status = state == SERVER_LOADING ? "loading" : "draining";
        cJSON *root = error_object(503, state == SERVER_LOADING ? "the model is still loading"
                                                                : "the server is shutting down");
        if (root && !cJSON_AddStringToObject(root, "status", status)) {
            cJSON_Delete(root);
            root = NULL;
        }
        reply_json(resp, 503, root);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    int ok = cJSON_AddStringToObject(root, "status", "ok") &&
             cJSON_AddBoolToObject(root, "demo", srv->cfg.demo) &&
             (!srv->cfg.demo || cJSON_AddStringToObject(root, "notice", DEMO_NOTICE));
    if (!ok) {
        cJSON_Delete(root);
        root = NULL;
    }
    reply_json(resp, 200, root);
}

static cJSON *model_entry(server *srv, const char *id, const qrank_model_info *info) {
    cJSON *m = cJSON_CreateObject();
    int ok = cJSON_AddStringToObject(m, "id", id) &&
             cJSON_AddStringToObject(m, "object", "model") &&
             cJSON_AddNumberToObject(m, "created", floor(srv->start_time)) &&
             cJSON_AddStringToObject(m, "owned_by", "qrank") &&
             cJSON_AddStringToObject(m, "kind",
                                     info->kind == QRANK_KIND_EMBEDDER ? "embedder" : "reranker") &&
             cJSON_AddStringToObject(m, "name", info->name ? info->name : "") &&
             cJSON_AddStringToObject(m, "file_format", info->file_format ? info->file_format : "") &&
             cJSON_AddStringToObject(m, "weight_type", info->weight_type ? info->weight_type : "") &&
             cJSON_AddNumberToObject(m, "layers", info->n_layers) &&
             cJSON_AddNumberToObject(m, "hidden", info->hidden) &&
             cJSON_AddNumberToObject(m, "context_length", info->context_length) &&
             cJSON_AddStringToObject(m, "kernels", info->kernels ? info->kernels : "") &&
             cJSON_AddStringToObject(m, "attention", info->attention ? info->attention : "") &&
             cJSON_AddStringToObject(m, "fast_activations", info->fast_activations ? info->fast_activations : "") &&
             cJSON_AddNumberToObject(m, "packed_bytes", (double)info->packed_bytes) &&
             cJSON_AddNumberToObject(m, "layout_bytes", (double)info->layout_bytes) &&
             cJSON_AddBoolToObject(m, "demo", srv->cfg.demo);
    if (ok && srv->cfg.demo)
        ok = cJSON_AddStringToObject(m, "notice", DEMO_NOTICE) != NULL;
    if (!ok) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

static void handle_models(server *srv, const http_request *req, http_response *resp) {
    /* as of now: packed_bytes grows while the scheduler lays weights out */
    qrank_model_info rerank_info = srv->rerank_info, embed_info = srv->embed_info;
    if (srv->scheduler) {
        scheduler_model_info(srv->scheduler, 0, &rerank_info);
        if (srv->has_embedder)
            scheduler_model_info(srv->scheduler, 1, &embed_info);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    cJSON *rerank = model_entry(srv, srv->rerank_id, &rerank_info);
    int ok = data && rerank && cJSON_AddItemToArray(data, rerank);
    if (!ok)
        cJSON_Delete(rerank);
    if (ok && srv->has_embedder) {
        cJSON *embed = model_entry(srv, srv->embed_id, &embed_info);
        ok = embed && cJSON_AddItemToArray(data, embed);
        if (!ok)
            cJSON_Delete(embed);
    }
    ok = ok && cJSON_AddStringToObject(root, "object", "list") &&
         cJSON_AddBoolToObject(root, "demo", srv->cfg.demo) &&
         (!srv->cfg.demo || cJSON_AddStringToObject(root, "notice", DEMO_NOTICE)) &&
         cJSON_AddNumberToObject(root, "max_documents", (double)srv->cfg.max_documents) &&
         cJSON_AddNumberToObject(root, "max_body_bytes", (double)srv->cfg.max_body_bytes) &&
         cJSON_AddNumberToObject(root, "max_length", srv->cfg.max_length);
    if (!ok) {
        cJSON_Delete(root);
        root = NULL;
    }
    reply_json(resp, 200, root);
}

static void handle_metrics(server *srv, const http_request *req, http_response *resp) {
    size_t len = 0;
    metrics_prefix_cache pc[2];
    int n_pc = 0;
    for (int embedder = 0; srv->scheduler && embedder <= srv->has_embedder; embedder++) {
        qrank_model_info info = {0};
        scheduler_model_info(srv->scheduler, embedder, &info);
        pc[n_pc++] = (metrics_prefix_cache){embedder ? "embedder" : "reranker", info.prefix_cache_hits,
                                                info.prefix_cache_misses, info.prefix_cache_bytes};
    }
    char *text = metrics_render(srv->metrics, pc, n_pc, &len);
    if (!text) {
        reply_out_of_memory(resp);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = text;
    resp->len = len;
    resp->body_is_static = 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const route ROUTES[] = {
    {"/health", "GET", handle_health, 0, 0},
    {"/metrics", "GET", handle_metrics, 1, 0},
    {"/v1/models", "GET", handle_models, 1, 1},
    {"/v1/rerank", "POST", handle_rerank, 1, 1},
    {"/rerank", "POST", handle_rerank, 1, 1},
    {"/v2/rerank", "POST", handle_rerank_v2, 1, 1},
    {"/api/predict", "POST", handle_predict, 1, 1},
    {"/v1/embeddings", "POST", handle_embeddings, 1, 1},
    {"/v1/cluster", "POST", routes_cluster, 1, 1},
};

/* Every key is compared over the whole of what the client sent, with no early
 * exit on a mismatch or a match, so the time taken depends only on the
 * header's length (the client knows it) and the number of keys, never on how
 * many bytes of some key were right. */
static int key_equal(const char *given, size_t given_len, const char *key) {
    size_t key_len = strlen(key);
    volatile unsigned char diff = (unsigned char)(given_len != key_len);
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)(given[i] ^ key[key_len ? i % key_len : 0]);
    return diff == 0;
}

static int authorized(const server *srv, const char *header) {
    if (srv->cfg.n_api_keys == 0)
        return 1;
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return 0;
    const char *given = header + 7;
    while (*given == ' ')
        given++;
    size_t len = strlen(given);
    while (len > 0 && (given[len - 1] == ' ' || given[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    int match = 0;
    for (size_t k = 0; k < srv->cfg.n_api_keys; k++)
        match |= key_equal(given, len, srv->cfg.api_keys[k]);
    return match;
}

static int is_get(const char *method) {
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

void routes_handle(server *srv, const http_request *req, http_response *resp) {
    resp->route = "other";
    for (size_t i = 0; i < PAGE_ASSETS_COUNT; i++) {
        const page_asset *a = &PAGE_ASSETS[i];
        if (strcmp(req->path, a->path) != 0)
            continue;
        resp->route = a->path;
        if (!is_get(req->method)) {
            resp->allow = "GET, HEAD";
            reply_error(resp, 405, "%s %s is not allowed; use GET", req->method, req->path);
            return;
        }
        reply_static(resp, 200, a->content_type, a->data, a->len);
        return;
    }
    const route *r = NULL;
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]) && !r; i++)
        if (strcmp(req->path, ROUTES[i].path) == 0)
            r = &ROUTES[i];
    if (!r) {
        reply_error(resp, 404, "no route %s %s", req->method, req->path);
        return;
    }
    resp->route = r->path;
    int get = strcmp(r->method, "GET") == 0;
    if (get ? !is_get(req->method) : strcmp(req->method, r->method) != 0) {
        resp->allow = get ? "GET, HEAD" : r->method;
        reply_error(resp, 405, "%s %s is not allowed; use %s", req->method, req->path, r->method);
        return;
    }
    if (r->needs_auth && !authorized(srv, req->authorization)) {
        reply_error(resp, 401, "this server needs an API key: send the header "
                               "\"Authorization: Bearer <key>\"");
        return;
    }
    if (req->body_too_large) {
        reply_error(resp, 413, "the request body is over this server's limit of %zu bytes "
                               "(--max-body-bytes)", srv->cfg.max_body_bytes);
        return;
    }
    if (r->needs_model) {
        int state = atomic_load(&srv->state);
        if (state == SERVER_LOADING) {
            reply_error(resp, 503, "the model is still loading; retry shortly");
            return;
        }
        if (state == SERVER_DRAINING) {
            reply_error(resp, 503, "the server is shutting down");
            return;
        }
    }
    r->handler(srv, req, resp);
}
