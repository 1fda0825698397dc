/* fuzz_request.c - libFuzzer target: an HTTP request body through the
 * server's whole request path (routes.c and json.c), as a client sends it.
 *
 * The first byte picks the route, the rest is the body. The server is a real
 * `server` in parse-only mode (server.h): everything from the bytes to the
 * answer runs (UTF-8 and NUL checks, strict JSON, each dialect's fields,
 * limits, the token budget, building the reply) except the forward pass,
 * whose scores are zeros. Every answer must be a status the API documents,
 * with a JSON body that parses and carries {"error": {"message"}} when it is
 * an error.
 *
 * server_now lives in serve.c in the real binary, which also holds main's
 * option parsing; this target has its own. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "metrics.h"
#include "routes.h"
#include "server.h"

double server_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const PATHS[] = {"/v1/rerank", "/rerank", "/v2/rerank", "/api/predict",
                                    "/v1/embeddings", "/health", "/v1/models", "/metrics"};

/* The fuzzer's process-wide fixture; routes only read it (the request id counter is atomic). */
static server *g_srv;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    g_srv = calloc(1, sizeof(*g_srv));
    if (!g_srv || !(g_srv->metrics = metrics_create()))
        exit(1);
    server_config *c = &g_srv->cfg;
    c->host = "127.0.0.1";
    c->max_documents = 64;
    c->max_body_bytes = 1 << 20;
    c->max_length = 512;
    c->max_queue = 4;
    c->batch_tokens = 4096;
    c->max_request_tokens = 8192;
    c->timeout_s = 30;
    c->parse_only = 1;
    atomic_init(&g_srv->state, SERVER_READY);
    atomic_init(&g_srv->next_request_id, 0);
    g_srv->has_embedder = 1;
    g_srv->rerank_info.kind = QRANK_KIND_RERANKER;
    g_srv->rerank_info.hidden = 64;
    g_srv->embed_info.kind = QRANK_KIND_EMBEDDER;
    g_srv->embed_info.hidden = 64;
    snprintf(g_srv->rerank_id, sizeof g_srv->rerank_id, "fuzz-reranker");
    snprintf(g_srv->embed_id, sizeof g_srv->embed_id, "fuzz-embedder");
    return 0;
}

static int documented(int status) {
    static const int ok[] = {200, 400, 404, 405, 413, 500};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (status == ok[i])
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *path = PATHS[data[0] % (sizeof PATHS / sizeof PATHS[0])];
    const char *method = data[0] >= 0xF0 ? "GET" : data[0] % 8 >= 5 ? "GET" : "POST";
    /* The body exactly as http.c hands it over: its bytes plus a terminating NUL. */
    char *body = malloc(size);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    http_request req = {.method = method, .path = path, .body = body, .body_len = size - 1};
    http_response resp = {0};
    routes_handle(g_srv, &req, &resp);
    if (!documented(resp.status) || !resp.content_type || !resp.route) {
        fprintf(stderr, "fuzz_request: %s %s answered %d\n", method, path, resp.status);
        abort();
    }
    if (strncmp(resp.content_type, "application/json", 16) == 0) {
        cJSON *v = cJSON_ParseWithLength(resp.body, resp.len);
        if (!v)
            abort(); /* an answer that is not JSON */
        if (resp.status >= 400) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "error");
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")))
                abort();
        }
        cJSON_Delete(v);
    }
    if (!resp.body_is_static)
        free(resp.body);
    free(body);
    return 0;
}
