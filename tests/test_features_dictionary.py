"""The K-means dictionary (Dieleman thesis §3.5.2–3.5.3) against numpy: PCA whitening from `np.cov` (normaliser
n − 1, as `fit_pca_whitening` and sklearn's PCA use) and `np.linalg.eigh`, spherical K-means written out in
float64 numpy (Coates & Ng 2012, Algorithm 1) from the same start, and the per-level dictionaries that
`Extractor.fit` learns compared with that numpy pipeline on the same patches."""

from __future__ import annotations

import jax
import numpy as np

from kmeans_refs import numpy_spherical_kmeans
from mirjax.features import extraction
from mirjax.features.whitening import apply_whitening, fit_pca_whitening


def _np_whitening(x, variance):
    """(mean, matrix, eigenvalues) with matrix columns = eigenvectors / sqrt(eigenvalues), largest first; the
    fewest leading components whose explained-variance ratio sums past `variance`."""
    mean = x.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(x, rowvar=False, ddof=1))
    vals, vecs = vals[::-1], vecs[:, ::-1]
    ratio = np.cumsum(vals) / vals.sum()
    keep = len(vals) if variance >= 1.0 else int(np.argmax(ratio > variance)) + 1
    return mean, vecs[:, :keep] / np.sqrt(vals[:keep]), vals[:keep]


def _align_signs(matrix, like):
    """Each column of `matrix` flipped to point like the same column of `like` (eigenvectors have no sign)."""
    return matrix * np.sign(np.sum(matrix * like, axis=0))


def _correlated(rng, n, dims, offset=3.0):
    scales = np.geomspace(4.0, 0.2, dims)
    return (rng.normal(size=(n, dims)) * scales) @ np.linalg.qr(rng.normal(size=(dims, dims)))[0] + offset


def test_whitening_matrix_and_covariance_match_numpy():
    # Few samples, so that a covariance divided by n instead of n − 1 moves the matrix by ~1.3 %.
    rng = np.random.default_rng(0)
    x = _correlated(rng, 40, 6)
    for variance in (0.95, 1.0):
        mean, matrix, vals = _np_whitening(x, variance)
        w = fit_pca_whitening(x.astype(np.float32), variance)
        assert w.num_components == matrix.shape[1] == (3 if variance < 1 else 6)  # ratios .76 .92 .97 .99 …
        np.testing.assert_allclose(np.asarray(w.mean), mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(w.explained_variance), vals, rtol=1e-4)
        ours = np.asarray(w.matrix, np.float64)
        np.testing.assert_allclose(ours, _align_signs(matrix, ours), rtol=1e-3, atol=1e-4 * np.abs(matrix).max())
        z = np.asarray(apply_whitening(w, x), np.float64)
        np.testing.assert_allclose(np.cov(z, rowvar=False, ddof=1), np.eye(z.shape[1]), atol=2e-4)
        np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)


def test_dictionary_centroids_are_numpy_spherical_kmeans_of_the_whitened_patches():
    rng = np.random.default_rng(1)
    patches = _correlated(rng, 600, 8).astype(np.float32)
    key, k, iters = jax.random.PRNGKey(5), 6, 7
    d = extraction.fit_dictionary(patches, k, key, variance=0.99, iters=iters, window=2, height=4)
    w = fit_pca_whitening(patches, 0.99)
    z = np.asarray(apply_whitening(w, patches), np.float64)
    # The start spherical_kmeans draws from the key it is given: standard normal rows, then unit norm.
    init = np.asarray(jax.random.normal(key, (k, z.shape[1]), np.float32), np.float64)
    centroids = numpy_spherical_kmeans(z, init, iters)
    assert np.abs(centroids - init / np.linalg.norm(init, axis=1, keepdims=True)).max() > 0.1  # K-means moved them
    np.testing.assert_allclose(d.kernel, np.asarray(w.matrix, np.float64) @ centroids.T, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(d.mean, patches.mean(axis=0), rtol=1e-5, atol=1e-5)
    assert (d.window, d.height) == (2, 4)


def test_extractor_level_dictionaries_match_a_numpy_pipeline():
    # Two levels of (clips, frames, bands) maps, few enough windows that all of them are used, in order.
    rng = np.random.default_rng(2)
    mix = rng.normal(size=(5, 5))
    levels = [(rng.normal(size=(4, frames, 5)) @ mix + 1.0).astype(np.float32) for frames in (30, 15)]
    spec = extraction.Spec("gaussian", levels=2, window=2, num_means=4, num_samples=10_000, kmeans_iters=6,
                           pool_frames=8, n_mels=5)
    ext = extraction.Extractor.fit(levels, spec, seed=3)
    key = jax.random.PRNGKey(3)
    for level, x in enumerate(levels):
        key, sub = jax.random.split(key)  # one key per (level, layer), in that order
        # every 2-frame × 5-band window, flattened time-major
        patches = np.stack([x[c, t:t + 2].ravel() for c in range(4) for t in range(x.shape[1] - 1)]).astype(float)
        mean, matrix, vals = _np_whitening(patches, 0.99)
        matrix = _align_signs(matrix, np.asarray(fit_pca_whitening(patches.astype(np.float32), 0.99).matrix))
        init = np.asarray(jax.random.normal(sub, (4, matrix.shape[1]), np.float32), np.float64)
        centroids = numpy_spherical_kmeans((patches - mean) @ matrix, init, 6)
        d = ext.dictionaries[0][level]
        np.testing.assert_allclose(d.explained_variance, vals, rtol=1e-3)
        np.testing.assert_allclose(d.mean, mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(d.kernel, matrix @ centroids.T, rtol=1e-3, atol=1e-4 * np.abs(matrix).max())
