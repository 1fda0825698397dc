/* cluster.c - topic clustering of posts: spherical k-means++ with restarts,
 * k chosen by silhouette, central posts per cluster, a 2-D PCA map, and the
 * cluster-then-rerank combination through qrank_embed and qrank_rerank.
 *
 * Embeddings are unit vectors, so everything is said in cosine similarity:
 * a row belongs to the centroid it is most similar to, centroids are mean
 * directions (the member sum, re-normalised), and k-means++ samples with
 * weight 1 - cos, which is half the squared Euclidean distance between unit
 * vectors. The silhouette uses cosine distance too, which is linear in the
 * other vector: the mean distance from a row to a cluster is one dot product
 * with the cluster's sum. That keeps k selection at O(n k dim) where the
 * textbook silhouette is O(n^2 dim) (10,000 posts would be 10^11 operations).
 *
 * Determinism: the random stream of each run is derived from (seed, k,
 * restart) alone; parallel loops only split independent rows (assignment,
 * distances) or independent dimensions (centroid sums, PCA), and every sum
 * over rows runs in row order. So a seed gives the same clustering whatever
 * the thread count. Ties break towards the lower index everywhere. */
#include "cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* OpenMP's team size; 0 lets the runtime choose (all cores). A loop runs
 * in parallel only when it has enough multiply-adds to pay for waking the
 * team: a few hundred posts of 64 dims would otherwise spend most of their
 * time in barriers (and on a busy machine, spinning in them). */
#define QR_OMP_THREADS(nt) num_threads((nt) > 0 ? (nt) : omp_default_threads())
#define QR_OMP_IF(work) if ((double)(work) >= 262144.0)

#ifdef _OPENMP
#include <omp.h>
static int omp_default_threads(void) { return omp_get_max_threads(); }
#else
static int omp_default_threads(void) { return 1; }
#endif

/* Rows per dimension block when a loop is split over dimensions. */
enum { DIM_BLOCK = 64 };

float qr_dot_f32(const float *a, const float *b, size_t n) {
    /* Eight independent partial sums: the compiler can keep them in vector
     * registers, and the order of additions never depends on the caller. */
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + (size_t)j] * b[i + (size_t)j];
    float tail = 0.0f;
    for (; i < n; i++) tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

static double dot_f64(const float *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* splitmix64: tiny, good enough to pick seeds, and stateless between runs. */
static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *state) { return (double)(rng_next(state) >> 11) * 0x1.0p-53; }

static size_t rng_index(uint64_t *state, size_t n) {
    size_t i = (size_t)(rng_uniform(state) * (double)n);
    return i < n ? i : n - 1;
}

static uint64_t run_stream(uint64_t seed, int k, int restart) {
    uint64_t s = seed ^ 0x6A09E667F3BCC909ULL;
    rng_next(&s);
    s ^= ((uint64_t)(unsigned)k << 32) | (uint64_t)(unsigned)restart;
    rng_next(&s);
    return s;
}

static int alloc_fail(qrank_error *err, const char *what) {
    return qr_error(err, QRANK_E_NO_MEMORY, "out of memory (%s)", what);
}

/* ---- k-means ------------------------------------------------------------------------- */

typedef struct kmeans_work {
    const float *x;
    size_t n, dim;
    int k, n_threads;
    int *labels;     /* n */
    float *sim;      /* n: similarity of each row to its centroid */
    float *cent;     /* k * dim */
    double *sums;    /* k * dim */
    size_t *counts;  /* k */
    double *mind;    /* n: k-means++ weights */
    double *partial; /* row_sums scratch */
} kmeans_work;

/* k-means++: each new centre is a row drawn with probability proportional
 * to its distance weight from the centres chosen so far. */
static void seed_plusplus(kmeans_work *w, uint64_t *rng) {
    const float *x = w->x;
    const size_t n = w->n, dim = w->dim;
    size_t first = rng_index(rng, n);
    memcpy(w->cent, x + first * dim, dim * sizeof(float));
    double *mind = w->mind;
    const int nt = w->n_threads;
#pragma omp parallel for schedule(static) QR_OMP_IF((double)n * (double)dim) QR_OMP_THREADS(nt)
    for (size_t i = 0; i < n; i++) {
        double d = 1.0 - (double)qr_dot_f32(x + i * dim, w->cent, dim);
        mind[i] = d > 0.0 ? d : 0.0;
    }
    for (int c = 1; c < w->k; c++) {
        double total = 0.0;
        for (size_t i = 0; i < n; i++) total += mind[i];
        size_t pick = n; /* every row already sits on a centre: draw uniformly */
        if (total > 0.0) {
            double r = rng_uniform(rng) * total, cum = 0.0;
            for (size_t i = 0; i < n; i++) {
                if (mind[i] <= 0.0) continue;
                cum += mind[i];
                pick = i;
                if (cum > r) break;
            }
        }
        if (pick == n) pick = rng_index(rng, n);
        float *cc = w->cent + (size_t)c * dim;
        memcpy(cc, x + pick * dim, dim * sizeof(float));
#pragma omp parallel for schedule(static) QR_OMP_IF((double)n * (double)dim) QR_OMP_THREADS(nt)
        for (size_t i = 0; i < n; i++) {
            double d = 1.0 - (double)qr_dot_f32(x + i * dim, cc, dim);
            if (d < 0.0) d = 0.0;
            if (d < mind[i]) mind[i] = d;
        }
    }
}

/* Assigns every row to its most similar centroid; returns how many moved. */
static size_t assign_rows(kmeans_work *w) {
    const float *x = w->x;
    const size_t n = w->n, dim = w->dim;
    const int k = w->k, nt = w->n_threads;
    size_t moved = 0;
#pragma omp parallel for schedule(static) reduction(+ : moved) \
    QR_OMP_IF((double)n * (double)dim * (double)k) QR_OMP_THREADS(nt)
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * dim;
        int best = 0;
        float best_sim = qr_dot_f32(xi, w->cent, dim);
        for (int c = 1; c < k; c++) {
            float s = qr_dot_f32(xi, w->cent + (size_t)c * dim, dim);
            if (s > best_sim) {
                best_sim = s;
                best = c;
            }
        }
        if (w->labels[i] != best) moved++;
        w->labels[i] = best;
        w->sim[i] = best_sim;
    }
    return moved;
}

/* Sums of rows, deterministic and parallel: the rows are cut into chunks
 * whose number depends on n alone (never on the thread count), each chunk is
 * summed in row order into its own slice of `partial`, and the slices are
 * added in chunk order. Rows are read contiguously, which matters: a split
 * over dimensions instead strides through the whole matrix per thread.
 * With labels, row i adds to out[labels[i]]; otherwise it adds
 * weights[i * n_out + t] * row to out[t] for every t. */
enum { SUM_CHUNKS = 32, SUM_MIN_ROWS = 256 };

static size_t sum_chunk_rows(size_t n) {
    size_t rows = (n + SUM_CHUNKS - 1) / SUM_CHUNKS;
    return rows < SUM_MIN_ROWS ? SUM_MIN_ROWS : rows;
}

/* Doubles of scratch that row_sums needs. */
static size_t row_sums_scratch(size_t n, size_t dim, int n_out) {
    size_t rows = sum_chunk_rows(n);
    return (n + rows - 1) / rows * (size_t)n_out * dim;
}

static void row_sums(const float *x, size_t n, size_t dim, int n_out, const int *labels,
                     const double *weights, int nt, double *partial, double *out) {
    const size_t rows = sum_chunk_rows(n), chunks = (n + rows - 1) / rows;
    const size_t block = (size_t)n_out * dim;
#pragma omp parallel for schedule(static) \
    QR_OMP_IF((double)n * (double)dim * (double)(labels ? 1 : n_out)) QR_OMP_THREADS(nt)
    for (size_t ch = 0; ch < chunks; ch++) {
        double *p = partial + ch * block;
        memset(p, 0, block * sizeof(double));
        const size_t i1 = (ch + 1) * rows < n ? (ch + 1) * rows : n;
        for (size_t i = ch * rows; i < i1; i++) {
            const float *xi = x + i * dim;
            if (labels) {
                double *s = p + (size_t)labels[i] * dim;
                for (size_t d = 0; d < dim; d++) s[d] += (double)xi[d];
            } else {
                for (int t = 0; t < n_out; t++) {
                    const double wt = weights[i * (size_t)n_out + (size_t)t];
                    double *s = p + (size_t)t * dim;
                    for (size_t d = 0; d < dim; d++) s[d] += wt * (double)xi[d];
                }
            }
        }
    }
#pragma omp parallel for schedule(static) QR_OMP_IF((double)chunks * (double)block) QR_OMP_THREADS(nt)
    for (size_t e = 0; e < block; e++) {
        double s = 0.0;
        for (size_t ch = 0; ch < chunks; ch++) s += partial[ch * block + e];
        out[e] = s;
    }
}

static void cluster_sums(const float *x, size_t n, size_t dim, const int *labels, int k,
                         int nt, double *partial, double *sums, size_t *counts) {
    memset(counts, 0, (size_t)k * sizeof(size_t));
    for (size_t i = 0; i < n; i++) counts[labels[i]]++;
    row_sums(x, n, dim, k, labels, NULL, nt, partial, sums);
}

/* Centroid = normalised member sum. Members that cancel out exactly (two
 * opposite vectors) leave no direction; the first member stands in. */
static void normalise_centroids(kmeans_work *w) {
    const size_t dim = w->dim;
    for (int c = 0; c < w->k; c++) {
        double *s = w->sums + (size_t)c * dim;
        float *cc = w->cent + (size_t)c * dim;
        double norm = 0.0;
        for (size_t d = 0; d < dim; d++) norm += s[d] * s[d];
        norm = sqrt(norm);
        if (w->counts[c] == 0) continue; /* the caller reseeds it */
        if (norm > 1e-30) {
            for (size_t d = 0; d < dim; d++) cc[d] = (float)(s[d] / norm);
        } else {
            for (size_t i = 0; i < w->n; i++)
                if (w->labels[i] == c) {
                    memcpy(cc, w->x + i * dim, dim * sizeof(float));
                    break;
                }
        }
    }
}

/* An empty cluster takes over the row that fits its own centroid worst
 * (taken from a cluster that keeps at least one member), the usual remedy. */
static void reseed_empty(kmeans_work *w) {
    for (int c = 0; c < w->k; c++) {
        if (w->counts[c] != 0) continue;
        size_t worst = w->n;
        for (size_t i = 0; i < w->n; i++) {
            if (w->counts[w->labels[i]] < 2) continue;
            if (worst == w->n || w->sim[i] < w->sim[worst]) worst = i;
        }
        if (worst == w->n) continue; /* fewer rows than clusters */
        w->counts[w->labels[worst]]--;
        w->counts[c] = 1;
        w->labels[worst] = c;
        w->sim[worst] = 1.0f;
        memcpy(w->cent + (size_t)c * w->dim, w->x + worst * w->dim, w->dim * sizeof(float));
    }
}

static void lloyd(kmeans_work *w, int max_iterations) {
    for (size_t i = 0; i < w->n; i++) w->labels[i] = -1;
    assign_rows(w);
    for (int it = 0; it < max_iterations; it++) {
        cluster_sums(w->x, w->n, w->dim, w->labels, w->k, w->n_threads, w->partial, w->sums,
                     w->counts);
        normalise_centroids(w);
        reseed_empty(w);
        if (assign_rows(w) == 0) break;
    }
}

int qr_kmeans(const float *x, size_t n, size_t dim, int k, int n_restarts, int max_iterations,
              uint64_t seed, int n_threads, int *labels, float *centroids, double *inertia,
              qrank_error *err) {
    if (!x || !labels || !centroids || n == 0 || dim == 0)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k-means needs at least one vector");
    if (k < 1 || (size_t)k > n)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k = %d is outside 1..%zu (the number of vectors)", k, n);
    if (n_restarts < 1 || max_iterations < 1)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k-means needs at least one run and one iteration");
    if ((size_t)k > SIZE_MAX / sizeof(double) / dim)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k x dims is too large");

    kmeans_work w = {.x = x, .n = n, .dim = dim, .k = k, .n_threads = n_threads};
    w.labels = malloc(n * sizeof(int));
    w.sim = malloc(n * sizeof(float));
    w.cent = malloc((size_t)k * dim * sizeof(float));
    w.sums = malloc((size_t)k * dim * sizeof(double));
    w.counts = malloc((size_t)k * sizeof(size_t));
    w.mind = malloc(n * sizeof(double));
    w.partial = malloc(row_sums_scratch(n, dim, k) * sizeof(double));
    int rc = QRANK_OK;
    if (!w.labels || !w.sim || !w.cent || !w.sums || !w.counts || !w.mind || !w.partial) {
        rc = alloc_fail(err, "k-means");
        goto done;
    }
    double best = INFINITY;
    for (int r = 0; r < n_restarts; r++) {
        uint64_t rng = run_stream(seed, k, r);
        seed_plusplus(&w, &rng);
        lloyd(&w, max_iterations);
        double total = 0.0;
        for (size_t i = 0; i < n; i++) total += 1.0 - (double)w.sim[i];
        if (total < best) {
            best = total;
            memcpy(labels, w.labels, n * sizeof(int));
            memcpy(centroids, w.cent, (size_t)k * dim * sizeof(float));
        }
    }
    /* A cluster left empty at the end has no centroid to report. */
    memset(w.counts, 0, (size_t)k * sizeof(size_t));
    for (size_t i = 0; i < n; i++) w.counts[labels[i]]++;
    for (int c = 0; c < k; c++)
        if (w.counts[c] == 0) memset(centroids + (size_t)c * dim, 0, dim * sizeof(float));
    if (inertia) *inertia = best < 0.0 ? 0.0 : best;
done:
    free(w.labels);
    free(w.sim);
    free(w.cent);
    free(w.sums);
    free(w.counts);
    free(w.mind);
    free(w.partial);
    return rc;
}

/* ---- silhouette ---------------------------------------------------------------------- */

int qr_silhouette(const float *x, size_t n, size_t dim, const int *labels, int k, int n_threads,
                  double *mean, double *per_row, qrank_error *err) {
    if (!x || !labels || !mean || n == 0 || dim == 0 || k < 2)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "the silhouette needs at least two clusters");
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return qr_error(err, QRANK_E_INVALID_ARGUMENT, "label %d of row %zu is outside 0..%d", labels[i], i, k - 1);
    if ((size_t)k > SIZE_MAX / sizeof(double) / dim)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k x dims is too large");
    double *sums = malloc((size_t)k * dim * sizeof(double));
    size_t *counts = malloc((size_t)k * sizeof(size_t));
    double *s = malloc(n * sizeof(double));
    double *partial = malloc(row_sums_scratch(n, dim, k) * sizeof(double));
    if (!sums || !counts || !s || !partial) {
        free(sums);
        free(counts);
        free(s);
        free(partial);
        return alloc_fail(err, "silhouette");
    }
    cluster_sums(x, n, dim, labels, k, n_threads, partial, sums, counts);
    free(partial);
#pragma omp parallel for schedule(static) QR_OMP_IF((double)n * (double)dim * (double)k) QR_OMP_THREADS(n_threads)
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * dim;
        const int own = labels[i];
        if (counts[own] < 2) {
            s[i] = 0.0;
            continue;
        }
        double xx = 0.0;
        for (size_t d = 0; d < dim; d++) xx += (double)xi[d] * xi[d];
        double a = 1.0 - (dot_f64(xi, sums + (size_t)own * dim, dim) - xx) / (double)(counts[own] - 1);
        double b = INFINITY;
        for (int c = 0; c < k; c++) {
            if (c == own || counts[c] == 0) continue;
            double dc = 1.0 - dot_f64(xi, sums + (size_t)c * dim, dim) / (double)counts[c];
            if (dc < b) b = dc;
        }
        if (!isfinite(b)) {
            s[i] = 0.0; /* every other cluster is empty */
            continue;
        }
        double m = a > b ? a : b;
        s[i] = m > 0.0 ? (b - a) / m : 0.0;
    }
    double total = 0.0;
    for (size_t i = 0; i < n; i++) total += s[i];
    *mean = total / (double)n;
    if (per_row) memcpy(per_row, s, n * sizeof(double));
    free(sums);
    free(counts);
    free(s);
    return QRANK_OK;
}

/* ---- PCA map ------------------------------------------------------------------------- */

/* Gram-Schmidt on two columns (dim x 2, column-major). A column with no
 * length left becomes zero: the data then has fewer than two directions. */
static void orthonormalise2(double *v, size_t dim) {
    double *v0 = v, *v1 = v + dim;
    double n0 = 0.0;
    for (size_t d = 0; d < dim; d++) n0 += v0[d] * v0[d];
    n0 = sqrt(n0);
    if (n0 > 1e-300)
        for (size_t d = 0; d < dim; d++) v0[d] /= n0;
    else
        memset(v0, 0, dim * sizeof(double));
    double p = 0.0;
    for (size_t d = 0; d < dim; d++) p += v0[d] * v1[d];
    for (size_t d = 0; d < dim; d++) v1[d] -= p * v0[d];
    double n1 = 0.0;
    for (size_t d = 0; d < dim; d++) n1 += v1[d] * v1[d];
    n1 = sqrt(n1);
    if (n1 > 1e-12 * (n0 > 1.0 ? n0 : 1.0))
        for (size_t d = 0; d < dim; d++) v1[d] /= n1;
    else
        memset(v1, 0, dim * sizeof(double));
}

/* u = Xc v (n x 2, row-major), then w = Xc^T u (dim x 2, column-major),
 * where Xc is X with the mean row taken off: Xc^T u = X^T u - mean sum(u). */
static void pca_step(const float *x, const double *mean, size_t n, size_t dim, int nt,
                     const double *v, double *u, double *partial, double *w) {
#pragma omp parallel for schedule(static) QR_OMP_IF(2.0 * (double)n * (double)dim) QR_OMP_THREADS(nt)
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * dim;
        double a = 0.0, b = 0.0;
        for (size_t d = 0; d < dim; d++) {
            double c = (double)xi[d] - mean[d];
            a += c * v[d];
            b += c * v[dim + d];
        }
        u[2 * i] = a;
        u[2 * i + 1] = b;
    }
    row_sums(x, n, dim, 2, NULL, u, nt, partial, w);
    double su0 = 0.0, su1 = 0.0;
    for (size_t i = 0; i < n; i++) {
        su0 += u[2 * i];
        su1 += u[2 * i + 1];
    }
    for (size_t d = 0; d < dim; d++) {
        w[d] -= mean[d] * su0;
        w[dim + d] -= mean[d] * su1;
    }
}

int qr_pca2(const float *x, size_t n, size_t dim, int n_threads, float *map, qrank_error *err) {
    if (!x || !map || n == 0 || dim == 0)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "PCA needs at least one vector");
    double *mean = calloc(dim, sizeof(double));
    double *v = malloc(2 * dim * sizeof(double));
    double *w = malloc(2 * dim * sizeof(double));
    double *u = malloc(2 * n * sizeof(double));
    double *partial = malloc(row_sums_scratch(n, dim, 2) * sizeof(double));
    if (!mean || !v || !w || !u || !partial) {
        free(mean);
        free(v);
        free(w);
        free(u);
        free(partial);
        return alloc_fail(err, "PCA");
    }
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++) mean[d] += (double)x[i * dim + d];
    for (size_t d = 0; d < dim; d++) mean[d] /= (double)n;

    /* A fixed pseudo-random start: any start not orthogonal to the top
     * plane converges, and a fixed one keeps the map reproducible. */
    uint64_t rng = 0x243F6A8885A308D3ULL;
    for (size_t d = 0; d < 2 * dim; d++) v[d] = rng_uniform(&rng) - 0.5;
    orthonormalise2(v, dim);

    /* Orthogonal iteration: the plane converges at the rate of
     * lambda3 / lambda2, and 300 steps bound the rare slow case. */
    for (int it = 0; it < 300; it++) {
        pca_step(x, mean, n, dim, n_threads, v, u, partial, w);
        orthonormalise2(w, dim);
        double change = 0.0;
        for (int j = 0; j < 2; j++) {
            double p = 0.0;
            for (size_t d = 0; d < dim; d++) p += w[(size_t)j * dim + d] * v[(size_t)j * dim + d];
            double c = 1.0 - fabs(p);
            if (c > change) change = c;
        }
        memcpy(v, w, 2 * dim * sizeof(double));
        if (change < 1e-12) break;
    }

    /* Rayleigh-Ritz inside the plane: rotate the two axes onto the
     * covariance's eigenvectors so that axis 0 carries the most variance. */
    pca_step(x, mean, n, dim, n_threads, v, u, partial, w);
    double b00 = 0.0, b01 = 0.0, b11 = 0.0;
    for (size_t i = 0; i < n; i++) {
        b00 += u[2 * i] * u[2 * i];
        b01 += u[2 * i] * u[2 * i + 1];
        b11 += u[2 * i + 1] * u[2 * i + 1];
    }
    double theta = 0.5 * atan2(2.0 * b01, b00 - b11);
    double cs = cos(theta), sn = sin(theta);
    for (size_t i = 0; i < n; i++) {
        double a = u[2 * i], b = u[2 * i + 1];
        u[2 * i] = cs * a + sn * b;
        u[2 * i + 1] = -sn * a + cs * b;
    }
    for (int j = 0; j < 2; j++) {
        size_t arg = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(u[2 * i + (size_t)j]) > fabs(u[2 * arg + (size_t)j])) arg = i;
        double sign = u[2 * arg + (size_t)j] < 0.0 ? -1.0 : 1.0;
        for (size_t i = 0; i < n; i++) map[2 * i + (size_t)j] = (float)(sign * u[2 * i + (size_t)j]);
    }
    free(mean);
    free(v);
    free(w);
    free(u);
    free(partial);
    return QRANK_OK;
}

/* ---- the public clustering ----------------------------------------------------------- */

struct qrank_clustering {
    size_t n, dims;
    int k, k_min, k_max;
    double *silhouette_by_k; /* k_max - k_min + 1 */
    double silhouette, inertia;
    int *labels;     /* n */
    float *map;      /* n * 2 */
    int has_scores;
    size_t n_central_want;
    /* Per cluster c: members member_index[start[c] .. start[c + 1]), best
     * first, with their scores and similarities at the same positions; its
     * central texts are central[central_start[c] .. central_start[c + 1]). */
    size_t *start, *central_start; /* k + 1 each */
    size_t *member_index;
    float *member_score; /* NULL without scores */
    float *member_sim;
    size_t *central;
};

qrank_cluster_params qrank_cluster_default_params(void) {
    qrank_cluster_params p;
    memset(&p, 0, sizeof p);
    p.k = 0;
    p.k_min = 2;
    p.k_max = 10;
    p.n_restarts = 8;
    p.max_iterations = 100;
    p.seed = 42;
    p.n_central = 3;
    p.n_threads = 0;
    p.embed = qrank_embed_default_params();
    p.embed.instruction = QRANK_DEFAULT_CLUSTER_INSTRUCTION;
    p.query = NULL;
    p.rerank = qrank_rerank_default_params();
    return p;
}

void qrank_clustering_free(qrank_clustering *c) {
    if (!c) return;
    free(c->silhouette_by_k);
    free(c->labels);
    free(c->map);
    free(c->start);
    free(c->central_start);
    free(c->member_index);
    free(c->member_score);
    free(c->member_sim);
    free(c->central);
    free(c);
}

static int check_cluster_params(const qrank_cluster_params *p, qrank_error *err) {
    if (p->k < 0) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k must not be negative (0 chooses it)");
    if (p->k == 0 && (p->k_min < 2 || p->k_max < p->k_min))
        return qr_error(err, QRANK_E_INVALID_ARGUMENT,
                        "the range of k must satisfy 2 <= k_min <= k_max (got %d..%d)", p->k_min, p->k_max);
    if (p->n_restarts < 1 || p->n_restarts > 1000)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "restarts must be 1..1000 (got %d)", p->n_restarts);
    if (p->max_iterations < 1 || p->max_iterations > 100000)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "iterations must be 1..100000 (got %d)", p->max_iterations);
    if (p->n_central < 0)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "the number of central posts must not be negative");
    if (p->n_threads < 0) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "threads must not be negative");
    return QRANK_OK;
}

/* Sorting of member positions: by score or similarity, then index. */
typedef struct member_key {
    size_t index;
    float primary, sim;
} member_key;

static int cmp_member_desc(const void *pa, const void *pb) {
    const member_key *a = pa, *b = pb;
    if (a->primary != b->primary) return a->primary > b->primary ? -1 : 1;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

typedef struct cluster_order {
    int label;
    size_t size, first;
} cluster_order;

static int cmp_cluster_order(const void *pa, const void *pb) {
    const cluster_order *a = pa, *b = pb;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* Turns k-means labels into the result: empty clusters dropped, clusters
 * renumbered largest first, centroids recomputed from the final members,
 * members and central texts sorted. */
static int build_result(qrank_clustering *r, const float *x, const float *scores, const int *raw,
                        int k_raw, int nt, qrank_error *err) {
    const size_t n = r->n, dim = r->dims;
    int rc = QRANK_OK;
    cluster_order *ord = calloc((size_t)k_raw, sizeof *ord);
    int *relabel = malloc((size_t)k_raw * sizeof(int));
    double *sums = NULL;
    size_t *counts = NULL;
    float *cent = NULL, *sim = NULL;
    member_key *keys = NULL;
    double *partial = NULL;
    if (!ord || !relabel) goto oom;
    for (int c = 0; c < k_raw; c++) {
        ord[c].label = c;
        ord[c].first = n;
    }
    for (size_t i = 0; i < n; i++) {
        cluster_order *o = &ord[raw[i]];
        if (o->size++ == 0) o->first = i;
    }
    qsort(ord, (size_t)k_raw, sizeof *ord, cmp_cluster_order);
    int k = 0;
    for (int c = 0; c < k_raw; c++) relabel[c] = -1;
    for (int c = 0; c < k_raw; c++)
        if (ord[c].size > 0) relabel[ord[c].label] = k++;
    r->k = k;
    for (size_t i = 0; i < n; i++) r->labels[i] = relabel[raw[i]];

    sums = malloc((size_t)k * dim * sizeof(double));
    counts = malloc((size_t)k * sizeof(size_t));
    cent = malloc((size_t)k * dim * sizeof(float));
    sim = malloc(n * sizeof(float));
    keys = malloc(n * sizeof *keys);
    r->start = calloc((size_t)k + 1, sizeof(size_t));
    r->central_start = calloc((size_t)k + 1, sizeof(size_t));
    r->member_index = malloc(n * sizeof(size_t));
    r->member_sim = malloc(n * sizeof(float));
    r->member_score = scores ? malloc(n * sizeof(float)) : NULL;
    r->central = malloc(n * sizeof(size_t));
    if (!sums || !counts || !cent || !sim || !keys || !r->start || !r->central_start ||
        !r->member_index || !r->member_sim || (scores && !r->member_score) || !r->central)
        goto oom;

    partial = malloc(row_sums_scratch(n, dim, k) * sizeof(double));
    if (!partial) goto oom;
    cluster_sums(x, n, dim, r->labels, k, nt, partial, sums, counts);
    for (int c = 0; c < k; c++) {
        const double *s = sums + (size_t)c * dim;
        double norm = 0.0;
        for (size_t d = 0; d < dim; d++) norm += s[d] * s[d];
        norm = sqrt(norm);
        float *cc = cent + (size_t)c * dim;
        for (size_t d = 0; d < dim; d++) cc[d] = norm > 1e-30 ? (float)(s[d] / norm) : 0.0f;
    }
#pragma omp parallel for schedule(static) QR_OMP_IF((double)n * (double)dim) QR_OMP_THREADS(nt)
    for (size_t i = 0; i < n; i++) sim[i] = qr_dot_f32(x + i * dim, cent + (size_t)r->labels[i] * dim, dim);
    double inertia = 0.0;
    for (size_t i = 0; i < n; i++) inertia += 1.0 - (double)sim[i];
    r->inertia = inertia > 0.0 ? inertia : 0.0;

    for (int c = 0; c < k; c++) r->start[c + 1] = r->start[c] + counts[c];
    size_t *fill = counts; /* reused as write cursors */
    for (int c = 0; c < k; c++) fill[c] = r->start[c];
    for (size_t i = 0; i < n; i++) {
        size_t pos = fill[r->labels[i]]++;
        keys[pos].index = i;
        keys[pos].sim = sim[i];
    }
    for (int c = 0; c < k; c++) {
        member_key *kc = keys + r->start[c];
        size_t size = r->start[c + 1] - r->start[c];
        /* Central texts first: nearest the centroid. */
        for (size_t j = 0; j < size; j++) kc[j].primary = kc[j].sim;
        qsort(kc, size, sizeof *kc, cmp_member_desc);
        size_t n_central = size < r->n_central_want ? size : r->n_central_want;
        r->central_start[c + 1] = r->central_start[c] + n_central;
        for (size_t j = 0; j < n_central; j++) r->central[r->central_start[c] + j] = kc[j].index;
        if (scores) {
            for (size_t j = 0; j < size; j++) kc[j].primary = scores[kc[j].index];
            qsort(kc, size, sizeof *kc, cmp_member_desc);
        }
        for (size_t j = 0; j < size; j++) {
            size_t pos = r->start[c] + j;
            r->member_index[pos] = kc[j].index;
            r->member_sim[pos] = kc[j].sim;
            if (scores) r->member_score[pos] = scores[kc[j].index];
        }
    }
    if (k >= 2) {
        rc = qr_silhouette(x, n, dim, r->labels, k, nt, &r->silhouette, NULL, err);
    } else {
        r->silhouette = 0.0;
    }
    if (rc == QRANK_OK) rc = qr_pca2(x, n, dim, nt, r->map, err);
    goto done;
oom:
    rc = alloc_fail(err, "clustering result");
done:
    free(ord);
    free(relabel);
    free(sums);
    free(counts);
    free(cent);
    free(sim);
    free(keys);
    free(partial);
    return rc;
}

int qrank_cluster_vectors(const float *vectors, size_t n, size_t dims, const float *scores,
                          const qrank_cluster_params *params, qrank_clustering **out,
                          qrank_error *err) {
    if (!out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no place for the result");
    *out = NULL;
    if (!vectors || !params) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no vectors or no params");
    if (n == 0) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "nothing to cluster: no texts");
    if (dims == 0 || n > SIZE_MAX / sizeof(double) / dims)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "%zu vectors of %zu dims cannot be clustered", n, dims);
    int rc = check_cluster_params(params, err);
    if (rc) return rc;
    if (params->k > 0 && (size_t)params->k > n)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k = %d but there are only %zu texts", params->k, n);
    const int nt = params->n_threads;

    /* The search range: silhouettes exist for 2 <= k <= n - 1. */
    int k_min, k_max;
    if (params->k > 0) {
        k_min = k_max = params->k;
    } else {
        k_max = (size_t)params->k_max < n - 1 ? params->k_max : (int)(n - 1);
        k_min = params->k_min < k_max ? params->k_min : k_max;
        if (k_max < 2) k_min = k_max = 1; /* one or two texts: one cluster */
    }

    qrank_clustering *r = calloc(1, sizeof *r);
    float *x = malloc(n * dims * sizeof(float));
    int *raw = malloc(n * sizeof(int));
    int *best_raw = malloc(n * sizeof(int));
    float *cent = malloc((size_t)k_max * dims * sizeof(float));
    if (!r || !x || !raw || !best_raw || !cent) {
        rc = alloc_fail(err, "clustering");
        goto fail;
    }
    r->n = n;
    r->dims = dims;
    r->k_min = k_min;
    r->k_max = k_max;
    r->has_scores = scores != NULL;
    r->n_central_want = (size_t)params->n_central;
    r->silhouette_by_k = malloc((size_t)(k_max - k_min + 1) * sizeof(double));
    r->labels = malloc(n * sizeof(int));
    r->map = malloc(n * 2 * sizeof(float));
    if (!r->silhouette_by_k || !r->labels || !r->map) {
        rc = alloc_fail(err, "clustering");
        goto fail;
    }

    for (size_t i = 0; i < n; i++) {
        const float *v = vectors + i * dims;
        double norm = 0.0;
        for (size_t d = 0; d < dims; d++) norm += (double)v[d] * v[d];
        if (!isfinite(norm)) {
            rc = qr_error(err, QRANK_E_INVALID_ARGUMENT, "vector %zu has a value that is not finite", i);
            goto fail;
        }
        if (norm <= 0.0) {
            rc = qr_error(err, QRANK_E_INVALID_ARGUMENT, "vector %zu is zero and has no direction", i);
            goto fail;
        }
        norm = sqrt(norm);
        for (size_t d = 0; d < dims; d++) x[i * dims + d] = (float)(v[d] / norm);
        if (scores && !isfinite(scores[i])) {
            rc = qr_error(err, QRANK_E_INVALID_ARGUMENT, "score %zu is not finite", i);
            goto fail;
        }
    }

    double best = -INFINITY;
    int best_k = k_min;
    for (int k = k_min; k <= k_max; k++) {
        double inertia, sil = NAN;
        rc = qr_kmeans(x, n, dims, k, params->n_restarts, params->max_iterations, params->seed, nt,
                       raw, cent, &inertia, err);
        if (rc) goto fail;
        if (k >= 2 && (size_t)k < n) {
            rc = qr_silhouette(x, n, dims, raw, k, nt, &sil, NULL, err);
            if (rc) goto fail;
        }
        r->silhouette_by_k[k - k_min] = sil;
        /* The first k with the best silhouette wins: ties favour fewer clusters. */
        if (k == k_min || (isfinite(sil) && sil > best)) {
            if (isfinite(sil)) best = sil;
            best_k = k;
            memcpy(best_raw, raw, n * sizeof(int));
        }
    }
    rc = build_result(r, x, scores, best_raw, best_k, nt, err);
    if (rc) goto fail;
    free(x);
    free(raw);
    free(best_raw);
    free(cent);
    *out = r;
    return QRANK_OK;
fail:
    free(x);
    free(raw);
    free(best_raw);
    free(cent);
    qrank_clustering_free(r);
    return rc;
}

void qrank_clustering_get_info(const qrank_clustering *c, qrank_clustering_info *info) {
    memset(info, 0, sizeof *info);
    if (!c) return;
    info->n_texts = c->n;
    info->dims = c->dims;
    info->k = c->k;
    info->k_min = c->k_min;
    info->k_max = c->k_max;
    info->silhouette_by_k = c->silhouette_by_k;
    info->silhouette = c->silhouette;
    info->inertia = c->inertia;
    info->labels = c->labels;
    info->map = c->map;
    info->has_scores = c->has_scores;
}

int qrank_clustering_get_cluster(const qrank_clustering *c, int cluster, qrank_cluster_members *out,
                                 qrank_error *err) {
    if (!c || !out) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "no clustering");
    if (cluster < 0 || cluster >= c->k)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "cluster %d is outside 0..%d", cluster, c->k - 1);
    const size_t s = c->start[cluster];
    out->size = c->start[cluster + 1] - s;
    out->members = c->member_index + s;
    out->scores = c->member_score ? c->member_score + s : NULL;
    out->similarity = c->member_sim + s;
    out->central = c->central + c->central_start[cluster];
    out->n_central = c->central_start[cluster + 1] - c->central_start[cluster];
    return QRANK_OK;
}

/* Cluster-then-rerank. The query's scores do not depend on the cluster a
 * post lands in, so every post is scored in one qrank_rerank call (which
 * shares the query's prefix across all of them) and each cluster then
 * orders its members by those scores. */
int qrank_cluster(qrank_model *embedder, qrank_model *reranker, const char *const *texts,
                  size_t n_texts, const qrank_cluster_params *params, qrank_clustering **out,
                  qrank_usage *usage, qrank_error *err) {
    if (out) *out = NULL;
    if (usage) memset(usage, 0, sizeof *usage);
    if (!embedder || !texts || !params || !out)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "qrank_cluster needs a model, texts, params and out");
    if (n_texts == 0) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "nothing to cluster: no texts");
    for (size_t i = 0; i < n_texts; i++)
        if (!texts[i]) return qr_error(err, QRANK_E_INVALID_ARGUMENT, "text %zu is NULL", i);
    int rc = check_cluster_params(params, err);
    if (rc) return rc;
    if (params->k > 0 && (size_t)params->k > n_texts)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "k = %d but there are only %zu texts", params->k, n_texts);
    const int with_query = params->query && params->query[0];
    if (with_query && !reranker)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "a query needs a reranker model");

    qrank_model_info info;
    qrank_model_get_info(embedder, &info);
    if (info.kind != QRANK_KIND_EMBEDDER)
        return qr_error(err, QRANK_E_UNSUPPORTED, "clustering needs an embedding model, and %s is a reranker",
                        info.name ? info.name : "this model");
    if (with_query) {
        qrank_model_info rinfo;
        qrank_model_get_info(reranker, &rinfo);
        if (rinfo.kind != QRANK_KIND_RERANKER)
            return qr_error(err, QRANK_E_UNSUPPORTED, "reranking needs a reranker model, and %s is an embedder",
                            rinfo.name ? rinfo.name : "that model");
    }
    qrank_embed_params ep = params->embed;
    if (ep.instruction && !ep.instruction[0]) ep.instruction = NULL;
    const size_t dims = ep.dims > 0 ? (size_t)ep.dims : (size_t)info.hidden;
    if (dims == 0 || n_texts > SIZE_MAX / sizeof(float) / dims)
        return qr_error(err, QRANK_E_INVALID_ARGUMENT, "%zu texts are too many to embed at once", n_texts);

    float *vectors = malloc(n_texts * dims * sizeof(float));
    float *scores = with_query ? malloc(n_texts * sizeof(float)) : NULL;
    if (!vectors || (with_query && !scores)) {
        free(vectors);
        free(scores);
        return alloc_fail(err, "embeddings");
    }
    qrank_usage eu = {0}, ru = {0};
    rc = qrank_embed(embedder, texts, n_texts, &ep, vectors, &eu, err);
    if (rc) {
        qr_error_prefix(err, rc, "embedding the posts");
        goto done;
    }
    if (with_query) {
        rc = qrank_rerank(reranker, params->query, texts, n_texts, &params->rerank, scores, NULL, &ru, err);
        if (rc) {
            qr_error_prefix(err, rc, "reranking the posts");
            goto done;
        }
    }
    rc = qrank_cluster_vectors(vectors, n_texts, dims, scores, params, out, err);
    if (rc == QRANK_OK && usage) {
        usage->prompt_tokens = eu.prompt_tokens + ru.prompt_tokens;
        usage->computed_tokens = eu.computed_tokens + ru.computed_tokens;
        usage->prefix_tokens_reused = eu.prefix_tokens_reused + ru.prefix_tokens_reused;
        usage->truncated_documents = eu.truncated_documents + ru.truncated_documents;
    }
done:
    free(vectors);
    free(scores);
    return rc;
}
