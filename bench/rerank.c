/* rerank.c - end-to-end speed of qrank on the workloads of the speed issue.
 *
 *   bench-rerank [--model-dir DIR] [--types q8_0,bf16,q4_k_m] [--workloads posts-20,...]
 *                [--repeats 5] [--threads N] [--pack never|first-use|load] [--prefix-cache]
 *                [--precision fast|exact] [--peak-gops INT8,BF16]
 *   bench-rerank --print-posts N
 *
 * For each weight type it makes the 0.6B-shape synthetic reranker if it is
 * missing (tools/make_model.py), then for each workload forks a child that
 * loads the model, runs the workload `repeats` times and reports: wall time
 * (median, min, max), prompt and computed tokens/s, documents/s, load time,
 * time to the first answer, and peak RSS (the child's own, so workloads do
 * not inherit each other's peaks). The reranking workloads also run qrank's
 * one-prompt-per-document path (every prompt whole, one forward call each:
 * no prefix sharing, no packing) for the speed-up ratio; its figures come
 * from the same process on the same inputs.
 *
 * Matrix work is counted as 2 x (weights of the matrices) operations per
 * computed token; the share of the machine's int8 and bf16 peaks uses the
 * peaks measured by bench-kernels in the same run (passed with --peak-gops,
 * or measured here by running bench-kernels, built beside this program).
 * Workloads: posts-1, posts-20, posts-100, posts-1000 (one query, short posts
 * of 20-80 characters, Chinese and English), long-8k (one 8K-token document),
 * embed-1000 (1000 posts through qrank_embed). --pack is when the weights are
 * laid out for the kernels (qrank_model_params.repack: -1, 0 the default, 1);
 * --repack is --pack load. Every repeat scores the same query, so the
 * reranker's prefix cache (qrank_model_params.prefix_cache_mb) is off unless
 * --prefix-cache is given: then repeats after the first find the query's
 * prefix kept, as a monitor scoring new posts against a standing query
 * does. --precision exact runs every call, the one-prompt path too, with
 * f32 activations (qrank's --precision); %peak then still compares with the
 * int8 peak (bf16 for BF16 and F16 files: F16 runs on bf16 tiles on AMX). QRANK_KERNELS in the environment pins the kernel table, as it does
 * for qrank (e.g. avx512 against amx for BF16). --print-posts writes the first N posts of these
 * workloads, one per line, for benchmarks of the command line and the HTTP
 * server (http_rerank.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "forward.h"
#include "model.h"
#include "qrank.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- deterministic posts ------------------------------------------------------------------ */

static const char *ZH[] = {"杭州亚运会", "闭幕式", "烟花秀", "太震撼了", "钱塘江边", "人山人海", "数字火炬手",
                           "今晚", "拍到了", "求攻略", "门票", "地铁好挤", "直播回放", "好看", "哭了",
                           "宁德时代", "电池", "快充", "续航", "上海", "樱花", "顾村公园", "周末", "这剧",
                           "太上头了", "停不下来", "一口气看完", "🎆", "😭", "🌸", "💪", "，", "！"};
static const char *EN[] = {"the closing ceremony", "fireworks", "were stunning", "Hangzhou", "Asian Games",
                           "tonight", "battery", "breakthrough", "sodium-ion", "500 km range", "fast charging",
                           "cherry blossoms", "this weekend", "can't stop watching", "binge", "lol", "tbh",
                           "#AsianGames", "@CATL", "new EV", "prices cut", "so good", "👀", "!", ",", "."};

static unsigned rng_next(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

static char *make_post(unsigned *seed) {
    size_t target = 20 + rng_next(seed) % 61; /* 20..80 characters */
    char *p = malloc(512);
    size_t bytes = 0, chars = 0;
    int english = rng_next(seed) % 2;
    while (chars < target) {
        const char *w;
        if (english) {
            w = EN[rng_next(seed) % (sizeof EN / sizeof *EN)];
            if (bytes && bytes + 1 < 500) p[bytes++] = ' ', chars++;
        } else {
            w = ZH[rng_next(seed) % (sizeof ZH / sizeof *ZH)];
        }
        size_t wl = strlen(w);
        if (bytes + wl >= 500) break;
        memcpy(p + bytes, w, wl);
        bytes += wl;
        for (size_t i = 0; i < wl; i++) chars += ((unsigned char)w[i] & 0xc0) != 0x80;
    }
    p[bytes] = '\0';
    return p;
}

static char *make_long_doc(qrank_model *m, int target_tokens) {
    size_t cap = 1 << 20, len = 0;
    char *d = malloc(cap);
    unsigned seed = 99;
    d[0] = '\0';
    for (;;) {
        char *post = make_post(&seed);
        size_t pl = strlen(post);
        if (len + pl + 2 >= cap) break;
        memcpy(d + len, post, pl);
        len += pl;
        d[len++] = ' ';
        d[len] = '\0';
        free(post);
        if (len % 4096 < 100) {
            int32_t *ids;
            size_t n;
            qrank_error err;
            if (qrank_tokenize(m, d, len, &ids, &n, &err) == 0) {
                free(ids);
                if ((int)n >= target_tokens) break;
            }
        }
    }
    return d;
}

/* ---- the one-prompt-per-document path ----------------------------------------------------- */

static int per_doc_prompts(qrank_model *m, const char *query, char **docs, size_t n, qrank_precision precision,
                           float *scores) {
    qrank_error err;
    const int H = m->hp.hidden;
    float *h = malloc(sizeof(float) * (size_t)H);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(docs[i]) + strlen(query) + 256;
        char *body = malloc(len);
        snprintf(body, len, "<Instruct>: %s\n<Query>: %s\n<Document>: %s", QRANK_DEFAULT_INSTRUCTION, query, docs[i]);
        size_t cap = m->n_rerank_prefix + 64, nt = m->n_rerank_prefix;
        int32_t *ids = malloc(cap * sizeof *ids);
        memcpy(ids, m->rerank_prefix, nt * sizeof *ids);
        if (qr_tokenize(m->tok, body, strlen(body), &ids, &nt, &cap, &err)) return 1;
        ids = realloc(ids, (nt + m->n_rerank_suffix) * sizeof *ids);
        memcpy(ids + nt, m->rerank_suffix, m->n_rerank_suffix * sizeof *ids);
        nt += m->n_rerank_suffix;
        qr_seq seq = {0, (int64_t)nt, NULL, NULL, NULL};
        if (qr_forward(m, ids, &seq, 1, precision, h, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double logit = 0;
        for (int k = 0; k < H; k++) logit += (double)(m->head_yes[k] - m->head_no[k]) * h[k];
        scores[i] = (float)(1 / (1 + exp(-logit)));
        free(ids);
        free(body);
    }
    free(h);
    return 0;
}

/* ---- one workload in a child ---------------------------------------------------------------- */

typedef struct result {
    double load_s, first_s;
    double wall[16];
    double base_wall[16];
    int repeats, base_repeats;
    size_t prompt_tokens, computed_tokens, docs;
    double matrix_ops_per_token;
    int ok;
} result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void run_workload(const char *model_path, const char *workload, int repeats, int threads, int repack,
                         int prefix_cache, qrank_precision precision, result *r) {
    memset(r, 0, sizeof *r);
    double t0 = now();
    qrank_model_params mp = qrank_model_default_params();
    mp.n_threads = threads;
    mp.precision = precision;
    mp.repack = repack;
    mp.prefix_cache_mb = prefix_cache ? 0 : -1;
    mp.kernels = getenv("QRANK_KERNELS"); /* as for qrank: pins the kernel table */
    mp.attention = getenv("QRANK_ATTENTION"); /* and what fast attention runs on */
    qrank_model *m;
    qrank_error err;
    if (qrank_model_load(model_path, &mp, &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    r->load_s = now() - t0;
    const qr_hparams *hp = &m->hp;
    double per_layer = (double)hp->hidden * (hp->n_heads + 2 * hp->n_kv_heads) * hp->head_dim +
                       (double)hp->n_heads * hp->head_dim * hp->hidden + 3.0 * hp->hidden * hp->ffn;
    r->matrix_ops_per_token = 2.0 * per_layer * hp->n_layers;

    const char *query = "杭州亚运会闭幕式烟花秀";
    size_t n = 0;
    int embed = 0;
    if (strcmp(workload, "posts-1") == 0) n = 1;
    else if (strcmp(workload, "posts-20") == 0) n = 20;
    else if (strcmp(workload, "posts-100") == 0) n = 100;
    else if (strcmp(workload, "posts-1000") == 0) n = 1000;
    else if (strcmp(workload, "long-8k") == 0) n = 1;
    else if (strcmp(workload, "embed-1000") == 0) n = 1000, embed = 1;
    else {
        fprintf(stderr, "unknown workload %s\n", workload);
        return;
    }
    char **docs = malloc(n * sizeof *docs);
    unsigned seed = 1234;
    if (strcmp(workload, "long-8k") == 0) docs[0] = make_long_doc(m, 8000);
    else
        for (size_t i = 0; i < n; i++) docs[i] = make_post(&seed);
    float *scores = malloc(n * sizeof *scores);
    float *vecs = embed ? malloc(n * (size_t)hp->hidden * sizeof *vecs) : NULL;
    qrank_rerank_params rp = qrank_rerank_default_params();
    qrank_embed_params ep = qrank_embed_default_params();
    rp.precision = ep.precision = precision;
    r->docs = n;
    r->repeats = repeats > 16 ? 16 : repeats;
    for (int i = 0; i < r->repeats; i++) {
        qrank_usage u;
        double a = now();
        int rc = embed ? qrank_embed(m, (const char *const *)docs, n, &ep, vecs, &u, &err)
                       : qrank_rerank(m, query, (const char *const *)docs, n, &rp, scores, NULL, &u, &err);
        r->wall[i] = now() - a;
        if (rc) {
            fprintf(stderr, "%s\n", err.message);
            return;
        }
        if (i == 0) r->first_s = now() - t0;
        r->prompt_tokens = u.prompt_tokens;
        r->computed_tokens = u.computed_tokens;
    }
    if (!embed) {
        /* the baseline is slow: fewer repeats for the big workloads */
        r->base_repeats = n >= 1000 ? 1 : (n >= 100 || strcmp(workload, "long-8k") == 0 ? 2 : r->repeats);
        float *base = malloc(n * sizeof *base);
        for (int i = 0; i < r->base_repeats; i++) {
            double a = now();
            if (per_doc_prompts(m, query, docs, n, precision, base)) return;
            r->base_wall[i] = now() - a;
        }
        free(base);
    }
    r->ok = 1;
    for (size_t i = 0; i < n; i++) free(docs[i]);
    free(docs);
    free(scores);
    free(vecs);
    qrank_model_free(m);
}

/* ---- driver ---------------------------------------------------------------------------------- */

static int ensure_model(const char *source_dir, const char *path, const char *type) {
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    /* Without numpy (a lent machine may have Python alone) the generator's
     * --random-bytes makes the same shape from random bits: the same work
     * per token, other weights and scores. */
    const int no_numpy = system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0;
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/tools/make_model.py' --out '%s' --format gguf --dtype %s --layers 28 "
             "--hidden 1024 --ffn 3072 --heads 16 --kv-heads 8 --head-dim 128 --vocab-rows 151936 --seed 1 "
             "--name bench-0.6b-%s%s",
             source_dir, path, type, type, no_numpy ? " --random-bytes" : "");
    fprintf(stderr, "bench: generating %s (the 0.6B shape, random weights%s)...\n", path,
            no_numpy ? "; no numpy here: --random-bytes, random bits of the same scales" : "");
    return system(cmd) != 0;
}

/* The machine's peaks from bench-kernels (built beside us): its "int8" and
 * "bf16" lines end in the 1-thread and all-threads figures. */
static double last_number(const char *line) {
    const char *end = line + strlen(line);
    while (end > line && (end[-1] == '\n' || end[-1] == ' ')) end--;
    const char *p = end;
    while (p > line && p[-1] != ' ') p--;
    return atof(p);
}

static void measure_peaks(const char *self, double *int8, double *bf16) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/bench-kernels' -p no-layer-figures 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[512];
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "  int8 ", 7) == 0) *int8 = last_number(line);
        if (strncmp(line, "  bf16 ", 7) == 0) *bf16 = last_number(line);
    }
    pclose(p);
}

int main(int argc, char **argv) {
    const char *model_dir = "models", *types = "q8_0,bf16",
               *workloads = "posts-20,posts-100,posts-1000,long-8k,embed-1000";
    const char *source_dir = QRANK_SOURCE_DIR;
    int repeats = 5, threads = 0, repack = 0, prefix_cache = 0;
    qrank_precision precision = QRANK_PRECISION_FAST;
    double peak_int8 = 0, peak_bf16 = 0;
    if (argc == 3 && !strcmp(argv[1], "--print-posts")) {
        unsigned seed = 1234; /* run_workload's */
        for (int i = atoi(argv[2]); i > 0; i--) {
            char *post = make_post(&seed);
            puts(post);
            free(post);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model-dir") && i + 1 < argc) model_dir = argv[++i];
        else if (!strcmp(argv[i], "--types") && i + 1 < argc) types = argv[++i];
        else if (!strcmp(argv[i], "--workloads") && i + 1 < argc) workloads = argv[++i];
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repack")) repack = 1;
        else if (!strcmp(argv[i], "--prefix-cache")) prefix_cache = 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "fast") && strcmp(v, "exact")) {
                fprintf(stderr, "bench-rerank: --precision takes fast or exact\n");
                return 2;
            }
            precision = !strcmp(v, "exact") ? QRANK_PRECISION_EXACT : QRANK_PRECISION_FAST;
        }
        else if (!strcmp(argv[i], "--pack") && i + 1 < argc) {
            const char *v = argv[++i];
            repack = !strcmp(v, "never") ? -1 : !strcmp(v, "load") ? 1 : !strcmp(v, "first-use") ? 0 : 2;
            if (repack == 2) {
                fprintf(stderr, "bench-rerank: --pack takes never, first-use or load\n");
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--peak-gops") && i + 1 < argc) sscanf(argv[++i], "%lf,%lf", &peak_int8, &peak_bf16);
        else {
            fprintf(stderr, "usage: bench-rerank [--model-dir DIR] [--types q8_0,bf16] [--workloads LIST] "
                            "[--repeats N] [--threads N] [--pack never|first-use|load] [--prefix-cache] "
                            "[--precision fast|exact] [--peak-gops INT8,BF16]\n");
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    if (repeats > 16) repeats = 16;
    if (peak_int8 <= 0) measure_peaks(argv[0], &peak_int8, &peak_bf16);
    mkdir(model_dir, 0755);
    if (peak_int8 <= 0)
        /* a %peak of 0.0% would read as a measurement */
        printf("machine peaks: not measured (no bench-kernels beside this program, or it printed no peaks); "
               "%%peak shows '-'; --peak-gops INT8,BF16 gives them\n");
    else
        printf("machine peaks (bench-kernels, all threads): int8 %.0f GOP/s, bf16 %.0f GFLOP/s\n", peak_int8,
               peak_bf16);
    printf("%-6s %-11s %9s %9s %9s %10s %10s %9s %8s %8s %8s %7s %9s\n", "type", "workload", "median_s", "min_s",
           "max_s", "prompt_t/s", "comp_t/s", "docs/s", "load_s", "first_s", "rss_MB", "%peak", "vs_1prompt");
    char types_buf[256];
    snprintf(types_buf, sizeof types_buf, "%s", types);
    for (char *type = strtok(types_buf, ","); type; type = strtok(NULL, ",")) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bench-0.6b-%s.gguf", model_dir, type);
        if (ensure_model(source_dir, path, type)) {
            fprintf(stderr, "bench: cannot make %s\n", path);
            return 1;
        }
        char wl_buf[512];
        snprintf(wl_buf, sizeof wl_buf, "%s", workloads);
        char *save = NULL;
        for (char *wl = strtok_r(wl_buf, ",", &save); wl; wl = strtok_r(NULL, ",", &save)) {
            result *shared = malloc(sizeof *shared);
            int fd[2];
            if (pipe(fd)) return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(fd[0]);
                run_workload(path, wl, repeats, threads, repack, prefix_cache, precision, shared);
                ssize_t w = write(fd[1], shared, sizeof *shared);
                _exit(w == (ssize_t)sizeof *shared ? 0 : 1);
            }
            close(fd[1]);
            result r;
            memset(&r, 0, sizeof r);
            ssize_t got = read(fd[0], &r, sizeof r);
            close(fd[0]);
            int status;
            struct rusage ru;
            wait4(pid, &status, 0, &ru);
            free(shared);
            if (got != (ssize_t)sizeof r || !r.ok) {
                printf("%-6s %-11s failed\n", type, wl);
                continue;
            }
            double w[16];
            memcpy(w, r.wall, sizeof w);
            double med = median(w, r.repeats), mn = w[0], mx = w[r.repeats - 1];
            /* every type but bf16 runs int8 kernels (the k-quants on AVX-512) */
            double peak = strcmp(type, "bf16") == 0 || strcmp(type, "f16") == 0 ? peak_bf16 : peak_int8;
            double share = peak > 0 ? 100.0 * r.matrix_ops_per_token * r.computed_tokens / med / 1e9 / peak : 0;
            char ratio[32] = "-";
            if (r.base_repeats) {
                double b[16];
                memcpy(b, r.base_wall, sizeof b);
                snprintf(ratio, sizeof ratio, "%.2fx", median(b, r.base_repeats) / med);
            }
            char pct[32] = "-";
            if (peak > 0) snprintf(pct, sizeof pct, "%.1f%%", share);
            printf("%-6s %-11s %9.3f %9.3f %9.3f %10.0f %10.0f %9.1f %8.3f %8.3f %8.0f %7s %9s\n", type, wl, med, mn,
                   mx, r.prompt_tokens / med, r.computed_tokens / med, r.docs / med, r.load_s, r.first_s,
                   ru.ru_maxrss / 1024.0, pct, ratio);
            fflush(stdout);
        }
    }
    return 0;
}
