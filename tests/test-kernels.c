/* test-kernels.c - every kernel variant this CPU can run against generic.c.
 *
 * generic.c is first checked against sums in double precision. Then, for each
 * SIMD variant qr_kernels_select accepts here (the others are reported as
 * skipped, never silently passed) and for odd shapes (rows 1/3/17/33/130, inputs
 * not a multiple of any tile, output ranges that start and end mid-tile):
 *   gemm_q8_0   must equal generic bit for bit (avx2, avxvnni: the integer
 *               block dots are exact and they apply each block's scale with
 *               the same separate multiply and add as the reference), or
 *               within 1e-5 of the block-wise rounding scale (avx512, which
 *               uses FMAs and folds the +128 offset into them). Checked with and
 *               without a load-time packed copy, from Q8_0 blocks and (tables
 *               with quantize_q8u, quantize_q8w) from the q8u and q8w
 *               layouts, and on bytes the quantiser never makes (-128) so
 *               that the offset tricks are exercised. amx (AMX-INT8 tiles)
 *               the same, and bit for bit avx512's.
 *   gemm_f32    every weight type, within 1e-5 of sum |x_i w_i| of generic;
 *               bit for bit the same with the table's packed copy set (which
 *               the SIMD tables read for Q8_0 and the k-quants, avx512 for
 *               BF16).
 *   gemm_kq     Q4_0, Q4_K, Q6_K packed as q8x16k with q8u rows,
 *               within 1e-5 of the block-wise rounding scale of
 *               qr_gemm_kq_generic; unpacked, bit for bit gemm_f32. The
 *               q8x16k reading of each block first equals tensor.c's
 *               dequantisation value for value, the plain packer that
 *               reading, and each table's packer the plain one, byte for byte.
 *   gemm_bf16   (none in avx512vnni, whose CPUs lack vdpbf16ps: BF16 weights
 *               run on its gemm_f32, checked below) the same tolerance
 *               (vdpbf16ps and AMX round in their own
 *               order); bit for bit the same with and without the table's
 *               packed copy (avx512, amx), and a row alone the same as among others.
 *   gemm_f16    (amx) F16 weights against gemm_f32 of generic.c on the bf16-rounded
 *               activations, the same tolerance: the weights must be read exactly;
 *               a row alone the same as among others; never a packed copy.
 *   quantize_q8_0, quantize_q8u, quantize_q8w, to_bf16 bit-identical, on
 *               random data and on the hard cases: halfway values, zero
 *               blocks, f16 overflow and subnormal scales, NaN and infinity
 *               for bf16; quantize_q8u and q8w also in groups of sixteen blocks with
 *               a tail; both layouts' reports of NaN and infinity.
 * Every output slot outside [o_begin, o_end) x rows holds a sentinel that
 * must survive, so a kernel writing past its range fails too. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/q8_0x16.h"
#include "kernels/q8x16k.h"
#include "tensor.h"

static int g_failures;
static int g_checks;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        g_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            if (++g_failures <= 30) {                                                      \
                fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
                fprintf(stderr, __VA_ARGS__);                                              \
                fputc('\n', stderr);                                                       \
            }                                                                              \
        }                                                                                  \
    } while (0)

static uint64_t g_rng = 0x5eed;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float frand(float lo, float hi) { return lo + (hi - lo) * (float)((rng_next() >> 40) * 0x1p-24); }

/* Exact sizes, so that a sanitizer build catches a read one byte past. */
static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static const float SENTINEL = -12345.5f;

/* ---- weights of every type ---------------------------------------------- */

/* Random rows of `type`, with finite scales of varied size. */
static void *make_weights(qr_type type, int64_t n_in, int64_t n_out, size_t *nbytes) {
    const size_t row = qr_row_bytes(type, n_in);
    *nbytes = row * (size_t)n_out;
    uint8_t *data = xmalloc(*nbytes);
    for (size_t i = 0; i < *nbytes; i++) data[i] = (uint8_t)rng_next();
    for (int64_t o = 0; o < n_out; o++) {
        uint8_t *r = data + (size_t)o * row;
        switch (type) {
        case QR_TYPE_F32:
            for (int64_t i = 0; i < n_in; i++) ((float *)r)[i] = frand(-2.0f, 2.0f);
            break;
        case QR_TYPE_F16:
            for (int64_t i = 0; i < n_in; i++) ((uint16_t *)r)[i] = qr_f32_to_f16(frand(-2.0f, 2.0f));
            break;
        case QR_TYPE_BF16:
            for (int64_t i = 0; i < n_in; i++) ((uint16_t *)r)[i] = qr_f32_to_bf16(frand(-2.0f, 2.0f));
            break;
        case QR_TYPE_Q8_0: /* every byte value, -128 included */
            for (int64_t b = 0; b < n_in / QR_QK8_0; b++)
                ((qr_block_q8_0 *)r)[b].d = qr_f32_to_f16(frand(0.001f, 0.05f) * (rng_next() & 1 ? 1 : -1));
            break;
        case QR_TYPE_Q4_0:
            for (int64_t b = 0; b < n_in / QR_QK4_0; b++) ((qr_block_q4_0 *)r)[b].d = qr_f32_to_f16(frand(-0.1f, 0.1f));
            break;
        case QR_TYPE_Q4_K:
            for (int64_t b = 0; b < n_in / QR_QK_K; b++) {
                ((qr_block_q4_k *)r)[b].d = qr_f32_to_f16(frand(0.0f, 0.01f));
                ((qr_block_q4_k *)r)[b].dmin = qr_f32_to_f16(frand(0.0f, 0.01f));
            }
            break;
        case QR_TYPE_Q6_K:
            for (int64_t b = 0; b < n_in / QR_QK_K; b++) ((qr_block_q6_k *)r)[b].d = qr_f32_to_f16(frand(-0.01f, 0.01f));
            break;
        }
    }
    return data;
}

static qr_tensor tensor_of(qr_type type, int64_t n_in, int64_t n_out, const void *data, size_t nbytes) {
    qr_tensor t;
    memset(&t, 0, sizeof t);
    t.name = "w";
    t.type = type;
    t.n_dims = 2;
    t.ne[0] = n_in;
    t.ne[1] = n_out;
    t.ne[2] = t.ne[3] = 1;
    t.data = data;
    t.nbytes = nbytes;
    return t;
}

/* ---- running a kernel over a range -------------------------------------- */

typedef struct {
    int64_t n_rows, n_in, n_out, ldx, ldy;
    int64_t o_begin, o_end;
} shape;

static float *fresh_y(const shape *s) {
    float *y = xmalloc(sizeof(float) * (size_t)(s->n_rows * s->ldy));
    for (int64_t i = 0; i < s->n_rows * s->ldy; i++) y[i] = SENTINEL;
    return y;
}

static int in_range(const shape *s, int64_t i) {
    const int64_t o = i % s->ldy;
    return o >= s->o_begin && o < s->o_end;
}

/* Outside the range: untouched. Inside: |y - ref| <= tol * scale (tol 0:
 * bit-identical). */
static void compare(const char *what, const shape *s, const float *y, const float *ref, const double *scale,
                    double tol) {
    int64_t bad = 0, first = -1;
    double worst = 0.0;
    for (int64_t i = 0; i < s->n_rows * s->ldy; i++) {
        int ok;
        if (!in_range(s, i)) {
            ok = memcmp(&y[i], &SENTINEL, sizeof(float)) == 0;
        } else if (tol == 0.0) {
            ok = memcmp(&y[i], &ref[i], sizeof(float)) == 0;
        } else {
            const double err = fabs((double)y[i] - (double)ref[i]), lim = tol * scale[i] + 1e-30;
            ok = err <= lim && isfinite(y[i]);
            if (lim > 0 && err / lim > worst) worst = err / lim;
        }
        if (!ok) {
            if (first < 0) first = i;
            bad++;
        }
    }
    CHECK(bad == 0, "%s rows %lld in %lld out %lld range [%lld,%lld): %lld wrong, first at row %lld col %lld: %.9g vs %.9g",
          what, (long long)s->n_rows, (long long)s->n_in, (long long)s->n_out, (long long)s->o_begin,
          (long long)s->o_end, (long long)bad, (long long)(first / s->ldy), (long long)(first % s->ldy),
          first >= 0 ? y[first] : 0.0, first >= 0 ? ref[first] : 0.0);
    (void)worst;
}

/* sum_i |x_i w_i| in double, the scale of a dot product's rounding error. */
static double *abs_scale(const shape *s, const qr_tensor *w, const float *x) {
    double *sc = xmalloc(sizeof(double) * (size_t)(s->n_rows * s->ldy));
    float *wr = xmalloc(sizeof(float) * (size_t)s->n_in);
    for (int64_t o = 0; o < s->n_out; o++) {
        qr_dequantize_row(w, o, wr);
        for (int64_t r = 0; r < s->n_rows; r++) {
            double a = 0.0;
            for (int64_t i = 0; i < s->n_in; i++) a += fabs((double)x[r * s->ldx + i] * wr[i]);
            sc[r * s->ldy + o] = a;
        }
    }
    free(wr);
    return sc;
}

/* The activation rows of a shape (ldx apart, padding included), uniform in [lo, hi). */
static float *random_x(const shape *s, float lo, float hi) {
    float *x = xmalloc(sizeof(float) * (size_t)(s->n_rows * s->ldx));
    for (int64_t j = 0; j < s->n_rows * s->ldx; j++) x[j] = frand(lo, hi);
    return x;
}

static const shape *shapes(int64_t n_in, int *count) {
    static shape list[64];
    /* 130: past the avx2 kernels' 128-row panel; 500: one panel for avx512's
     * Q8_0 kernel packing on the fly, two (384 + 116) for the rest; 530: two
     * for every avx512 kernel */
    static const int64_t rows[] = {1, 3, 17, 33, 130, 500, 530};
    /* 75 outputs: ranges from 0 and from inside a tile, ending mid-tile */
    static const int64_t ranges[][2] = {{0, 75}, {5, 58}, {16, 48}, {17, 18}, {61, 75}};
    int n = 0;
    for (size_t a = 0; a < sizeof rows / sizeof rows[0]; a++)
        for (size_t b = 0; b < sizeof ranges / sizeof ranges[0]; b++) {
            /* every range on the largest row count, the whole range on the others */
            if (rows[a] != 17 && b > 0) continue;
            list[n++] = (shape){rows[a], n_in, 75, n_in + 3, 75 + 5, ranges[b][0], ranges[b][1]};
        }
    *count = n;
    return list;
}

/* ---- gemm_f32 ------------------------------------------------------------ */

/* w laid out by the table's pack (64-byte aligned, as kernels.h asks), or
 * NULL when the table has no layout for it. */
static void *packed_copy(const qr_kernels *k, const qr_tensor *w) {
    const size_t size = k->pack_size(w);
    if (!size) return NULL;
    void *packed = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!packed) exit(2);
    k->pack(w, packed);
    return packed;
}

static void test_gemm_f32(const qr_kernels *k) {
    /* 33 and 37: a short last vector; 1056, 1280, 2080, 2304: more than
     * the 256 or 1024 values that the SIMD kernels widen at a time */
    static const struct {
        qr_type type;
        int64_t n_in[3];
    } cases[] = {
        {QR_TYPE_F32, {37, 96, 1056}},    {QR_TYPE_F16, {33, 96, 2080}},   {QR_TYPE_BF16, {37, 1056, 2080}},
        {QR_TYPE_Q8_0, {32, 96, 2080}},   {QR_TYPE_Q4_0, {32, 96, 1056}},  {QR_TYPE_Q4_K, {256, 1280, 2304}},
        {QR_TYPE_Q6_K, {256, 1280, 2304}},
    };
    const qr_acts none = {QR_TYPE_F32, NULL, 0, 0, 0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int v = 0; v < 3; v++) {
            const int64_t n_in = cases[c].n_in[v];
            size_t nbytes;
            void *wd = make_weights(cases[c].type, n_in, 75, &nbytes);
            qr_tensor w = tensor_of(cases[c].type, n_in, 75, wd, nbytes);
            /* the table's packed copy, which the exact path may read too */
            void *packed = k->pack_size && k->pack ? packed_copy(k, &w) : NULL;
            int ns;
            const shape *sh = shapes(n_in, &ns);
            for (int i = 0; i < ns; i++) {
                const shape *s = &sh[i];
                float *x = random_x(s, -1.0f, 1.0f);
                float *ref = fresh_y(s), *y = fresh_y(s);
                qr_gemm_f32_generic(&w, x, &none, s->n_rows, s->ldx, ref, s->ldy, s->o_begin, s->o_end);
                k->gemm_f32(&w, x, &none, s->n_rows, s->ldx, y, s->ldy, s->o_begin, s->o_end);
                double *sc = abs_scale(s, &w, x);
                char what[96];
                snprintf(what, sizeof what, "%s gemm_f32 %s", k->name, qr_type_get(cases[c].type)->name);
                compare(what, s, y, ref, sc, 1e-5);
                if (packed) { /* bit for bit: a copy made mid-request changes no score */
                    float *yp = fresh_y(s);
                    w.packed = packed;
                    k->gemm_f32(&w, x, &none, s->n_rows, s->ldx, yp, s->ldy, s->o_begin, s->o_end);
                    w.packed = NULL;
                    CHECK(memcmp(yp, y, sizeof(float) * (size_t)(s->n_rows * s->ldy)) == 0,
                          "%s: the packed copy's result differs (%lld inputs, %lld rows)", what, (long long)n_in,
                          (long long)s->n_rows);
                    free(yp);
                }
                free(sc);
                free(y);
                free(ref);
                free(x);
            }
            free(packed);
            free(wd);
        }
    }
}

/* ---- gemm_q8_0 ----------------------------------------------------------- */

/* Quantised activations, rows padded (row_bytes larger than a row) so that a
 * kernel that assumes contiguity fails. raw: random bytes and scales rather
 * than the quantiser's output, -128 included. */
static void *make_acts_q8(const qr_kernels *k, const shape *s, const float *x, int raw, size_t *row_bytes) {
    const size_t rb = qr_row_bytes(QR_TYPE_Q8_0, s->n_in);
    *row_bytes = rb + 6;
    uint8_t *q = xmalloc(*row_bytes * (size_t)s->n_rows);
    memset(q, 0x5a, *row_bytes * (size_t)s->n_rows);
    for (int64_t r = 0; r < s->n_rows; r++) {
        qr_block_q8_0 *b = (qr_block_q8_0 *)(q + (size_t)r * *row_bytes);
        if (raw) {
            for (int64_t i = 0; i < s->n_in / QR_QK8_0; i++) {
                for (int j = 0; j < QR_QK8_0; j++) b[i].qs[j] = (int8_t)rng_next();
                b[i].d = qr_f32_to_f16(frand(0.001f, 0.1f));
            }
        } else {
            k->quantize_q8_0(x + r * s->ldx, b, s->n_in);
        }
    }
    return q;
}

/* The same rows in another layout (q8u or q8w, through its plain-C
 * converter), for tables that read it; its rows padded too, by a count that
 * misaligns the scales. */
static uint8_t *make_acts_as(const shape *s, const void *q, size_t rb, size_t layout_bytes,
                             void (*from_q8_0)(const void *, void *, int64_t), size_t *row_bytes) {
    *row_bytes = layout_bytes + 6;
    uint8_t *out = xmalloc(*row_bytes * (size_t)s->n_rows);
    memset(out, 0x5a, *row_bytes * (size_t)s->n_rows);
    for (int64_t r = 0; r < s->n_rows; r++)
        from_q8_0((const uint8_t *)q + (size_t)r * rb, out + (size_t)r * *row_bytes, s->n_in);
    return out;
}

static uint8_t *make_acts_q8u(const shape *s, const void *q, size_t rb, size_t *row_bytes) {
    return make_acts_as(s, q, rb, qr_q8u_row_bytes(s->n_in), qr_q8u_from_q8_0, row_bytes);
}

static uint8_t *make_acts_q8w(const shape *s, const void *q, size_t rb, size_t *row_bytes) {
    return make_acts_as(s, q, rb, qr_q8w_row_bytes(s->n_in), qr_q8w_from_q8_0, row_bytes);
}

/* The rounding scale of a Q8_0 x Q8_0 dot: per block |d_w d_x| times
 * (sum |x_i w_i| + 128 |sum w_i|), the largest magnitude a kernel's float
 * steps see when it folds the +128 offset in after the integer dot. */
static double *q8_scale(const shape *s, const void *wd, const void *q, size_t rb) {
    double *sc = xmalloc(sizeof(double) * (size_t)(s->n_rows * s->ldy));
    const int64_t nb = s->n_in / QR_QK8_0;
    const size_t wrow = qr_row_bytes(QR_TYPE_Q8_0, s->n_in);
    for (int64_t r = 0; r < s->n_rows; r++) {
        const qr_block_q8_0 *xb = (const qr_block_q8_0 *)((const uint8_t *)q + (size_t)r * rb);
        for (int64_t o = 0; o < s->ldy; o++) {
            double t = 0.0;
            if (o < s->n_out) {
                const qr_block_q8_0 *wb = (const qr_block_q8_0 *)((const uint8_t *)wd + (size_t)o * wrow);
                for (int64_t b = 0; b < nb; b++) {
                    double a = 0.0, sw = 0.0;
                    for (int j = 0; j < QR_QK8_0; j++) {
                        a += fabs((double)xb[b].qs[j] * wb[b].qs[j]);
                        sw += wb[b].qs[j];
                    }
                    t += fabs((double)qr_f16_to_f32(wb[b].d) * qr_f16_to_f32(xb[b].d)) * (a + 128.0 * fabs(sw));
                }
            }
            sc[r * s->ldy + o] = t;
        }
    }
    return sc;
}

static void test_gemm_q8_0(const qr_kernels *k) {
    static const int64_t n_ins[] = {32, 96, 1056};
    for (size_t v = 0; v < sizeof n_ins / sizeof n_ins[0]; v++) {
        const int64_t n_in = n_ins[v];
        size_t nbytes;
        void *wd = make_weights(QR_TYPE_Q8_0, n_in, 75, &nbytes);
        qr_tensor w = tensor_of(QR_TYPE_Q8_0, n_in, 75, wd, nbytes);
        void *packed = NULL;
        if (k->pack_size && k->pack) {
            packed = packed_copy(k, &w);
            CHECK(packed != NULL, "%s: no packed size for a Q8_0 matrix", k->name);
        }
        int ns;
        const shape *sh = shapes(n_in, &ns);
        for (int i = 0; i < ns; i++) {
            const shape *s = &sh[i];
            float *x = random_x(s, -3.0f, 3.0f);
            for (int raw = 0; raw < 2; raw++) {
                size_t rb;
                void *q = make_acts_q8(k, s, x, raw, &rb);
                const qr_acts acts = {QR_TYPE_Q8_0, q, rb, 0, 0};
                /* avx512 applies block scales with FMAs (avx512.c says why),
                 * the others exactly as generic.c does */
                const int fused = strncmp(k->name, "avx512", 6) == 0 || strcmp(k->name, "amx") == 0;
                double *sc = fused ? q8_scale(s, wd, q, rb) : NULL;
                float *ref = fresh_y(s);
                w.packed = NULL;
                qr_gemm_q8_0_generic(&w, x, &acts, s->n_rows, s->ldx, ref, s->ldy, s->o_begin, s->o_end);
                size_t urb = 0, wrb = 0;
                uint8_t *qu = k->quantize_q8u ? make_acts_q8u(s, q, rb, &urb) : NULL;
                uint8_t *qw = k->quantize_q8w ? make_acts_q8w(s, q, rb, &wrb) : NULL;
                /* every activation layout the table reads: blocks, q8u, q8w */
                const qr_acts layouts[3] = {acts, {QR_TYPE_Q8_0, qu, urb, 1, 0}, {QR_TYPE_Q8_0, qw, wrb, 0, 1}};
                static const char *const layout_names[3] = {"", " q8u", " q8w"};
                float *unpacked_y = NULL;
                for (int form = 0; form < 2 * 3; form++) {
                    const int use_packed = form % 2, lay = form / 2;
                    if ((use_packed && !packed) || (lay == 1 && !qu) || (lay == 2 && !qw)) continue;
                    w.packed = use_packed ? packed : NULL;
                    float *y = fresh_y(s);
                    k->gemm_q8_0(&w, x, &layouts[lay], s->n_rows, s->ldx, y, s->ldy, s->o_begin, s->o_end);
                    char what[96];
                    snprintf(what, sizeof what, "%s gemm_q8_0%s%s%s", k->name, use_packed ? " packed" : "",
                             layout_names[lay], raw ? " raw bytes" : "");
                    compare(what, s, y, ref, sc, fused ? 1e-5 : 0.0);
                    /* Bit for bit the file layout's result: calls switch to a
                     * copy the moment it is made (packing.h), mid-request. */
                    if (use_packed && unpacked_y)
                        CHECK(memcmp(y, unpacked_y, sizeof(float) * (size_t)(s->n_rows * s->ldy)) == 0, "%s differs from the file layout's result "
                              "(%lld x %lld, %lld rows)", what, (long long)n_in, 75LL, (long long)s->n_rows);
                    if (use_packed) {
                        free(y);
                        free(unpacked_y);
                        unpacked_y = NULL;
                    } else {
                        free(unpacked_y);
                        unpacked_y = y;
                    }
                }
                free(unpacked_y);
                free(sc);
                w.packed = NULL;
                free(ref);
                free(qu);
                free(qw);
                free(q);
            }
            free(x);
        }
        free(packed);
        free(wd);
    }
}

/* The AMX-INT8 Q8_0 kernel against avx512's, bit for bit: the amx table
 * leaves calls of few rows to that one, so every row must come out as it
 * would make it, or a document's score would depend on its batch. Every
 * shape, the tiles at any row count, packed and not, q8u rows. */
static void test_q8_0_same_bits(const qr_kernels *k, const qr_kernels *base) {
    static const int64_t n_ins[] = {32, 96, 1056};
    for (size_t v = 0; v < sizeof n_ins / sizeof n_ins[0]; v++) {
        const int64_t n_in = n_ins[v];
        size_t nbytes;
        void *wd = make_weights(QR_TYPE_Q8_0, n_in, 75, &nbytes);
        qr_tensor w = tensor_of(QR_TYPE_Q8_0, n_in, 75, wd, nbytes);
        void *packed = packed_copy(k, &w);
        int ns;
        const shape *sh = shapes(n_in, &ns);
        for (int i = 0; i < ns; i++) {
            const shape *s = &sh[i];
            float *x = random_x(s, -3.0f, 3.0f);
            size_t rb, urb;
            void *q = make_acts_q8(k, s, x, 1, &rb);
            uint8_t *qu = make_acts_q8u(s, q, rb, &urb);
            const qr_acts acts = {QR_TYPE_Q8_0, qu, urb, 1, 0};
            for (int use_packed = 0; use_packed < 2; use_packed++) {
                w.packed = use_packed ? packed : NULL;
                float *y = fresh_y(s), *want = fresh_y(s);
                qr_gemm_q8_0_amx_tiles(&w, x, &acts, s->n_rows, s->ldx, y, s->ldy, s->o_begin, s->o_end);
                base->gemm_q8_0(&w, x, &acts, s->n_rows, s->ldx, want, s->ldy, s->o_begin, s->o_end);
                CHECK(memcmp(y, want, sizeof(float) * (size_t)(s->n_rows * s->ldy)) == 0,
                      "%s gemm_q8_0 tiles%s differ from %s's (%lld x 75, %lld rows, outputs %lld..%lld)", k->name,
                      use_packed ? " packed" : "", base->name, (long long)n_in, (long long)s->n_rows,
                      (long long)s->o_begin, (long long)s->o_end);
                free(y);
                free(want);
            }
            w.packed = NULL;
            free(qu);
            free(q);
            free(x);
        }
        free(packed);
        free(wd);
    }
}

/* The packed layout against its definition in q8_0x16.h, independently of
 * the packer's code: lane j of piece k is row j's bytes 4k..4k+3. */
static void test_pack_layout(const qr_kernels *k) {
    if (!k->pack_size) return;
    const int64_t n_in = 64, n_out = 21; /* two groups, the second short */
    size_t nbytes;
    void *wd = make_weights(QR_TYPE_Q8_0, n_in, n_out, &nbytes);
    const qr_tensor w = tensor_of(QR_TYPE_Q8_0, n_in, n_out, wd, nbytes);
    const size_t size = k->pack_size(&w);
    CHECK(size == 2 * 2 * 576, "%s: packed size %zu", k->name, size);
    uint8_t *p = xmalloc(size);
    k->pack(&w, p);
    const size_t row = qr_row_bytes(QR_TYPE_Q8_0, n_in);
    int bad = 0;
    for (int64_t o = 0; o < 32; o++)
        for (int64_t b = 0; b < 2; b++) {
            const uint8_t *blk = p + (size_t)((o / 16) * 2 + b) * 576;
            const int j = (int)(o % 16);
            int16_t negsum;
            uint16_t d;
            memcpy(&negsum, blk + 512 + 2 * j, 2);
            memcpy(&d, blk + 544 + 2 * j, 2);
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                const int8_t want = o < n_out ? ((const qr_block_q8_0 *)((const uint8_t *)wd + o * row))[b].qs[i] : 0;
                sum += want;
                bad += (int8_t)blk[(i / 4) * 64 + j * 4 + i % 4] != want;
            }
            const uint16_t want_d = o < n_out ? ((const qr_block_q8_0 *)((const uint8_t *)wd + o * row))[b].d : 0;
            bad += negsum != -sum || d != want_d;
        }
    CHECK(bad == 0, "%s: %d packed values differ from the q8_0x16 definition", k->name, bad);
    /* a bigger tensor, a short last group: byte for byte the plain-C packer */
    {
        size_t nb2;
        void *wd2 = make_weights(QR_TYPE_Q8_0, 1056, 75, &nb2);
        const qr_tensor w2 = tensor_of(QR_TYPE_Q8_0, 1056, 75, wd2, nb2);
        const size_t s2 = k->pack_size(&w2);
        uint8_t *a = xmalloc(s2), *b = xmalloc(s2);
        memset(a, 0x11, s2);
        memset(b, 0x22, s2);
        k->pack(&w2, a);
        qr_q8_0x16_pack(&w2, b);
        CHECK(s2 == qr_q8_0x16_size(&w2) && memcmp(a, b, s2) == 0, "%s: pack differs from qr_q8_0x16_pack",
              k->name);
        free(a);
        free(b);
        free(wd2);
    }
    qr_tensor f = w;
    f.type = QR_TYPE_F16;
    CHECK(k->pack_size(&f) == 0, "%s: packs an F16 tensor", k->name);
    free(p);
    free(wd);
}

/* ---- Q4_0 / Q4_K / Q6_K as q8x16k ------------------------------------- */

static const struct {
    qr_type type;
    int64_t n_in[3];
} kq_cases[] = {
    {QR_TYPE_Q4_0, {32, 96, 1056}},
    {QR_TYPE_Q4_K, {256, 1280, 2304}},
    {QR_TYPE_Q6_K, {256, 1280, 2304}},
};

/* The layout's reading of each block (scale * q + negmn, q8x16k.h) against
 * tensor.c's dequantisation, which the float64 reference holds to ggml's
 * formats (tests/reference): equal (as floats: a zero's sign may differ),
 * since both round once. Then
 * the plain-C packer against that reading, lane by lane, rows past the end
 * zero. No table involved. */
static void test_kq_layout(void) {
    for (size_t c = 0; c < sizeof kq_cases / sizeof kq_cases[0]; c++) {
        const int64_t n_in = kq_cases[c].n_in[1], n_out = 21; /* two groups, the second short */
        size_t nbytes;
        void *wd = make_weights(kq_cases[c].type, n_in, n_out, &nbytes);
        const qr_tensor w = tensor_of(kq_cases[c].type, n_in, n_out, wd, nbytes);
        const char *name = qr_type_get(w.type)->name;
        const int64_t nb = n_in / 32;
        float *row = xmalloc(sizeof(float) * (size_t)n_in);
        int bad_values = 0;
        for (int64_t o = 0; o < n_out; o++) {
            qr_dequantize_row(&w, o, row);
            for (int64_t b = 0; b < nb; b++) {
                int8_t q[32];
                float scale[32], negmn;
                qr_q8x16k_block_of(&w, o, b, q, scale, &negmn);
                for (int i = 0; i < 32; i++) {
                    const float v = scale[i] * (float)q[i] + negmn;
                    bad_values += v != row[32 * b + i]; /* == so that +0 (here) meets -0 (d * 0) */
                }
            }
        }
        CHECK(bad_values == 0, "%s: %d values of the q8x16k reading differ from qr_dequantize_row", name,
              bad_values);
        const int six = w.type == QR_TYPE_Q6_K;
        const size_t unit = six ? sizeof(qr_q6x16) : sizeof(qr_q4x16);
        const size_t size = qr_q8x16k_size(&w);
        CHECK(size == (size_t)(2 * nb) * unit, "%s: packed size %zu", name, size);
        uint8_t *p = xmalloc(size);
        memset(p, 0x77, size);
        qr_q8x16k_pack(&w, p);
        int bad = 0;
        for (int64_t o = 0; o < 32; o++)
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *at = p + (size_t)((o / 16) * nb + b) * unit;
                const int j = (int)(o % 16);
                int8_t q[32] = {0};
                float scale[32] = {0}, negmn = 0.0f;
                if (o < n_out) qr_q8x16k_block_of(&w, o, b, q, scale, &negmn);
                int lo = 0, hi = 0;
                for (int i = 0; i < 32; i++) {
                    if (i < 16)
                        lo += q[i];
                    else
                        hi += q[i];
                }
                if (six) {
                    const qr_q6x16 *blk = (const qr_q6x16 *)at;
                    for (int i = 0; i < 32; i++) bad += blk->qs[i / 4][j * 4 + i % 4] != q[i];
                    bad += blk->s_lo[j] != scale[0] || blk->s_hi[j] != scale[16] || negmn != 0.0f;
                    bad += blk->negsum_lo[j] != -lo || blk->negsum_hi[j] != -hi;
                } else { /* value i < 16: low nibble, byte 4j + i % 4 of piece i / 4; i + 16: high */
                    const qr_q4x16 *blk = (const qr_q4x16 *)at;
                    for (int i = 0; i < 16; i++) {
                        const uint8_t byte = blk->qs[i / 4][j * 4 + i % 4];
                        bad += (byte & 0xF) != q[i] || (byte >> 4) != q[i + 16];
                    }
                    for (int i = 0; i < 32; i++) bad += scale[i] != scale[0];
                    bad += blk->s[j] != scale[0] || blk->negmn[j] != negmn || blk->negsum[j] != -(lo + hi);
                }
            }
        CHECK(bad == 0, "%s: %d packed fields differ from the layout's definition", name, bad);
        free(p);
        free(row);
        free(wd);
    }
    qr_tensor f;
    memset(&f, 0, sizeof f);
    f.type = QR_TYPE_Q8_0;
    f.n_dims = 2;
    f.ne[0] = 64;
    f.ne[1] = 4;
    f.ne[2] = f.ne[3] = 1;
    CHECK(qr_q8x16k_size(&f) == 0, "q8x16k claims a Q8_0 tensor");
}

/* The rounding scale of the kq kernel's float steps: per block |d_x| times
 * the magnitudes it adds, sum (|x_i| + 128) |s_i q_i| and |negmn| sum |x_i|. */
static double *kq_scale(const shape *s, const qr_tensor *w, const void *q, size_t rb) {
    double *sc = xmalloc(sizeof(double) * (size_t)(s->n_rows * s->ldy));
    const int64_t nb = s->n_in / 32;
    for (int64_t r = 0; r < s->n_rows; r++) {
        const qr_block_q8_0 *xb = (const qr_block_q8_0 *)((const uint8_t *)q + (size_t)r * rb);
        for (int64_t o = 0; o < s->ldy; o++) {
            double t = 0.0;
            for (int64_t b = 0; o < s->n_out && b < nb; b++) {
                int8_t wq[32];
                float scale[32], negmn;
                qr_q8x16k_block_of(w, o, b, wq, scale, &negmn);
                double a = 0.0;
                for (int i = 0; i < 32; i++)
                    a += (fabs((double)xb[b].qs[i]) + 128.0) * fabs((double)scale[i] * wq[i]) +
                         fabs((double)negmn * xb[b].qs[i]);
                t += fabs((double)qr_f16_to_f32(xb[b].d)) * a;
            }
            sc[r * s->ldy + o] = t;
        }
    }
    return sc;
}

/* The table's packer for Q4_0/Q4_K/Q6_K against q8x16k.c's plain one, byte
 * for byte: every case's widths, 37 rows (a short last group). */
static void test_kq_pack(const qr_kernels *k) {
    if (!k->pack_size) return;
    for (size_t c = 0; c < sizeof kq_cases / sizeof kq_cases[0]; c++)
        for (int s = 0; s < 3; s++) {
            const int64_t n_in = kq_cases[c].n_in[s], n_out = 37;
            size_t nbytes;
            void *wd = make_weights(kq_cases[c].type, n_in, n_out, &nbytes);
            const qr_tensor w = tensor_of(kq_cases[c].type, n_in, n_out, wd, nbytes);
            const size_t size = k->pack_size(&w);
            CHECK(size == qr_q8x16k_size(&w), "%s: pack_size %zu for %s", k->name, size, qr_type_get(w.type)->name);
            uint8_t *a = xmalloc(size), *b = xmalloc(size);
            memset(a, 0x55, size);
            memset(b, 0x66, size);
            k->pack(&w, a);
            qr_q8x16k_pack(&w, b);
            size_t first = size;
            for (size_t i = 0; i < size && first == size; i++)
                if (a[i] != b[i]) first = i;
            CHECK(first == size, "%s: %s x %lld packs differently from the plain packer at byte %zu", k->name,
                  qr_type_get(w.type)->name, (long long)n_in, first);
            free(a);
            free(b);
            free(wd);
        }
}

/* gemm_kq on packed weights and q8u rows against qr_gemm_kq_generic on the
 * file's blocks and Q8_0 rows, within 1e-5 of kq_scale; without a packed
 * copy it must give gemm_f32's answer exactly (it runs the exact path). */
static void test_gemm_kq(const qr_kernels *k) {
    if (!k->gemm_kq) return;
    for (size_t c = 0; c < sizeof kq_cases / sizeof kq_cases[0]; c++) {
        for (int v = 0; v < 3; v++) {
            const int64_t n_in = kq_cases[c].n_in[v];
            size_t nbytes;
            void *wd = make_weights(kq_cases[c].type, n_in, 75, &nbytes);
            qr_tensor w = tensor_of(kq_cases[c].type, n_in, 75, wd, nbytes);
            const char *name = qr_type_get(w.type)->name;
            void *packed = k->pack_size ? packed_copy(k, &w) : NULL;
            CHECK(packed != NULL, "%s: a table with gemm_kq does not pack %s", k->name, name);
            if (!packed) {
                free(wd);
                continue;
            }
            int ns;
            const shape *sh = shapes(n_in, &ns);
            for (int i = 0; i < ns; i++) {
                const shape *s = &sh[i];
                float *x = random_x(s, -3.0f, 3.0f);
                for (int raw = 0; raw < 2; raw++) {
                    size_t rb;
                    void *q = make_acts_q8(k, s, x, raw, &rb);
                    const qr_acts acts = {QR_TYPE_Q8_0, q, rb, 0, 0};
                    size_t urb;
                    uint8_t *qu = make_acts_q8u(s, q, rb, &urb);
                    const qr_acts acts_u = {QR_TYPE_Q8_0, qu, urb, 1, 0};
                    w.packed = NULL;
                    float *ref = fresh_y(s);
                    qr_gemm_kq_generic(&w, x, &acts, s->n_rows, s->ldx, ref, s->ldy, s->o_begin, s->o_end);
                    double *sc = kq_scale(s, &w, q, rb);
                    w.packed = packed;
                    float *y = fresh_y(s);
                    k->gemm_kq(&w, x, &acts_u, s->n_rows, s->ldx, y, s->ldy, s->o_begin, s->o_end);
                    char what[96];
                    snprintf(what, sizeof what, "%s gemm_kq %s%s", k->name, name, raw ? " raw bytes" : "");
                    compare(what, s, y, ref, sc, 1e-5);
                    if (!raw && i == 0) { /* no packed copy: the exact path, bit for bit */
                        float *want = fresh_y(s), *got = fresh_y(s);
                        w.packed = NULL;
                        k->gemm_f32(&w, x, NULL, s->n_rows, s->ldx, want, s->ldy, s->o_begin, s->o_end);
                        k->gemm_kq(&w, x, &acts_u, s->n_rows, s->ldx, got, s->ldy, s->o_begin, s->o_end);
                        snprintf(what, sizeof what, "%s gemm_kq %s unpacked", k->name, name);
                        compare(what, s, got, want, NULL, 0.0);
                        free(want);
                        free(got);
                    }
                    free(y);
                    free(sc);
                    free(ref);
                    free(qu);
                    free(q);
                }
                free(x);
            }
            free(packed);
            free(wd);
        }
    }
}

/* ---- gemm_bf16, gemm_f16 ------------------------------------------------- */

/* BF16 weights through gemm_bf16, or F16 weights through gemm_f16 against
 * gemm_f32_generic on the rounded activations (the weights are meant to be
 * multiplied exactly, only the activations rounded). */
static void test_gemm_bf16(const qr_kernels *k, qr_type wtype) {
    /* 1056: three of the amx kernel's chunks of 512, the last short */
    static const int64_t n_ins[] = {33, 37, 96, 1056};
    const qr_gemm_fn gemm = wtype == QR_TYPE_BF16 ? k->gemm_bf16 : k->gemm_f16;
    for (size_t v = 0; v < sizeof n_ins / sizeof n_ins[0]; v++) {
        const int64_t n_in = n_ins[v];
        if (wtype == QR_TYPE_F16 && n_in % 32) continue; /* gemm_f16 takes whole tiles only */
        size_t nbytes;
        void *wd = make_weights(wtype, n_in, 75, &nbytes);
        qr_tensor w = tensor_of(wtype, n_in, 75, wd, nbytes);
        /* tables that lay BF16 out for their kernel (avx512, amx): that copy too */
        void *packed = k->pack_size && k->pack ? packed_copy(k, &w) : NULL;
        if (wtype == QR_TYPE_F16)
            CHECK(packed == NULL, "%s: a packed copy of an F16 matrix (it would be twice the file)", k->name);
        else if (strcmp(k->name, "amx") == 0 || strncmp(k->name, "avx512", 6) == 0)
            CHECK(packed != NULL || n_in % 32 != 0, "%s: no packed copy of a BF16 matrix of %lld inputs", k->name,
                  (long long)n_in);
        int ns;
        const shape *sh = shapes(n_in, &ns);
        for (int i = 0; i < ns; i++) {
            const shape *s = &sh[i];
            float *x = random_x(s, -1.0f, 1.0f);
            const size_t rb = (size_t)n_in * 2 + 10;
            uint8_t *xb = xmalloc(rb * (size_t)s->n_rows);
            /* the scale of the error uses the rounded activations */
            float *xr = xmalloc(sizeof(float) * (size_t)(s->n_rows * s->ldx));
            for (int64_t r = 0; r < s->n_rows; r++) {
                k->to_bf16(x + r * s->ldx, (uint16_t *)(xb + (size_t)r * rb), n_in);
                for (int64_t j = 0; j < n_in; j++)
                    xr[r * s->ldx + j] = qr_bf16_to_f32(((const uint16_t *)(xb + (size_t)r * rb))[j]);
            }
            const qr_acts acts = {QR_TYPE_BF16, xb, rb, 0, 0};
            float *ref = fresh_y(s), *y = fresh_y(s);
            if (wtype == QR_TYPE_BF16) {
                qr_gemm_bf16_generic(&w, x, &acts, s->n_rows, s->ldx, ref, s->ldy, s->o_begin, s->o_end);
            } else {
                const qr_acts none = {QR_TYPE_F32, NULL, 0, 0, 0};
                qr_gemm_f32_generic(&w, xr, &none, s->n_rows, s->ldx, ref, s->ldy, s->o_begin, s->o_end);
            }
            w.packed = NULL;
            gemm(&w, x, &acts, s->n_rows, s->ldx, y, s->ldy, s->o_begin, s->o_end);
            double *sc = abs_scale(s, &w, xr);
            char what[64];
            snprintf(what, sizeof what, "%s gemm_%s", k->name, wtype == QR_TYPE_BF16 ? "bf16" : "f16");
            compare(what, s, y, ref, sc, 1e-5);
            if (packed) { /* bit for bit the file layout's result: calls switch to a copy mid-request */
                float *yp = fresh_y(s);
                w.packed = packed;
                gemm(&w, x, &acts, s->n_rows, s->ldx, yp, s->ldy, s->o_begin, s->o_end);
                w.packed = NULL;
                CHECK(memcmp(yp, y, sizeof(float) * (size_t)(s->n_rows * s->ldy)) == 0,
                      "%s packed differs from the file layout's result (%lld inputs, %lld rows)", what,
                      (long long)n_in, (long long)s->n_rows);
                free(yp);
            }
            /* A row's result does not depend on the rows computed beside it
             * (a request's scores on the batch it came in): each of a few
             * rows alone, bit for bit its row of the whole call. */
            for (int64_t r = 0; r < s->n_rows; r += s->n_rows / 3 + 1) {
                float *y1 = fresh_y(s);
                const qr_acts one = {QR_TYPE_BF16, xb + (size_t)r * rb, rb, 0, 0};
                gemm(&w, x + r * s->ldx, &one, 1, s->ldx, y1, s->ldy, s->o_begin, s->o_end);
                CHECK(memcmp(y1, y + r * s->ldy, sizeof(float) * (size_t)s->ldy) == 0,
                      "%s: row %lld alone differs from the same row among %lld (%lld inputs)", what, (long long)r,
                      (long long)s->n_rows, (long long)n_in);
                free(y1);
            }
            free(sc);
            free(y);
            free(ref);
            free(xr);
            free(xb);
            free(x);
        }
        free(packed);
        free(wd);
    }
}

/* The bf16x16 layout against its definition (kernels/avx512.c),
 * independently of the packer: B tile row j of group g holds, for each of
 * its 16 outputs, inputs 2j and 2j+1; outputs past the last are zero. */
static void test_bf16_pack_layout(const qr_kernels *k) {
    const int64_t n_in = 64, n_out = 21; /* two groups, the second short */
    size_t nbytes;
    void *wd = make_weights(QR_TYPE_BF16, n_in, n_out, &nbytes);
    const qr_tensor w = tensor_of(QR_TYPE_BF16, n_in, n_out, wd, nbytes);
    const size_t size = k->pack_size(&w);
    CHECK(size == 2 * (64 / 2) * 64, "%s: bf16x16 size %zu", k->name, size);
    uint16_t *p = aligned_alloc(64, size);
    if (!p) exit(2);
    k->pack(&w, p);
    int bad = 0;
    for (int64_t g = 0; g < 2; g++)
        for (int64_t j = 0; j < n_in / 2; j++)
            for (int64_t l = 0; l < 16; l++)
                for (int64_t e = 0; e < 2; e++) {
                    const int64_t o = 16 * g + l;
                    const uint16_t want = o < n_out ? ((const uint16_t *)wd)[o * n_in + 2 * j + e] : 0;
                    bad += p[((g * (n_in / 2) + j) * 16 + l) * 2 + e] != want;
                }
    CHECK(bad == 0, "%s: %d bf16x16 values out of place", k->name, bad);
    const qr_tensor odd = tensor_of(QR_TYPE_BF16, 48, n_out, wd, nbytes);
    CHECK(k->pack_size(&odd) == 0, "%s: a bf16x16 size for 48 inputs (not whole tiles)", k->name);
    free(p);
    free(wd);
}

/* ---- activation conversions ---------------------------------------------- */

/* A quantiser to one of the kernels' own layouts against generic's blocks
 * `a` of x (rewritten by `from`) on the first n values: equal byte for
 * byte, and a NaN or an infinity anywhere (first group of sixteen blocks,
 * a later one, the last value) reported. */
static void check_quantizer(const qr_kernels *k, const char *what, int (*fn)(const float *, void *, int64_t),
                            void (*from)(const void *, void *, int64_t), size_t bytes, float *x, const void *a,
                            int64_t n) {
    uint8_t *u = xmalloc(bytes), *want = xmalloc(bytes);
    memset(u, 0x33, bytes);
    CHECK(fn(x, u, n) == 0, "%s %s finds a NaN or infinity in finite data (n %lld)", k->name, what, (long long)n);
    from(a, want, n);
    int first = -1;
    for (size_t i = 0; i < bytes; i++)
        if (u[i] != want[i]) {
            first = (int)i;
            break;
        }
    CHECK(first < 0, "%s %s differs from generic's blocks at byte %d (n %lld)", k->name, what, first, (long long)n);
    const int64_t at[4] = {5, 300, 511, n - 1};
    const float bad[4] = {NAN, INFINITY, -INFINITY, NAN};
    for (int t = 0; t < 4; t++) {
        const float keep = x[at[t]];
        x[at[t]] = bad[t];
        CHECK(fn(x, u, n) == 1, "%s %s misses %g at %lld (n %lld)", k->name, what, (double)bad[t], (long long)at[t],
              (long long)n);
        x[at[t]] = keep;
    }
    free(u);
    free(want);
}

static void test_quantize(const qr_kernels *k) {
    enum { NB = 64, N = NB * QR_QK8_0 };
    float *x = xmalloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = frand(-4.0f, 4.0f);
    /* block 1: zeros (d = 0), with a negative zero */
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;
    x[33] = -0.0f;
    /* block 2: amax 127 so that id = 1 and the halfway values round away */
    for (int j = 0; j < 32; j++) x[64 + j] = (float)(j - 16) + 0.5f;
    x[64] = 127.0f;
    /* block 3: halfway after the multiply for a scale that is not 1 */
    for (int j = 0; j < 32; j++) x[96 + j] = ((float)(j - 16) + 0.5f) * (2.0f / 127.0f);
    x[96] = 2.0f;
    /* block 4: d overflows f16; block 5: d is an f16 subnormal; block 6: tiny */
    for (int j = 0; j < 32; j++) x[128 + j] = frand(-1e7f, 1e7f);
    x[128] = 9e6f;
    for (int j = 0; j < 32; j++) x[160 + j] = frand(-3e-4f, 3e-4f);
    x[160] = 4e-4f;
    for (int j = 0; j < 32; j++) x[192 + j] = frand(-1e-30f, 1e-30f);
    /* block 7: one value, the rest zero */
    for (int j = 0; j < 32; j++) x[224 + j] = 0.0f;
    x[230] = -0.75f;
    /* blocks 8..15: values on the quantisation grid and just off it */
    for (int b = 8; b < 16; b++)
        for (int j = 0; j < 32; j++) {
            const float step = 1.0f / 127.0f;
            x[b * 32 + j] = ((float)(int)(rng_next() % 255) - 127.0f + 0.5f) * step;
            if (b & 1) x[b * 32 + j] = nextafterf(x[b * 32 + j], (b & 2) ? 1.0f : -1.0f);
        }
    const size_t bytes = (size_t)NB * sizeof(qr_block_q8_0);
    uint8_t *a = xmalloc(bytes), *b = xmalloc(bytes);
    memset(a, 0x11, bytes);
    memset(b, 0x22, bytes);
    qr_quantize_q8_0_generic(x, a, N);
    k->quantize_q8_0(x, b, N);
    int first = -1;
    for (size_t i = 0; i < bytes; i++)
        if (a[i] != b[i]) {
            first = (int)i;
            break;
        }
    CHECK(first < 0, "%s quantize_q8_0 differs from generic at byte %d (block %d)", k->name, first,
          first / (int)sizeof(qr_block_q8_0));
    /* q8u: the same values + 128, scales widened, block sums; q8w: the
     * values as int16, scales widened. 40 blocks as well: kernels that take
     * blocks sixteen at a time, and a tail. */
    for (int n = N; k->quantize_q8u && n > 0; n = n == N ? 40 * QR_QK8_0 : 0)
        check_quantizer(k, "quantize_q8u", k->quantize_q8u, qr_q8u_from_q8_0, qr_q8u_row_bytes(n), x, a, n);
    for (int n = N; k->quantize_q8w && n > 0; n = n == N ? 40 * QR_QK8_0 : 0)
        check_quantizer(k, "quantize_q8w", k->quantize_q8w, qr_q8w_from_q8_0, qr_q8w_row_bytes(n), x, a, n);
    /* and the layouts themselves, spelled out for one value and one scale */
    const qr_block_q8_0 *ga = (const qr_block_q8_0 *)a;
    if (k->quantize_q8u) {
        uint8_t *u = xmalloc(qr_q8u_row_bytes(N));
        k->quantize_q8u(x, u, N);
        float d3;
        memcpy(&d3, u + (size_t)NB * 32 + 4 * 3, 4);
        CHECK(u[3 * 32 + 5] == (uint8_t)(ga[3].qs[5] + 128) && d3 == qr_f16_to_f32(ga[3].d),
              "%s: q8u block 3 is not laid out as q8_0x16.h says", k->name);
        free(u);
    }
    if (k->quantize_q8w) {
        uint8_t *u = xmalloc(qr_q8w_row_bytes(N));
        k->quantize_q8w(x, u, N);
        int16_t v;
        float d3;
        memcpy(&v, u + 2 * (3 * 32 + 5), 2);
        memcpy(&d3, u + (size_t)NB * 64 + 4 * 3, 4);
        CHECK(v == ga[3].qs[5] && d3 == qr_f16_to_f32(ga[3].d), "%s: q8w block 3 is not laid out as q8_0x16.h says",
              k->name);
        free(u);
    }
    /* d of block 4 must be +inf in f16, of block 5 a subnormal */
    const qr_block_q8_0 *blk = (const qr_block_q8_0 *)b;
    CHECK(blk[4].d == 0x7c00, "%s: block 4 scale %#x, expected f16 infinity", k->name, blk[4].d);
    CHECK(blk[5].d > 0 && blk[5].d < 0x400, "%s: block 5 scale %#x, expected an f16 subnormal", k->name,
          blk[5].d);
    free(a);
    free(b);
    free(x);
}

static void test_to_bf16(const qr_kernels *k) {
    enum { N = 4096 + 7 };
    uint32_t *bits = xmalloc(sizeof(uint32_t) * N);
    for (int i = 0; i < N; i++) bits[i] = (uint32_t)rng_next();
    /* ties to even both ways, NaNs quiet and signalling, infinities, subnormals */
    const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                                0x7fc00000u, 0x7f800001u, 0xff812345u, 0x00000001u, 0x80008000u, 0x007fffffu,
                                0x00000000u, 0x80000000u, 0x7f7f8000u, 0x3f7fffffu};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        bits[i] = special[i];
        bits[N - 1 - i] = special[i]; /* also in the scalar tail */
    }
    float *x = xmalloc(sizeof(float) * N);
    memcpy(x, bits, sizeof(float) * N);
    uint16_t *a = xmalloc(2 * N), *b = xmalloc(2 * N);
    for (int len = N; len >= N - 20; len -= 5) {
        memset(a, 0, 2 * N);
        memset(b, 0, 2 * N);
        qr_to_bf16_generic(x, a, len);
        k->to_bf16(x, b, len);
        int first = -1;
        for (int i = 0; i < N; i++)
            if (a[i] != b[i]) {
                first = i;
                break;
            }
        CHECK(first < 0, "%s to_bf16 (n %d) differs at %d: input %#x, %#x vs %#x", k->name, len, first,
              first >= 0 ? bits[first] : 0, first >= 0 ? a[first] : 0, first >= 0 ? b[first] : 0);
    }
    free(a);
    free(b);
    free(x);
    free(bits);
}

/* ---- the reference itself, against double precision ---------------------- */

/* generic.c is what the variants must match, so it is checked first against
 * sums in double: f32 (two weight types), bf16 and q8_0 (the integer block
 * dots times the block scales). */
static void test_reference(void) {
    const shape s = {17, 1056, 40, 1056, 40, 0, 40};
    float *x = random_x(&s, -1.0f, 1.0f);
    float *wr = xmalloc(sizeof(float) * (size_t)s.n_in);
    static const qr_type types[] = {QR_TYPE_F16, QR_TYPE_Q8_0, QR_TYPE_BF16};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t nbytes;
        void *wd = make_weights(types[t], s.n_in, s.n_out, &nbytes);
        const qr_tensor w = tensor_of(types[t], s.n_in, s.n_out, wd, nbytes);
        /* activations as each kernel sees them, and in f32 */
        const size_t q8_rb = qr_row_bytes(QR_TYPE_Q8_0, s.n_in), bf_rb = (size_t)s.n_in * 2;
        uint8_t *q8 = xmalloc(q8_rb * (size_t)s.n_rows), *bf = xmalloc(bf_rb * (size_t)s.n_rows);
        for (int64_t r = 0; r < s.n_rows; r++) {
            qr_quantize_q8_0_generic(x + r * s.ldx, q8 + (size_t)r * q8_rb, s.n_in);
            qr_to_bf16_generic(x + r * s.ldx, (uint16_t *)(bf + (size_t)r * bf_rb), s.n_in);
        }
        const qr_acts none = {QR_TYPE_F32, NULL, 0, 0, 0}, aq8 = {QR_TYPE_Q8_0, q8, q8_rb, 0, 0},
                      abf = {QR_TYPE_BF16, bf, bf_rb, 0, 0};
        float *y = fresh_y(&s), *yf = fresh_y(&s);
        if (types[t] == QR_TYPE_Q8_0)
            qr_gemm_q8_0_generic(&w, x, &aq8, s.n_rows, s.ldx, y, s.ldy, 0, s.n_out);
        else if (types[t] == QR_TYPE_BF16)
            qr_gemm_bf16_generic(&w, x, &abf, s.n_rows, s.ldx, y, s.ldy, 0, s.n_out);
        qr_gemm_f32_generic(&w, x, &none, s.n_rows, s.ldx, yf, s.ldy, 0, s.n_out);
        int bad = 0;
        for (int64_t o = 0; o < s.n_out; o++) {
            qr_dequantize_row(&w, o, wr);
            const qr_block_q8_0 *wb = (const qr_block_q8_0 *)((const uint8_t *)wd + (size_t)o * qr_row_bytes(types[t], s.n_in));
            for (int64_t r = 0; r < s.n_rows; r++) {
                double f = 0.0, fa = 0.0, fast = 0.0, fasta = 0.0;
                for (int64_t i = 0; i < s.n_in; i++) {
                    f += (double)x[r * s.ldx + i] * wr[i];
                    fa += fabs((double)x[r * s.ldx + i] * wr[i]);
                }
                if (types[t] == QR_TYPE_Q8_0) {
                    const qr_block_q8_0 *xb = (const qr_block_q8_0 *)(q8 + (size_t)r * q8_rb);
                    for (int64_t b = 0; b < s.n_in / QR_QK8_0; b++) {
                        long isum = 0;
                        for (int j = 0; j < QR_QK8_0; j++) isum += (long)wb[b].qs[j] * xb[b].qs[j];
                        const double term = (double)isum * qr_f16_to_f32(wb[b].d) * qr_f16_to_f32(xb[b].d);
                        fast += term;
                        fasta += fabs(term);
                    }
                } else if (types[t] == QR_TYPE_BF16) {
                    const uint16_t *xb = (const uint16_t *)(bf + (size_t)r * bf_rb);
                    for (int64_t i = 0; i < s.n_in; i++) {
                        fast += (double)qr_bf16_to_f32(xb[i]) * wr[i];
                        fasta += fabs((double)qr_bf16_to_f32(xb[i]) * wr[i]);
                    }
                }
                const int64_t at = r * s.ldy + o;
                bad += !(fabs(yf[at] - f) <= 1e-5 * fa);
                if (types[t] != QR_TYPE_F16) bad += !(fabs(y[at] - fast) <= 1e-5 * fasta);
            }
        }
        CHECK(bad == 0, "generic kernels (%s weights) are off the double-precision sums in %d places",
              qr_type_get(types[t])->name, bad);
        free(yf);
        free(y);
        free(bf);
        free(q8);
        free(wd);
    }
    free(wr);
    free(x);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    static const char *const variants[] = {"avx2", "avxvnni", "avx512vnni", "avx512", "amx"};
    qr_kernels best;
    CHECK(qr_kernels_select(&best, NULL) == 0, "selecting the best variant failed");
    printf("best variant on this CPU: %s\n", best.name);
    qr_kernels k;
    CHECK(qr_kernels_select(&k, "no-such-isa") == -1, "an unknown variant name was accepted");
    CHECK(qr_kernels_select(&k, "generic") == 0 && strcmp(k.name, "generic") == 0, "no generic table");
    test_reference();
    test_kq_layout();
    printf("%-8s the reference: %s\n", "generic", g_failures ? "FAILED against double precision" : "ok against double precision");
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        if (qr_kernels_select(&k, variants[v]) != 0) {
            printf("%-8s skipped: this CPU (or OS) lacks its instructions\n", variants[v]);
            continue;
        }
        CHECK(strcmp(k.name, variants[v]) == 0, "asked for %s, got %s", variants[v], k.name);
        const int before = g_failures;
        g_rng = 0x5eed + v; /* each variant its own data, reproducible */
        qr_kernels base;
        if (strcmp(variants[v], "amx") == 0 && qr_kernels_select(&base, "avx512") == 0) {
            /* the avx512 table (checked above) but for BF16, F16 and (with
             * AMX-INT8) Q8_0 weights */
            CHECK(k.gemm_kq == base.gemm_kq && k.gemm_f32 == base.gemm_f32 && k.quantize_q8u == base.quantize_q8u &&
                      k.to_bf16 == base.to_bf16 && k.pack == base.pack,
                  "amx: the table differs from avx512's beyond BF16, F16 and Q8_0");
            CHECK(k.gemm_f16 != NULL, "amx: no gemm_f16");
            const int q8_tiles = k.gemm_q8_0 != base.gemm_q8_0;
            if (q8_tiles) {
                test_gemm_q8_0(&k);
                test_q8_0_same_bits(&k, &base);
            }
            test_pack_layout(&k);
            test_gemm_bf16(&k, QR_TYPE_BF16);
            test_gemm_bf16(&k, QR_TYPE_F16);
            test_bf16_pack_layout(&k);
            printf("%-8s ran: %s (BF16 and F16 weights, packing; %s; the rest is avx512's)\n", variants[v],
                   g_failures == before ? "ok" : "FAILED",
                   q8_tiles ? "Q8_0 on AMX-INT8, the same bits as avx512's" : "no AMX-INT8: Q8_0 is avx512's");
            ran++;
            continue;
        }
        test_quantize(&k);
        test_to_bf16(&k);
        test_gemm_q8_0(&k);
        test_pack_layout(&k);
        if (strcmp(variants[v], "avx512vnni") == 0) /* no vdpbf16ps: BF16 weights on the f32 kernel */
            CHECK(k.gemm_bf16 == NULL && !k.bf16_dot, "avx512vnni: a bf16 kernel in a table without AVX-512 BF16");
        else
            test_gemm_bf16(&k, QR_TYPE_BF16);
        CHECK(k.gemm_f16 == NULL, "%s: gemm_f16 outside the amx table", k.name);
        if (strncmp(variants[v], "avx512", 6) == 0) test_bf16_pack_layout(&k);
        test_gemm_f32(&k);
        test_gemm_kq(&k);
        test_kq_pack(&k);
        printf("%-8s ran: %s\n", variants[v], g_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (!ran) printf("no SIMD variant can run here: only the reference was checked\n");
    printf("%d checks, %d failed\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
