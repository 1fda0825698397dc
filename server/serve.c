/* serve.c - `qrank serve`: options, start-up order and a clean stop.
 *
 * Start-up answers HTTP before the model is loaded, so that /health can say
 * 503 "loading" to an orchestrator instead of refusing connections; a loader
 * thread loads the models and flips the server to ready, and only then is
 * "Running on local URL: ..." printed (scripts and tests wait for that line).
 *
 * Signals are taken synchronously: SIGINT and SIGTERM are blocked before any
 * thread starts, and the main thread waits for them with sigtimedwait. No
 * handler, no global flag. Stopping drains: new requests get 503, queued ones
 * are finished, then the HTTP threads and the models go. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "http.h"
#include "metrics.h"
#include "scheduler.h"
#include "server.h"

double server_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keys are copied out of argv (which is then blanked) and the environment;
 * they are never printed, not even in error messages. */
static int add_api_key(server_config *cfg, const char *key, size_t len) {
    while (len > 0 && (*key == ' ' || *key == '\t'))
        key++, len--;
    while (len > 0 && (key[len - 1] == ' ' || key[len - 1] == '\t'))
        len--;
    if (len == 0)
        return cli_fail("serve: an API key is empty");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] <= ' ' || key[i] == 0x7F)
            return cli_fail("serve: an API key has a space or control character in it");
    if (cfg->n_api_keys == SERVER_MAX_API_KEYS)
        return cli_fail("serve: at most %d API keys", SERVER_MAX_API_KEYS);
    char *copy = malloc(len + 1);
    if (!copy)
        return cli_fail("serve: out of memory");
    memcpy(copy, key, len);
    copy[len] = '\0';
    cfg->api_keys[cfg->n_api_keys++] = copy;
    return 0;
}

static void free_api_keys(server_config *cfg) {
    for (size_t k = 0; k < cfg->n_api_keys; k++)
        free((char *)cfg->api_keys[k]);
    cfg->n_api_keys = 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: qrank serve -m MODEL [options]\n"
            "\n"
            "Serves a Qwen3 reranker (and optionally an embedder) over HTTP: a web page at /,\n"
            "POST /v1/rerank /rerank /v2/rerank /api/predict /v1/embeddings /v1/cluster,\n"
            "GET /health /v1/models /metrics.\n"
            "\n"
            "  -m, --model PATH        reranker: a GGUF file or a Hugging Face directory\n"
            "  --embed-model PATH      embedder for /v1/embeddings and /v1/cluster (else 501)\n"
            "  --host HOST             address to listen on (default 127.0.0.1)\n"
            "  --port N                port (default 7860; 0 = any free port)\n"
            "  --threads N             compute threads (default: all cores)\n"
            "  --repack                lay Q8_0 weights (and BF16 on AVX-512 CPUs) out for\n"
            "                          this CPU's fast kernel at load\n"
            "                          (Q4_0/Q4_K/Q6_K always are): slower start (about 0.3 s\n"
            "                          per GB). By default it is done while no request waits,\n"
            "                          in the first seconds after the start; calls get 5-10%%\n"
            "                          faster as it goes, with the same scores\n"
            "  --no-repack             never lay Q8_0 or BF16 weights out (the kernel packs on\n"
            "                          the fly)\n"
            "  --prefix-cache-mb N     memory for query prefixes kept between requests, so that a\n"
            "                          query sent again skips them, same scores (default 64,\n"
            "                          about 17 MB per query for the 0.6B model; 0 = none); the\n"
            "                          embedder keeps its instructions' in as much again\n"
            "  --api-key KEY           require \"Authorization: Bearer KEY\" on every route but\n"
            "                          /health and the page; repeat for several keys (default:\n"
            "                          $QRANK_API_KEY, several separated by commas)\n"
            "  --max-documents N       documents (or inputs) per request (default 1000)\n"
            "  --max-body-bytes N      request body size (default 8388608)\n"
            "  --max-length N          tokens per prompt (default 8192, at most the model's)\n"
            "  --max-queue N           requests waiting for the model before 429 (default 64)\n"
            "  --batch-tokens N        work one scheduler round may take (default 16384)\n"
            "  --max-request-tokens N  tokens one request may need, estimated up front as\n"
            "                          bytes, else 413 before it is queued (default 1048576)\n"
            "  --timeout S             close connections idle for S seconds, and those whose\n"
            "                          body takes longer than S in all (default 30)\n"
            "  --keepalive-requests N  answers per connection before it is closed, so its\n"
            "                          thread and that thread's malloc cache go (default 100)\n"
            "  --demo                  the model has random weights: say so on the page,\n"
            "                          /health and /v1/models (./start.sh sets it offline)\n");
}

/* The name clients see: the file's base name without .gguf, or the directory's name. */
static void model_id(const char *path, char *out, size_t size) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t n = len - start;
    if (n > 5 && strncmp(path + start + n - 5, ".gguf", 5) == 0)
        n -= 5;
    snprintf(out, size, "%.*s", (int)n, path + start);
}

typedef struct loader {
    server *srv;
    int n_threads;
    atomic_int finished;
    int ok;
    char message[600];
} loader;

static int load_one(const char *path, qrank_model_kind want, int n_threads, int repack, int prefix_cache_mb,
                    qrank_model **out, qrank_model_info *info, char *message, size_t size) {
    qrank_model_params mp = qrank_model_default_params();
    mp.n_threads = n_threads;
    mp.repack = repack;
    mp.prefix_cache_mb = prefix_cache_mb > 0 ? prefix_cache_mb : -1;
    mp.kernels = getenv("QRANK_KERNELS"); /* see qrank_model_params.kernels */
    mp.attention = getenv("QRANK_ATTENTION"); /* see qrank_model_params.attention */
    qrank_error err = {0};
    if (qrank_model_load(path, &mp, out, &err) != QRANK_OK) {
        snprintf(message, size, "cannot load %s: %s", path, err.message);
        return 0;
    }
    /* while /health says loading, not in the first request */
    qrank_model_pack(*out);
    qrank_model_get_info(*out, info);
    if (info->kind != want) {
        snprintf(message, size, "%s is a%s model; %s", path,
                 info->kind == QRANK_KIND_EMBEDDER ? "n embedding" : " reranker",
                 want == QRANK_KIND_RERANKER ? "-m needs a Qwen3 reranker"
                                             : "--embed-model needs a Qwen3 embedder");
        qrank_model_free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

static void *load_models(void *arg) {
    loader *l = arg;
    server *srv = l->srv;
    qrank_model *reranker = NULL, *embedder = NULL;
    l->ok = load_one(srv->cfg.model_path, QRANK_KIND_RERANKER, l->n_threads, srv->cfg.repack,
                     srv->cfg.prefix_cache_mb, &reranker, &srv->rerank_info, l->message, sizeof(l->message)) &&
            (!srv->cfg.embed_model_path ||
             load_one(srv->cfg.embed_model_path, QRANK_KIND_EMBEDDER, l->n_threads, srv->cfg.repack,
                      srv->cfg.prefix_cache_mb, &embedder, &srv->embed_info, l->message, sizeof(l->message)));
    if (l->ok) {
        srv->has_embedder = embedder != NULL;
        model_id(srv->cfg.model_path, srv->rerank_id, sizeof(srv->rerank_id));
        if (embedder)
            model_id(srv->cfg.embed_model_path, srv->embed_id, sizeof(srv->embed_id));
        int context = srv->rerank_info.context_length;
        if (context > 0 && srv->cfg.max_length > context)
            srv->cfg.max_length = context;
        scheduler_config sc = {.max_queue = srv->cfg.max_queue,
                               .batch_tokens = srv->cfg.batch_tokens};
        qrank_error err = {0};
        if (scheduler_create(reranker, embedder, &sc, srv->metrics, &srv->scheduler, &err) !=
            QRANK_OK) {
            snprintf(l->message, sizeof(l->message), "%s", err.message);
            l->ok = 0;
        }
    }
    if (!l->ok) {
        qrank_model_free(reranker);
        qrank_model_free(embedder);
    } else {
        atomic_store(&srv->state, SERVER_READY);
    }
    atomic_store(&l->finished, 1);
    return NULL;
}

int cmd_serve(int argc, char **argv) {
    server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        fprintf(stderr, "qrank serve: out of memory\n");
        return 1;
    }
    server_config *cfg = &srv->cfg;
    cfg->host = "127.0.0.1";
    cfg->repack = 2; /* Q8_0 laid out while idle (scheduler.c) */
    cfg->prefix_cache_mb = 64;
    int n_threads = 0, port = 7860, max_length = QRANK_DEFAULT_MAX_LENGTH;
    int max_documents = 1000, max_body_bytes = 8 << 20, max_queue = 64, batch_tokens = 16384;
    int max_request_tokens = 1 << 20, timeout_s = 30, keepalive_requests = 100;
    int status = 1;

    /* The same option syntax as every qrank command (cli_util.h): -m X, --model X, --model=X. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free_api_keys(&srv->cfg);
            free(srv);
            return 0;
        } else if (strcmp(a, "--demo") == 0) {
            cfg->demo = 1;
        } else if (cli_opt_is(a, "-m", "--model")) {
            bad = !(cfg->model_path = cli_opt_value(argc, argv, &i));
        } else if (cli_opt_is(a, NULL, "--embed-model")) {
            bad = !(cfg->embed_model_path = cli_opt_value(argc, argv, &i));
        } else if (cli_opt_is(a, NULL, "--host")) {
            bad = !(v = cli_opt_value(argc, argv, &i));
            cfg->host = v ? v : cfg->host;
        } else if (cli_opt_is(a, NULL, "--api-key")) {
            char *key = (char *)cli_opt_value(argc, argv, &i);
            bad = !key || add_api_key(cfg, key, strlen(key));
            if (key && !bad)
                memset(key, 'x', strlen(key)); /* the copy is kept; ps shows only x's */
        } else if (cli_opt_is(a, NULL, "--port")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 65535, &port);
        } else if (cli_opt_is(a, NULL, "--threads")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 4096, &n_threads);
        } else if (strcmp(a, "--repack") == 0) {
            cfg->repack = 1;
        } else if (strcmp(a, "--no-repack") == 0) {
            cfg->repack = 0;
        } else if (cli_opt_is(a, NULL, "--prefix-cache-mb")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 0, 1 << 20, &cfg->prefix_cache_mb);
        } else if (cli_opt_is(a, NULL, "--max-documents")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) ||
                  cli_parse_int(a, v, 1, 1000000, &max_documents);
        } else if (cli_opt_is(a, NULL, "--max-body-bytes")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) ||
                  cli_parse_int(a, v, 1024, 1 << 30, &max_body_bytes);
        } else if (cli_opt_is(a, NULL, "--max-length")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 64, 1 << 20, &max_length);
        } else if (cli_opt_is(a, NULL, "--max-queue")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 100000, &max_queue);
        } else if (cli_opt_is(a, NULL, "--max-request-tokens")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) ||
                  cli_parse_int(a, v, 64, 1 << 30, &max_request_tokens);
        } else if (cli_opt_is(a, NULL, "--timeout")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) || cli_parse_int(a, v, 1, 3600, &timeout_s);
        } else if (cli_opt_is(a, NULL, "--keepalive-requests")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) ||
                  cli_parse_int(a, v, 1, 1 << 30, &keepalive_requests);
        } else if (cli_opt_is(a, NULL, "--batch-tokens")) {
            bad = !(v = cli_opt_value(argc, argv, &i)) ||
                  cli_parse_int(a, v, 64, 1 << 30, &batch_tokens);
        } else {
            bad = cli_fail("serve: unknown option %s (see qrank serve --help)", a);
        }
        if (bad) {
            free_api_keys(cfg);
            free(srv);
            return 2;
        }
    }
    if (!cfg->model_path) {
        cli_fail("serve: -m MODEL is required\n");
        usage(stderr);
        free_api_keys(cfg);
        free(srv);
        return 2;
    }
    const char *env_keys = getenv("QRANK_API_KEY");
    if (cfg->n_api_keys == 0 && env_keys) {
        for (const char *k = env_keys; *k;) {
            size_t n = strcspn(k, ",");
            if (n > 0 && add_api_key(cfg, k, n)) {
                free_api_keys(cfg);
                free(srv);
                return 2;
            }
            k += n + (k[n] == ',');
        }
    }
    cfg->port = port;
    cfg->n_threads = n_threads;
    cfg->max_length = max_length;
    cfg->max_documents = (size_t)max_documents;
    cfg->max_body_bytes = (size_t)max_body_bytes;
    cfg->max_queue = (size_t)max_queue;
    cfg->batch_tokens = (size_t)batch_tokens;
    cfg->max_request_tokens = (size_t)max_request_tokens;
    cfg->timeout_s = timeout_s;
    cfg->keepalive_requests = keepalive_requests;

    srv->start_time = (double)time(NULL);
    srv->id_seed = (unsigned long long)time(NULL) * 0x100000001B3ull ^ (unsigned long long)getpid();
    atomic_init(&srv->state, SERVER_LOADING);
    atomic_init(&srv->next_request_id, 0);
    srv->metrics = metrics_create();
    if (!srv->metrics) {
        fprintf(stderr, "qrank serve: out of memory\n");
        free_api_keys(&srv->cfg);
        free(srv);
        return 1;
    }

    /* Blocked here, before any thread exists, so every thread inherits the mask
     * and only sigtimedwait below ever sees these signals. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    http_server *http = NULL;
    int bound_port = 0;
    char why[256];
    if (http_start(srv, &http, &bound_port, why, sizeof(why)) != 0) {
        fprintf(stderr, "qrank serve: %s\n", why);
        metrics_free(srv->metrics);
        free_api_keys(&srv->cfg);
        free(srv);
        return 1;
    }
    fprintf(stderr, "qrank serve: loading %s%s%s ...\n", cfg->model_path,
            cfg->embed_model_path ? " and " : "", cfg->embed_model_path ? cfg->embed_model_path : "");

    loader l = {.srv = srv, .n_threads = n_threads};
    atomic_init(&l.finished, 0);
    pthread_t loader_thread;
    if (pthread_create(&loader_thread, NULL, load_models, &l) != 0) {
        fprintf(stderr, "qrank serve: cannot start the loader thread\n");
        http_stop(http);
        metrics_free(srv->metrics);
        free_api_keys(&srv->cfg);
        free(srv);
        return 1;
    }

    int announced = 0, stop = 0;
    while (!stop) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&stop_signals, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            stop = 1;
        if (!announced && atomic_load(&l.finished)) {
            announced = 1;
            if (!l.ok)
                break;
            int local = strcmp(cfg->host, "0.0.0.0") == 0 || strcmp(cfg->host, "::") == 0 ||
                        strcmp(cfg->host, "localhost") == 0 || strncmp(cfg->host, "127.", 4) == 0 ||
                        strcmp(cfg->host, "::1") == 0;
            if (cfg->demo)
                fprintf(stderr, "qrank serve: DEMO MODEL (random weights): scores mean nothing\n");
            /* what llama.cpp's system_info line tells its users: which kernels run */
            for (int i = 0; i < 1 + srv->has_embedder; i++) {
                const qrank_model_info *in = i ? &srv->embed_info : &srv->rerank_info;
                const int rounds = strcmp(in->fast_activations, "f32") != 0;
                fprintf(stderr, "qrank serve: %s: %s weights, %s kernels, activations %s %s, attention %s\n",
                        i ? "embedder" : "reranker", in->weight_type, in->kernels, rounds ? "rounded to" : "in",
                        in->fast_activations, in->attention);
            }
            printf("Running on local URL: http://%s:%d\n", local ? "localhost" : cfg->host,
                   bound_port);
            fflush(stdout);
        }
    }
    pthread_join(loader_thread, NULL);
    if (l.ok) {
        fprintf(stderr, "qrank serve: stopping: finishing queued requests\n");
        atomic_store(&srv->state, SERVER_DRAINING);
        scheduler_stop(srv->scheduler);
        status = 0;
    } else {
        fprintf(stderr, "qrank serve: %s\n", l.message);
    }
    http_stop(http);
    scheduler_free(srv->scheduler);
    metrics_free(srv->metrics);
    free_api_keys(&srv->cfg);
    free(srv);
    return status;
}
