/* test-cluster.c - topic clustering without a model: k-means on planted
 * groups, the silhouette (against a hand computation and against the
 * quadratic textbook formula), the choice of k, determinism across seeds and
 * thread counts, the PCA map, the ordering of members, hostile arguments, and
 * the time for 10,000 x 1024.
 *
 * Synthetic data: planted groups are random unit "topic" directions; each
 * point is its topic plus Gaussian noise, normalised, which is how sentence
 * embeddings of posts on a few themes look (a tight cone per theme). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "qrank.h"

#include "check.h"

static uint64_t rng_state;

static double uniform01(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double gaussian(void) {
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static void normalise(float *v, size_t dim) {
    double s = 0.0;
    for (size_t d = 0; d < dim; d++) s += (double)v[d] * v[d];
    s = sqrt(s);
    for (size_t d = 0; d < dim; d++) v[d] = (float)(v[d] / s);
}

/* n points in `groups` planted groups (sizes as equal as possible, points of
 * a group spread through the array); noise is the per-dimension sigma
 * relative to the unit topic vector. truth[i] is the planted group. */
static float *planted(size_t n, size_t dim, int groups, double noise, uint64_t seed, int *truth) {
    rng_state = seed;
    float *topics = malloc((size_t)groups * dim * sizeof(float));
    float *x = malloc(n * dim * sizeof(float));
    for (int g = 0; g < groups; g++) {
        for (size_t d = 0; d < dim; d++) topics[(size_t)g * dim + d] = (float)gaussian();
        normalise(topics + (size_t)g * dim, dim);
    }
    for (size_t i = 0; i < n; i++) {
        int g = (int)(i % (size_t)groups);
        truth[i] = g;
        for (size_t d = 0; d < dim; d++)
            x[i * dim + d] = topics[(size_t)g * dim + d] + (float)(noise * gaussian());
        normalise(x + i * dim, dim);
    }
    free(topics);
    return x;
}

/* Adjusted Rand index (Hubert and Arabie 1985) from the contingency table:
 * (sum_ij C(n_ij,2) - E) / (0.5 (sum_i C(a_i,2) + sum_j C(b_j,2)) - E),
 * E = sum_i C(a_i,2) sum_j C(b_j,2) / C(n,2). */
static double adjusted_rand(const int *a, const int *b, size_t n) {
    int ka = 0, kb = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] + 1 > ka) ka = a[i] + 1;
        if (b[i] + 1 > kb) kb = b[i] + 1;
    }
    double *table = calloc((size_t)ka * (size_t)kb, sizeof(double));
    double *ra = calloc((size_t)ka, sizeof(double)), *rb = calloc((size_t)kb, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        table[a[i] * kb + b[i]] += 1;
        ra[a[i]] += 1;
        rb[b[i]] += 1;
    }
#define C2(v) ((v) * ((v)-1.0) / 2.0)
    double sum_ij = 0, sum_a = 0, sum_b = 0;
    for (int i = 0; i < ka * kb; i++) sum_ij += C2(table[i]);
    for (int i = 0; i < ka; i++) sum_a += C2(ra[i]);
    for (int j = 0; j < kb; j++) sum_b += C2(rb[j]);
    double expected = sum_a * sum_b / C2((double)n);
    double max_index = 0.5 * (sum_a + sum_b);
#undef C2
    free(table);
    free(ra);
    free(rb);
    if (max_index == expected) return 1.0;
    return (sum_ij - expected) / (max_index - expected);
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_adjusted_rand_itself(void) {
    /* Same partition under other names: 1. */
    int a[6] = {0, 0, 1, 1, 2, 2}, b[6] = {2, 2, 0, 0, 1, 1};
    CHECK(fabs(adjusted_rand(a, b, 6) - 1.0) < 1e-12, "renamed partition");
    /* a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}: table rows (2,1,0), (0,1,2);
     * sum_ij C2 = 1 + 1 = 2; sum_a = 3 + 3 = 6; sum_b = 1 + 1 + 1 = 3;
     * E = 6 * 3 / 15 = 1.2; max = 4.5; ARI = 0.8 / 3.3 = 0.242424... */
    int c[6] = {0, 0, 0, 1, 1, 1}, d[6] = {0, 0, 1, 1, 2, 2};
    CHECK(fabs(adjusted_rand(c, d, 6) - 0.8 / 3.3) < 1e-12, "hand-computed ARI");
}

/* Four points on the unit circle: a = (1, 0), b = (0.8, 0.6), c = (-1, 0),
 * d = (-0.8, -0.6), clusters {a, b} and {c, d}. Cosine distances:
 * ab = 1 - 0.8 = 0.2, ac = 2, ad = 1.8, bc = 1.8, bd = 1 - (-0.64 - 0.36) = 2,
 * cd = 0.2. For a: a(a) = 0.2, b(a) = (2 + 1.8) / 2 = 1.9, s = 1.7 / 1.9;
 * b, c and d are the same by symmetry, so the mean is 1.7 / 1.9 = 0.894737. */
static void test_silhouette_by_hand(void) {
    float x[8] = {1, 0, 0.8f, 0.6f, -1, 0, -0.8f, -0.6f};
    int labels[4] = {0, 0, 1, 1};
    double mean = 0, per[4];
    CHECK(qr_silhouette(x, 4, 2, labels, 2, 1, &mean, per, NULL) == QRANK_OK, "silhouette ok");
    CHECK(fabs(mean - 1.7 / 1.9) < 1e-6, "mean silhouette %f, want %f", mean, 1.7 / 1.9);
    for (int i = 0; i < 4; i++) CHECK(fabs(per[i] - 1.7 / 1.9) < 1e-6, "row %d: %f", i, per[i]);

    /* Swap b and c between the clusters: {a, c} and {b, d}.
     * a: own = ac = 2, other = mean(ab, ad) = 1.0, s = (1 - 2) / 2 = -0.5.
     * c: own = 2, other = mean(bc, cd) = 1.0, s = -0.5.
     * b: own = bd = 2, other = mean(ab, bc) = 1.0, s = -0.5; d likewise. */
    int bad[4] = {0, 1, 0, 1};
    CHECK(qr_silhouette(x, 4, 2, bad, 2, 1, &mean, NULL, NULL) == QRANK_OK, "silhouette ok");
    CHECK(fabs(mean + 0.5) < 1e-6, "mean silhouette %f, want -0.5", mean);
}

/* The O(n k dim) silhouette against the textbook O(n^2 dim) one, with a
 * singleton cluster (silhouette 0 by convention). */
static void test_silhouette_matches_quadratic(void) {
    const size_t n = 60, dim = 12;
    const int k = 4;
    int truth[60], labels[60];
    float *x = planted(n, dim, 3, 0.6, 7, truth);
    rng_state = 99;
    for (size_t i = 0; i < n; i++) labels[i] = (int)(uniform01() * 3);
    labels[17] = 3; /* the only member of cluster 3 */
    for (size_t i = 0; i < n; i++)
        if (i != 17 && labels[i] == 3) labels[i] = 0;
    double fast = 0;
    double per[60];
    CHECK(qr_silhouette(x, n, dim, labels, k, 2, &fast, per, NULL) == QRANK_OK, "ok");
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        double sum[4] = {0}, cnt[4] = {0};
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dot = 0;
            for (size_t d = 0; d < dim; d++) dot += (double)x[i * dim + d] * x[j * dim + d];
            sum[labels[j]] += 1.0 - dot;
            cnt[labels[j]] += 1.0;
        }
        int own = labels[i];
        double s = 0.0;
        if (cnt[own] > 0) {
            double a = sum[own] / cnt[own], b = INFINITY;
            for (int c = 0; c < k; c++)
                if (c != own && cnt[c] > 0 && sum[c] / cnt[c] < b) b = sum[c] / cnt[c];
            s = (b - a) / (a > b ? a : b);
        }
        CHECK(fabs(s - per[i]) < 1e-6, "row %zu: %f vs %f", i, per[i], s);
        total += s;
    }
    CHECK(fabs(total / (double)n - fast) < 1e-6, "mean %f vs %f", fast, total / (double)n);
    free(x);
}

static void test_recovers_planted_groups(void) {
    const size_t n = 400, dim = 64;
    for (int groups = 3; groups <= 8; groups += 5) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            int *truth = malloc(n * sizeof(int));
            float *x = planted(n, dim, groups, 0.12, 1000 + seed, truth);
            qrank_cluster_params p = qrank_cluster_default_params();
            p.k = groups;
            p.seed = seed;
            qrank_clustering *c = NULL;
            qrank_error err = {0};
            int rc = qrank_cluster_vectors(x, n, dim, NULL, &p, &c, &err);
            CHECK(rc == QRANK_OK, "%s", err.message);
            if (rc == QRANK_OK) {
                qrank_clustering_info info;
                qrank_clustering_get_info(c, &info);
                double ari = adjusted_rand(truth, info.labels, n);
                CHECK(info.k == groups, "k %d", info.k);
                CHECK(ari >= 0.95, "groups %d seed %llu: ARI %f", groups, (unsigned long long)seed, ari);
                CHECK(info.silhouette > 0.3, "silhouette %f", info.silhouette);
            }
            qrank_clustering_free(c);
            free(truth);
            free(x);
        }
    }
}

static void test_silhouette_picks_planted_k(void) {
    const size_t n = 300, dim = 48;
    const int planted_k[] = {2, 3, 4, 6, 9};
    for (size_t t = 0; t < sizeof planted_k / sizeof planted_k[0]; t++) {
        int *truth = malloc(n * sizeof(int));
        float *x = planted(n, dim, planted_k[t], 0.12, 500 + t, truth);
        qrank_cluster_params p = qrank_cluster_default_params();
        p.k_min = 2;
        p.k_max = 10;
        qrank_clustering *c = NULL;
        qrank_error err = {0};
        int rc = qrank_cluster_vectors(x, n, dim, NULL, &p, &c, &err);
        CHECK(rc == QRANK_OK, "%s", err.message);
        if (rc == QRANK_OK) {
            qrank_clustering_info info;
            qrank_clustering_get_info(c, &info);
            CHECK(info.k == planted_k[t], "planted %d, chose %d", planted_k[t], info.k);
            CHECK(info.k_min == 2 && info.k_max == 10, "range %d..%d", info.k_min, info.k_max);
            double best = info.silhouette_by_k[info.k - info.k_min];
            for (int k = info.k_min; k <= info.k_max; k++)
                CHECK(info.silhouette_by_k[k - info.k_min] <= best, "k %d beats the choice", k);
            CHECK(fabs(best - info.silhouette) < 1e-9, "reported %f vs %f", info.silhouette, best);
            CHECK(adjusted_rand(truth, info.labels, n) >= 0.95, "ARI");
        }
        qrank_clustering_free(c);
        free(truth);
        free(x);
    }
}

static int same_result(const qrank_clustering *a, const qrank_clustering *b) {
    qrank_clustering_info ia, ib;
    qrank_clustering_get_info(a, &ia);
    qrank_clustering_get_info(b, &ib);
    if (ia.k != ib.k || ia.n_texts != ib.n_texts || ia.silhouette != ib.silhouette ||
        ia.inertia != ib.inertia)
        return 0;
    if (memcmp(ia.labels, ib.labels, ia.n_texts * sizeof(int)) != 0) return 0;
    if (memcmp(ia.map, ib.map, ia.n_texts * 2 * sizeof(float)) != 0) return 0;
    for (int c = 0; c < ia.k; c++) {
        qrank_cluster_members ma, mb;
        qrank_clustering_get_cluster(a, c, &ma, NULL);
        qrank_clustering_get_cluster(b, c, &mb, NULL);
        if (ma.size != mb.size || memcmp(ma.members, mb.members, ma.size * sizeof(size_t)) != 0)
            return 0;
    }
    return 1;
}

/* Overlapping groups, so that restarts and seeds matter. */
static void test_deterministic(void) {
    const size_t n = 500, dim = 32;
    int *truth = malloc(n * sizeof(int));
    float *x = planted(n, dim, 6, 0.35, 77, truth);
    qrank_cluster_params p = qrank_cluster_default_params();
    p.n_restarts = 2;
    p.seed = 12345;
    qrank_clustering *r[4] = {0};
    const int threads[4] = {1, 2, 3, 1};
    for (int i = 0; i < 4; i++) {
        p.n_threads = threads[i];
        if (i == 3) p.seed = 54321;
        CHECK(qrank_cluster_vectors(x, n, dim, NULL, &p, &r[i], NULL) == QRANK_OK, "run %d", i);
    }
    if (r[0] && r[1] && r[2] && r[3]) {
        CHECK(same_result(r[0], r[1]), "1 vs 2 threads differ");
        CHECK(same_result(r[0], r[2]), "1 vs 3 threads differ");
        /* Another seed may land on another local optimum; it must still be a
         * clustering of the same data (same size) -- not a check of equality. */
        qrank_clustering_info i3;
        qrank_clustering_get_info(r[3], &i3);
        CHECK(i3.n_texts == n, "n");
    }
    for (int i = 0; i < 4; i++) qrank_clustering_free(r[i]);
    free(truth);
    free(x);
}

/* Members best first (by score when given, else by centroid similarity),
 * central posts nearest first, clusters largest first, and every text in
 * exactly one cluster. */
static void test_result_structure(void) {
    const size_t n = 90, dim = 16;
    int truth[90];
    float *x = planted(n, dim, 3, 0.1, 3, truth);
    /* Make group sizes differ: move a few rows of group 2 onto group 0's
     * direction, so the clusters have 30 + 10, 30, 20 rows. */
    for (size_t i = 0, moved = 0; i < n && moved < 10; i++)
        if (truth[i] == 2) {
            for (size_t j = 0; j < n; j++)
                if (truth[j] == 0) {
                    memcpy(x + i * dim, x + j * dim, dim * sizeof(float));
                    break;
                }
            truth[i] = 0;
            moved++;
        }
    float scores[90];
    for (size_t i = 0; i < n; i++) scores[i] = (float)((i * 37) % 91) / 91.0f;
    for (int with_scores = 0; with_scores < 2; with_scores++) {
        qrank_cluster_params p = qrank_cluster_default_params();
        p.k = 3;
        p.n_central = 4;
        qrank_clustering *c = NULL;
        qrank_error err = {0};
        int rc = qrank_cluster_vectors(x, n, dim, with_scores ? scores : NULL, &p, &c, &err);
        CHECK(rc == QRANK_OK, "%s", err.message);
        if (rc) continue;
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        CHECK(info.has_scores == with_scores, "has_scores");
        CHECK(adjusted_rand(truth, info.labels, n) >= 0.95, "ARI");
        int *seen = calloc(n, sizeof(int));
        size_t last_size = n + 1;
        for (int k = 0; k < info.k; k++) {
            qrank_cluster_members m;
            CHECK(qrank_clustering_get_cluster(c, k, &m, NULL) == QRANK_OK, "get %d", k);
            CHECK(m.size <= last_size, "clusters not largest first");
            last_size = m.size;
            CHECK(m.n_central == (m.size < 4 ? m.size : 4), "n_central %zu", m.n_central);
            CHECK((m.scores != NULL) == with_scores, "scores pointer");
            for (size_t j = 0; j < m.size; j++) {
                size_t t = m.members[j];
                CHECK(t < n && info.labels[t] == k, "member %zu of cluster %d", t, k);
                seen[t]++;
                if (j > 0) {
                    if (with_scores) {
                        CHECK(m.scores[j - 1] >= m.scores[j], "scores not best first");
                        CHECK(m.scores[j] == scores[t], "score copied");
                    } else {
                        CHECK(m.similarity[j - 1] >= m.similarity[j], "similarity not best first");
                    }
                }
            }
            for (size_t j = 0; j + 1 < m.n_central; j++) {
                /* the central texts are the top of the similarity order */
                float s0 = -2, s1 = -2;
                for (size_t q = 0; q < m.size; q++) {
                    if (m.members[q] == m.central[j]) s0 = m.similarity[q];
                    if (m.members[q] == m.central[j + 1]) s1 = m.similarity[q];
                }
                CHECK(s0 >= s1 && s1 > -2, "central order");
            }
            for (size_t q = 0; q < m.size && m.n_central > 0; q++) {
                float last_central = -2;
                for (size_t r = 0; r < m.size; r++)
                    if (m.members[r] == m.central[m.n_central - 1]) last_central = m.similarity[r];
                int is_central = 0;
                for (size_t j = 0; j < m.n_central; j++) is_central |= m.central[j] == m.members[q];
                if (!is_central) CHECK(m.similarity[q] <= last_central, "a non-central text is nearer");
            }
        }
        for (size_t i = 0; i < n; i++) CHECK(seen[i] == 1, "text %zu seen %d times", i, seen[i]);
        free(seen);
        qrank_cluster_members m;
        qrank_error e2 = {0};
        CHECK(qrank_clustering_get_cluster(c, info.k, &m, &e2) == QRANK_E_INVALID_ARGUMENT, "past end");
        CHECK(qrank_clustering_get_cluster(c, -1, &m, &e2) == QRANK_E_INVALID_ARGUMENT, "negative");
        qrank_clustering_free(c);
    }
    free(x);
}

/* Two distinct posts repeated: asking for 5 clusters leaves 3 empty, which
 * are dropped, and copies never end up apart. */
static void test_duplicates(void) {
    const size_t n = 20, dim = 8;
    float x[20 * 8];
    int truth[20];
    for (size_t i = 0; i < n; i++) {
        truth[i] = (int)(i % 2);
        for (size_t d = 0; d < dim; d++) x[i * dim + d] = (float)(d == (size_t)truth[i] ? 3 : 0);
    }
    qrank_cluster_params p = qrank_cluster_default_params();
    p.k = 5;
    qrank_clustering *c = NULL;
    qrank_error err = {0};
    CHECK(qrank_cluster_vectors(x, n, dim, NULL, &p, &c, &err) == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        CHECK(info.k == 2, "k %d", info.k);
        CHECK(adjusted_rand(truth, info.labels, n) == 1.0, "copies apart");
        CHECK(fabs(info.inertia) < 1e-5, "inertia %f", info.inertia);
    }
    qrank_clustering_free(c);
    /* By silhouette: the range 2..10 is cut to n - 1, and k = 2 wins. */
    p.k = 0;
    CHECK(qrank_cluster_vectors(x, n, dim, NULL, &p, &c, &err) == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        CHECK(info.k == 2, "k %d", info.k);
        CHECK(fabs(info.silhouette - 1.0) < 1e-6, "silhouette %f", info.silhouette);
    }
    qrank_clustering_free(c);
}

static void test_small_and_hostile(void) {
    qrank_cluster_params p = qrank_cluster_default_params();
    qrank_clustering *c = (qrank_clustering *)&p; /* must be reset to NULL on failure */
    qrank_error err = {0};
    float one[3] = {1, 2, 2};
    /* One text: one cluster, silhouette 0, the map at the origin. */
    CHECK(qrank_cluster_vectors(one, 1, 3, NULL, &p, &c, &err) == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        CHECK(info.k == 1 && info.silhouette == 0.0, "k %d", info.k);
        CHECK(info.map[0] == 0.0f && info.map[1] == 0.0f, "map");
        qrank_cluster_members m;
        CHECK(qrank_clustering_get_cluster(c, 0, &m, NULL) == QRANK_OK && m.size == 1 && m.n_central == 1,
              "one member");
        CHECK(fabs(m.similarity[0] - 1.0f) < 1e-6, "similarity %f", m.similarity[0]);
    }
    qrank_clustering_free(c);
    /* Two texts without k: one cluster too (silhouette needs k <= n - 1). */
    float two[4] = {1, 0, 0, 1};
    CHECK(qrank_cluster_vectors(two, 2, 2, NULL, &p, &c, &err) == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        CHECK(info.k == 1, "k %d", info.k);
    }
    qrank_clustering_free(c);

    c = (qrank_clustering *)&p;
    CHECK(qrank_cluster_vectors(one, 0, 3, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "no texts");
    CHECK(c == NULL, "out reset");
    p.k = 2;
    CHECK(qrank_cluster_vectors(one, 1, 3, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "k > n");
    CHECK(strstr(err.message, "only 1") != NULL, "message: %s", err.message);
    p = qrank_cluster_default_params();
    p.k_min = 1;
    CHECK(qrank_cluster_vectors(two, 2, 2, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "k_min 1");
    p = qrank_cluster_default_params();
    p.k_min = 5;
    p.k_max = 4;
    CHECK(qrank_cluster_vectors(two, 2, 2, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "k_min > k_max");
    p = qrank_cluster_default_params();
    p.n_restarts = 0;
    CHECK(qrank_cluster_vectors(two, 2, 2, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "0 restarts");
    p = qrank_cluster_default_params();
    float nan_row[4] = {1, 0, NAN, 1};
    CHECK(qrank_cluster_vectors(nan_row, 2, 2, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "NaN");
    CHECK(strstr(err.message, "vector 1") != NULL, "message: %s", err.message);
    float zero_row[4] = {1, 0, 0, 0};
    CHECK(qrank_cluster_vectors(zero_row, 2, 2, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "zero");
    float bad_scores[2] = {0.5f, INFINITY};
    CHECK(qrank_cluster_vectors(two, 2, 2, bad_scores, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "inf score");
    CHECK(qrank_cluster_vectors(two, 2, 0, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT, "0 dims");
    CHECK(qrank_cluster_vectors(two, SIZE_MAX / 4, 4, NULL, &p, &c, &err) == QRANK_E_INVALID_ARGUMENT,
          "overflowing size");
    CHECK(c == NULL, "out stays NULL");
    /* Vectors that are not unit length are normalised, not rejected. */
    float scaled[4] = {10, 0, 0, 0.5f};
    p.k = 2;
    CHECK(qrank_cluster_vectors(scaled, 2, 2, NULL, &p, &c, &err) == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_cluster_members m;
        qrank_clustering_get_cluster(c, 0, &m, NULL);
        CHECK(fabs(m.similarity[0] - 1.0f) < 1e-6, "normalised");
    }
    qrank_clustering_free(c);
    qrank_clustering_free(NULL);

    /* The model path refuses before touching a model. */
    const char *texts[1] = {"hello"};
    p = qrank_cluster_default_params();
    CHECK(qrank_cluster(NULL, NULL, texts, 1, &p, &c, NULL, &err) == QRANK_E_INVALID_ARGUMENT, "no model");
    CHECK(strcmp(p.embed.instruction, QRANK_DEFAULT_CLUSTER_INSTRUCTION) == 0, "default instruction");
    CHECK(p.k == 0 && p.k_min == 2 && p.k_max == 10 && p.n_restarts >= 1 && p.n_central == 3, "defaults");

    /* Internal k-means and silhouette refuse bad arguments too. */
    int labels[2];
    float cent[4];
    CHECK(qr_kmeans(two, 2, 2, 3, 1, 10, 1, 1, labels, cent, NULL, NULL) == QRANK_E_INVALID_ARGUMENT, "k > n");
    CHECK(qr_kmeans(two, 2, 2, 0, 1, 10, 1, 1, labels, cent, NULL, NULL) == QRANK_E_INVALID_ARGUMENT, "k 0");
    int bad_labels[2] = {0, 2};
    double mean;
    CHECK(qr_silhouette(two, 2, 2, bad_labels, 2, 1, &mean, NULL, NULL) == QRANK_E_INVALID_ARGUMENT,
          "label out of range");
}

/* The map's axes follow the two directions of largest variance: points
 * spread 3 : 1 along two directions (plus small noise elsewhere) map onto
 * those coordinates, in that order. */
static void test_pca_map(void) {
    const size_t n = 400, dim = 20;
    float *x = malloc(n * dim * sizeof(float));
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    float *map = malloc(n * 2 * sizeof(float));
    rng_state = 5;
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.3 * gaussian();
        b[i] = 0.1 * gaussian();
        for (size_t d = 0; d < dim; d++) x[i * dim + d] = (float)(0.005 * gaussian());
        x[i * dim + 0] += 1.0f;
        x[i * dim + 3] += (float)a[i];
        x[i * dim + 7] += (float)b[i];
        /* no normalisation: qr_pca2 works on any rows */
    }
    CHECK(qr_pca2(x, n, dim, 2, map, NULL) == QRANK_OK, "pca");
    double saa = 0, sbb = 0, s0a = 0, s1b = 0, s00 = 0, s11 = 0, m0 = 0, m1 = 0, ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        m0 += map[2 * i];
        m1 += map[2 * i + 1];
        ma += a[i];
        mb += b[i];
    }
    m0 /= (double)n;
    m1 /= (double)n;
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double p0 = map[2 * i] - m0, p1 = map[2 * i + 1] - m1, da = a[i] - ma, db = b[i] - mb;
        saa += da * da;
        sbb += db * db;
        s00 += p0 * p0;
        s11 += p1 * p1;
        s0a += p0 * da;
        s1b += p1 * db;
    }
    double corr0 = s0a / sqrt(s00 * saa), corr1 = s1b / sqrt(s11 * sbb);
    CHECK(fabs(corr0) > 0.99, "axis 0 vs planted direction: %f", corr0);
    CHECK(fabs(corr1) > 0.95, "axis 1 vs planted direction: %f", corr1);
    CHECK(s00 > s11, "axis 0 carries the most variance");
    CHECK(fabs(m0) < 1e-4 && fabs(m1) < 1e-4, "centred: %f %f", m0, m1);
    /* Dimension 1: the second axis has nothing to show. */
    float line[3] = {1, 2, 4};
    float map1[6];
    CHECK(qr_pca2(line, 3, 1, 1, map1, NULL) == QRANK_OK, "pca on one dim");
    CHECK(fabs(map1[4] - (4 - 7.0 / 3)) < 1e-5 && map1[1] == 0 && map1[3] == 0, "1-D map %f", map1[4]);
    free(x);
    free(a);
    free(b);
    free(map);
}

/* 10,000 posts of 1024 dims (the 0.6B embedder's size) in 8 topics, k chosen
 * in 2..10 with the default restarts: the scale the issue asks for. Prints
 * the time (speed is the benchmarks' business, not a test's). */
static void test_scale(void) {
    const size_t n = 10000, dim = 1024;
    int *truth = malloc(n * sizeof(int));
    float *x = planted(n, dim, 8, 0.03, 2024, truth);
    qrank_cluster_params p = qrank_cluster_default_params();
    qrank_clustering *c = NULL;
    qrank_error err = {0};
    double t0 = seconds();
    int rc = qrank_cluster_vectors(x, n, dim, NULL, &p, &c, &err);
    double t1 = seconds();
    CHECK(rc == QRANK_OK, "%s", err.message);
    if (c) {
        qrank_clustering_info info;
        qrank_clustering_get_info(c, &info);
        double ari = adjusted_rand(truth, info.labels, n);
        printf("scale: %zu x %zu, k chosen %d in %d..%d, %d restarts: %.2f s, ARI %.4f, silhouette %.4f\n",
               n, dim, info.k, info.k_min, info.k_max, p.n_restarts, t1 - t0, ari, info.silhouette);
        CHECK(info.k == 8, "k %d", info.k);
        CHECK(ari >= 0.95, "ARI %f", ari);
    }
    qrank_clustering_free(c);
    free(truth);
    free(x);
}

/* examples/ai-drawing-200.txt, the cluster tab's example: 200 distinct
 * posts, one per line, none empty, and the two tools of its query both
 * discussed (SD and MJ are how posters write them). */
static void test_example_posts(const char *source_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/ai-drawing-200.txt", source_dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    static char lines[256][1024];
    size_t n = 0, sd = 0, mj = 0;
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        CHECK(len > 0 && buf[len - 1] == '\n', "line %zu has no newline or is too long", n + 1);
        if (len && buf[len - 1] == '\n') buf[--len] = '\0';
        CHECK(len > 0 && len < sizeof lines[0], "line %zu: %zu bytes", n + 1, len);
        CHECK(strchr(buf, '\r') == NULL, "line %zu has a carriage return", n + 1);
        sd += strstr(buf, "SD") || strstr(buf, "Stable Diffusion");
        mj += strstr(buf, "MJ") || strstr(buf, "Midjourney");
        if (n < 256) {
            for (size_t j = 0; j < n; j++) CHECK(strcmp(lines[j], buf) != 0, "line %zu repeats line %zu", n + 1, j + 1);
            snprintf(lines[n], sizeof lines[n], "%s", buf);
        }
        n++;
    }
    fclose(f);
    CHECK(n == 200, "%zu posts", n);
    CHECK(sd >= 40 && mj >= 40, "SD in %zu posts, MJ in %zu", sd, mj);
}

int main(int argc, char **argv) {
    const char *source_dir = argc > 1 ? argv[1] : ".";
    test_example_posts(source_dir);
    test_adjusted_rand_itself();
    test_silhouette_by_hand();
    test_silhouette_matches_quadratic();
    test_recovers_planted_groups();
    test_silhouette_picks_planted_k();
    test_deterministic();
    test_result_structure();
    test_duplicates();
    test_small_and_hostile();
    test_pca_map();
    if (!getenv("QRANK_TEST_QUICK")) test_scale();
    if (failures) {
        fprintf(stderr, "test-cluster: %d failure(s)\n", failures);
        return 1;
    }
    printf("test-cluster: ok\n");
    return 0;
}
