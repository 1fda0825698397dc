/* bench/attention.c - the attention paths side by side, on one layer.
 *
 * qr_attention (src/attention.c) on random queries, keys and values of the
 * Qwen3-0.6B shape (16 query heads, 8 kv heads, head dim 128; -H, -K, -d to
 * change), for every path this CPU runs: f32 (FMAs), bf16 on vdpbf16ps
 * (AVX-512 BF16) and bf16 on AMX tiles; the f32 path also in each narrower
 * vector width the CPU runs (attention_f32_body.h's AVX2 and baseline
 * builds, which CPUs without AVX-512 get). The paths take turns, run after run,
 * so that a shared machine's slow minutes fall on all of them; each prints
 * its median and best time, its rate (2 x 2 x head_dim operations per query
 * head and key seen: Q.K^T and P.V) and its speed against f32 in the same
 * run. Which path --precision fast picks by itself is marked: the f32 and
 * vdpbf16ps figures on an AMD Zen 4/5 core are the ones that choice rests
 * on (src/kernels/dispatch.c). The rows come in calls of 512, as
 * forward.c's chunks do; each bf16 path runs as forward.c runs it, the
 * long sequences' keys and values laid out once (qr_att_laid), and as
 * "per group", each group of blocks laying out the chunks it walks. Not a
 * test: it prints figures.
 *
 *   bench-attention [-t threads] [-n tokens] [-s sequences] [-P prefix tokens] [-r runs] [-c rows per call]
 *   (-s sequences of n tokens each, behind one shared prefix of P tokens,
 *   as a reranker's batch of posts; default one sequence of 2,048) */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention.h"
#include "kernels/kernels.h"
#include "model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *random_floats(size_t n, float amp, uint64_t *s) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        p[i] = amp * (2.0f * (float)((*s >> 40) * 0x1p-24) - 1.0f);
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = omp_get_max_threads(), runs = 7, heads = 16, kv_heads = 8, hd = 128, n_seqs = 1;
    int64_t len = 2048, n_pre = 0, call_rows = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(a, "-t") == 0) threads = atoi(v);
        else if (v && strcmp(a, "-n") == 0) len = atoll(v);
        else if (v && strcmp(a, "-s") == 0) n_seqs = atoi(v);
        else if (v && strcmp(a, "-P") == 0) n_pre = atoll(v);
        else if (v && strcmp(a, "-r") == 0) runs = atoi(v);
        else if (v && strcmp(a, "-c") == 0) call_rows = atoll(v);
        else if (v && strcmp(a, "-H") == 0) heads = atoi(v);
        else if (v && strcmp(a, "-K") == 0) kv_heads = atoi(v);
        else if (v && strcmp(a, "-d") == 0) hd = atoi(v);
        else {
            fprintf(stderr, "usage: %s [-t threads] [-n tokens] [-s sequences] [-P prefix tokens] [-r runs] "
                            "[-c rows per call] [-H heads] [-K kv heads] [-d head dim]\n", argv[0]);
            return 2;
        }
        i++;
    }
    if (threads < 1 || len < 1 || n_seqs < 1 || n_pre < 0 || runs < 1 || runs > 1000 || heads < 1 || call_rows < 1 ||
        kv_heads < 1 || heads % kv_heads || hd < 2 || hd % 2 || hd > 512 || len * n_seqs > (1 << 24)) {
        fprintf(stderr, "%s: a value is out of range\n", argv[0]);
        return 2;
    }
    qrank_model m;
    memset(&m, 0, sizeof m);
    m.hp.n_heads = heads;
    m.hp.n_kv_heads = kv_heads;
    m.hp.head_dim = hd;
    const int64_t kv_dim = (int64_t)kv_heads * hd, q_dim = (int64_t)heads * hd;
    /* the prefix as the batch's first sequence, then the documents */
    qr_seq *seqs = calloc((size_t)n_seqs + 1, sizeof *seqs);
    const int64_t T = n_pre + len * n_seqs;
    int64_t *row_seq = malloc(sizeof(int64_t) * (size_t)T), *rows = malloc(sizeof(int64_t) * (size_t)T);
    if (!seqs || !row_seq || !rows) return 1;
    int ns = 0;
    if (n_pre) seqs[ns++] = (qr_seq){0, n_pre, NULL, NULL, NULL};
    for (int i = 0; i < n_seqs; i++) seqs[ns++] = (qr_seq){n_pre + len * i, len, NULL, n_pre ? &seqs[0] : NULL, NULL};
    for (int s = 0; s < ns; s++)
        for (int64_t j = 0; j < seqs[s].len; j++) row_seq[seqs[s].start + j] = s;
    for (int64_t r = 0; r < T; r++) rows[r] = r;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    float *k = random_floats((size_t)(T * kv_dim), 3.0f, &seed), *v = random_floats((size_t)(T * kv_dim), 1.0f, &seed);
    float *q = random_floats((size_t)(T * q_dim), 3.0f, &seed), *out = malloc(sizeof(float) * (size_t)(T * q_dim));
    if (!out) return 1;
    /* operations: every query row against the keys it sees, per query head */
    double pairs = (double)n_pre * (double)(n_pre + 1) / 2.0;
    pairs += (double)n_seqs * ((double)len * (double)n_pre + (double)len * (double)(len + 1) / 2.0);
    const double ops = pairs * heads * 4.0 * hd;

    qr_kernels best, k512, k2;
    qr_kernels_select(&best, NULL);
    const int has_dot = qr_kernels_select(&k512, "avx512") == 0;
    const int has_avx2 = qr_kernels_select(&k2, "avx2") == 0;
    const qr_att_path picked = qr_att_default_path(&best); /* as a model loaded here would */
    struct {
        const char *name;
        qr_att_path path;
        int runs_here, laid;
        int lanes; /* the f32 body's vector width */
    } paths[] = {
        {"f32", QR_ATT_F32, 1, 0, best.f32_lanes},
        {"  8 lanes", QR_ATT_F32, has_avx2 && best.f32_lanes > 8, 0, 8},
        {"  4 lanes", QR_ATT_F32, best.f32_lanes > 4, 0, 4},
        {"bf16 vdpbf16ps", QR_ATT_BF16_DOT, has_dot, 1, 16},
        {"  per group", QR_ATT_BF16_DOT, has_dot, 0, 16},
        {"bf16 amx", QR_ATT_BF16_AMX, best.amx, 1, 16},
        {"  per group", QR_ATT_BF16_AMX, best.amx, 0, 16},
    };
    enum { NP = 7 };
    /* forward.c's laid-out keys: a buffer as large as the larger path's */
    int64_t *laid_at = malloc(sizeof(int64_t) * (size_t)ns), *laid_done = malloc(sizeof(int64_t) * (size_t)ns);
    size_t laid_max = 0;
    for (qr_att_path p = QR_ATT_BF16_DOT; p <= QR_ATT_BF16_AMX; p++) {
        const size_t b = qr_att_laid_plan(&m, p, seqs, (size_t)ns, NULL);
        if (b > laid_max) laid_max = b;
    }
    uint8_t *laid_buf = laid_max ? aligned_alloc(64, (laid_max + 63) / 64 * 64) : NULL;
    if (!laid_at || !laid_done || (laid_max && !laid_buf)) return 1;
    printf("attention: %d sequence(s) of %lld tokens behind a prefix of %lld, %d/%d heads of %d, %d thread(s); "
           "kernels here: %s (f32 in %d lanes)\n", n_seqs, (long long)len, (long long)n_pre, heads, kv_heads, hd,
           threads, best.name, best.f32_lanes);
    double *t[NP];
    for (int p = 0; p < NP; p++) t[p] = calloc((size_t)runs, sizeof(double));
    for (int r = -1; r < runs; r++) /* run -1 warms up every path */
        for (int p = 0; p < NP; p++) {
            if (!paths[p].runs_here) continue;
            const qr_att_path path = paths[p].path;
            m.kernels.f32_lanes = paths[p].lanes;
            qr_att_laid laid = {laid_buf, laid_at, laid_done};
            const size_t laid_bytes = qr_att_laid_plan(&m, path, seqs, (size_t)ns, laid_at);
            memset(laid_done, 0, sizeof(int64_t) * (size_t)ns);
            const qr_att_ctx ctx = {&m, seqs, row_seq, k, v, 0, path, paths[p].laid && laid_bytes ? &laid : NULL};
            const double t0 = now_s();
            for (int64_t c0 = 0; c0 < T; c0 += call_rows)
                if (qr_attention(&ctx, rows + c0, T - c0 < call_rows ? T - c0 : call_rows, q + c0 * q_dim,
                                 out + c0 * q_dim, threads) != QRANK_OK) {
                    fprintf(stderr, "out of memory\n");
                    return 1;
                }
            if (r >= 0) t[p][r] = now_s() - t0;
        }
    double f32_med = 0.0;
    for (int p = 0; p < NP; p++) {
        if (!paths[p].runs_here) {
            printf("  %-15s not on this CPU\n", paths[p].name);
            continue;
        }
        qsort(t[p], (size_t)runs, sizeof(double), cmp_double);
        const double med = t[p][runs / 2], best_t = t[p][0];
        if (p == 0) f32_med = med;
        printf("  %-15s median %8.2f ms, best %8.2f ms, %7.1f G ops/s, %5.2fx f32%s\n", paths[p].name, med * 1e3,
               best_t * 1e3, ops / med / 1e9, f32_med / med,
               paths[p].path == picked && (paths[p].laid || p == 0) ? "   (--precision fast picks it)" : "");
    }
    for (int p = 0; p < NP; p++) free(t[p]);
    free(laid_buf);
    free(laid_at);
    free(laid_done);
    free(k);
    free(v);
    free(q);
    free(out);
    free(seqs);
    free(row_seq);
    free(rows);
    return 0;
}
