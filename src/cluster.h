/* cluster.h - the numerical pieces of topic clustering, on plain unit vectors.
 *
 * qrank_cluster_vectors (include/qrank.h) is built from these; they are
 * exposed here so that tests can check each one without a model. Every
 * function takes `x`: n rows of `dim` floats, each row L2-normalised, row-major.
 * n_threads is the OpenMP team size (0 = the runtime's default); results do
 * not depend on it. */
#ifndef QRANK_CLUSTER_H
#define QRANK_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "qrank.h"

/* Dot product with a fixed order of additions, so that every caller (and
 * every thread count) gets bit-identical results. */
float qr_dot_f32(const float *a, const float *b, size_t n);

/* Spherical k-means: k-means++ seeding with weights 1 - cos (half the squared
 * Euclidean distance between unit vectors), Lloyd iterations that assign each
 * row to its most similar centroid and re-normalise the centroids, n_restarts
 * runs from different seeds, the run with the lowest inertia kept.
 * labels: n; centroids: k * dim (unit rows; an empty cluster's row is zero);
 * inertia: sum over rows of 1 - cos(row, its centroid). */
int qr_kmeans(const float *x, size_t n, size_t dim, int k, int n_restarts, int max_iterations,
              uint64_t seed, int n_threads, int *labels, float *centroids, double *inertia,
              qrank_error *err);

/* Mean silhouette under cosine distance (1 - cos), as scikit-learn's
 * silhouette_score(metric="cosine"): rows alone in their cluster count 0.
 * Because cosine distance is linear in the other vector, the mean distance
 * from a row to a cluster is 1 - row . (sum of the cluster) / size, which
 * makes this O(n k dim) instead of O(n^2 dim). Needs 2 <= k; labels in [0,k).
 * per_row (optional): n values. */
int qr_silhouette(const float *x, size_t n, size_t dim, const int *labels, int k, int n_threads,
                  double *mean, double *per_row, qrank_error *err);

/* The first two principal components of the rows (centred), by orthogonal
 * iteration; map: n * 2 coordinates. The sign of each axis is fixed so that
 * its largest coordinate is positive, which makes the map deterministic. */
int qr_pca2(const float *x, size_t n, size_t dim, int n_threads, float *map, qrank_error *err);

#endif
