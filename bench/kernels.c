/* bench/kernels.c - how close the matrix kernels come to this CPU's peak.
 *
 * First the peaks: tight loops of independent vpdpbusd (int8), vdpbf16ps
 * (bf16) and vfmadd (fp32) on registers only, on 1 thread and on all of them,
 * counted as 2 operations per multiply-add (on AVX2 CPUs without VNNI also
 * vpmaddwd + vpaddd, the ceiling of their Q8_0 kernel). Then every
 * gemm variant this CPU can run, on the matrices of one Qwen3-0.6B layer
 * (q 1024->2048, k and v 1024->1024, o 2048->1024, gate and up 1024->3072,
 * down 3072->1024) with 20, 100 and 1000 activation rows: GOP/s over the
 * whole layer and the share of the peak of the same kind. The output range
 * is split over threads in runs of 16-output slices, as src/matmul.c does;
 * activations are prepared (quantised) outside the timed region, as
 * matmul.c does once per call.
 *
 * The amx paths (BF16 weights on AMX tiles; F16 as two bf16 halves, each
 * multiply-add counted once though the tiles do two) are measured against
 * the same bf16 peak, vdpbf16ps's, and Q8_0 on the int8 tiles against
 * vpdpbusd's, so their share can pass 100%: the tiles are another unit,
 * which the figure compares with the vector one.
 *
 * Each figure is the best of several runs and its share is taken of the best
 * peak seen (short peak loops bracket every run): on a shared machine whose
 * clock drifts, the two fastest moments are the least disturbed ones. Not a
 * test: it prints figures.
 *
 *   bench-kernels [-t threads] [-s seconds per figure] [-q] [-m] [-r rows] [-p text]
 *   (-q: 20 rows only; -m: each matrix too, timed within the layer runs, so
 *   with the caches the matrix before it left; -r: only that many rows, at
 *   most 1000; -p: only the paths whose label contains text) */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/acts.h"
#include "kernels/kernels.h"
#include "matmul.h"
#include "tensor.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- peaks ---------------------------------------------------------------- */

enum { PEAK_ITERS = 4000000 };

/* Twelve independent accumulators (enough for a 4-6 cycle latency on two
 * pipes) in inline asm, so that the figure does not depend on how the
 * compiler treats an array of vectors (an -O2 build keeps one in memory and
 * measures a third of the real peak). */
#define PEAK12(op, src)                                                                            \
    op " " src ", %%zmm0\n\t" op " " src ", %%zmm1\n\t" op " " src ", %%zmm2\n\t" op " " src       \
       ", %%zmm3\n\t" op " " src ", %%zmm4\n\t" op " " src ", %%zmm5\n\t" op " " src               \
       ", %%zmm6\n\t" op " " src ", %%zmm7\n\t" op " " src ", %%zmm8\n\t" op " " src               \
       ", %%zmm9\n\t" op " " src ", %%zmm10\n\t" op " " src ", %%zmm11\n\t"
#define PEAK12Y(op, src)                                                                           \
    op " " src ", %%ymm0\n\t" op " " src ", %%ymm1\n\t" op " " src ", %%ymm2\n\t" op " " src       \
       ", %%ymm3\n\t" op " " src ", %%ymm4\n\t" op " " src ", %%ymm5\n\t" op " " src               \
       ", %%ymm6\n\t" op " " src ", %%ymm7\n\t" op " " src ", %%ymm8\n\t" op " " src               \
       ", %%ymm9\n\t" op " " src ", %%ymm10\n\t" op " " src ", %%ymm11\n\t"
#define ZERO12                                                                                     \
    "vpxor %%xmm0, %%xmm0, %%xmm0\n\tvpxor %%xmm1, %%xmm1, %%xmm1\n\tvpxor %%xmm2, %%xmm2, %%xmm2\n\t"   \
    "vpxor %%xmm3, %%xmm3, %%xmm3\n\tvpxor %%xmm4, %%xmm4, %%xmm4\n\tvpxor %%xmm5, %%xmm5, %%xmm5\n\t"   \
    "vpxor %%xmm6, %%xmm6, %%xmm6\n\tvpxor %%xmm7, %%xmm7, %%xmm7\n\tvpxor %%xmm8, %%xmm8, %%xmm8\n\t"   \
    "vpxor %%xmm9, %%xmm9, %%xmm9\n\tvpxor %%xmm10, %%xmm10, %%xmm10\n\tvpxor %%xmm11, %%xmm11, %%xmm11\n\t"
#define PEAK_CLOBBERS                                                                              \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13"

/* The inputs are small values (ones, tiny floats) so that nothing overflows
 * into slow paths. */
__attribute__((target("avx512f,avx512vnni"))) static double peak_vnni512(long iters) {
    __asm__ volatile(ZERO12 "vpternlogd $0xff, %%zmm12, %%zmm12, %%zmm12\n\tvpabsb %%zmm12, %%zmm12\n\t"
                     "vmovdqa64 %%zmm12, %%zmm13" ::: PEAK_CLOBBERS);
    for (long k = 0; k < iters; k++) __asm__ volatile(PEAK12("vpdpbusd", "%%zmm12, %%zmm13") ::: PEAK_CLOBBERS);
    return (double)iters * 12 * 64 * 2;
}

__attribute__((target("avx2,avxvnni"))) static double peak_vnni256(long iters) {
    __asm__ volatile(ZERO12 "vpcmpeqb %%ymm12, %%ymm12, %%ymm12\n\tvpabsb %%ymm12, %%ymm12\n\t"
                     "vmovdqa %%ymm12, %%ymm13" ::: PEAK_CLOBBERS);
    for (long k = 0; k < iters; k++)
        __asm__ volatile(PEAK12Y("%{vex%} vpdpbusd", "%%ymm12, %%ymm13") ::: PEAK_CLOBBERS);
    return (double)iters * 12 * 32 * 2;
}

/* Without VNNI the int8 peak is vpmaddubsw + vpmaddwd + vpaddd per 32 pairs. */
__attribute__((target("avx2"))) static double peak_maddubs256(long iters) {
    __m256i acc[12], a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(2), ones = _mm256_set1_epi16(1);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_epi32(i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        __asm__ volatile("" : "+x"(a));
    }
    __m256i s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_epi32(s, acc[i]);
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 12 * 32 * 2;
}

/* What exact int8 x int8 reaches without VNNI as the AVX2 Q8_0 kernel
 * computes it: vpmaddwd on values widened to int16, then vpaddd, per 16
 * pairs (its inner loop is this and a broadcast; vpmaddubsw takes one
 * unsigned operand, and the sign trick around it costs as many
 * instructions, src/kernels/avx2.c says why). Printed on CPUs whose int8
 * peak is the vpmaddubsw triple: on a Zen 3 core this loop reached 77-79%
 * of that peak, the Q8_0 kernel's own ceiling there. */
#define MADD_ADD(r) "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n\tvpaddd %%ymm14, %%ymm" #r ", %%ymm" #r "\n\t"
__attribute__((target("avx2"))) static double peak_madd256(long iters) {
    __asm__ volatile(ZERO12 "vpcmpeqw %%ymm12, %%ymm12, %%ymm12\n\tvpabsw %%ymm12, %%ymm12\n\t"
                     "vmovdqa %%ymm12, %%ymm13" ::: PEAK_CLOBBERS, "xmm14");
    for (long k = 0; k < iters; k++)
        __asm__ volatile(MADD_ADD(0) MADD_ADD(1) MADD_ADD(2) MADD_ADD(3) MADD_ADD(4) MADD_ADD(5) MADD_ADD(6)
                             MADD_ADD(7) MADD_ADD(8) MADD_ADD(9) MADD_ADD(10) MADD_ADD(11) ::: PEAK_CLOBBERS,
                         "xmm14");
    return (double)iters * 12 * 16 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) static double peak_bf16(long iters) {
    __asm__ volatile(ZERO12 "vpxord %%zmm12, %%zmm12, %%zmm12\n\tvpxord %%zmm13, %%zmm13, %%zmm13" ::: PEAK_CLOBBERS);
    for (long k = 0; k < iters; k++) __asm__ volatile(PEAK12("vdpbf16ps", "%%zmm12, %%zmm13") ::: PEAK_CLOBBERS);
    return (double)iters * 12 * 32 * 2;
}

__attribute__((target("avx512f"))) static double peak_fma512(long iters) {
    __asm__ volatile(ZERO12 "vpxord %%zmm12, %%zmm12, %%zmm12\n\tvpxord %%zmm13, %%zmm13, %%zmm13" ::: PEAK_CLOBBERS);
    for (long k = 0; k < iters; k++) __asm__ volatile(PEAK12("vfmadd231ps", "%%zmm12, %%zmm13") ::: PEAK_CLOBBERS);
    return (double)iters * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double peak_fma256(long iters) {
    __asm__ volatile(ZERO12 "vpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13" ::: PEAK_CLOBBERS);
    for (long k = 0; k < iters; k++) __asm__ volatile(PEAK12Y("vfmadd231ps", "%%ymm12, %%ymm13") ::: PEAK_CLOBBERS);
    return (double)iters * 12 * 8 * 2;
}

/* Best of `reps` runs, each thread running the loop: operations per second. */
static double measure_peak(double (*loop)(long), int threads, int reps, long iters) {
    double best = 0.0;
    for (int rep = 0; rep < reps; rep++) {
        double ops = 0.0;
        const double t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : ops)
        ops += loop(iters);
        const double rate = ops / (now_s() - t0);
        if (rate > best) best = rate;
    }
    return best;
}

/* ---- gemm at the 0.6B shapes ---------------------------------------------- */

typedef struct {
    const char *name;
    int64_t n_in, n_out;
} mat_shape;

static const mat_shape layer[] = {
    {"q", 1024, 2048}, {"k", 1024, 1024},    {"v", 1024, 1024},    {"o", 2048, 1024},
    {"gate", 1024, 3072}, {"up", 1024, 3072}, {"down", 3072, 1024},
};
enum { N_MATS = sizeof layer / sizeof layer[0] };

typedef enum { KIND_INT8, KIND_BF16, KIND_FP32 } peak_kind;

typedef struct {
    qr_tensor w;
    void *data;
    void *packed;
} weights;

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) * 0x1p-24) * 2.0f - 1.0f;
}

static void make_weights(weights *wt, qr_type type, int64_t n_in, int64_t n_out, uint64_t *seed) {
    memset(wt, 0, sizeof *wt);
    const size_t row = qr_row_bytes(type, n_in);
    wt->data = aligned_alloc(64, (row * (size_t)n_out + 63) / 64 * 64);
    float *tmp = malloc(sizeof(float) * (size_t)n_in);
    if (!wt->data || !tmp) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t i = 0; i < n_in; i++) tmp[i] = frand(seed) * 0.05f;
        uint8_t *dst = (uint8_t *)wt->data + (size_t)o * row;
        if (type == QR_TYPE_Q4_K || type == QR_TYPE_Q6_K) {
            /* random bits are as good as real weights for timing; only the
             * f16 scales are kept small and finite */
            for (size_t i = 0; i < row; i++) dst[i] = (uint8_t)(frand(seed) * 127.0f);
            for (int64_t b = 0; b < n_in / QR_QK_K; b++) {
                const uint16_t d = qr_f32_to_f16(0.001f + 0.0005f * frand(seed));
                if (type == QR_TYPE_Q4_K) {
                    ((qr_block_q4_k *)dst)[b].d = d;
                    ((qr_block_q4_k *)dst)[b].dmin = d;
                } else {
                    ((qr_block_q6_k *)dst)[b].d = d;
                }
            }
        } else if (type == QR_TYPE_Q8_0)
            qr_quantize_q8_0_generic(tmp, dst, n_in);
        else if (type == QR_TYPE_BF16)
            qr_to_bf16_generic(tmp, (uint16_t *)dst, n_in);
        else if (type == QR_TYPE_F16)
            for (int64_t i = 0; i < n_in; i++) ((uint16_t *)dst)[i] = qr_f32_to_f16(tmp[i]);
        else
            memcpy(dst, tmp, sizeof(float) * (size_t)n_in);
    }
    free(tmp);
    wt->w.name = "w";
    wt->w.type = type;
    wt->w.n_dims = 2;
    wt->w.ne[0] = n_in;
    wt->w.ne[1] = n_out;
    wt->w.ne[2] = wt->w.ne[3] = 1;
    wt->w.data = wt->data;
    wt->w.nbytes = row * (size_t)n_out;
}

typedef struct {
    const char *label;
    const char *table; /* qr_kernels_select name */
    qr_type wtype;
    int packed;
    peak_kind kind;
} path;

static const path paths[] = {
    {"q8_0 avx512 packed", "avx512", QR_TYPE_Q8_0, 1, KIND_INT8},
    {"q8_0 avx512", "avx512", QR_TYPE_Q8_0, 0, KIND_INT8},
    /* avx512vnni: avx512's kernels, measured only where avx512 is not */
    {"q8_0 avx512vnni packed", "avx512vnni", QR_TYPE_Q8_0, 1, KIND_INT8},
    {"q8_0 avx512vnni", "avx512vnni", QR_TYPE_Q8_0, 0, KIND_INT8},
    {"q8_0 avxvnni packed", "avxvnni", QR_TYPE_Q8_0, 1, KIND_INT8},
    {"q8_0 avx2 packed", "avx2", QR_TYPE_Q8_0, 1, KIND_INT8},
    {"q8_0 avx2", "avx2", QR_TYPE_Q8_0, 0, KIND_INT8},
    {"q8_0 generic", "generic", QR_TYPE_Q8_0, 0, KIND_INT8},
    {"q4_k avx512 packed", "avx512", QR_TYPE_Q4_K, 1, KIND_INT8},
    {"q6_k avx512 packed", "avx512", QR_TYPE_Q6_K, 1, KIND_INT8},
    {"q4_k avxvnni packed", "avxvnni", QR_TYPE_Q4_K, 1, KIND_INT8},
    {"q6_k avxvnni packed", "avxvnni", QR_TYPE_Q6_K, 1, KIND_INT8},
    {"q4_k avx2 packed", "avx2", QR_TYPE_Q4_K, 1, KIND_INT8},
    {"q6_k avx2 packed", "avx2", QR_TYPE_Q6_K, 1, KIND_INT8},
    {"q8_0 amx packed", "amx", QR_TYPE_Q8_0, 1, KIND_INT8},
    {"q8_0 amx", "amx", QR_TYPE_Q8_0, 0, KIND_INT8},
    {"bf16 amx packed", "amx", QR_TYPE_BF16, 1, KIND_BF16},
    {"bf16 amx", "amx", QR_TYPE_BF16, 0, KIND_BF16},
    {"f16 amx", "amx", QR_TYPE_F16, 0, KIND_BF16}, /* two bf16 halves: twice the tile work */
    {"bf16 avx512 packed", "avx512", QR_TYPE_BF16, 1, KIND_BF16},
    {"bf16 avx512", "avx512", QR_TYPE_BF16, 0, KIND_BF16},
    {"bf16 avx2", "avx2", QR_TYPE_BF16, 0, KIND_BF16},
    {"f32 avx512 (F32 w)", "avx512", QR_TYPE_F32, 0, KIND_FP32},
    {"f32 avx512 (F16 w)", "avx512", QR_TYPE_F16, 0, KIND_FP32},
    {"f32 avx512 (BF16 w) packed", "avx512", QR_TYPE_BF16, 1, KIND_FP32},
    {"f32 avx512 (BF16 w)", "avx512", QR_TYPE_BF16, 0, KIND_FP32},
    {"f32 avx512vnni (BF16 w) packed", "avx512vnni", QR_TYPE_BF16, 1, KIND_FP32},
    {"f32 avx512 (Q8_0 w) packed", "avx512", QR_TYPE_Q8_0, 1, KIND_FP32},
    {"f32 avx512 (Q8_0 w)", "avx512", QR_TYPE_Q8_0, 0, KIND_FP32},
    {"f32 avx512 (Q4_K w)", "avx512", QR_TYPE_Q4_K, 0, KIND_FP32},
    {"f32 avx2 (F32 w)", "avx2", QR_TYPE_F32, 0, KIND_FP32},
    {"f32 avx2 (F16 w)", "avx2", QR_TYPE_F16, 0, KIND_FP32},
    {"f32 avx2 (BF16 w)", "avx2", QR_TYPE_BF16, 0, KIND_FP32},
    {"f32 avx2 (Q8_0 w) packed", "avx2", QR_TYPE_Q8_0, 1, KIND_FP32},
    {"f32 avx2 (Q8_0 w)", "avx2", QR_TYPE_Q8_0, 0, KIND_FP32},
    {"f32 avx2 (Q4_K w)", "avx2", QR_TYPE_Q4_K, 0, KIND_FP32},
};

/* One call's worth of work split like matmul.c: runs of an even number of
 * 16-output slices, about 8 per thread, handed out as threads come free. */
static void run_gemm(qr_gemm_fn gemm, const qr_tensor *w, const float *x, const qr_acts *acts, int64_t n_rows,
                     float *y, int threads) {
    const int64_t n_in = w->ne[0], n_out = w->ne[1], n_slices = (n_out + 15) / 16;
    const int64_t run = qr_matmul_run_slices(n_slices, threads);
    const int64_t n_runs = (n_slices + run - 1) / run;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t ri = 0; ri < n_runs; ri++) {
        const int64_t o0 = ri * run * 16, o1 = (ri + 1) * run * 16 < n_out ? (ri + 1) * run * 16 : n_out;
        if (o0 < o1) gemm(w, x, acts, n_rows, n_in, y, n_out, o0, o1);
    }
}

/* The whole layer, repeated for about `seconds`: GOP/s of the fastest run.
 * The clock of a shared machine drifts by a third within seconds, so each run
 * is bracketed by two short peak loops on the same threads, and *peak keeps
 * the highest peak seen: the fastest run over the fastest peak compares the
 * two least disturbed moments. */
static double bench_path(const qr_kernels *k, const path *p, weights *mats, const float *x, int64_t n_rows,
                         int threads, double seconds, double (*peak_loop)(long), double *peak,
                         double mat_gops[N_MATS]) {
    const int64_t max_in = 3072, max_out = 3072;
    /* activations as matmul.c prepares them (acts.h), once, untimed */
    qr_gemm_fn gemm = k->gemm_f32;
    void *acts_mem[N_MATS] = {0};
    qr_acts acts[N_MATS];
    double ops = 0.0, mat_ops[N_MATS], mat_best[N_MATS];
    for (int m = 0; m < N_MATS; m++) {
        const int64_t n_in = layer[m].n_in;
        acts[m] = (qr_acts){QR_TYPE_F32, NULL, 0, 0, 0};
        if (p->kind != KIND_FP32) {
            gemm = qr_acts_plan(k, p->wtype, p->packed, n_in, &acts[m]); /* main() skips paths without one */
            acts_mem[m] = malloc(acts[m].row_bytes * (size_t)n_rows);
            for (int64_t r = 0; r < n_rows; r++)
                qr_acts_write_row(k, &acts[m], x + r * max_in, (uint8_t *)acts_mem[m] + acts[m].row_bytes * (size_t)r,
                                  n_in);
            acts[m].data = acts_mem[m];
        }
        mats[m].w.packed = p->packed ? mats[m].packed : NULL;
        mat_ops[m] = 2.0 * (double)n_rows * (double)n_in * (double)layer[m].n_out;
        mat_best[m] = 1e30;
        ops += mat_ops[m];
    }
    float *y = malloc(sizeof(float) * (size_t)(n_rows * max_out));
    /* the f32 path reads x with stride n_in, so give each matrix its own copy */
    float *xs[N_MATS];
    for (int m = 0; m < N_MATS; m++) {
        xs[m] = malloc(sizeof(float) * (size_t)(n_rows * layer[m].n_in));
        for (int64_t r = 0; r < n_rows; r++)
            memcpy(xs[m] + r * layer[m].n_in, x + r * max_in, sizeof(float) * (size_t)layer[m].n_in);
    }
    double best = 1e30, spent = 0.0;
    for (int n = 0; n < 64 && (n < 5 || spent < seconds); n++) {
        const double p0 = measure_peak(peak_loop, threads, 1, PEAK_ITERS / 16) / 1e9;
        const double t0 = now_s();
        double tm = t0;
        for (int m = 0; m < N_MATS; m++) {
            run_gemm(gemm, &mats[m].w, xs[m], &acts[m], n_rows, y, threads);
            const double t1 = now_s();
            if (t1 - tm < mat_best[m]) mat_best[m] = t1 - tm;
            tm = t1;
        }
        const double t = now_s() - t0;
        const double p1 = measure_peak(peak_loop, threads, 1, PEAK_ITERS / 16) / 1e9;
        if (p0 > *peak) *peak = p0;
        if (p1 > *peak) *peak = p1;
        spent += t;
        if (t < best) best = t;
    }
    for (int m = 0; m < N_MATS; m++) {
        free(acts_mem[m]);
        free(xs[m]);
        mats[m].w.packed = NULL;
    }
    free(y);
    for (int m = 0; m < N_MATS; m++) mat_gops[m] = mat_ops[m] / mat_best[m] / 1e9;
    return ops / best / 1e9;
}

int main(int argc, char **argv) {
    int max_threads = omp_get_max_threads(), quick = 0, per_matrix = 0;
    int64_t only_rows = 0;
    const char *only = NULL;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            max_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "-q") == 0)
            quick = 1;
        else if (strcmp(argv[i], "-m") == 0)
            per_matrix = 1;
        else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc && atoll(argv[i + 1]) >= 1 && atoll(argv[i + 1]) <= 1000)
            only_rows = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-t threads] [-s seconds per figure] [-q] [-m] [-r rows] [-p text]\n", argv[0]);
            return 2;
        }
    }
    if (max_threads < 1) max_threads = 1;
    __builtin_cpu_init();
    qr_kernels best_k;
    qr_kernels_select(&best_k, NULL);
    printf("best kernel table here: %s; threads: 1 and %d\n\n", best_k.name, max_threads);

    /* The peak of each kind is the fastest instruction this CPU has for it. */
    const int has512 = qr_kernels_select(&(qr_kernels){0}, "avx512") == 0;
    /* AVX-512 with VNNI, with or without BF16 */
    const int has512v = qr_kernels_select(&(qr_kernels){0}, "avx512vnni") == 0;
    const int hasvnni = __builtin_cpu_supports("avxvnni") && qr_kernels_select(&(qr_kernels){0}, "avx2") == 0;
    const int has2 = qr_kernels_select(&(qr_kernels){0}, "avx2") == 0;
    if (!has2) {
        printf("no AVX2 here: nothing but the generic kernels to measure\n");
        return 0;
    }
    double (*int8_loop)(long) = has512v ? peak_vnni512 : hasvnni ? peak_vnni256 : peak_maddubs256;
    const char *int8_name = has512v ? "vpdpbusd zmm" : hasvnni ? "vpdpbusd ymm" : "vpmaddubsw+vpmaddwd ymm";
    double (*fp32_loop)(long) = has512v ? peak_fma512 : peak_fma256;
    double peak[3][2]; /* [kind][1 thread, all] */
    const int thr[2] = {1, max_threads};
    for (int t = 0; t < 2; t++) {
        peak[KIND_INT8][t] = measure_peak(int8_loop, thr[t], 5, PEAK_ITERS) / 1e9;
        peak[KIND_FP32][t] = measure_peak(fp32_loop, thr[t], 5, PEAK_ITERS) / 1e9;
        /* without AVX-512 BF16, bf16 runs as widened fp32 */
        peak[KIND_BF16][t] = has512 ? measure_peak(peak_bf16, thr[t], 5, PEAK_ITERS) / 1e9 : peak[KIND_FP32][t];
    }
    printf("peaks (GOP/s, 2 ops per multiply-add)      1 thread   %d threads\n", max_threads);
    printf("  int8  %-34s %8.1f   %8.1f\n", int8_name, peak[KIND_INT8][0], peak[KIND_INT8][1]);
    printf("  bf16  %-34s %8.1f   %8.1f\n", has512 ? "vdpbf16ps zmm" : "(none: fp32 peak)", peak[KIND_BF16][0],
           peak[KIND_BF16][1]);
    printf("  fp32  %-34s %8.1f   %8.1f\n", has512v ? "vfmadd231ps zmm" : "vfmadd231ps ymm", peak[KIND_FP32][0],
           peak[KIND_FP32][1]);
    if (!has512v && !hasvnni) /* the ceiling of the avx2 table's Q8_0 kernel, not a peak of the CPU */
        printf("  int16 %-34s %8.1f   %8.1f\n", "vpmaddwd+vpaddd ymm (exact int8)",
               measure_peak(peak_madd256, 1, 5, PEAK_ITERS) / 1e9,
               measure_peak(peak_madd256, max_threads, 5, PEAK_ITERS) / 1e9);
    printf("\n");

    /* weights: [Q8_0, BF16, F32, Q4_K, Q6_K][matrix]; those the best table
     * packs also packed once, as a loader would with its pack() */
    enum { N_TYPES = 6 };
    weights mats[N_TYPES][N_MATS];
    uint64_t seed = 42;
    const qr_type types[N_TYPES] = {QR_TYPE_Q8_0, QR_TYPE_BF16, QR_TYPE_F32, QR_TYPE_Q4_K, QR_TYPE_Q6_K, QR_TYPE_F16};
    for (int ti = 0; ti < N_TYPES; ti++)
        for (int m = 0; m < N_MATS; m++) {
            weights *wt = &mats[ti][m];
            make_weights(wt, types[ti], layer[m].n_in, layer[m].n_out, &seed);
            if (best_k.pack_size && best_k.pack_size(&wt->w) > 0) {
                const size_t size = best_k.pack_size(&wt->w);
                wt->packed = aligned_alloc(64, (size + 63) / 64 * 64);
                if (!wt->packed) {
                    fprintf(stderr, "out of memory\n");
                    return 1;
                }
                best_k.pack(&wt->w, wt->packed);
            }
        }
    int64_t rows[3] = {20, 100, 1000};
    int n_counts = quick ? 1 : 3;
    if (only_rows) {
        rows[0] = only_rows;
        n_counts = 1;
    }
    float *x = malloc(sizeof(float) * 1000 * 3072);
    if (!x) return 1;
    for (int64_t i = 0; i < 1000 * 3072; i++) x[i] = frand(&seed);

    printf("one 0.6B layer (7 matrices): best GOP/s (share of the best peak of its kind seen so far)\n");
    printf("%-22s %5s   %18s   %18s\n", "path", "rows", "1 thread", "all threads");
    for (size_t pi = 0; pi < sizeof paths / sizeof paths[0]; pi++) {
        const path *p = &paths[pi];
        if (only && !strstr(p->label, only)) continue;
        if (has512 && strcmp(p->table, "avx512vnni") == 0) continue; /* the avx512 rows are the same kernels */
        qr_kernels k;
        if (qr_kernels_select(&k, p->table) != 0) {
            printf("%-22s skipped: this CPU lacks %s\n", p->label, p->table);
            continue;
        }
        if (p->packed && !k.pack_size) continue;
        int ti = 0;
        while (ti < N_TYPES - 1 && types[ti] != p->wtype) ti++;
        weights *ms = mats[ti];
        qr_acts plan;
        if (p->kind != KIND_FP32 && !qr_acts_plan(&k, p->wtype, p->packed, 3072, &plan)) continue;
        for (int c = 0; c < n_counts; c++) {
            /* the reference is plain C: one row count shows the gap */
            if (strcmp(p->table, "generic") == 0 && c > 0) break;
            double (*loop)(long) = p->kind == KIND_INT8 ? int8_loop
                                   : p->kind == KIND_BF16 && has512 ? peak_bf16
                                                                    : fp32_loop;
            double g[2], mg[2][N_MATS];
            for (int t = 0; t < 2; t++)
                g[t] = bench_path(&k, p, ms, x, rows[c], thr[t], seconds, loop, &peak[p->kind][t], mg[t]);
            printf("%-22s %5lld   %8.1f (%5.1f%%)   %8.1f (%5.1f%%)\n", p->label, (long long)rows[c], g[0],
                   100.0 * g[0] / peak[p->kind][0], g[1], 100.0 * g[1] / peak[p->kind][1]);
            for (int m = 0; per_matrix && m < N_MATS; m++)
                printf("  %-20s %5lld   %8.1f (%5.1f%%)   %8.1f (%5.1f%%)\n", layer[m].name, (long long)rows[c],
                       mg[0][m], 100.0 * mg[0][m] / peak[p->kind][0], mg[1][m], 100.0 * mg[1][m] / peak[p->kind][1]);
            fflush(stdout);
        }
    }
    printf("\nbest peaks seen (GOP/s): int8 %.1f / %.1f, bf16 %.1f / %.1f, fp32 %.1f / %.1f (1 / %d threads)\n",
           peak[KIND_INT8][0], peak[KIND_INT8][1], peak[KIND_BF16][0], peak[KIND_BF16][1], peak[KIND_FP32][0],
           peak[KIND_FP32][1], max_threads);
    for (int ti = 0; ti < N_TYPES; ti++)
        for (int m = 0; m < N_MATS; m++) {
            free(mats[ti][m].data);
            free(mats[ti][m].packed);
        }
    free(x);
    return 0;
}
