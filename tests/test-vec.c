/* test-vec.c - the vectorised math of vec.h, silu.c and attention.c
 * against plain double-precision formulas.
 *
 *  - qr_vf_exp within 1 ulp of exp over the whole float range, subnormal
 *    results within one subnormal step, and the edges: 0 below the range,
 *    +inf above it, NaN kept;
 *  - qr_silu_mul on lengths that end mid-vector, in each vector width this
 *    CPU runs (vec_avx512.c, vec_avx2.c, vec_generic.c), the AVX-512 and
 *    AVX2 builds the same bit for bit;
 *  - qr_attention on hand-made keys, values and queries, against softmax
 *    attention written out in double, the f32 path in each vector width
 *    this CPU runs (the AVX-512 and AVX2 builds the same bit for bit):
 *    head dims that exercise the 8-wide, 4-wide and the scalar tails, grouped-query heads, a shared prefix, sequences that
 *    cross the 16-query blocks and the 64-key blocks, and query rows that
 *    are not all rows (as in a model's last layer); on a CPU with AMX the
 *    tile path (attention_avx512_amx.c) and on one with AVX-512 BF16 the
 *    vdpbf16ps path (attention_avx512_bf16.c) too, on the same cases whose head
 *    dim they take (multiples of 32 and of 16), against the double attention of its
 *    bf16-rounded inputs, and each sequence alone against the batch.
 * This binary is built for the x86-64 baseline, so the vector code inlined
 * into it (the exp and select helpers) runs 16 lanes as SSE2 without FMA;
 * silu.c and attention.c run the build of the width they are given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "kernels/kernels.h"
#include "model.h"
#include "silu.h"
#include "vec.h"

#include "check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(float lo, float hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}

static float exp1(float x) {
    qr_vf v = QR_VF_SPLAT(x);
    qr_vf_exp(&v);
    return v[3];
}

static void test_exp(void) {
    double worst = 0.0;
    float worst_x = 0.0f;
    long n = 0;
    for (float x = -110.0f; x <= 89.0f; x += 0.000613f, n++) {
        const float got = exp1(x);
        const double want = exp((double)x);
        double err;
        if (want >= 0x1p-126) {
            const float w = (float)want;
            if (isinf(w)) {
                err = isinf(got) ? 0.0 : 1e9;
            } else {
                const double ulp = (double)nextafterf(w, INFINITY) - (double)w;
                err = fabs((double)got - want) / ulp;
            }
        } else { /* subnormal results: steps of 2^-149 */
            err = fabs((double)got - want) / 0x1p-149;
            if (err <= 1.0) err = 0.0;
        }
        if (err > worst) {
            worst = err;
            worst_x = x;
        }
    }
    printf("exp: %ld values, worst %.3f ulp at %g\n", n, worst, worst_x);
    CHECK(worst <= 1.0, "qr_vf_exp is %.3f ulp off at %g", worst, worst_x);
    CHECK(exp1(0.0f) == 1.0f && exp1(-0.0f) == 1.0f, "exp(0) is not 1");
    CHECK(exp1(-INFINITY) == 0.0f && exp1(-104.0f) == 0.0f, "exp of very negative numbers is not 0");
    CHECK(isinf(exp1(INFINITY)) && isinf(exp1(88.75f)), "exp above ln(FLT_MAX) is not +inf");
    CHECK(fabs(exp1(88.72f) / exp((double)88.72f) - 1.0) < 1.2e-7, "exp just below the overflow edge is wrong: %g",
          exp1(88.72f));
    CHECK(isnan(exp1(NAN)), "exp(NaN) is not NaN");
    /* every lane on its own */
    qr_vf v;
    for (int i = 0; i < 16; i++) v[i] = (float)i - 7.5f;
    qr_vf e = v;
    qr_vf_exp(&e);
    int lanes_ok = 1;
    for (int i = 0; i < 16; i++) lanes_ok &= fabs(e[i] / exp((double)v[i]) - 1.0) < 2e-7;
    CHECK(lanes_ok, "qr_vf_exp mixes up lanes");
}

static float exp_nonpos1(float x) {
    qr_vf v = QR_VF_SPLAT(x);
    qr_vf_exp_nonpos(&v);
    return v[5];
}

/* The softmax's exp: relative error against double exp down to -86,
 * exactly 1 at 0 (a row's largest probability, exact in bf16 too), 0
 * below -86 and at -inf (keys a query does not see), NaN kept. */
static void test_exp_nonpos(void) {
    double worst = 0.0;
    float worst_x = 0.0f;
    long n = 0;
    for (float x = 0.0f; x >= -86.0f; x -= 0.000317f, n++) {
        const double err = fabs((double)exp_nonpos1(x) / exp((double)x) - 1.0);
        if (!(err <= worst)) {
            worst = err;
            worst_x = x;
        }
    }
    printf("exp of scores: %ld values, worst %.3g relative at %g\n", n, worst, worst_x);
    CHECK(worst < 3e-7, "qr_vf_exp_nonpos is %.3g off at %g", worst, worst_x);
    CHECK(exp_nonpos1(0.0f) == 1.0f && exp_nonpos1(-0.0f) == 1.0f, "exp_nonpos(0) is not 1");
    CHECK(exp_nonpos1(-INFINITY) == 0.0f && exp_nonpos1(-86.01f) == 0.0f && exp_nonpos1(-1e30f) == 0.0f,
          "exp_nonpos below -86 is not 0");
    CHECK(exp_nonpos1(-86.0f) > 0.0f, "exp_nonpos(-86) is 0");
    CHECK(isnan(exp_nonpos1(NAN)), "exp_nonpos(NaN) is not NaN");
    qr_vf v;
    for (int i = 0; i < 16; i++) v[i] = -5.25f * (float)i;
    qr_vf e = v;
    qr_vf_exp_nonpos(&e);
    int lanes_ok = 1;
    for (int i = 0; i < 16; i++) lanes_ok &= fabs(e[i] / exp((double)v[i]) - 1.0) < 3e-7;
    CHECK(lanes_ok, "qr_vf_exp_nonpos mixes up lanes");
}

/* The vector widths this CPU runs (qr_kernels.f32_lanes of the tables it
 * can select), widest first. */
static int g_lanes[3], g_n_lanes;

static void find_lanes(void) {
    static const char *const tables[] = {"avx512", "avx2", "generic"};
    for (int i = 0; i < 3; i++) {
        qr_kernels k;
        if (qr_kernels_select(&k, tables[i]) == 0) g_lanes[g_n_lanes++] = k.f32_lanes;
        else printf("vector width of the %s table: skipped, this CPU cannot run it\n", tables[i]);
    }
}

static void test_silu(void) {
    static const int64_t lengths[] = {1, 3, 7, 15, 16, 17, 40, 4096 + 3, 3 * 4096 + 21};
    for (size_t t = 0; t < sizeof lengths / sizeof lengths[0]; t++) {
        const int64_t n = lengths[t];
        float *g = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n),
              *g0 = malloc(sizeof(float) * (size_t)n), *g16 = malloc(sizeof(float) * (size_t)n);
        if (!g || !u || !g0 || !g16) exit(2);
        for (int64_t i = 0; i < n; i++) {
            g0[i] = frand(-30.0f, 30.0f);
            u[i] = frand(-2.0f, 2.0f);
        }
        for (int w = 0; w < g_n_lanes; w++) {
            memcpy(g, g0, sizeof(float) * (size_t)n);
            qr_silu_mul(g, u, n, g_lanes[w], 2);
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++) {
                const double want = (double)g0[i] / (1.0 + exp(-(double)g0[i])) * u[i];
                if (!(fabs(g[i] - want) <= 4e-7 * fabs(want) + 1e-37)) bad++;
            }
            CHECK(bad == 0, "qr_silu_mul, %d lanes, n = %lld: %lld values off", g_lanes[w], (long long)n,
                  (long long)bad);
            if (g_lanes[w] == 16) memcpy(g16, g, sizeof(float) * (size_t)n);
            if (g_lanes[w] == 8 && g_lanes[0] == 16)
                CHECK(memcmp(g, g16, sizeof(float) * (size_t)n) == 0,
                      "qr_silu_mul, n = %lld: 8 lanes differ from 16", (long long)n);
        }
        free(g);
        free(u);
        free(g0);
        free(g16);
    }
}

/* x as the bf16 paths read it: rounded to bf16 (bf16 set) or as it is. */
static double rd(float x, int bf16) { return bf16 ? (double)qr_bf16_to_f32(qr_f32_to_bf16(x)) : (double)x; }

/* Attention in double, one query row at a time; with bf16, on queries,
 * keys and values rounded to bf16 as the bf16 paths round them (they
 * round the probabilities too, which this does not). */
static void naive_attention(const qr_att_ctx *s, const int64_t *rows, int64_t n, const float *q, double *out,
                            int bf16) {
    const qr_hparams *hp = &s->m->hp;
    const int hd = hp->head_dim, H = hp->n_heads, group = H / hp->n_kv_heads, kv_dim = hp->n_kv_heads * hd;
    for (int64_t i = 0; i < n; i++) {
        const qr_seq *sq = &s->seqs[s->row_seq[rows[i]]];
        /* the prefix: kept from an earlier call, or rows of this batch */
        const float *pk = NULL, *pv = NULL;
        int64_t n_pre = 0;
        if (sq->prefix) {
            n_pre = sq->prefix->n_tokens;
            pk = sq->prefix->k + (size_t)s->layer * (size_t)(n_pre * kv_dim);
            pv = sq->prefix->v + (size_t)s->layer * (size_t)(n_pre * kv_dim);
        } else if (sq->prefix_seq) {
            n_pre = sq->prefix_seq->len;
            pk = s->k + sq->prefix_seq->start * kv_dim;
            pv = s->v + sq->prefix_seq->start * kv_dim;
        }
        const int64_t own = rows[i] - sq->start;
        const int64_t n_keys = n_pre + own + 1;
        double *sc = malloc(sizeof(double) * (size_t)n_keys);
        if (!sc) exit(2);
        for (int h = 0; h < H; h++) {
            const float *qi = q + (i * H + h) * hd;
            double mx = -INFINITY;
            for (int64_t j = 0; j < n_keys; j++) {
                const float *k = j < n_pre ? pk + j * kv_dim : s->k + (sq->start + j - n_pre) * kv_dim;
                k += (h / group) * hd;
                double d = 0.0;
                for (int c = 0; c < hd; c++) d += rd(qi[c], bf16) * rd(k[c], bf16);
                sc[j] = d / sqrt((double)hd);
                if (sc[j] > mx) mx = sc[j];
            }
            double sum = 0.0;
            for (int64_t j = 0; j < n_keys; j++) sum += (sc[j] = exp(sc[j] - mx));
            double *o = out + (i * H + h) * hd;
            for (int c = 0; c < hd; c++) o[c] = 0.0;
            for (int64_t j = 0; j < n_keys; j++) {
                const float *v = j < n_pre ? pv + j * kv_dim : s->v + (sq->start + j - n_pre) * kv_dim;
                v += (h / group) * hd;
                for (int c = 0; c < hd; c++) o[c] += sc[j] / sum * rd(v[c], bf16);
            }
        }
        free(sc);
    }
}

static float *random_floats(size_t n, float amp) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) exit(2);
    for (size_t i = 0; i < n; i++) p[i] = frand(-amp, amp);
    return p;
}

/* 1 where the AMX path can run (and the OS has granted the tiles); 1
 * where the vdpbf16ps path can (the avx512 table's CPU features). */
static int g_amx, g_dot, g_laid_cases;

/* n_pre > 0: a prefix of n_pre keys in front of every sequence, kept from an
 * earlier call, or with in_batch, the batch's first sequence. On a bf16
 * path (on a CPU that has it): against the double attention of the
 * bf16-rounded inputs, within what rounding the probabilities to bf16 can
 * move an average of values of at most 1 (2^-9 relative, 2e-3 with the
 * f32 sums; a key seen that should not be, or missed, moves it more), and
 * each query the same bit for bit when its sequence is computed alone.
 * On f32, within 4e-6: a score sums up to 128 products of up to 9 in
 * float, and its rounding (around 1e-6, as large as the softmax exp's
 * 2.3e-7 and the sums' together) goes into e^score as relative error;
 * one key seen or missed typically moves an output by 1e-3. Returns the
 * output (*out_floats floats) for the caller to compare and free. */
static float *test_attention_case_at(qr_att_path path, int lanes, int hd, int heads, int kv_heads, int64_t n_pre,
                                     int in_batch, const int64_t *lens, int n_seqs_in, int last_rows_only, int layer,
                                     size_t *out_floats) {
    qrank_model m;
    memset(&m, 0, sizeof m);
    m.kernels.f32_lanes = lanes;
    m.hp.head_dim = hd;
    m.hp.n_heads = heads;
    m.hp.n_kv_heads = kv_heads;
    const int kv_dim = kv_heads * hd, q_dim = heads * hd, n_layers = layer + 1;
    qr_kv_prefix pre = {n_layers, kv_dim, n_pre, NULL, NULL};
    if (n_pre && !in_batch) {
        /* large scores too (amplitude 3 x 3 x hd terms), so the running max moves */
        pre.k = random_floats((size_t)n_layers * (size_t)(n_pre * kv_dim), 3.0f);
        pre.v = random_floats((size_t)n_layers * (size_t)(n_pre * kv_dim), 1.0f);
    }
    int64_t T = 0;
    qr_seq seqs[8];
    int n_seqs = 0;
    if (n_pre && in_batch) {
        seqs[n_seqs++] = (qr_seq){0, n_pre, NULL, NULL, NULL};
        T = n_pre;
    }
    for (int i = 0; i < n_seqs_in; i++) {
        seqs[n_seqs++] = (qr_seq){T, lens[i], n_pre && !in_batch ? &pre : NULL, n_pre && in_batch ? &seqs[0] : NULL,
                                  NULL};
        T += lens[i];
    }
    int64_t *row_seq = malloc(sizeof(int64_t) * (size_t)T), *rows = malloc(sizeof(int64_t) * (size_t)T);
    if (!row_seq || !rows) exit(2);
    for (int s = 0; s < n_seqs; s++)
        for (int64_t j = 0; j < seqs[s].len; j++) row_seq[seqs[s].start + j] = s;
    int64_t n = 0;
    if (last_rows_only)
        for (int s = 0; s < n_seqs; s++) rows[n++] = seqs[s].start + seqs[s].len - 1;
    else
        for (int64_t r = 0; r < T; r++) rows[n++] = r;
    float *k = random_floats((size_t)(T * kv_dim), 3.0f), *v = random_floats((size_t)(T * kv_dim), 1.0f);
    float *q = random_floats((size_t)(n * q_dim), 3.0f), *out = malloc(sizeof(float) * (size_t)(n * q_dim));
    double *want = malloc(sizeof(double) * (size_t)(n * q_dim));
    if (!out || !want) exit(2);
    const qr_att_ctx ctx = {&m, seqs, row_seq, k, v, layer, path, NULL};
    const int bf16 = path != QR_ATT_F32;
    char name[32];
    if (path == QR_ATT_F32) snprintf(name, sizeof name, " (f32, %d lanes)", lanes);
    else snprintf(name, sizeof name, "%s", path == QR_ATT_BF16_AMX ? " (amx)" : " (vdpbf16ps)");
    CHECK(qr_attention(&ctx, rows, n, q, out, 2) == QRANK_OK, "qr_attention failed");
    naive_attention(&ctx, rows, n, q, want, bf16);
    double worst = 0.0;
    for (int64_t i = 0; i < n * q_dim; i++) {
        const double e = fabs(out[i] - want[i]);
        if (!(e <= worst)) worst = e; /* NaN counts as worst */
    }
    CHECK(worst < (bf16 ? 2e-3 : 4e-6), "attention%s hd %d heads %d/%d prefix %lld%s seqs %d%s: max error %g",
          name, hd, heads, kv_heads, (long long)n_pre, in_batch ? " (in the batch)" : "", n_seqs_in,
          last_rows_only ? " (last rows)" : "", worst);
    if (bf16) { /* each sequence's rows alone, through the same call */
        int64_t diff = 0;
        float *one = malloc(sizeof(float) * (size_t)(n * q_dim));
        if (!one) exit(2);
        for (int sidx = 0; sidx < n_seqs; sidx++) {
            int64_t first = -1, cnt = 0;
            for (int64_t i = 0; i < n; i++)
                if (row_seq[rows[i]] == sidx) {
                    if (first < 0) first = i;
                    cnt++;
                }
            if (cnt == 0) continue;
            CHECK(qr_attention(&ctx, rows + first, cnt, q + first * q_dim, one, 1) == QRANK_OK, "qr_attention failed");
            diff += memcmp(one, out + first * q_dim, sizeof(float) * (size_t)(cnt * q_dim)) != 0;
        }
        CHECK(diff == 0, "attention%s hd %d: %lld sequences differ alone from in the batch", name, hd,
              (long long)diff);
        /* the long sequences' keys and values laid out once (qr_att_laid),
         * the rows coming 37 at a time as forward.c's chunks do: chunks
         * laid out partially and completed by a later call, some keys laid
         * out past those a group sees; the same bits */
        int64_t at[8], done[8] = {0};
        const size_t laid_bytes = qr_att_laid_plan(&m, path, seqs, (size_t)n_seqs, at);
        if (laid_bytes) {
            uint8_t *buf = aligned_alloc(64, (laid_bytes + 63) / 64 * 64);
            if (!buf) exit(2);
            qr_att_laid laid = {buf, at, done};
            const qr_att_ctx lctx = {&m, seqs, row_seq, k, v, layer, path, &laid};
            for (int64_t c0 = 0; c0 < n; c0 += 37) {
                const int64_t cnt = n - c0 < 37 ? n - c0 : 37;
                CHECK(qr_attention(&lctx, rows + c0, cnt, q + c0 * q_dim, one + c0 * q_dim, 2) == QRANK_OK,
                      "qr_attention failed");
            }
            CHECK(memcmp(one, out, sizeof(float) * (size_t)(n * q_dim)) == 0,
                  "attention%s hd %d prefix %lld%s%s: keys laid out once per layer change the result", name, hd,
                  (long long)n_pre, in_batch ? " (in the batch)" : "", last_rows_only ? " (last rows)" : "");
            free(buf);
        }
        g_laid_cases += laid_bytes > 0;
        free(one);
    }
    free(row_seq);
    free(rows);
    free(k);
    free(v);
    free(q);
    free(want);
    free(pre.k);
    free(pre.v);
    *out_floats = (size_t)(n * q_dim);
    return out;
}

static void test_attention_case(int hd, int heads, int kv_heads, int64_t n_pre, int in_batch, const int64_t *lens,
                                int n_seqs_in, int last_rows_only, int layer) {
    /* the bf16 paths on the same data, and the cases after on the data
     * they had before those were added */
    const uint64_t before = rng;
    uint64_t after = rng;
    size_t nf = 0;
    float *f32_16 = NULL;
    for (int w = 0; w < g_n_lanes; w++) {
        rng = before;
        float *out = test_attention_case_at(QR_ATT_F32, g_lanes[w], hd, heads, kv_heads, n_pre, in_batch, lens,
                                            n_seqs_in, last_rows_only, layer, &nf);
        after = rng;
        if (g_lanes[w] == 8 && f32_16)
            CHECK(memcmp(out, f32_16, sizeof(float) * nf) == 0,
                  "attention (f32) hd %d prefix %lld seqs %d: 8 lanes differ from 16", hd, (long long)n_pre,
                  n_seqs_in);
        if (g_lanes[w] == 16) f32_16 = out;
        else free(out);
    }
    free(f32_16);
    if (g_amx && hd % 32 == 0) {
        rng = before;
        free(test_attention_case_at(QR_ATT_BF16_AMX, 16, hd, heads, kv_heads, n_pre, in_batch, lens, n_seqs_in,
                                    last_rows_only, layer, &nf));
    }
    if (g_dot && hd % 16 == 0) {
        rng = before;
        free(test_attention_case_at(QR_ATT_BF16_DOT, 16, hd, heads, kv_heads, n_pre, in_batch, lens, n_seqs_in,
                                    last_rows_only, layer, &nf));
    }
    rng = after;
}

static void test_attention(void) {
    qr_kernels k;
    g_amx = qr_kernels_select(&k, "amx") == 0 && k.amx;
    printf("attention on AMX tiles: %s\n", g_amx ? "checked" : "skipped, this CPU (or OS) has no AMX-BF16");
    g_dot = qr_kernels_select(&k, "avx512") == 0;
    printf("attention on vdpbf16ps: %s\n", g_dot ? "checked" : "skipped, this CPU (or OS) has no AVX-512 BF16");
    const int64_t short_seqs[] = {1, 2, 17, 35, 16, 3};
    const int64_t long_seq[] = {150};
    const int64_t mixed_seqs[] = {150, 70, 1, 128, 300}; /* groups of 8 blocks, partial groups, a full one */
    test_attention_case(128, 4, 2, 0, 0, short_seqs, 6, 0, 0);
    test_attention_case(128, 4, 2, 70, 0, short_seqs, 6, 0, 1);
    test_attention_case(128, 4, 2, 70, 0, short_seqs, 6, 1, 1);
    test_attention_case(40, 3, 1, 5, 0, short_seqs, 6, 0, 0); /* 8-wide chunks, no 16 */
    test_attention_case(6, 2, 2, 63, 0, short_seqs, 6, 0, 0); /* scalar tail only */
    test_attention_case(32, 8, 2, 0, 0, long_seq, 1, 0, 0);   /* crosses 64-key blocks inside one sequence */
    test_attention_case(34, 2, 1, 129, 0, long_seq, 1, 0, 2);  /* odd tail after 8-wide, long prefix, layer 2 */
    test_attention_case(64, 4, 2, 70, 0, mixed_seqs, 5, 0, 0); /* 8-block groups end at each sequence */
    /* the prefix as the batch's first sequence (rerank.c's first batch) */
    test_attention_case(128, 4, 2, 70, 1, short_seqs, 6, 0, 1);
    test_attention_case(128, 4, 2, 70, 1, short_seqs, 6, 1, 0);
    test_attention_case(34, 2, 1, 129, 1, long_seq, 1, 0, 2);
    test_attention_case(64, 4, 2, 70, 1, mixed_seqs, 5, 0, 0);
    /* vdpbf16ps but no tiles (16 dims, not 32), a lone third head, odd chunk ends */
    test_attention_case(48, 3, 1, 9, 0, mixed_seqs, 5, 0, 0);
    /* a prefix of 200 in the batch, laid out once itself; last rows only */
    test_attention_case(64, 4, 2, 200, 1, mixed_seqs, 5, 1, 0);
    /* the cases with a sequence over 128 rows, on each bf16 path here */
    CHECK(g_laid_cases == 4 * g_amx + 5 * g_dot, "%d cases laid keys out once, not %d", g_laid_cases,
          4 * g_amx + 5 * g_dot);
}

int main(void) {
    test_exp();
    test_exp_nonpos();
    find_lanes();
    test_silu();
    test_attention();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
